//! Ages for `audit --max-age`: `90d`, `12h`, `30m`, `45s`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secret_chain::Error;

/// Parses `90d`, `12h`, `30m` or `45s` (a whole number and one unit).
///
/// # Errors
///
/// [`secret_chain::ErrorKind::Config`] naming the flag otherwise.
pub(crate) fn parse_max_age(text: &str) -> Result<Duration, Error> {
    let bad = || {
        Error::config(format!(
            "--max-age {text}: expected a whole number and a unit, s, m, h or d (90d, 12h, 30m, 45s)"
        ))
    };
    let text = text.trim();
    let unit = text.chars().last().ok_or_else(bad)?;
    let seconds: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// An age in the largest two units: `12d 3h`, `3h 20m`, `45s`.
pub(crate) fn format_age(age: Duration) -> String {
    let s = age.as_secs();
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// A time as RFC 3339 in UTC, to the second: `2026-01-31T08:05:00Z`.
pub(crate) fn format_time(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc() {
        let at = |s: u64| format_time(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_709_164_799), "2024-02-28T23:59:59Z");
    }

    #[test]
    fn max_ages_take_one_unit() {
        let p = |s| parse_max_age(s).map(|d| d.as_secs());
        assert_eq!(p("90d").unwrap(), 90 * 86_400);
        assert_eq!(p("12h").unwrap(), 12 * 3600);
        assert_eq!(p("30m").unwrap(), 1800);
        assert_eq!(p("45s").unwrap(), 45);
        assert_eq!(p("0s").unwrap(), 0);
        for bad in [
            "",
            "d",
            "90",
            "90w",
            "-1d",
            "1.5d",
            "9 0d",
            "99999999999999999999d",
        ] {
            let e = parse_max_age(bad).unwrap_err();
            assert!(e.to_string().starts_with("--max-age"), "{bad}: {e}");
        }
    }

    #[test]
    fn ages_show_two_units() {
        let f = |s| format_age(Duration::from_secs(s));
        assert_eq!(f(45), "45s");
        assert_eq!(f(125), "2m 5s");
        assert_eq!(f(3 * 3600 + 20 * 60 + 7), "3h 20m");
        assert_eq!(f(12 * 86_400 + 3 * 3600 + 59), "12d 3h");
    }
}
