//! The secrets manifest (`secrets.toml`): which secrets a process needs,
//! each under the environment variable it is injected as, and resolving
//! them through the chain in one prefetch.
//!
//! ```toml
//! [secrets.DATABASE_URL]
//! path = "database/url"          # the chain path, `#field` allowed
//! [secrets.STRIPE_KEY]
//! path = "stripe/api_key"
//! required = false               # default true
//! description = "payments; rotated every 90 days"
//! ```
//!
//! Read here, in the CLI package, so that the library needs no TOML parser.
//! Unknown keys, duplicate names and names that are not environment
//! variable names are errors that name the file, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secret_chain::{Error, ErrorKind, SecretString, SecretsManager};
use serde::Deserialize;
use toml::Spanned;

/// One secret of a manifest (or of an `--env NAME=PATH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The environment variable it is injected as.
    pub(crate) name: String,
    /// The chain path (`name` or `name#field`).
    pub(crate) path: String,
    /// Whether a process may start without it.
    pub(crate) required: bool,
    /// What it is for (shown by nobody yet; kept for tools).
    pub(crate) description: Option<String>,
}

/// A parsed manifest: its entries in file order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Manifest {
    pub(crate) entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    secrets: BTreeMap<Spanned<String>, Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    path: Spanned<String>,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    description: Option<String>,
}

fn yes() -> bool {
    true
}

impl Manifest {
    /// Reads and checks the manifest at `file`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] when it cannot be read, [`ErrorKind::Config`]
    /// naming the file, the line and the key when it is malformed.
    pub(crate) fn read(file: &Path) -> Result<Manifest, Error> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot read the manifest {}", file.display()),
            )
            .with_source(e)
        })?;
        Manifest::parse(file, &text)
    }

    /// Parses manifest `text`; `file` names it in errors.
    pub(crate) fn parse(file: &Path, text: &str) -> Result<Manifest, Error> {
        let at = |offset: usize| format!("{}:{}", file.display(), line_of(text, offset));
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let place = match e.span() {
                Some(span) => at(span.start),
                None => file.display().to_string(),
            };
            // toml's Display quotes the line; its message alone does not.
            let message = e.message().trim().replace("unknown field", "unknown key");
            Error::config(format!("{place}: {message}"))
        })?;
        let mut entries: Vec<(usize, Entry)> = Vec::with_capacity(raw.secrets.len());
        for (name, entry) in raw.secrets {
            let offset = name.span().start;
            let name = name.into_inner();
            if !is_env_name(&name) {
                return Err(Error::config(format!(
                    "{}: [secrets.{name}]: `{name}` is not an environment variable name (letters, digits and `_`, not starting with a digit)",
                    at(offset)
                )));
            }
            let entry = entry.into_inner();
            let path_offset = entry.path.span().start;
            let path = entry.path.into_inner();
            if path.trim().is_empty() {
                return Err(Error::config(format!(
                    "{}: [secrets.{name}]: key `path` is empty",
                    at(path_offset)
                )));
            }
            entries.push((
                offset,
                Entry {
                    name,
                    path,
                    required: entry.required,
                    description: entry.description,
                },
            ));
        }
        entries.sort_by_key(|(offset, _)| *offset);
        Ok(Manifest {
            entries: entries.into_iter().map(|(_, e)| e).collect(),
        })
    }

    /// The manifest of `--manifest FILE` (if any) with the `--env
    /// NAME=PATH` entries (required) added; an `--env` entry replaces a
    /// manifest entry of the same name.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read); [`ErrorKind::Config`] for an `--env` that
    /// is not `NAME=PATH`.
    pub(crate) fn from_args(file: Option<&PathBuf>, env: &[String]) -> Result<Manifest, Error> {
        let mut manifest = match file {
            Some(f) => Manifest::read(f)?,
            None => Manifest::default(),
        };
        for arg in env {
            let entry = parse_env_arg(arg)?;
            match manifest.entries.iter_mut().find(|e| e.name == entry.name) {
                Some(e) => *e = entry,
                None => manifest.entries.push(entry),
            }
        }
        Ok(manifest)
    }
}

/// An `--env NAME=PATH` entry: required.
fn parse_env_arg(arg: &str) -> Result<Entry, Error> {
    let bad = |why: &str| Error::config(format!("--env {arg}: {why}"));
    let (name, path) = arg
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=PATH"))?;
    if !is_env_name(name) {
        return Err(bad(
            "NAME is not an environment variable name (letters, digits and `_`, not starting with a digit)",
        ));
    }
    if path.trim().is_empty() {
        return Err(bad("PATH is empty"));
    }
    Ok(Entry {
        name: name.to_owned(),
        path: path.to_owned(),
        required: true,
        description: None,
    })
}

/// Whether `name` is a portable environment variable name:
/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The 1-based line of byte `offset` in `text` (the manifest's and the
/// agent config's errors).
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// What the chain answered for one entry.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The value, and the provider that answered.
    Found(SecretString, Option<String>),
    /// Every provider said "not found" (a clean absence).
    Missing(Error),
    /// Anything else: unavailable, denied, a bad path or field.
    Failed(Error),
}

/// Resolves every entry in one [`prefetch`](SecretsManager::prefetch)
/// (concurrent, batched), in the manifest's order.
pub(crate) async fn resolve(manager: &SecretsManager, entries: &[Entry]) -> Vec<Outcome> {
    let mut failures: Vec<Error> = Vec::new();
    if let Err(e) = manager
        .prefetch(entries.iter().map(|e| e.path.as_str()))
        .await
    {
        if e.failures().is_empty() {
            // Not a per-path answer: every entry failed the same way.
            return entries.iter().map(|_| Outcome::Failed(e.clone())).collect();
        }
        failures = e.failures().to_vec();
    }
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let failed = failures
            .iter()
            .find(|f| f.path() == Some(entry.path.as_str()))
            .cloned();
        let result = match failed {
            Some(e) => Err(e),
            // A cache hit after the prefetch (a fetch when the cache is off).
            None => manager.get_secret(&entry.path).await,
        };
        out.push(match result {
            Ok(value) => {
                let provider = manager
                    .get_secret_metadata(&entry.path)
                    .await
                    .ok()
                    .and_then(|m| m.provider().map(str::to_owned));
                Outcome::Found(value, provider)
            }
            Err(e) if is_missing_everywhere(&e) => Outcome::Missing(e),
            Err(e) => Outcome::Failed(e),
        });
    }
    out
}

/// Whether every provider said "not found" (as `get_secret_opt` decides).
pub(crate) fn is_missing_everywhere(e: &Error) -> bool {
    e.kind() == ErrorKind::NotFound && e.outcomes().iter().all(|o| o.kind == ErrorKind::NotFound)
}

/// Why an entry failed, without repeating its path: each provider's
/// answer, or the error's message.
pub(crate) fn reason(e: &Error) -> String {
    if e.outcomes().is_empty() {
        e.to_string()
    } else {
        e.outcomes()
            .iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, Error> {
        Manifest::parse(Path::new("secrets.toml"), text)
    }

    #[test]
    fn entries_come_in_file_order_with_defaults() {
        let m = parse(
            "[secrets.STRIPE_KEY]\npath = \"stripe/api_key\"\nrequired = false\ndescription = \"payments\"\n\n[secrets.DATABASE_URL]\npath = \"database/url\"\n\n[secrets.DB_PASSWORD]\npath = \"db#password\"\n",
        )
        .unwrap();
        let names: Vec<_> = m.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["STRIPE_KEY", "DATABASE_URL", "DB_PASSWORD"]);
        assert!(!m.entries[0].required);
        assert_eq!(m.entries[0].description.as_deref(), Some("payments"));
        assert!(m.entries[1].required);
        assert_eq!(m.entries[2].path, "db#password");
        assert!(parse("").unwrap().entries.is_empty());
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_key() {
        let cases: &[(&str, &str)] = &[
            (
                "[secrets.A]\npath = \"a\"\n\n[secrets.B]\npath = \"b\"\nrequried = false\n",
                "secrets.toml:6: unknown key `requried`",
            ),
            (
                "[secrets.A]\npath = \"a\"\n[secrets.A]\npath = \"b\"\n",
                "secrets.toml:3: ",
            ),
            (
                "[secrets.A]\npath = \"a\"\n[secrets.1BAD]\npath = \"b\"\n",
                "secrets.toml:3: [secrets.1BAD]: `1BAD` is not an environment variable name",
            ),
            (
                "[secrets.\"DB-URL\"]\npath = \"a\"\n",
                "secrets.toml:1: [secrets.DB-URL]: `DB-URL` is not",
            ),
            (
                "[secrets.A]\nrequired = true\n",
                "secrets.toml:1: missing field `path`",
            ),
            (
                "[secrets.A]\npath = \" \"\n",
                "secrets.toml:2: [secrets.A]: key `path` is empty",
            ),
            (
                "[secret.A]\npath = \"a\"\n",
                "secrets.toml:1: unknown key `secret`",
            ),
            (
                "[secrets.A]\npath = \"a\"\nrequired = \"yes\"\n",
                "secrets.toml:3: ",
            ),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            let msg = e.to_string();
            assert!(msg.starts_with(want), "{msg:?} should start with {want:?}");
            assert_eq!(msg.lines().count(), 1, "{msg}");
        }
        let e = parse("[secrets.A]\npath = \"a\"\n[secrets.A]\npath = \"b\"\n").unwrap_err();
        assert!(e.to_string().contains("duplicate key"), "{e}");
    }

    #[test]
    fn env_args_are_required_and_replace_manifest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.toml");
        std::fs::write(&file, "[secrets.A]\npath = \"a\"\nrequired = false\n").unwrap();
        let m = Manifest::from_args(Some(&file), &["A=other/a".into(), "B=b#f".into()]).unwrap();
        assert_eq!(m.entries.len(), 2);
        assert_eq!(
            (m.entries[0].path.as_str(), m.entries[0].required),
            ("other/a", true)
        );
        assert_eq!(m.entries[1].path, "b#f");
        for bad in ["A", "1A=x", "A=", "=x", "A-B=x"] {
            let e = Manifest::from_args(None, &[bad.into()]).unwrap_err();
            assert!(e.to_string().starts_with(&format!("--env {bad}: ")), "{e}");
        }
        let e = Manifest::read(&dir.path().join("nope.toml")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
    }

    #[test]
    fn env_names_are_portable_ones() {
        for ok in ["A", "_A", "DATABASE_URL", "a1_b2"] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A.B", "A B", "É"] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }
}
