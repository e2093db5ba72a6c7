//! RFC 3339 timestamps (`2024-03-22T02:24:06.945319214Z`) to
//! [`SystemTime`], for the creation dates that backends report as text
//! (Vault KV v2's `created_time`).
//!
//! One small function instead of a date crate: the format is fixed, only
//! the conversion to a point in time is needed, and nothing here formats,
//! handles time zones by name or does calendar arithmetic. Anything that
//! does not parse is `None`, never an error: a bad date must not fail the
//! read of a good value.

use std::time::{Duration, SystemTime};

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`, `z` and a space
/// instead of `T` are accepted too, as RFC 3339 allows. Digits of the
/// fraction past nanoseconds are ignored.
pub(crate) fn parse(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    // 60 is a leap second; it reads as the first second of the next minute.
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }

    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for (i, c) in frac[..n].iter().enumerate().take(9) {
            nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &frac[n..];
    }
    let offset_secs: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2])?;
            let m = digits(&[*m1, *m2])?;
            if h > 23 || m > 59 {
                return None;
            }
            let off = i64::from(h * 3600 + m * 60);
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };

    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    let since_epoch = Duration::new(secs.unsigned_abs(), 0);
    let whole = if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(since_epoch)?
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(since_epoch)?
    };
    whole.checked_add(Duration::from_nanos(u64::from(nanos)))
}

/// A run of ASCII digits as a number.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    // Months counted from March, so that the leap day ends the year.
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> Option<SystemTime> {
        Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
    }

    #[test]
    fn utc_timestamps_with_and_without_a_fraction() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), at(0, 0));
        // `date -u -d @1700000000` is 2023-11-14T22:13:20Z.
        assert_eq!(parse("2023-11-14T22:13:20Z"), at(1_700_000_000, 0));
        assert_eq!(
            parse("2023-11-14T22:13:20.945319214Z"),
            at(1_700_000_000, 945_319_214)
        );
        assert_eq!(
            parse("2023-11-14t22:13:20.5z"),
            at(1_700_000_000, 500_000_000)
        );
        assert_eq!(
            parse("2023-11-14 22:13:20.1234567891234Z"),
            at(1_700_000_000, 123_456_789)
        );
        // A leap day.
        assert_eq!(parse("2024-02-29T00:00:00Z"), at(1_709_164_800, 0));
    }

    #[test]
    fn offsets_are_subtracted() {
        assert_eq!(parse("2023-11-15T00:13:20+02:00"), at(1_700_000_000, 0));
        assert_eq!(parse("2023-11-14T17:43:20-04:30"), at(1_700_000_000, 0));
    }

    #[test]
    fn dates_before_the_epoch_are_points_in_time_too() {
        assert_eq!(
            parse("1969-12-31T23:59:59Z"),
            SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(1))
        );
    }

    #[test]
    fn malformed_text_is_none() {
        for bad in [
            "",
            "not a date",
            "2023-11-14",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "2023-13-14T22:13:20Z",
            "2023-02-29T22:13:20Z",
            "2023-11-31T22:13:20Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20+0200",
            "2023-11-14T22:13:20Zjunk",
            "2023-11-14X22:13:20Z",
            "+023-11-14T22:13:20Z",
            "2023-11-14T22:13:20\u{e9}",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
