//! Built-in rules: Cloud platforms: AWS (with AppSync and Bedrock), Google
//! Cloud, DigitalOcean, Databricks, IBM Cloud, Alibaba Cloud, Cloudflare,
//! Fly.io, Vercel, Netlify, Heroku, Supabase. Azure has its own file.
//!
//! Tokens with a prefix are found anywhere; the older formats without one
//! (Cloudflare's 40-character tokens, Heroku's UUIDs, ...) only after a
//! setting name that holds the vendor's name (`CLOUDFLARE_API_TOKEN=`,
//! `heroku_api_key:`).

use super::context::{at, name_ends_at};
use super::{Def, tok};
use crate::detect::placeholder::has;

pub(super) const DEFS: &[Def] = &[
    // AWS
    Def {
        exact_case: true,
        ..tok(
            "aws-access-key-id",
            &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
            r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        )
    },
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        pre: Some(aws_name_has_secret),
        needs: Some(
            r#"(?i)(?:secret|sk)[\w.\-]{0,24}(?:\\*["'])?\s*(?::|=>|:=|=)\s*(?:\\*["'])?[A-Za-z0-9/+]{40}"#,
        ),
        ..tok(
            "aws-secret-access-key",
            &["aws"],
            r#"(?i)aws[\w.\-]{0,32}?(?:secret|sk)[\w.\-]{0,24}(?:\\*["'])?\s*(?::|=>|:=|=)\s*(?:\\*["'])?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)"#,
        )
    },
    // AWS AppSync API keys.
    Def {
        entropy: Some(3.0),
        entropy_skip: 4,
        ..tok("aws-appsync-api-key", &["da2-"], r"da2-[a-z0-9]{26}\b")
    },
    // Amazon Bedrock API keys: long-term `ABSK` + base64 of
    // `BedrockAPIKey-...`, short-term `bedrock-api-key-` + base64 of a
    // presigned `bedrock.amazonaws.com` URL.
    Def {
        exact_case: true,
        ..tok(
            "aws-bedrock-api-key",
            &["ABSK"],
            r"ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{40,400}={0,2}",
        )
    },
    Def {
        fwd: 6000,
        ..tok(
            "aws-bedrock-api-key",
            &["bedrock-api-key-"],
            r"bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/]{40,6000}={0,2}",
        )
    },
    // Google
    Def {
        exact_case: true,
        ..tok("gcp-api-key", &["AIza"], r"AIza[0-9A-Za-z_\-]{35}\b")
    },
    // DigitalOcean
    tok(
        "digitalocean-token",
        &["dop_v1_", "doo_v1_", "dor_v1_"],
        r"do[opr]_v1_[a-f0-9]{64}\b",
    ),
    // Databricks
    tok(
        "databricks-token",
        &["dapi"],
        r"dapi[a-f0-9]{32}(?:-[0-9])?\b",
    ),
    // IBM Cloud API keys, after an IBM setting name.
    Def {
        fwd: 120,
        group: 1,
        entropy: Some(3.5),
        mixed: true,
        ..tok(
            "ibm-cloud-api-key",
            &["ibm_", "ibmcloud"],
            concat!(
                r"(?i:ibm)[\w.\-]{0,32}",
                nested!(),
                assign!(),
                r"([A-Za-z0-9_\-]{44})(?:[^A-Za-z0-9_\-]|$)"
            ),
        )
    },
    // Alibaba Cloud access key ids, and secrets after an Alibaba setting name.
    Def {
        exact_case: true,
        entropy: Some(3.0),
        entropy_skip: 4,
        ..tok(
            "alibaba-access-key-id",
            &["LTAI"],
            r"LTAI[A-Za-z0-9]{12,20}\b",
        )
    },
    Def {
        fwd: 120,
        group: 1,
        entropy: Some(3.5),
        mixed: true,
        ..tok(
            "alibaba-access-key-secret",
            &["alibaba", "aliyun"],
            concat!(
                r"(?i:alibaba|aliyun)[\w.\-]{0,40}",
                nested!(),
                assign!(),
                r"([A-Za-z0-9]{30})\b"
            ),
        )
    },
    // Cloudflare API tokens (`cfut_`, `cfat_`), global API keys (`cfk_`),
    // origin CA keys (`v1.0-`), and the older unprefixed tokens (40) and
    // global keys (37 hex) in `CLOUDFLARE_API_TOKEN`, `CF_API_KEY` style
    // names or `X-Auth-Key` (on the secret-named key rule's `token` and
    // `api_key` hits: `cloudflare` as a keyword would add `clou`, which
    // starts many log words, to the keyword filter).
    tok(
        "cloudflare-api-token",
        &["cfut_", "cfat_"],
        r"cf[ua]t_[A-Za-z0-9]{40}[a-f0-9]{8}\b",
    ),
    Def {
        fwd: 100,
        group: 1,
        word_start: false,
        entropy: Some(3.5),
        mixed: true,
        pre: Some(cloudflare_token_pre),
        ..tok(
            "cloudflare-api-token",
            &["token"],
            concat!(
                r"(?i:token)",
                assign!(),
                r"([A-Za-z0-9_\-]{40})(?:[^A-Za-z0-9_\-]|$)"
            ),
        )
    },
    tok(
        "cloudflare-global-api-key",
        &["cfk_"],
        r"cfk_[A-Za-z0-9]{40}[a-f0-9]{8}\b",
    ),
    Def {
        fwd: 100,
        group: 1,
        word_start: false,
        entropy: Some(3.0),
        mixed: true,
        pre: Some(cloudflare_key_pre),
        ..tok(
            "cloudflare-global-api-key",
            &["api_key", "api-key", "apikey", "auth"],
            concat!(
                r"(?i:api[_\-]?key|auth-key)",
                assign!(),
                r"([a-f0-9]{37})\b"
            ),
        )
    },
    Def {
        entropy: Some(3.0),
        entropy_skip: 5,
        ..tok(
            "cloudflare-origin-ca-key",
            &["v1.0-"],
            r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}\b",
        )
    },
    // Fly.io: `fo1_` tokens and `fm2_` macaroons (several joined by commas
    // after `FlyV1 `).
    Def {
        fwd: 8192,
        entropy: Some(3.5),
        ..tok(
            "flyio-access-token",
            &["fo1_", "fm2_"],
            r"fo1_[A-Za-z0-9_\-]{43}|fm2_[A-Za-z0-9+/]{64,2048}={0,3}(?:,fm2_[A-Za-z0-9+/]{64,2048}={0,3}){0,3}",
        )
    },
    // Vercel: prefixed tokens (personal `vcp_`, integration `vci_`, app
    // `vca_`/`vcr_`, API keys `vck_`) and the older 24-character tokens after
    // a Vercel name.
    Def {
        entropy: Some(3.5),
        entropy_skip: 4,
        ..tok(
            "vercel-token",
            &["vcp_", "vci_", "vca_", "vcr_", "vck_"],
            r"vc[piark]_[A-Za-z0-9]{24,128}\b",
        )
    },
    Def {
        fwd: 120,
        group: 1,
        entropy: Some(3.5),
        mixed: true,
        ..tok(
            "vercel-token",
            &["vercel"],
            concat!(
                r"(?i:vercel)[\w.\-]{0,32}",
                nested!(),
                assign!(),
                r"([A-Za-z0-9]{24})\b"
            ),
        )
    },
    // Netlify: personal access tokens (`nfp_`) and the older ones after a
    // Netlify name.
    Def {
        entropy: Some(3.5),
        entropy_skip: 4,
        ..tok("netlify-token", &["nfp_"], r"nfp_[A-Za-z0-9_]{36}\b")
    },
    Def {
        fwd: 120,
        group: 1,
        entropy: Some(3.5),
        mixed: true,
        ..tok(
            "netlify-token",
            &["netlify"],
            concat!(
                r"(?i:netlify)[\w.\-]{0,32}",
                nested!(),
                assign!(),
                r"([A-Za-z0-9_\-]{40,46})(?:[^A-Za-z0-9_\-]|$)"
            ),
        )
    },
    // Heroku: `HRKU-` API keys, and the older UUID keys after a Heroku key
    // name (a Heroku app id is a UUID too: the name must say key/token).
    Def {
        exact_case: true,
        entropy: Some(3.5),
        entropy_skip: 7,
        ..tok("heroku-api-key", &["HRKU-"], r"HRKU-AA[0-9A-Za-z_\-]{58}")
    },
    Def {
        fwd: 120,
        group: 1,
        entropy: Some(3.0),
        ..tok(
            "heroku-api-key",
            &["heroku"],
            concat!(
                r"(?i:heroku)(?::[ \t]{0,4}\r?\n[ \t]{1,16})?[\w.\-]{0,16}?(?i:key|token|auth|secret|pass)[\w.\-]{0,16}",
                assign!(),
                r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b"
            ),
        )
    },
    // Supabase: personal access tokens (`sbp_`) and secret API keys
    // (`sb_secret_`).
    Def {
        entropy: Some(3.0),
        entropy_skip: 4,
        ..tok("supabase-access-token", &["sbp_"], r"sbp_[a-z0-9]{40}\b")
    },
    Def {
        group: 1,
        entropy: Some(3.0),
        entropy_skip: 10,
        ..tok(
            "supabase-secret-key",
            &["sb_secret_"],
            r"(sb_secret_[A-Za-z0-9_\-]{22}_[A-Za-z0-9_\-]{8})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
];

const CLOUDFLARE: &[&[u8]] = &[
    b"cf_api_",
    b"cf-api-",
    b"cf_",
    b"cloudflare_api_",
    b"cloudflare-api-",
    b"cloudflareapi",
    b"cloudflare_",
    b"cloudflare-",
    b"cloudflare",
];

/// `token` in a Cloudflare setting name (`CLOUDFLARE_API_TOKEN`).
fn cloudflare_token_pre(b: &[u8], hs: usize) -> bool {
    name_ends_at(b, hs, CLOUDFLARE)
}

/// `api_key` in a Cloudflare setting name, or `X-Auth-Key`.
fn cloudflare_key_pre(b: &[u8], hs: usize) -> bool {
    if at(b, hs, b"auth") {
        at(b, hs, b"auth-key") && name_ends_at(b, hs, &[b"x-"])
    } else {
        name_ends_at(b, hs, CLOUDFLARE)
    }
}

/// The `aws-secret-access-key` regex needs `secret` or `sk` in the name
/// run (`[\w.\-]`) right after an `aws` in its window (the hit's `aws` or
/// a later one up to 163 bytes on): `amazonaws.com`, `aws-region` and
/// prose are rejected before the regex runs. Non-ASCII bytes count as name
/// bytes (`\w` is Unicode), so this never rejects a match.
fn aws_name_has_secret(b: &[u8], hs: usize) -> bool {
    let we = (hs + 3 + 160).min(b.len());
    let mut p = hs;
    while p + 3 <= we {
        if b[p..p + 3].eq_ignore_ascii_case(b"aws") {
            let from = p + 3;
            let mut end = from;
            while end < we
                && (b[end].is_ascii_alphanumeric()
                    || matches!(b[end], b'_' | b'.' | b'-')
                    || b[end] >= 0x80)
            {
                end += 1;
            }
            let run = &b[from..end];
            if has(run, b"sk", true) || has(run, b"secret", true) {
                return true;
            }
            p = end.max(p + 1);
        } else {
            p += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::secret;

    #[test]
    fn aws_secret_keys_are_found_and_aws_hostnames_skip_the_regex() {
        let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzKEYq8Zw3B";
        for line in [
            format!("aws_secret_access_key = {key}"),
            format!("AWS_SECRET_ACCESS_KEY=\"{key}\""),
            format!("aws region asiaws_secret_access_key={key}"),
            format!("awsSecretKey: {key}"),
        ] {
            assert_eq!(secret(&line), vec![key.to_string()], "{line}");
        }
        let host = "GET https://s3.amazonaws.com/bucket/aws-region=us-east-1 key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzKEYq8Zw3B";
        assert!(!aws_name_has_secret(
            host.as_bytes(),
            host.find("aws").unwrap()
        ));
        assert!(aws_name_has_secret(b"x aws_sk: y", 2));
    }

    /// Fake tokens in each format (random, generated for these tests).
    const APPSYNC: &str = "da2-1d9ewhqy8ezysoxhyzu8ysj2qq";
    const BEDROCK_LT: &str = "ABSKQmVkcm9ja0FQSUtleS00TDFDLWF0LTA2Mjc2MTcyODA2NDpxYmN5Y3pRZWZqRmY3SzVYTEpabklEdjZJWVJWMFFlc3NJaEpQalRR";
    const IBM: &str = "pfbcxwaseL2w6sXOR3HQbVsroHaa6qMZVmX1DFrlhCbE";
    const LTAI: &str = "LTAIVKTGFxsfgARKdIYXkZH7";
    const ALI_SECRET: &str = "HlRmijEVW6qaMeN5UyYnqK3H2nvgNc";
    const CF_TOKEN_NEW: &str = "cfut_UAxJ9th42BwqEthSZCPJFMqW1m146C8eMKuiRQLG562ef407";
    const CF_TOKEN_OLD: &str = "cYvsCVMoB01V1vdzqvZx1pfbWHAYr0ack9ehVbGu";
    const CF_GLOBAL_NEW: &str = "cfk_UIbuVaJfSzWWL8ylvW5CrdeGZKX8oWH8mVUgcpAK441afd35";
    const CF_GLOBAL_OLD: &str = "dac14959682a40b8a45ba0d61554f32d0f7a6";
    const CF_ORIGIN: &str = "v1.0-02f5e7ee29b82dc355f9cf72-63043995f6ddc7311b64c4198d3df92f3b0e4af76983369be2a8debc4a4a08dd29d64055b45ff5ee8b8985660b45391818a56ecdacc94830e057311df703a442114f072e2f76b109fb";
    const FLY_FO1: &str = "fo1_j92Dc1c7JYP5UbiS-h8anL1D3GNcR4Pw5IhUmtWnHt6";
    const FLY_FM2: &str = "fm2_TSAF/58oy67qk71/EAaXllHSEJoETVe/UHwSJdanLrXAqrH8VrryNBnXEFkyd0VubaGm+tDrZL+HqS7v5hCalytXcdXC/fuf6D3f30jW26eQFSBIqVRrhfpu5pzsGg5SR94sxDbjs4w39Ox+7wPYKzZqPsloGLWjSHJmwvQtiMSKU0007bBX==,fm2_/22MgcHEjiac/BkyrqmMHhrK8Z8zuH7bUIhFeWBDg6nXeK9xBVElB2QLnw0+xLeK5GRn/g9CBisXFYBZDnmVOaj8BDYUWf3VCL/YogjamJn8PB7S6tL4FHPLBtZ5I/Va3BrJLgB1BnLTje6J5YRImxh3JmDjj2ncApGWwlUwU2ptzuSDgnA+QAB05WzDMndMQIUoeuFD";
    const VERCEL_NEW: &str = "vcp_xZbHjKWZz5TZ3OuCWcN6TWeRHxzqcqhcjvM1SxorfcnvXmRTEBZyV2co";
    const VERCEL_OLD: &str = "08xnOPaZkvXDELk7FV33pQuD";
    const NETLIFY_NEW: &str = "nfp_gnNdTOACnY8Zz81GckSjUMsE5eJdsc2F9rQ3";
    const NETLIFY_OLD: &str = "fiiWSUOb0eV7MstFfJtFmYDlSk-FpmdvYf7Wlui_BQn";
    const HEROKU_NEW: &str = "HRKU-AAeXcfALELd1eYOjgxaBLqk31Rl5WeVqx-iVSuJYCtgOlCNij2p7A9G6PFYX";
    const HEROKU_OLD: &str = "f3b86eea-fcf0-4dda-920c-3d567d1977d2";
    const SBP: &str = "sbp_d567c3a74dcd23b10711da484d34d744c6fa7bbe";
    const SB_SECRET: &str = "sb_secret_ckS7fDFVoHe5hBqJRidl9n_LlwZTo0w";

    #[test]
    fn cloud_tokens_are_found_with_their_exact_span_in_each_context() {
        use crate::detect::testing::spans;
        let st = bedrock_short_term();
        let cases: Vec<(String, &str, &str)> = vec![
            (
                format!("appsync: x-api-key: {APPSYNC}"),
                "aws-appsync-api-key",
                APPSYNC,
            ),
            (
                format!(r#"{{"apiKey":"{APPSYNC}"}}"#),
                "aws-appsync-api-key",
                APPSYNC,
            ),
            (
                format!("AWS_BEARER_TOKEN_BEDROCK={BEDROCK_LT}"),
                "aws-bedrock-api-key",
                BEDROCK_LT,
            ),
            (
                format!("Authorization: Bearer {st}"),
                "aws-bedrock-api-key",
                &st,
            ),
            (format!("IBM_CLOUD_API_KEY={IBM}"), "ibm-cloud-api-key", IBM),
            (
                format!("ibmcloud:\n  apikey_for_ci: \"{IBM}\""),
                "ibm-cloud-api-key",
                IBM,
            ),
            (
                format!(r#"{{"ibm_apikey": "{IBM}"}}"#),
                "ibm-cloud-api-key",
                IBM,
            ),
            (
                format!("access key id {LTAI} used"),
                "alibaba-access-key-id",
                LTAI,
            ),
            (
                format!("ALIBABA_CLOUD_ACCESS_KEY_SECRET={ALI_SECRET}"),
                "alibaba-access-key-secret",
                ALI_SECRET,
            ),
            (
                format!(
                    "curl -H 'Authorization: Bearer {CF_TOKEN_NEW}' https://api.cloudflare.com/"
                ),
                "cloudflare-api-token",
                CF_TOKEN_NEW,
            ),
            (
                format!("CLOUDFLARE_API_TOKEN={CF_TOKEN_OLD}"),
                "cloudflare-api-token",
                CF_TOKEN_OLD,
            ),
            (
                format!("CF_API_TOKEN: {CF_TOKEN_OLD}"),
                "cloudflare-api-token",
                CF_TOKEN_OLD,
            ),
            (
                format!("cloudflare:\n  token: {CF_TOKEN_OLD}"),
                "secret-named-key",
                CF_TOKEN_OLD,
            ),
            (
                format!("key={CF_GLOBAL_NEW}"),
                "cloudflare-global-api-key",
                CF_GLOBAL_NEW,
            ),
            (
                format!("X-Auth-Key: {CF_GLOBAL_OLD}"),
                "cloudflare-global-api-key",
                CF_GLOBAL_OLD,
            ),
            (
                format!(r#"{{"cf_api_key": "{CF_GLOBAL_OLD}"}}"#),
                "cloudflare-global-api-key",
                CF_GLOBAL_OLD,
            ),
            (
                format!("X-Auth-User-Service-Key: {CF_ORIGIN}"),
                "cloudflare-origin-ca-key",
                CF_ORIGIN,
            ),
            (
                format!("FLY_API_TOKEN={FLY_FO1}"),
                "flyio-access-token",
                FLY_FO1,
            ),
            (
                format!("Authorization: FlyV1 {FLY_FM2}"),
                "flyio-access-token",
                FLY_FM2,
            ),
            (
                format!("vercel deploy --token {VERCEL_NEW}"),
                "vercel-token",
                VERCEL_NEW,
            ),
            (
                format!("VERCEL_TOKEN=\"{VERCEL_OLD}\""),
                "vercel-token",
                VERCEL_OLD,
            ),
            (
                format!("netlify deploy --auth {NETLIFY_NEW}"),
                "netlify-token",
                NETLIFY_NEW,
            ),
            (
                format!("netlify_auth_token: {NETLIFY_OLD}"),
                "netlify-token",
                NETLIFY_OLD,
            ),
            (
                format!("HEROKU_API_KEY={HEROKU_NEW}"),
                "heroku-api-key",
                HEROKU_NEW,
            ),
            (
                format!("heroku:\n  api_key: {HEROKU_OLD}"),
                "heroku-api-key",
                HEROKU_OLD,
            ),
            (
                format!(r#"{{"herokuApiKey": "{HEROKU_OLD}"}}"#),
                "heroku-api-key",
                HEROKU_OLD,
            ),
            (
                format!("supabase login --token {SBP}"),
                "supabase-access-token",
                SBP,
            ),
            (
                format!("SUPABASE_SECRET_KEY={SB_SECRET}"),
                "supabase-secret-key",
                SB_SECRET,
            ),
            (
                format!("apikey: {SB_SECRET}\r\n"),
                "supabase-secret-key",
                SB_SECRET,
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

    /// A short-term Bedrock key: `bedrock-api-key-` and the base64 of a
    /// (fake) presigned URL.
    fn bedrock_short_term() -> String {
        use base64::Engine;
        let url = format!(
            "bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Credential=ASIAQ3EGV7WN2RPJXKDL%2F20250701%2Fus-east-1%2Fbedrock%2Faws4_request&X-Amz-Security-Token={}&X-Amz-Signature=906c7552141f5609031b2b881c874f0a49f252344a512bb83f3b93ffb7c42258&Version=1",
            "IQoJb3JpZ2luX2VjEHYaCXVzLWVhc3QtMSJGMEQCIBx7Rk2Qw9TmZpLcVnA8sYfH3uKdJ5oG"
        );
        format!(
            "bedrock-api-key-{}",
            base64::engine::general_purpose::STANDARD.encode(url)
        )
    }

    #[test]
    fn cloud_look_alikes_are_not_flagged() {
        use crate::detect::testing::spans;
        let lines = [
            "da2-xxxxxxxxxxxxxxxxxxxxxxxxxx".to_string(),
            APPSYNC[..20].to_string(),
            "ABSKQmVkcm9ja0FQSUtleS1".to_string(),
            "IBM_CLOUD_API_KEY=${IBM_CLOUD_API_KEY}".to_string(),
            "ibm_region: us-south-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_string(),
            "LTAIxxxxxxxxxxxxxxxx".to_string(),
            "cloudflare_zone: example.com".to_string(),
            "CLOUDFLARE_API_TOKEN=your-cloudflare-token-here".to_string(),
            format!("cloudflare token {}", &CF_TOKEN_OLD[..30]),
            "X-Auth-Key: ${CF_KEY}".to_string(),
            "fo1_short".to_string(),
            "VERCEL_ORG_ID=team_abcdefghijklmnopqrstuvwx".to_string(),
            "vcp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_string(),
            "netlify_site: my-site".to_string(),
            format!("HEROKU_APP_ID={HEROKU_OLD}"),
            "HEROKU_API_KEY=${HEROKU_API_KEY}".to_string(),
            "sbp_0000000000000000000000000000000000000000".to_string(),
            "sb_secret_xxxxxxxxxxxxxxxxxxxxxx_xxxxxxxx".to_string(),
            "sb_publishable_ACJWlzQHlZjBrEguHvfOxg".to_string(),
        ];
        for line in lines {
            assert_eq!(spans(&line), Vec::<(String, String)>::new(), "{line:?}");
        }
    }

    #[test]
    fn breadth_cloud_keyword_lines_cost_linear_work() {
        crate::detect::builtin::near::testing::assert_dense_lines_linear(DEFS, &[]);
    }
}
