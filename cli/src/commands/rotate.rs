//! `secret-chain rotate`: a new value for one secret, checked before it
//! is promoted, with the old one kept for a grace period.
//!
//! 1. The current version is read (and, for AWS, its stages: an existing
//!    `AWSPENDING` version or AWS rotation enabled is refused unless
//!    `--force`).
//! 2. The new value is generated (`--generate N --charset ...`) or read
//!    from stdin (`--value-stdin`, one trailing newline dropped); with
//!    `--field NAME` it replaces that field of the JSON secret.
//! 3. AWS: it is written as `AWSPENDING`, readers still get the old one.
//!    Vault: it is written as the newest version, with check-and-set
//!    against the version read in 1.
//! 4. `--check CMD` runs `sh -c CMD` with the new value as `SECRET_VALUE`
//!    and its output masked (the new and the old value, the backend
//!    credentials, the built-in patterns), at most `--check-timeout`.
//! 5. It passed: AWS moves `AWSCURRENT` to the new version and the old
//!    one becomes `AWSPREVIOUS` (readers that ask for `AWSPREVIOUS` still
//!    get it). It failed: AWS removes the pending version and leaves
//!    `AWSCURRENT` where it was; Vault writes the previous data back as
//!    the newest version. Exit 1.
//!
//! The report (stdout) names the path and the versions, never a value.
//! Exit status: 0 rotated; 1 the check failed (rolled back), the secret
//! does not exist or has no current value, or the rotation was refused
//! (pending version, AWS rotation on); 2 bad arguments or configuration;
//! 3 a backend unavailable or denied.

use std::io::{Read as _, Write};
use std::time::Duration;

use secret_chain::admin::{self, Current, Payload, SecretStore, Staged};
use secret_chain::masking::KnownSecrets;
use secret_chain::{Config, Error, ErrorKind, ExposeSecret, ProviderKind, SecretString};

use super::exec::{masker, value_forms, zeroize_string};
use super::stdout_error;
use crate::Exit;
use crate::exec::check::{self, Checked};
use crate::ops::generate;

/// Arguments of `secret-chain rotate`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["generate", "value_stdin"])))]
pub(crate) struct RotateArgs {
    /// The secret to rotate (relative to the provider's prefix).
    path: String,
    /// The provider instance that holds it (an aws or vault instance of
    /// SECRETS_PROVIDERS).
    #[arg(long, value_name = "NAME")]
    provider: String,
    /// Generate a new value of N random characters (8 to 4096).
    #[arg(long, value_name = "N")]
    generate: Option<usize>,
    /// The characters of a generated value: alnum, alnum-symbols, hex, or
    /// the characters themselves.
    #[arg(
        long,
        value_name = "SET",
        default_value = "alnum",
        requires = "generate"
    )]
    charset: String,
    /// Read the new value from stdin (one trailing newline is dropped).
    #[arg(long)]
    value_stdin: bool,
    /// Run this command (sh -c) with the new value as SECRET_VALUE before
    /// promoting it; a non-zero status rolls the rotation back.
    #[arg(long, value_name = "CMD")]
    check: Option<String>,
    /// The longest the check may run, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    check_timeout: u64,
    /// Rotate one field of a JSON secret; the other fields stay.
    #[arg(long, value_name = "NAME")]
    field: Option<String>,
    /// Rotate even with a pending version (AWSPENDING) or AWS rotation
    /// enabled.
    #[arg(long)]
    force: bool,
}

/// A refusal or a rolled-back rotation: its reason on stderr, exit 1.
fn no(message: String) -> Result<Exit, Error> {
    eprintln!("secret-chain: rotate: {message}");
    Ok(Exit::No)
}

/// Runs `secret-chain rotate`.
pub(crate) async fn run(args: RotateArgs) -> Result<Exit, Error> {
    let config = Config::from_process_env()?;
    let store = admin::open(&config, &args.provider)?;
    let path = args.path.trim_start_matches('/').to_owned();
    if path.is_empty() || path.contains('#') {
        return Err(Error::new(
            ErrorKind::InvalidPath,
            format!(
                "rotate: '{}' is not a secret path (name one field with --field, not '#')",
                args.path
            ),
        ));
    }
    if args.field.as_deref().is_some_and(str::is_empty) {
        return Err(Error::config("--field: the field name is empty"));
    }
    let new = new_value(&args)?;
    let at = format!("{} {}", store.name(), store.location(&path));

    let Some(current) = store.read(&path).await? else {
        return no(format!(
            "{path}: not found ({at}); create it first (migrate)"
        ));
    };
    let Some(old) = &current.value else {
        return no(format!(
            "{path}: the current version {} is deleted or destroyed ({at}); nothing to rotate",
            current.version
        ));
    };
    let aws = store.kind() == ProviderKind::Aws;
    if let Some(info) = store.describe(&path).await? {
        if let Some(pending) = &info.pending
            && !args.force
        {
            return no(format!(
                "{path}: version {pending} is already AWSPENDING ({at}): another rotation may be under way; --force replaces it"
            ));
        }
        if info.rotation_enabled == Some(true) && !args.force {
            return no(format!(
                "{path}: AWS rotation is enabled ({at}): its rotation function owns this secret; --force rotates it anyway"
            ));
        }
    }
    let (value, old_value) = replacement(store.as_ref(), &path, old, &new, args.field.as_deref())?;

    let mut out = std::io::stdout().lock();
    let staged = store.stage(&path, &value, &current).await?;
    let what = match &args.field {
        Some(f) => format!("{path} (field {f})"),
        None => path.clone(),
    };
    if aws {
        writeln!(
            out,
            "{what}: new version {} written as AWSPENDING ({at}); AWSCURRENT is still {}",
            staged.version, staged.previous
        )
    } else {
        writeln!(
            out,
            "{what}: new version {} written ({at}); the previous one is {}",
            staged.version, staged.previous
        )
    }
    .map_err(stdout_error)?;
    out.flush().map_err(stdout_error)?;

    if let Some(command) = &args.check {
        let result = run_check(&config, command, &new, &old_value, args.check_timeout);
        if result != Checked::Passed {
            let why = match &result {
                Checked::Failed(how) => format!("the check failed ({how})"),
                Checked::TimedOut(limit) => {
                    format!(
                        "the check did not finish in {} s and was killed",
                        limit.as_secs()
                    )
                }
                Checked::CannotRun(why) => format!("the check could not run: {why}"),
                Checked::Passed => unreachable!(),
            };
            return roll_back(
                store.as_ref(),
                &staged,
                &current,
                aws,
                &what,
                &why,
                &mut out,
            )
            .await;
        }
        writeln!(out, "{what}: the check passed").map_err(stdout_error)?;
    }

    if let Err(e) = store.promote(&staged).await {
        eprintln!(
            "secret-chain: rotate: {what}: cannot promote version {}: {e}",
            staged.version
        );
        return roll_back(
            store.as_ref(),
            &staged,
            &current,
            aws,
            &what,
            "promotion failed",
            &mut out,
        )
        .await
        .map(|exit| exit.max(Exit::of(&e)));
    }
    if aws {
        writeln!(
            out,
            "{what}: AWSCURRENT moved to version {}; version {} is AWSPREVIOUS (readers of AWSPREVIOUS still get the old value)",
            staged.version, staged.previous
        )
    } else {
        writeln!(
            out,
            "{what}: version {} is current; version {} keeps the old value",
            staged.version, staged.previous
        )
    }
    .map_err(stdout_error)?;
    writeln!(
        out,
        "{what}: rotated; running services pick up the new value when their cache entry expires (SECRETS_CACHE_TTL) or at once through credential_rejected()"
    )
    .map_err(stdout_error)?;
    Ok(Exit::Ok)
}

/// Undoes a staged rotation after `why`; exit 1 (3 if the undo failed).
async fn roll_back(
    store: &dyn SecretStore,
    staged: &Staged,
    current: &Current,
    aws: bool,
    what: &str,
    why: &str,
    out: &mut impl Write,
) -> Result<Exit, Error> {
    match store.discard(staged, current).await {
        Ok(now) => {
            let done = if aws {
                format!(
                    "pending version {} removed; AWSCURRENT is still version {now}",
                    staged.version
                )
            } else {
                format!(
                    "the previous data was written back as version {now}; version {} holds the rejected value",
                    staged.version
                )
            };
            writeln!(out, "{what}: {why}; rolled back: {done}").map_err(stdout_error)?;
            eprintln!("secret-chain: rotate: {what}: {why}; rolled back");
            Ok(Exit::No)
        }
        Err(e) => {
            eprintln!(
                "secret-chain: rotate: {what}: {why}, and the roll-back failed: {e}; version {} may still be staged",
                staged.version
            );
            Ok(Exit::of(&e).max(Exit::No))
        }
    }
}

/// The new value: generated, or stdin without one trailing newline.
fn new_value(args: &RotateArgs) -> Result<SecretString, Error> {
    if let Some(n) = args.generate {
        let chars = generate::charset(&args.charset)?;
        return generate::generate(n, &chars);
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| {
        Error::new(ErrorKind::Io, "--value-stdin: cannot read stdin").with_source(e)
    })?;
    let trimmed = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    let value = SecretString::from(trimmed);
    zeroize_string(&mut text);
    if value.expose_secret().is_empty() {
        return Err(Error::config("--value-stdin: stdin is empty"));
    }
    Ok(value)
}

/// What to write for the new value `new`, and the old value it replaces
/// (to mask): the field of a JSON secret with `--field`; the single field
/// of a one-field object; else the whole value (refused for an object of
/// several fields, which needs `--field`).
fn replacement(
    store: &dyn SecretStore,
    path: &str,
    old: &Payload,
    new: &SecretString,
    field: Option<&str>,
) -> Result<(Payload, SecretString), Error> {
    let Payload::Text(old) = old else {
        if field.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidJson,
                format!("{path} is binary, so it has no field to rotate"),
            ));
        }
        return Ok((Payload::Text(new.clone()), SecretString::from("")));
    };
    let single = match serde_json::from_str::<serde_json::Value>(old.expose_secret()) {
        Ok(serde_json::Value::Object(map)) if map.len() == 1 => map.keys().next().cloned(),
        _ => None,
    };
    let field = match (field, single) {
        (Some(f), _) => Some(f.to_owned()),
        (None, Some(only)) => Some(only),
        (None, None) => {
            if let Some(fields) = admin::object_fields(old) {
                return Err(Error::new(
                    ErrorKind::InvalidValue,
                    format!(
                        "{path} is a JSON object with the fields {}; name the one to rotate with --field",
                        fields.join(", ")
                    ),
                ));
            }
            None
        }
    };
    match field {
        Some(f) => {
            let old_field = match serde_json::from_str::<serde_json::Value>(old.expose_secret()) {
                Ok(serde_json::Value::Object(map)) => match map.get(&f) {
                    Some(serde_json::Value::String(s)) => SecretString::from(s.as_str()),
                    Some(other) => SecretString::from(other.to_string()),
                    None => SecretString::from(""),
                },
                _ => SecretString::from(""),
            };
            let value = admin::with_field(old, &f, new, &format!("{} {path}", store.name()))?;
            Ok((Payload::Text(value), old_field))
        }
        None => Ok((Payload::Text(new.clone()), old.clone())),
    }
}

/// Runs the check with the new value, its output masked: the new and
/// the old value in every form, the backend credentials, the patterns.
fn run_check(
    config: &Config,
    command: &str,
    new: &SecretString,
    old: &SecretString,
    timeout: u64,
) -> Checked {
    let min_len = KnownSecrets::from_settings(config.settings())
        .map(|k| k.min_len())
        .unwrap_or(secret_chain::masking::DEFAULT_MIN_LEN);
    let mut values = Vec::new();
    for v in [new, old] {
        if !v.expose_secret().is_empty() {
            value_forms(v.expose_secret(), &mut values);
        }
    }
    let mask = masker(min_len, values);
    check::run(command, new, mask, Duration::from_secs(timeout.max(1)))
}
