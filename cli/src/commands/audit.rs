//! `secret-chain audit`: every secret under a provider's prefix, its
//! current version's age, and whether it is overdue for rotation.
//!
//! The age is the current version's: AWS, the creation date of the
//! version holding `AWSCURRENT` (`ListSecretVersionIds`; `LastChangedDate`
//! also moves on tag and description edits); Vault,
//! `versions[current_version].created_time`. A secret is overdue when
//! that age is `--max-age` or more, or unknown. Metadata only: no value
//! is read.
//!
//! ```text
//! PATH          VERSION  CREATED               AGE      LAST ROTATED          ROTATION  OVERDUE
//! database/url  3        2026-01-02T08:00:00Z  91d 2h   -                     -         yes
//! stripe/key    7        2026-03-30T12:00:00Z  3d 1h    -                     -         no
//! ```
//!
//! Exit status: 0 none overdue; 1 any overdue; 2 bad arguments or
//! configuration; 3 the backend unavailable or access denied.

use std::io::Write;
use std::time::{Duration, SystemTime};

use secret_chain::admin::{self, SecretInfo};
use secret_chain::{Config, Error};
use serde_json::json;

use super::stdout_error;
use crate::Exit;
use crate::ops::age::{format_age, format_time, parse_max_age};

/// How `audit` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns, one secret a line.
    Table,
    /// One JSON object: the provider, the max age, each secret.
    Json,
}

/// Arguments of `secret-chain audit`.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    /// The provider instance to audit (an aws or vault instance of
    /// SECRETS_PROVIDERS); every secret under its prefix.
    #[arg(long, value_name = "NAME")]
    provider: String,
    /// The rotation policy: a current version this old or older is
    /// overdue (s, m, h or d: 90d, 12h, 30m, 45s).
    #[arg(long, value_name = "AGE", default_value = "90d")]
    max_age: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// One secret of the report.
struct Row {
    info: SecretInfo,
    age: Option<Duration>,
    overdue: bool,
}

/// Whether a secret is overdue: its current version is `max_age` old or
/// older at `now`, or its age is unknown.
fn overdue(
    created: Option<SystemTime>,
    now: SystemTime,
    max_age: Duration,
) -> (Option<Duration>, bool) {
    match created {
        Some(t) => {
            let age = now.duration_since(t).unwrap_or(Duration::ZERO);
            (Some(age), age >= max_age)
        }
        None => (None, true),
    }
}

/// Runs `secret-chain audit`.
pub(crate) async fn run(args: AuditArgs) -> Result<Exit, Error> {
    let max_age = parse_max_age(&args.max_age)?;
    let config = Config::from_process_env()?;
    let store = admin::open(&config, &args.provider)?;
    let secrets = store.list("").await?;
    let now = SystemTime::now();
    let rows: Vec<Row> = secrets
        .into_iter()
        .map(|info| {
            let (age, overdue) = overdue(info.created, now, max_age);
            Row { info, age, overdue }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => write_table(&mut out, &rows),
        Format::Json => {
            let doc = json_report(store.name(), &args.max_age, max_age, now, &rows);
            writeln!(out, "{doc:#}")
        }
    }
    .map_err(stdout_error)?;
    let late: Vec<&str> = rows
        .iter()
        .filter(|r| r.overdue)
        .map(|r| r.info.path.as_str())
        .collect();
    if late.is_empty() {
        eprintln!(
            "secret-chain: audit: {} secrets, none overdue (max age {})",
            rows.len(),
            args.max_age
        );
        Ok(Exit::Ok)
    } else {
        eprintln!(
            "secret-chain: audit: {} of {} secrets overdue (max age {}): {}",
            late.len(),
            rows.len(),
            args.max_age,
            late.join(", ")
        );
        Ok(Exit::No)
    }
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".to_owned())
}

fn version_cell(info: &SecretInfo) -> String {
    let v = or_dash(info.version.clone());
    match info.current_gone {
        Some(gone) => format!("{v} ({gone})"),
        None => v,
    }
}

fn write_table(out: &mut impl Write, rows: &[Row]) -> std::io::Result<()> {
    let header = [
        "PATH",
        "VERSION",
        "CREATED",
        "AGE",
        "LAST ROTATED",
        "ROTATION",
        "OVERDUE",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.info.path.clone(),
                version_cell(&r.info),
                or_dash(r.info.created.map(format_time)),
                or_dash(r.age.map(format_age)),
                or_dash(r.info.last_rotated.map(format_time)),
                match r.info.rotation_enabled {
                    Some(true) => "on".to_owned(),
                    Some(false) => "off".to_owned(),
                    None => "-".to_owned(),
                },
                if r.overdue { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, row: &[&str]| -> std::io::Result<()> {
        let mut text = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                text.push_str(c);
            } else {
                text.push_str(&format!("{c:<w$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &header)?;
    for row in &cells {
        line(out, &row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

fn json_report(
    provider: &str,
    max_age_text: &str,
    max_age: Duration,
    now: SystemTime,
    rows: &[Row],
) -> serde_json::Value {
    let secrets: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({
                "path": r.info.path,
                "version": r.info.version,
                "current_version_gone": r.info.current_gone,
                "created": r.info.created.map(format_time),
                "age_seconds": r.age.map(|a| a.as_secs()),
                "last_rotated": r.info.last_rotated.map(format_time),
                "rotation_enabled": r.info.rotation_enabled,
                "overdue": r.overdue,
            })
        })
        .collect();
    json!({
        "provider": provider,
        "checked_at": format_time(now),
        "max_age": max_age_text,
        "max_age_seconds": max_age.as_secs(),
        "overdue": rows.iter().filter(|r| r.overdue).count(),
        "secrets": secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn a_version_as_old_as_the_max_age_or_of_unknown_age_is_overdue() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let day = Duration::from_secs(86_400);
        let created = |ago: u64| Some(now - Duration::from_secs(ago));
        assert_eq!(
            overdue(created(100), now, day),
            (Some(Duration::from_secs(100)), false)
        );
        assert!(overdue(created(86_400), now, day).1);
        assert!(overdue(created(0), now, Duration::ZERO).1);
        assert_eq!(overdue(None, now, day), (None, true));
        // A clock behind the server's: age zero, not a panic.
        assert_eq!(
            overdue(Some(now + day), now, day),
            (Some(Duration::ZERO), false)
        );
    }

    #[test]
    fn the_table_is_aligned_and_the_json_has_every_field() {
        let mut url = SecretInfo::default();
        url.path = "database/url".into();
        url.version = Some("3".into());
        url.created = Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let mut k = SecretInfo::default();
        k.path = "k".into();
        k.current_gone = Some("deleted");
        k.version = Some("2".into());
        k.rotation_enabled = Some(false);
        let rows = vec![
            Row {
                info: url,
                age: Some(Duration::from_secs(90 * 86_400)),
                overdue: true,
            },
            Row {
                info: k,
                age: None,
                overdue: true,
            },
        ];
        let mut out = Vec::new();
        write_table(&mut out, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "PATH          VERSION      CREATED               AGE     LAST ROTATED  ROTATION  OVERDUE"
        );
        assert_eq!(
            lines[1],
            "database/url  3            2023-11-14T22:13:20Z  90d 0h  -             -         yes"
        );
        assert!(
            lines[2].starts_with("k             2 (deleted)  -  "),
            "{}",
            lines[2]
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let doc = json_report("aws", "90d", Duration::from_secs(90 * 86_400), now, &rows);
        assert_eq!(doc["provider"], "aws");
        assert_eq!(doc["max_age_seconds"], 90 * 86_400);
        assert_eq!(doc["overdue"], 2);
        let first = &doc["secrets"][0];
        for key in [
            "path",
            "version",
            "current_version_gone",
            "created",
            "age_seconds",
            "last_rotated",
            "rotation_enabled",
            "overdue",
        ] {
            assert!(first.get(key).is_some(), "{key}");
        }
        assert_eq!(first["created"], "2023-11-14T22:13:20Z");
        assert_eq!(doc["secrets"][1]["current_version_gone"], "deleted");
    }
}
