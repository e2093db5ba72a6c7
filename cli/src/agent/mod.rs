//! `secret-chain agent`: a drop-in for the AWS Secrets Manager Agent that
//! serves the whole chain over loopback HTTP (and a Unix socket).
//!
//! - `config.rs`: the AWS agent's TOML keys (2.1.0) and ours;
//! - `token.rs`: the SSRF token (env or `file://`), re-read on SIGHUP;
//! - `service.rs`: one request, checked and answered in the AWS agent's order;
//! - `query.rs`: the two request forms and their parameters;
//! - `render.rs`: `GetSecretValue`'s JSON and AWS-shaped errors;
//! - `bodies.rs`: pre-serialised answers, one rendering per fetch;
//! - `body.rs`: the HTTP body (one frame; a shared rendering zeroed on drop);
//! - `status.rs`: `/metrics` and `/secret-chain/v1/secrets`;
//! - `server.rs`: listeners, connections, graceful shutdown;
//! - `logging.rs`: the agent's masked logs.
//!
//! Exit status: 0 after a clean shutdown (SIGTERM or SIGINT), 2 for a bad
//! configuration (file, token, chain settings, manifest), 3 when it cannot
//! bind or its AWS credentials fail validation.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use secret_chain::masking::KnownSecrets;
use secret_chain::settings::Settings;
use secret_chain::{Config, Error, ErrorKind, ExposeSecret, ProviderKind, SecretsManager};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::Exit;
use crate::manifest::Manifest;

mod bodies;
mod body;
pub(crate) mod config;
mod logging;
mod query;
mod render;
mod server;
mod service;
mod status;
mod token;

use config::AgentConfig;
use service::Agent;
use token::Token;

/// Arguments of `secret-chain agent`.
#[derive(Debug, clap::Args)]
pub(crate) struct AgentArgs {
    /// The AWS Secrets Manager Agent's TOML config file (every key of its
    /// version 2.1.0), with our keys `providers`, `unix_socket`, `http`,
    /// `prefetch`, `manifest` on top. Without it: the AWS agent's defaults.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
}

/// How long a token is kept in the masking registry: for the agent's life.
const TOKEN_RETENTION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Runs the agent until SIGTERM or SIGINT.
pub(crate) fn run(args: AgentArgs) -> Exit {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("secret-chain-agent")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("secret-chain: agent: cannot start the runtime: {e}");
            return Exit::Unavailable;
        }
    };
    runtime.block_on(serve(args))
}

/// Raises the soft limit of open files to the hard one: every connection
/// is a descriptor, and `max_conn` may be 1,000 (Go's runtime does the
/// same at start).
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

async fn serve(args: AgentArgs) -> Exit {
    raise_fd_limit();
    let fail = |exit: Exit, e: &Error| {
        eprintln!("secret-chain: agent: {e}");
        tracing::error!(error = %e, "the agent cannot start");
        exit
    };
    let config = match &args.config {
        Some(file) => match AgentConfig::read(file) {
            Ok(c) => c,
            Err(e) => return fail(Exit::Usage, &e),
        },
        None => AgentConfig::default(),
    };
    let chain = match chain_config(&config) {
        Ok(c) => c,
        Err(e) => return fail(Exit::Usage, &e),
    };
    let known = match KnownSecrets::from_settings(chain.settings()) {
        Ok(k) => Arc::new(k),
        Err(e) => return fail(Exit::Usage, &e),
    };
    if let Err(e) = logging::install(config.log_level, config.log_to_file, Arc::clone(&known)) {
        return fail(Exit::Usage, &e);
    }
    let token = match Token::load(&config.ssrf_env_variables) {
        Ok(t) => t,
        Err(e) => return fail(Exit::Usage, &e),
    };
    known.register_for(token.value().expose_secret(), TOKEN_RETENTION);
    let headers = match config
        .ssrf_headers
        .iter()
        .map(|h| HeaderName::try_from(h.as_str()))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(h) => h,
        Err(_) => {
            return fail(
                Exit::Usage,
                &Error::config("ssrf_headers: a header name is not a valid HTTP header name"),
            );
        }
    };
    let manager = match build_manager(&config, &chain, Arc::clone(&known)) {
        Ok(m) => m,
        Err(e) => return fail(Exit::Usage, &e),
    };
    if config.validate_credentials
        && let Err(e) = validate_credentials(&manager, &chain, config.ignore_transient_errors).await
    {
        return fail(Exit::Unavailable, &e);
    }
    let paths = match prefetch_paths(&config) {
        Ok(p) => p,
        Err(e) => return fail(Exit::Usage, &e),
    };
    if !paths.is_empty() {
        match manager.prefetch(&paths).await {
            Ok(()) => tracing::info!(secrets = paths.len(), "prefetched"),
            Err(e) => {
                tracing::warn!(error = %e, "prefetch incomplete: the rest is read on first request")
            }
        }
    }

    let mut listeners = Vec::new();
    if config.http {
        match server::bind_tcp(config.http_port).await {
            Ok(l) => listeners.push(l),
            Err(e) => return fail(Exit::Unavailable, &e),
        }
    }
    if let Some(path) = &config.unix_socket {
        match server::bind_unix(path) {
            Ok(l) => listeners.push(l),
            Err(e) if e.kind() == ErrorKind::Config => return fail(Exit::Usage, &e),
            Err(e) => return fail(Exit::Unavailable, &e),
        }
    }
    let addresses: Vec<String> = listeners.iter().map(server::Listener::describe).collect();
    let agent = Arc::new(Agent::new(
        manager.clone(),
        token,
        headers,
        config.path_prefix.clone(),
        config.max_conn,
        config.cache_size,
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => return fail(Exit::Unavailable, &e),
    };
    let serving = tokio::spawn(server::serve(Arc::clone(&agent), listeners, stop_rx));
    let line = format!(
        "secret-chain agent {} listening on {}",
        env!("CARGO_PKG_VERSION"),
        addresses.join(" and ")
    );
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    tracing::info!("{line}");

    signals.until_stopped(&agent, &known).await;
    tracing::info!("stopping: no new connections, in-flight requests finish");
    let _ = stop_tx.send(true);
    let _ = serving.await;
    if let Err(e) = manager.shutdown().await {
        tracing::warn!(error = %e, "leases not all revoked at shutdown");
    }
    tracing::info!("stopped");
    Exit::Ok
}

/// The chain's configuration: the environment with the agent's defaults
/// and the config file's keys on top. Without `providers` and without
/// `SECRETS_PROVIDERS` / `SECRETS_BACKEND` the chain is AWS alone (as the
/// AWS agent); `SECRETS_PREFIX` is empty unless set (clients send full
/// names).
fn chain_config(c: &AgentConfig) -> Result<Config, Error> {
    let mut vars: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let has = |vars: &HashMap<String, String>, k: &str| vars.contains_key(k);
    match &c.providers {
        Some(list) => {
            vars.remove("SECRETS_BACKEND");
            vars.insert("SECRETS_PROVIDERS".into(), list.join(","));
        }
        None if !has(&vars, "SECRETS_PROVIDERS") && !has(&vars, "SECRETS_BACKEND") => {
            vars.insert("SECRETS_PROVIDERS".into(), "aws".into());
        }
        None => {}
    }
    if c.ttl_set || !has(&vars, "SECRETS_CACHE_TTL") {
        vars.insert("SECRETS_CACHE_TTL".into(), c.ttl.as_secs().to_string());
    }
    if c.ignore_transient_set && !c.ignore_transient_errors {
        vars.insert("SECRETS_MAX_STALE".into(), "0".into());
    }
    if let Some(region) = &c.region {
        vars.insert("SECRETS_AWS_REGION".into(), region.clone());
    }
    if let Some(file) = &c.credentials_file_path {
        vars.insert(
            "SECRETS_AWS_CREDENTIALS_FILE".into(),
            file.to_string_lossy().into_owned(),
        );
    }
    Config::from_settings(Settings::from_vars(vars))
}

fn build_manager(
    c: &AgentConfig,
    chain: &Config,
    known: Arc<KnownSecrets>,
) -> Result<SecretsManager, Error> {
    let mut b = SecretsManager::builder()
        .known_secrets(known)
        .config(chain)?
        .cache_capacity(c.cache_size);
    if c.ttl.is_zero() {
        // No cache: every request reads the backend (single-flight still
        // joins concurrent ones), and nothing is kept to serve stale.
        b = b.refresh_ahead(false);
    }
    b.build()
}

/// The AWS agent checks its credentials at start (`validate_credentials`).
/// Ours asks each AWS provider of the chain for one name: an answer, or
/// AWS refusing `ListSecrets` (the credentials were accepted; least-
/// privilege roles may not list), passes; credentials AWS does not accept,
/// or none at all, fail. An outage passes when `ignore_transient_errors`.
async fn validate_credentials(
    manager: &SecretsManager,
    chain: &Config,
    ignore_transient: bool,
) -> Result<(), Error> {
    let aws: Vec<&str> = chain
        .providers
        .iter()
        .filter(|p| p.kind == ProviderKind::Aws)
        .map(|p| p.name.as_str())
        .collect();
    if aws.is_empty() {
        return Ok(());
    }
    for h in manager.health().await {
        if !aws.contains(&h.provider.as_str()) {
            continue;
        }
        match h.result {
            Ok(_) => {}
            Err(e) if e.code() == Some("AccessDeniedException") => {}
            Err(e) if e.kind() == ErrorKind::Unavailable && ignore_transient => {
                tracing::warn!(provider = %h.provider, error = %e, "credentials not validated: AWS did not answer");
            }
            Err(e) => {
                return Err(Error::new(
                    e.kind(),
                    format!(
                        "the AWS credentials of provider {} fail validation: {e}",
                        h.provider
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `prefetch` paths, then the manifest's.
fn prefetch_paths(c: &AgentConfig) -> Result<Vec<String>, Error> {
    let mut paths = c.prefetch.clone();
    if let Some(m) = &c.manifest {
        paths.extend(Manifest::read(m)?.entries.into_iter().map(|e| e.path));
    }
    Ok(paths)
}

/// SIGTERM and SIGINT stop the agent; SIGHUP drops the cache and reads the
/// token again.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, Error> {
        let make = |k: SignalKind| {
            signal(k).map_err(|e| Error::unavailable(format!("cannot handle signals: {e}")))
        };
        Ok(Signals {
            term: make(SignalKind::terminate())?,
            int: make(SignalKind::interrupt())?,
            hup: make(SignalKind::hangup())?,
        })
    }

    async fn until_stopped(mut self, agent: &Agent, known: &KnownSecrets) {
        loop {
            tokio::select! {
                _ = self.term.recv() => return,
                _ = self.int.recv() => return,
                _ = self.hup.recv() => {
                    agent.drop_cache();
                    match agent.token.reload() {
                        Ok(()) => known.register_for(agent.token.value().expose_secret(), TOKEN_RETENTION),
                        Err(e) => tracing::warn!(error = %e, "SIGHUP: the token was not read again; the old one stays"),
                    }
                    tracing::info!("SIGHUP: cache dropped, token read again");
                }
            }
        }
    }
}
