//! `secret-chain migrate`: copy the secrets of a manifest from one
//! provider instance to another (`env` to `aws`, `vault` to `aws`, ...).
//!
//! Each entry is read from the source as the chain reads it (`#field`,
//! the single-key rule). Entries are grouped by base path: the `#field`
//! entries of one path become one JSON object at the target (merged into
//! the whole value when the manifest names that too). The manifest's
//! variable names are only labels. Each secret is then compared with the
//! target's current value ([`SecretStore::stored_form`]: Vault keeps text
//! as `{"value": v}`):
//!
//! ```text
//! database/url: create (aws /app/database/url)
//! db: unchanged (aws /app/db, version 3f2a…)
//! api/key: update (aws /app/api/key, version 9c1b… differs)
//! stripe/key: missing at source (optional)
//! ```
//!
//! `--dry-run` prints that plan and writes nothing. Otherwise each line
//! says what was done (`created (version 1)`); a target that differs is
//! left alone without `--overwrite`. A write expects what was read
//! (Vault check-and-set; `CreateSecret` of a new AWS secret), so a change
//! in between is not overwritten. No value is printed.
//!
//! Exit status: 0 every secret is in place; 1 an overwrite was refused or
//! a required secret is missing at the source; 2 bad arguments, manifest
//! or configuration; 3 a backend unavailable or denied (the summary on
//! stderr names what was written and what was not). The greatest wins.

use std::io::Write;
use std::path::PathBuf;

use secret_chain::admin::{self, Current, Expect, Payload, SecretStore};
use secret_chain::{Config, Error, ErrorKind, ExposeSecret, SecretString, SecretsManager};

use super::stdout_error;
use crate::Exit;
use crate::manifest::{self, Entry, Manifest, Outcome};

/// Arguments of `secret-chain migrate`.
#[derive(Debug, clap::Args)]
pub(crate) struct MigrateArgs {
    /// The manifest (secrets.toml) of the secrets to copy.
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// The provider instance to read from (a name in SECRETS_PROVIDERS:
    /// `env`, `vault`, `dr`...).
    #[arg(long, value_name = "PROVIDER")]
    from: String,
    /// The provider instance to write to (an aws or vault instance); its
    /// prefix applies.
    #[arg(long, value_name = "PROVIDER")]
    to: String,
    /// Print the plan (create, update, unchanged, missing at source) and
    /// write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Replace a target value that differs from the source.
    #[arg(long)]
    overwrite: bool,
}

/// The manifest entries of one base path.
#[derive(Debug, PartialEq, Eq)]
struct Group<'m> {
    /// The base path (`db` for `db#password`).
    path: &'m str,
    /// The entry of the whole value, if the manifest names it.
    whole: Option<&'m Entry>,
    /// The `#field` entries, in manifest order.
    fields: Vec<(&'m str, &'m Entry)>,
}

/// Groups entries by base path, in the order each path first appears.
fn group(entries: &[Entry]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for entry in entries {
        let (path, field) = match entry.path.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (entry.path.as_str(), None),
        };
        let i = match groups.iter().position(|g| g.path == path) {
            Some(i) => i,
            None => {
                groups.push(Group {
                    path,
                    whole: None,
                    fields: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[i];
        match field {
            Some(f) => g.fields.push((f, entry)),
            None => g.whole = Some(entry),
        }
    }
    groups
}

/// What the source gave for one entry.
enum Read {
    Value(Payload),
    /// Missing: whether the entry is required.
    Missing(bool),
    Failed(Error),
}

/// The value of one group at the source.
#[derive(Debug)]
enum Source {
    Value(Payload),
    /// Every entry of it is missing; `true` when one of them is required.
    Missing(bool),
    Failed(Error),
}

/// Builds a group's value from its entries' reads (`reads` in the order
/// of [`Group::whole`] then [`Group::fields`]): the whole value, or the
/// fields as one JSON object of strings, merged into the whole value when
/// both are given (the fields win). Returns the value and the names of
/// the missing entries.
fn combine(group: &Group<'_>, whole: Option<Read>, fields: Vec<Read>) -> (Source, Vec<String>) {
    let mut missing = Vec::new();
    let mut required_missing = false;
    let mut base: Option<Payload> = None;
    if let Some(read) = whole {
        match read {
            Read::Value(v) => base = Some(v),
            Read::Missing(required) => {
                required_missing |= required;
                missing.push(group.path.to_owned());
            }
            Read::Failed(e) => return (Source::Failed(e), missing),
        }
    }
    let mut object = serde_json::Map::new();
    for ((name, _), read) in group.fields.iter().zip(fields) {
        match read {
            Read::Value(Payload::Text(s)) => {
                object.insert(
                    (*name).to_owned(),
                    serde_json::Value::String(s.expose_secret().to_owned()),
                );
            }
            Read::Value(Payload::Binary(_)) => {
                return (
                    Source::Failed(Error::new(
                        ErrorKind::InvalidValue,
                        format!("{}#{name} is not text", group.path),
                    )),
                    missing,
                );
            }
            Read::Missing(required) => {
                required_missing |= required;
                missing.push(format!("{}#{name}", group.path));
            }
            Read::Failed(e) => return (Source::Failed(e), missing),
        }
    }
    let source = match (base, object.is_empty()) {
        (None, true) => Source::Missing(required_missing),
        (Some(v), true) => Source::Value(v),
        (None, false) => Source::Value(Payload::Text(to_secret(serde_json::Value::Object(object)))),
        (Some(Payload::Text(whole)), false) => {
            match serde_json::from_str::<serde_json::Value>(whole.expose_secret()) {
                Ok(serde_json::Value::Object(mut map)) => {
                    map.extend(object);
                    Source::Value(Payload::Text(to_secret(serde_json::Value::Object(map))))
                }
                _ => Source::Failed(Error::new(
                    ErrorKind::InvalidValue,
                    format!(
                        "the manifest names {} and fields of it, but its value is not a JSON object",
                        group.path
                    ),
                )),
            }
        }
        (Some(Payload::Binary(_)), false) => Source::Failed(Error::new(
            ErrorKind::InvalidValue,
            format!(
                "the manifest names fields of {}, but its value is binary",
                group.path
            ),
        )),
    };
    (source, missing)
}

fn to_secret(v: serde_json::Value) -> SecretString {
    SecretString::from(v.to_string())
}

/// What to do with one secret at the target.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Create,
    /// The target's current version differs (or has no value).
    Update(String),
    Unchanged(String),
}

/// Decides the action from the target's current version and what the
/// target would keep for the source's value.
fn plan(current: Option<&Current>, wanted: &Payload) -> Action {
    match current {
        None => Action::Create,
        Some(Current {
            value: Some(v),
            version,
        }) if admin::same_value(v, wanted) => Action::Unchanged(version.clone()),
        Some(c) => Action::Update(c.version.clone()),
    }
}

/// Runs `secret-chain migrate`.
pub(crate) async fn run(args: MigrateArgs) -> Result<Exit, Error> {
    let manifest = Manifest::read(&args.manifest)?;
    let config = Config::from_process_env()?;
    if args.from == args.to {
        return Err(Error::config(format!(
            "--from and --to are both '{}'",
            args.from
        )));
    }
    let target = admin::open(&config, &args.to)?;
    let source = source_manager(&config, &args.from)?;
    let outcomes = manifest::resolve(&source, &manifest.entries).await;
    let mut reads: Vec<Option<Read>> = Vec::with_capacity(outcomes.len());
    for (entry, outcome) in manifest.entries.iter().zip(outcomes) {
        reads.push(Some(match outcome {
            Outcome::Found(v, _) => Read::Value(Payload::Text(v)),
            Outcome::Missing(_) => Read::Missing(entry.required),
            // Bytes that are not text: read them as bytes (AWS SecretBinary).
            Outcome::Failed(e)
                if e.kind() == ErrorKind::InvalidValue && !entry.path.contains('#') =>
            {
                match source.get_secret_bytes(&entry.path).await {
                    Ok(b) => Read::Value(Payload::Binary(b)),
                    Err(e) => Read::Failed(e),
                }
            }
            Outcome::Failed(e) => Read::Failed(e),
        }));
    }
    let mut take = |entry: &Entry| {
        let i = manifest
            .entries
            .iter()
            .position(|e| std::ptr::eq(e, entry))
            .expect("an entry of the manifest");
        reads[i].take().expect("each entry read once")
    };

    let mut out = std::io::stdout().lock();
    let mut exit = Exit::Ok;
    let mut report = Report::default();
    let to = target.name().to_owned();
    for g in group(&manifest.entries) {
        let whole = g.whole.map(&mut take);
        let fields = g.fields.iter().map(|(_, e)| take(e)).collect();
        let (value, missing) = combine(&g, whole, fields);
        let location = format!("{to} {}", target.location(g.path));
        let (line, this) = match value {
            Source::Missing(required) => {
                let which = if required { "required" } else { "optional" };
                if required {
                    report.not_written.push(g.path.to_owned());
                }
                (
                    format!("missing at source ({which}; {location} left as it is)"),
                    if required { Exit::No } else { Exit::Ok },
                )
            }
            Source::Failed(e) => {
                report.not_written.push(g.path.to_owned());
                (
                    format!(
                        "cannot read it from {}: {}",
                        args.from,
                        manifest::reason(&e)
                    ),
                    Exit::of(&e),
                )
            }
            Source::Value(value) => {
                let (line, this) = migrate_one(
                    target.as_ref(),
                    g.path,
                    &value,
                    &location,
                    &args,
                    &mut report,
                )
                .await;
                let line = match missing.is_empty() {
                    true => line,
                    false => format!("{line}; missing at source: {}", missing.join(", ")),
                };
                (line, this)
            }
        };
        exit = exit.max(this);
        writeln!(out, "{}: {line}", g.path).map_err(stdout_error)?;
    }
    report.print(args.dry_run);
    Ok(exit)
}

/// Plans and (unless `--dry-run`) writes one secret; returns its line.
async fn migrate_one(
    target: &dyn SecretStore,
    path: &str,
    value: &Payload,
    location: &str,
    args: &MigrateArgs,
    report: &mut Report,
) -> (String, Exit) {
    let fail = |report: &mut Report, e: &Error| {
        report.not_written.push(path.to_owned());
        (
            format!("failed ({location}): {}", manifest::reason(e)),
            Exit::of(e),
        )
    };
    let wanted = match target.stored_form(value) {
        Ok(w) => w,
        Err(e) => return fail(report, &e),
    };
    let current = match target.read(path).await {
        Ok(c) => c,
        Err(e) => return fail(report, &e),
    };
    let action = plan(current.as_ref(), &wanted);
    let deleted = current.as_ref().is_some_and(|c| c.value.is_none());
    let (expect, verb) = match &action {
        Action::Unchanged(v) => {
            report.unchanged += 1;
            return (format!("unchanged ({location}, version {v})"), Exit::Ok);
        }
        Action::Create => (Expect::Absent, "create"),
        Action::Update(v) => (Expect::Version(v.clone()), "update"),
    };
    let why = match (&action, deleted) {
        (Action::Update(v), true) => format!(", version {v} is deleted"),
        (Action::Update(v), false) => format!(", version {v} differs"),
        _ => String::new(),
    };
    let refused = matches!(action, Action::Update(_)) && !deleted && !args.overwrite;
    if args.dry_run {
        if refused {
            return (
                format!("update ({location}{why}; refused without --overwrite)"),
                Exit::No,
            );
        }
        return (format!("{verb} ({location}{why})"), Exit::Ok);
    }
    if refused {
        report.not_written.push(path.to_owned());
        report.refused.push(path.to_owned());
        return (
            format!("not overwritten ({location}{why}; --overwrite replaces it)"),
            Exit::No,
        );
    }
    match target.write(path, value, &expect).await {
        Ok(version) => {
            report.written.push(path.to_owned());
            let done = if verb == "create" {
                "created"
            } else {
                "updated"
            };
            (format!("{done} ({location}, version {version})"), Exit::Ok)
        }
        Err(e) => fail(report, &e),
    }
}

/// What the summary on stderr names.
#[derive(Debug, Default)]
struct Report {
    written: Vec<String>,
    not_written: Vec<String>,
    refused: Vec<String>,
    unchanged: usize,
}

impl Report {
    fn print(&self, dry_run: bool) {
        if dry_run {
            eprintln!("secret-chain: migrate: dry run, nothing was written");
            return;
        }
        if !self.refused.is_empty() {
            eprintln!(
                "secret-chain: migrate: {} not overwritten (the target differs; --overwrite replaces it): {}",
                self.refused.len(),
                self.refused.join(", ")
            );
        }
        if self.not_written.is_empty() {
            eprintln!(
                "secret-chain: migrate: {} written, {} unchanged",
                self.written.len(),
                self.unchanged
            );
            return;
        }
        let written = if self.written.is_empty() {
            "none".to_owned()
        } else {
            self.written.join(", ")
        };
        eprintln!(
            "secret-chain: migrate: written: {written}; not written: {}; {} unchanged",
            self.not_written.join(", "),
            self.unchanged
        );
    }
}

/// A chain of the one source instance, so that values are read exactly
/// as a service reads them (`#field`, the single-key rule).
fn source_manager(config: &Config, name: &str) -> Result<SecretsManager, Error> {
    let Some(entry) = config.providers.iter().find(|e| e.name == name) else {
        let names: Vec<&str> = config.providers.iter().map(|e| e.name.as_str()).collect();
        return Err(Error::config(format!(
            "--from {name}: no provider named '{name}' in SECRETS_PROVIDERS (it has: {})",
            names.join(", ")
        )));
    };
    let mut one = config.clone();
    one.providers = vec![entry.clone()];
    SecretsManager::from_config(&one)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, path: &str, required: bool) -> Entry {
        Entry {
            name: name.into(),
            path: path.into(),
            required,
            description: None,
        }
    }

    fn text(s: &str) -> Read {
        Read::Value(Payload::Text(SecretString::from(s)))
    }

    fn value_of(s: Source) -> serde_json::Value {
        match s {
            Source::Value(Payload::Text(t)) => serde_json::from_str(t.expose_secret())
                .unwrap_or_else(|_| serde_json::Value::String(t.expose_secret().to_owned())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn entries_are_grouped_by_base_path_in_first_appearance_order() {
        let entries = [
            entry("DB_USER", "db#user", true),
            entry("URL", "database/url", true),
            entry("DB_PASSWORD", "db#password", false),
            entry("DB", "db", true),
        ];
        let groups = group(&entries);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].path, "db");
        assert_eq!(groups[0].whole.map(|e| e.name.as_str()), Some("DB"));
        let fields: Vec<_> = groups[0].fields.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["user", "password"]);
        assert_eq!(groups[1].path, "database/url");
        assert!(groups[1].fields.is_empty());
    }

    #[test]
    fn fields_become_one_object_and_a_missing_optional_one_is_listed() {
        let entries = [
            entry("U", "db#user", true),
            entry("P", "db#password", false),
        ];
        let g = &group(&entries)[0];
        let (v, missing) = combine(g, None, vec![text("app"), Read::Missing(false)]);
        assert_eq!(value_of(v), serde_json::json!({"user": "app"}));
        assert_eq!(missing, ["db#password"]);
        let (v, _) = combine(g, None, vec![text("app"), text("pw-1")]);
        assert_eq!(
            value_of(v),
            serde_json::json!({"user": "app", "password": "pw-1"})
        );
        let (v, missing) = combine(g, None, vec![Read::Missing(true), Read::Missing(false)]);
        assert!(matches!(v, Source::Missing(true)), "{v:?}");
        assert_eq!(missing.len(), 2);
    }

    #[test]
    fn fields_merge_into_the_whole_value_and_win() {
        let entries = [entry("DB", "db", true), entry("P", "db#password", true)];
        let g = &group(&entries)[0];
        let (v, _) = combine(
            g,
            Some(text(r#"{"user":"app","password":"old"}"#)),
            vec![text("new")],
        );
        assert_eq!(
            value_of(v),
            serde_json::json!({"user": "app", "password": "new"})
        );
        let (v, _) = combine(g, Some(text("not-an-object-s3cr3t")), vec![text("new")]);
        match v {
            Source::Failed(e) => assert!(!e.to_string().contains("s3cr3t"), "{e}"),
            other => panic!("{other:?}"),
        }
        let (v, _) = combine(g, Some(text("whole")), vec![Read::Missing(false)]);
        assert_eq!(value_of(v), serde_json::json!("whole"));
    }

    #[test]
    fn the_plan_compares_what_the_target_would_keep() {
        let wanted = Payload::Text(SecretString::from(r#"{"a":"1","b":"2"}"#));
        assert_eq!(plan(None, &wanted), Action::Create);
        let same = Current {
            value: Some(Payload::Text(SecretString::from(r#"{"b":"2","a":"1"}"#))),
            version: "3".into(),
        };
        assert_eq!(plan(Some(&same), &wanted), Action::Unchanged("3".into()));
        let other = Current {
            value: Some(Payload::Text(SecretString::from(r#"{"a":"1"}"#))),
            version: "4".into(),
        };
        assert_eq!(plan(Some(&other), &wanted), Action::Update("4".into()));
        let deleted = Current {
            value: None,
            version: "5".into(),
        };
        assert_eq!(plan(Some(&deleted), &wanted), Action::Update("5".into()));
    }
}
