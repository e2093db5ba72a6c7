//! `GET /metrics` (the chain's `stats()` in Prometheus' text format) and
//! `GET /secret-chain/v1/secrets` (what the cache holds: path, provider,
//! version, fetched at, age, hits, last error; never a value).

use std::collections::HashMap;
use std::fmt::Write;
use std::time::UNIX_EPOCH;

use secret_chain::{CachedSecret, Stats, Version};

use super::service::Counters;

/// A per-provider counter: its name, help text and reading.
type PerProvider = (
    &'static str,
    &'static str,
    fn(&secret_chain::ProviderStats) -> u64,
);

/// The Prometheus text exposition of `stats` and the agent's own counters.
pub(crate) fn metrics(stats: &Stats, agent: &Counters) -> String {
    let mut out = String::with_capacity(4096);
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP secret_chain_{name} {help}\n# TYPE secret_chain_{name} counter\nsecret_chain_{name} {value}"
        );
    };
    counter(
        "cache_hits_total",
        "Reads answered from the cache with a value.",
        stats.hits,
    );
    counter(
        "cache_negative_hits_total",
        "Reads answered from the cache with a remembered not-found.",
        stats.negative_hits,
    );
    counter(
        "cache_misses_total",
        "Reads that went to the providers.",
        stats.misses,
    );
    counter(
        "stale_served_total",
        "Reads answered with a stale value because the provider was down.",
        stats.stale_served,
    );
    counter(
        "refresh_ahead_total",
        "Background refreshes started by refresh-ahead.",
        stats.refresh_ahead,
    );
    counter(
        "lease_renewals_total",
        "Leases renewed.",
        stats.lease_renewals,
    );
    counter(
        "lease_renewal_failures_total",
        "Lease renewals refused or failed.",
        stats.lease_renewal_failures,
    );
    counter(
        "lease_replacements_total",
        "Leased values replaced by new ones.",
        stats.lease_replacements,
    );
    counter(
        "leases_revoked_total",
        "Leases revoked.",
        stats.leases_revoked,
    );
    counter(
        "agent_requests_total",
        "Requests answered by the agent.",
        agent.requests(),
    );
    counter(
        "agent_errors_total",
        "Requests answered with a 4xx or 5xx status.",
        agent.errors(),
    );
    let mut gauge = |name: &str, help: &str, value: usize| {
        let _ = writeln!(
            out,
            "# HELP secret_chain_{name} {help}\n# TYPE secret_chain_{name} gauge\nsecret_chain_{name} {value}"
        );
    };
    gauge(
        "cached_entries",
        "Entries in the cache.",
        stats.cached_entries,
    );
    gauge("leases_held", "Leases held now.", stats.leases_held);
    gauge(
        "agent_connections",
        "Connections open now.",
        agent.connections(),
    );
    let per_provider: [PerProvider; 7] = [
        (
            "provider_calls_total",
            "Backend calls made (each retry counts).",
            |p| p.calls,
        ),
        (
            "provider_found_total",
            "Calls that returned a value.",
            |p| p.found,
        ),
        (
            "provider_not_found_total",
            "Calls answered not found.",
            |p| p.not_found,
        ),
        (
            "provider_denied_total",
            "Calls answered access denied.",
            |p| p.denied,
        ),
        (
            "provider_unavailable_total",
            "Calls that failed as unavailable.",
            |p| p.unavailable,
        ),
        (
            "provider_other_errors_total",
            "Calls that failed otherwise.",
            |p| p.other_errors,
        ),
        (
            "provider_skipped_open_total",
            "Calls skipped by an open breaker.",
            |p| p.skipped_open,
        ),
    ];
    for (name, help, get) in per_provider {
        let _ = writeln!(
            out,
            "# HELP secret_chain_{name} {help}\n# TYPE secret_chain_{name} counter"
        );
        for p in &stats.providers {
            let _ = writeln!(
                out,
                "secret_chain_{name}{{provider=\"{}\"}} {}",
                p.provider,
                get(p)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP secret_chain_provider_breaker_open Whether the provider's breaker is open (1) or not (0).\n# TYPE secret_chain_provider_breaker_open gauge"
    );
    for p in &stats.providers {
        let open = u8::from(matches!(p.breaker, secret_chain::BreakerState::Open));
        let _ = writeln!(
            out,
            "secret_chain_provider_breaker_open{{provider=\"{}\"}} {open}",
            p.provider
        );
    }
    out
}

/// The listing: one JSON object per cached secret. `hits` counts the
/// agent's responses per key; `last_error` is a remembered miss's error,
/// or the last failed request's.
pub(crate) fn secrets(
    cached: &[CachedSecret],
    hits: &HashMap<String, u64>,
    errors: &HashMap<String, String>,
) -> Vec<u8> {
    let list: Vec<serde_json::Value> = cached
        .iter()
        .map(|c| {
            let key = super::service::key_of(&c.path, &c.version);
            let (stage, version_id) = match &c.version {
                Version::Stage(s) => (Some(s.as_str()), c.version_id.as_deref()),
                _ => (None, c.version_id.as_deref()),
            };
            serde_json::json!({
                "path": c.path,
                "version": c.version.to_string(),
                "stage": stage,
                "provider": c.provider,
                "version_id": version_id,
                "fetched_at": c.fetched_at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
                "age_seconds": c.age.as_secs(),
                "expired": c.expired,
                "hits": hits.get(key.as_ref()).copied().unwrap_or(0),
                "last_error": c.error.as_deref().or(errors.get(key.as_ref()).map(String::as_str)),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "secrets": list })).unwrap_or_default()
}
