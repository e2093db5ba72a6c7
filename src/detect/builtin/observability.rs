//! Built-in rules: Observability: Grafana, New Relic, Sentry, Sumo Logic,
//! Datadog, Honeycomb.
//!
//! Grafana, New Relic and Sentry tokens have a prefix or a signature and
//! are found anywhere (a Sentry DSN's key in its URL). Sumo Logic, Datadog
//! and Honeycomb keys are plain random strings: found only after a setting
//! name or header that holds the vendor's name (`DD_API_KEY`,
//! `X-Honeycomb-Team`).

use super::context::{at, name_ends_at, run_before};
use super::{Def, tok};

pub(super) const DEFS: &[Def] = &[
    // Grafana: service account tokens (`glsa_`), Grafana Cloud tokens
    // (`glc_`), and the older API keys (base64 of `{"k":"...`).
    Def {
        entropy: Some(3.5),
        entropy_skip: 5,
        ..tok(
            "grafana-service-account-token",
            &["glsa_"],
            r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b",
        )
    },
    Def {
        entropy: Some(3.5),
        entropy_skip: 4,
        ..tok(
            "grafana-cloud-token",
            &["glc_"],
            r"glc_[A-Za-z0-9+/]{32,400}={0,3}",
        )
    },
    Def {
        entropy: Some(3.5),
        entropy_skip: 8,
        ..tok(
            "grafana-api-key",
            &["eyjrijoi"],
            r"eyJrIjoi[A-Za-z0-9+/]{60,400}={0,3}",
        )
    },
    // New Relic: user (`NRAK-`) and admin (`NRAA-`) API keys, browser keys
    // (`NRJS-`), Insights insert/query keys (`NRII-`, `NRIQ-`),
    // license keys (40 characters ending `NRAL`) and mobile app tokens
    // (ending `-NRMA`).
    Def {
        exact_case: true,
        entropy: Some(3.0),
        entropy_skip: 5,
        ..tok(
            "newrelic-user-api-key",
            &["NRAK-", "NRAA-"],
            r"NRA[AK]-[A-Z0-9]{27}\b",
        )
    },
    Def {
        exact_case: true,
        entropy: Some(3.0),
        entropy_skip: 5,
        ..tok(
            "newrelic-browser-api-key",
            &["NRJS-"],
            r"NRJS-[a-f0-9]{19}\b",
        )
    },
    Def {
        group: 1,
        exact_case: true,
        entropy: Some(3.0),
        entropy_skip: 5,
        ..tok(
            "newrelic-insights-key",
            &["NRII-", "NRIQ-"],
            r"(NRI[IQ]-[A-Za-z0-9_\-]{25,32})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    Def {
        back: Some(33),
        fwd: 12,
        group: 1,
        word_start: false,
        exact_case: true,
        pre: Some(license_pre),
        ..tok(
            "newrelic-license-key",
            &["FFFFNRAL"],
            r"(?:^|[^A-Za-z0-9])((?:[a-f0-9]{32}|eu01xx[a-f0-9]{26})FFFFNRAL)\b",
        )
    },
    Def {
        back: Some(43),
        fwd: 8,
        group: 1,
        word_start: false,
        exact_case: true,
        pre: Some(mobile_pre),
        ..tok(
            "newrelic-mobile-app-token",
            &["-NRMA"],
            r"(?:^|[^A-Za-z0-9])((?:AA[a-f0-9]{40}|eu01xx[a-f0-9]{36})-NRMA)\b",
        )
    },
    // Sentry: organization tokens (`sntrys_` + base64 JSON + `_` + 43),
    // user tokens (`sntryu_`), and the key of a DSN
    // (`https://<key>@o1.ingest.sentry.io/2`).
    Def {
        fwd: 700,
        entropy: Some(4.0),
        entropy_skip: 7,
        ..tok(
            "sentry-org-token",
            &["sntrys_"],
            r"sntrys_eyJ[A-Za-z0-9+/=]{60,600}_[A-Za-z0-9+/]{43}",
        )
    },
    Def {
        entropy: Some(3.0),
        entropy_skip: 7,
        ..tok("sentry-user-token", &["sntryu_"], r"sntryu_[a-f0-9]{64}\b")
    },
    Def {
        back: Some(112),
        fwd: 16,
        group: 1,
        word_start: false,
        entropy: Some(3.0),
        pre: Some(dsn_pre),
        ..tok(
            "sentry-dsn-key",
            &[".ingest."],
            r"://([a-f0-9]{32})(?::[a-f0-9]{32})?@o[0-9]{1,20}\.ingest\.(?:[a-z]{2}\.)?sentry\.io\b",
        )
    },
    // Sumo Logic access ids (`su` + 12) and access keys (64) after a Sumo
    // name.
    Def {
        fwd: 100,
        group: 1,
        entropy: Some(3.0),
        entropy_skip: 2,
        ..tok(
            "sumologic-access-id",
            &["sumo"],
            concat!(
                r"(?i:sumo)[\w.\-]{0,32}",
                nested!(),
                assign!(),
                r"(su[A-Za-z0-9]{12})\b"
            ),
        )
    },
    Def {
        fwd: 130,
        group: 1,
        entropy: Some(3.5),
        mixed: true,
        ..tok(
            "sumologic-access-key",
            &["sumo"],
            concat!(
                r"(?i:sumo)[\w.\-]{0,32}",
                nested!(),
                assign!(),
                r"([A-Za-z0-9]{64})\b"
            ),
        )
    },
    // Datadog API keys (32 hex) and application keys (40 hex) after a
    // `DD_API_KEY` / `DATADOG_API_KEY` / `DD-APPLICATION-KEY` style name
    // (on the secret-named key rule's `api_key` / `app_key` hits where the
    // name has `dd_` or `datadog_` before them: `datadog` as a keyword
    // would add `data`, which starts many log words, to the keyword
    // filter).
    Def {
        fwd: 100,
        group: 1,
        entropy: Some(3.0),
        mixed: true,
        word_start: false,
        pre: Some(datadog_pre),
        ..tok(
            "datadog-api-key",
            &["api_key", "api-key"],
            concat!(r"(?i:api[_\-]key)", assign!(), r"([a-f0-9]{32})\b"),
        )
    },
    Def {
        fwd: 100,
        group: 1,
        entropy: Some(3.0),
        mixed: true,
        word_start: false,
        pre: Some(datadog_app_pre),
        ..tok(
            "datadog-app-key",
            &[
                "app_key",
                "dd-app-key",
                "dd_application_key",
                "dd-application-key",
            ],
            concat!(
                r"(?i:app_key|dd[_\-]app(?:lication)?[_\-]key)",
                assign!(),
                r"([a-f0-9]{40})\b"
            ),
        )
    },
    // Honeycomb API keys (32 hex, 22 characters, or the prefixed `hcaik_`
    // style) after a Honeycomb name or `X-Honeycomb-Team`.
    Def {
        fwd: 140,
        group: 1,
        entropy: Some(3.0),
        mixed: true,
        ..tok(
            "honeycomb-api-key",
            &["honeycomb"],
            concat!(
                r"(?i:honeycomb)(?::[ \t]{0,4}\r?\n[ \t]{1,16})?[\w.\-]{0,16}?(?i:key|team|token|secret)[\w.\-]{0,16}",
                assign!(),
                r"(hc[a-z]{2,3}_[A-Za-z0-9]{20,80}|[a-f0-9]{32}|[A-Za-z0-9]{22})\b"
            ),
        )
    },
];

const DATADOG: &[&[u8]] = &[b"dd_", b"dd-", b"datadog_", b"datadog-", b"datadog"];

fn datadog_pre(b: &[u8], hs: usize) -> bool {
    name_ends_at(b, hs, DATADOG)
}

/// `app_key` after a Datadog name; the `dd-app-key` style keywords hold it.
fn datadog_app_pre(b: &[u8], hs: usize) -> bool {
    !at(b, hs, b"app_key") || name_ends_at(b, hs, DATADOG)
}

fn license_pre(b: &[u8], hs: usize) -> bool {
    b[hs..].starts_with(b"FFFFNRAL") && run_before(b, hs, 32, |c| c.is_ascii_alphanumeric())
}

fn mobile_pre(b: &[u8], hs: usize) -> bool {
    b[hs..].starts_with(b"-NRMA") && run_before(b, hs, 42, |c| c.is_ascii_alphanumeric())
}

/// A DSN's `@` within the host bytes right before the hit, and 32 hex
/// before it (or `public:secret`).
fn dsn_pre(b: &[u8], hs: usize) -> bool {
    let mut at = hs;
    let stop = hs.saturating_sub(40);
    while at > stop && (b[at - 1].is_ascii_alphanumeric() || matches!(b[at - 1], b'.' | b'-')) {
        at -= 1;
    }
    at > 32 && b[at - 1] == b'@' && b[at - 33..at - 1].iter().all(u8::is_ascii_hexdigit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::spans;

    /// Fake tokens (random, in each vendor's shape).
    const GLSA: &str = "glsa_jZojZcJ6INEYV2cEXn75hVVEYqAYEGyU_3fac2e3f";
    const GLC: &str = "glc_eyJvIjoiMzQ2NTcwIiwibiI6InN0YWNrLWU1NDg4eC10b2tlbiIsImsiOiJxUHhTNDNzb2xrRTdEMWQxT3pDNmJZV3giLCJtIjp7InIiOiJwcm9kLXVzLWVhc3QtMCJ9fQ==";
    const GRAFANA_OLD: &str =
        "eyJrIjoiVlRKVG1jQ0xmd2s2eDRpeHVNQjBRQkZyZnFXTjltMDAiLCJuIjoiY2kta2V5IiwiaWQiOjJ9";
    const NRAK: &str = "NRAK-TCBK6ZT445M9ORCCQBJA45YUCY5";
    const NRJS: &str = "NRJS-c93a270437864627722";
    const NRII: &str = "NRII-oP9inMM5O7ZOKd_e3RWW5iCc11ppBL1t";
    const NRAL: &str = "eca800edc6e14131c58cef7064639608FFFFNRAL";
    const NRMA: &str = "AAf82d38f834ddb8c5fff04a27de92fe3e068c80f8-NRMA";
    const SNTRYS: &str = "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";
    const SNTRYU: &str = "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";
    const DSN_KEY: &str = "bfc885fba5ab8811e19a61c643ad1508";
    const SUMO_ID: &str = "su1BH3KOJApP4Z";
    const SUMO_KEY: &str = "GTwwol5aADaJZqKNVCBxAVxVbrB3nQOml0yd6dnlXenoi8qY86DKrfNCCzWEIILJ";
    const DD_API: &str = "220ac10d8e4681913213b8ece44994d5";
    const DD_APP: &str = "20dbaff67536d1cf36d8c96d4139687144bb8d39";
    const HONEYCOMB: &str = "cK6BWMOImhQQ4IfllVoDw6";

    #[test]
    fn observability_keys_are_found_with_their_exact_span_in_each_context() {
        let cases: Vec<(String, &str, &str)> = vec![
            (
                format!("GRAFANA_TOKEN={GLSA}"),
                "grafana-service-account-token",
                GLSA,
            ),
            (
                format!("Authorization: Bearer {GLSA}"),
                "grafana-service-account-token",
                GLSA,
            ),
            (
                format!(r#"{{"grafana_cloud_token": "{GLC}"}}"#),
                "grafana-cloud-token",
                GLC,
            ),
            (
                format!("grafana api key {GRAFANA_OLD} created"),
                "grafana-api-key",
                GRAFANA_OLD,
            ),
            (
                format!("NEW_RELIC_API_KEY={NRAK}"),
                "newrelic-user-api-key",
                NRAK,
            ),
            (format!("Api-Key: {NRAK}"), "newrelic-user-api-key", NRAK),
            (
                format!("<script>NREUM.init={{licenseKey:\"{NRJS}\"}}</script>"),
                "newrelic-browser-api-key",
                NRJS,
            ),
            (
                format!("X-Insert-Key: {NRII}"),
                "newrelic-insights-key",
                NRII,
            ),
            (
                format!("NEW_RELIC_LICENSE_KEY={NRAL}"),
                "newrelic-license-key",
                NRAL,
            ),
            (
                format!("license_key: '{NRAL}'"),
                "newrelic-license-key",
                NRAL,
            ),
            (
                format!("NewRelic.start(\"{NRMA}\")"),
                "newrelic-mobile-app-token",
                NRMA,
            ),
            (
                format!("SENTRY_AUTH_TOKEN={SNTRYS}"),
                "sentry-org-token",
                SNTRYS,
            ),
            (
                format!("Authorization: Bearer {SNTRYU}"),
                "sentry-user-token",
                SNTRYU,
            ),
            (
                format!("sentry_sdk.init(\"https://{DSN_KEY}@o4507.ingest.us.sentry.io/4508\")"),
                "sentry-dsn-key",
                DSN_KEY,
            ),
            (
                format!(
                    "2025-06-01 INFO sentry: sending to https://{DSN_KEY}@o12.ingest.sentry.io/34"
                ),
                "sentry-dsn-key",
                DSN_KEY,
            ),
            (
                format!("SUMOLOGIC_ACCESSID={SUMO_ID}"),
                "sumologic-access-id",
                SUMO_ID,
            ),
            (
                format!("SUMOLOGIC_ACCESSKEY={SUMO_KEY}"),
                "sumologic-access-key",
                SUMO_KEY,
            ),
            (
                format!("sumo:\n  access_key: {SUMO_KEY}"),
                "sumologic-access-key",
                SUMO_KEY,
            ),
            (format!("DD_API_KEY={DD_API}"), "datadog-api-key", DD_API),
            (format!("DD-API-KEY: {DD_API}"), "datadog-api-key", DD_API),
            (
                format!(r#"{{"datadog_api_key": "{DD_API}"}}"#),
                "datadog-api-key",
                DD_API,
            ),
            (
                format!("DD-APPLICATION-KEY: {DD_APP}"),
                "datadog-app-key",
                DD_APP,
            ),
            (
                format!("datadog:\n  app_key: {DD_APP}"),
                "secret-named-key",
                DD_APP,
            ),
            (
                format!("X-Honeycomb-Team: {HONEYCOMB}"),
                "honeycomb-api-key",
                HONEYCOMB,
            ),
            (
                format!("HONEYCOMB_API_KEY={HONEYCOMB}"),
                "honeycomb-api-key",
                HONEYCOMB,
            ),
        ];
        for (line, rule, want) in cases {
            let found = spans(&line);
            assert!(
                found.iter().any(|(r, s)| r == rule && s == want),
                "{rule} in {line:?}: {found:?}"
            );
        }
    }

    #[test]
    fn observability_look_alikes_are_not_flagged() {
        let lines = [
            "glsa_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_xxxxxxxx".to_string(),
            format!("prefix {}", &GLSA[..20]),
            "glc_short".to_string(),
            "NRAK-XXXXXXXXXXXXXXXXXXXXXXXXXXX".to_string(),
            format!("id {}", &NRAK[..20]),
            format!("key {}FFFFNRAX", &NRAL[..32]),
            "sntryu_0000000000000000000000000000000000000000000000000000000000000000".to_string(),
            "see https://docs.sentry.io/platforms/ for setup".to_string(),
            "https://public@o1.ingest.sentry.io/2".to_string(),
            "sumo_endpoint: https://collectors.sumologic.com/receiver/v1/http".to_string(),
            "DD_SITE=datadoghq.eu".to_string(),
            "datadog_env: production-aaaaaaaaaaaaaaaaaaaaaaaaaa".to_string(),
            "datadog_trace_id: 4bf92f3577b34da6a3ce929d0e0e4736".to_string(),
            "honeycomb_trace_id: 4bf92f3577b34da6a3ce929d0e0e4736".to_string(),
            "honeycomb_dataset: my-service".to_string(),
        ];
        for line in lines {
            assert_eq!(spans(&line), Vec::<(String, String)>::new(), "{line:?}");
        }
    }

    #[test]
    fn breadth_observability_keyword_lines_cost_linear_work() {
        crate::detect::builtin::near::testing::assert_dense_lines_linear(DEFS, &[]);
    }
}
