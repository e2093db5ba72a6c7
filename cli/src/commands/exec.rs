//! `secret-chain exec`: run a command with its secrets in its environment
//! and its output masked.
//!
//! The secrets come from a manifest (`--manifest FILE` or
//! `SECRETS_MANIFEST`) and `--env NAME=PATH` entries, resolved in one
//! prefetch. Nothing runs when a required one does not resolve. The
//! child's stdout and stderr go through a redactor that knows every
//! injected value (and the backend credentials `exec` used, which the
//! child inherits), in every encoding the masking registry matches, plus
//! the built-in credential patterns. See `crate::exec` for the child.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secret_chain::masking::{KnownSecrets, Redactor};
use secret_chain::{Error, ExposeSecret, SecretString, SecretsManager};

use crate::exec::{self, FAILED, Plan, stream::longest_form};
use crate::manifest::{self, Entry, Manifest, Outcome};

/// Arguments of `secret-chain exec`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExecArgs {
    /// The manifest (secrets.toml) of the secrets to inject.
    #[arg(long, value_name = "FILE", env = "SECRETS_MANIFEST")]
    manifest: Option<PathBuf>,
    /// Inject one more secret, required: the variable NAME gets the secret
    /// at PATH (`database/url`, `db#password`). Repeatable; replaces a
    /// manifest entry of the same name.
    #[arg(long = "env", value_name = "NAME=PATH")]
    env: Vec<String>,
    /// Do not mask the output: the command inherits the terminal
    /// (secret-chain replaces itself with it).
    #[arg(long)]
    no_mask: bool,
    /// The command to run and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// The backend credentials `exec` may have used: the child inherits them,
/// and they are masked in its output like the secrets. Also under an
/// instance's prefix (`SECRETS_DR_VAULT_TOKEN`).
const CREDENTIAL_VARS: &[&str] = &[
    "VAULT_TOKEN",
    "BAO_TOKEN",
    "VAULT_SECRET_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY_ID",
];

/// Runs `secret-chain exec`; returns its exit status (the child's, or
/// 125/126/127 as `env(1)`).
pub(crate) fn run(args: ExecArgs) -> u8 {
    match prepare(args) {
        Ok(plan) => exec::run(plan),
        Err(message) => {
            eprintln!("secret-chain: exec: {message}");
            FAILED
        }
    }
}

/// Resolves the secrets and builds the plan; the error is what to print.
fn prepare(args: ExecArgs) -> Result<Plan, String> {
    let ExecArgs {
        manifest,
        env,
        no_mask,
        mut command,
    } = args;
    let entries = Manifest::from_args(manifest.as_ref(), &env)
        .map_err(|e| e.to_string())?
        .entries;
    // The runtime (and any thread of it) is gone before the child starts.
    let (manager, outcomes) = {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        runtime.block_on(async {
            let manager = SecretsManager::from_env().map_err(|e| e.to_string())?;
            let outcomes = manifest::resolve(&manager, &entries).await;
            Ok::<_, String>((manager, outcomes))
        })?
    };
    let (set, remove) = split(&entries, outcomes).map_err(|(failed, total)| {
        let mut msg = format!(
            "{} of {total} secrets do not resolve; the command was not run:",
            failed.len()
        );
        for line in failed {
            msg.push_str("\n  ");
            msg.push_str(&line);
        }
        msg
    })?;
    let program = command.remove(0);
    let mask = (!no_mask).then(|| redactor(&manager, &set));
    Ok(Plan {
        program,
        args: command,
        set,
        remove,
        mask,
    })
}

/// The variables to set and to remove, or a line for each secret that
/// stops the run (and how many there are in all).
#[allow(clippy::type_complexity)]
fn split(
    entries: &[Entry],
    outcomes: Vec<Outcome>,
) -> Result<(Vec<(String, SecretString)>, Vec<String>), (Vec<String>, usize)> {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    let mut failed = Vec::new();
    for (entry, outcome) in entries.iter().zip(outcomes) {
        match outcome {
            Outcome::Found(value, _) => set.push((entry.name.clone(), value)),
            Outcome::Missing(_) if !entry.required => remove.push(entry.name.clone()),
            Outcome::Missing(e) => failed.push(line(entry, "missing", &e)),
            // Unavailable or denied: an optional secret may exist there.
            Outcome::Failed(e) => failed.push(line(entry, e.kind().as_str(), &e)),
        }
    }
    if failed.is_empty() {
        Ok((set, remove))
    } else {
        Err((failed, entries.len()))
    }
}

fn line(entry: &Entry, status: &str, e: &Error) -> String {
    format!(
        "{} {}: {status}: {}",
        entry.name,
        entry.path,
        manifest::reason(e)
    )
}

/// The redactor of the child's output: the injected values (each line of
/// a multi-line one too, since output is released line by line) and the
/// backend credentials, kept for as long as the child runs, plus the
/// built-in patterns; and the hold of a partial line.
fn redactor(manager: &SecretsManager, set: &[(String, SecretString)]) -> (Redactor, usize) {
    let mut values: Vec<String> = Vec::new();
    for (_, v) in set {
        value_forms(v.expose_secret(), &mut values);
    }
    masker(manager.known_secrets().min_len(), values)
}

/// A value and what of it output may show alone: each line of a
/// multi-line one (output is released line by line) and each string field
/// of a JSON object.
pub(crate) fn value_forms(v: &str, values: &mut Vec<String>) {
    values.push(v.to_owned());
    if v.contains('\n') {
        values.extend(v.lines().map(|l| l.trim().to_owned()));
    }
    if v.trim_start().starts_with('{')
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(v)
    {
        values.extend(map.into_iter().filter_map(|(_, f)| match f {
            serde_json::Value::String(s) => Some(s),
            _ => None,
        }));
    }
}

/// The redactor of a child's output (`exec`, `rotate --check`): `values`
/// (wiped here) and the backend credentials of the environment, which the
/// child inherits, plus the built-in patterns; and the hold of a partial
/// line. Values shorter than `min_len` are not registered.
pub(crate) fn masker(min_len: usize, mut values: Vec<String>) -> (Redactor, usize) {
    let known = Arc::new(KnownSecrets::with_settings(min_len, Duration::MAX));
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        if is_credential_var(name) {
            values.push(value.to_owned());
        }
    }
    let long_enough = |s: &&String| s.chars().take(min_len).count() >= min_len;
    known.register_many(values.iter().filter(long_enough).map(String::as_str));
    let hold = values
        .iter()
        .filter(long_enough)
        .filter(|v| v.len() <= secret_chain::masking::MAX_REGISTERED_VALUE_BYTES)
        .map(|v| longest_form(v))
        .max()
        .unwrap_or(1)
        .saturating_sub(1);
    for v in &mut values {
        zeroize_string(v);
    }
    (Redactor::new(known), hold)
}

/// Overwrites a copy of a value before it is dropped.
pub(crate) fn zeroize_string(s: &mut String) {
    let n = s.len();
    s.clear();
    s.extend(std::iter::repeat_n('\0', n));
}

/// Whether `name` is a backend credential `exec` reads (or an instance's).
fn is_credential_var(name: &str) -> bool {
    CREDENTIAL_VARS.iter().any(|c| {
        name == *c
            || (name.starts_with("SECRETS_")
                && name.len() > c.len() + 1
                && name.ends_with(c)
                && name.as_bytes()[name.len() - c.len() - 1] == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_variables_include_instance_ones() {
        for yes in [
            "VAULT_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "SECRETS_DR_VAULT_TOKEN",
            "SECRETS_PRIMARY_AWS_SESSION_TOKEN",
        ] {
            assert!(is_credential_var(yes), "{yes}");
        }
        for no in [
            "MY_VAULT_TOKEN",
            "VAULT_ADDR",
            "SECRETS_VAULT_TOKENS",
            "PATH",
        ] {
            assert!(!is_credential_var(no), "{no}");
        }
    }
}
