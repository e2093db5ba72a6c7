//! Built-in rules: Productivity and SaaS APIs: Notion, Airtable, Linear,
//! PagerDuty, Mapbox, Algolia, Dropbox, Figma, Zendesk, Asana, ClickUp,
//! Typeform, Contentful, HubSpot.
//!
//! Mapbox public tokens (`pk.eyJ...`) are not findings: they are made to
//! be shipped in web pages (scopes limit them to public styles and tiles,
//! URL restrictions to the owner's sites). Secret (`sk.`) and temporary
//! (`tk.`) tokens are.

use super::near::{named, named_needs};
use super::{Def, tok};

pub(super) const DEFS: &[Def] = &[
    // Notion: internal integration secrets, legacy and `ntn_`.
    Def {
        entropy: Some(3.5),
        entropy_skip: 7,
        mixed: true,
        ..tok("notion-token", &["secret_"], r"secret_[A-Za-z0-9]{43}\b")
    },
    Def {
        entropy: Some(3.5),
        entropy_skip: 4,
        ..tok("notion-token", &["ntn_"], r"ntn_[0-9]{11}[A-Za-z0-9]{35}\b")
    },
    // Airtable personal access tokens and legacy API keys, near `airtable`
    // (`pat` is no keyword: it starts `path`, `patch`, `pattern` and ends
    // `dispatch`; a token after `Bearer` or in a token-named setting is
    // found by those rules).
    Def {
        back: Some(0),
        fwd: 200,
        group: 1,
        entropy: Some(3.0),
        needs: Some(r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}"),
        ..tok(
            "airtable-token",
            &["airtable"],
            r"(?:^|[^A-Za-z0-9_])(pat[A-Za-z0-9]{14}\.[a-f0-9]{64})(?:[^A-Za-z0-9_]|$)",
        )
    },
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        entropy: Some(3.0),
        mixed: true,
        needs: Some(r"key[A-Za-z0-9]{14}"),
        ..tok(
            "airtable-token",
            &["airtable"],
            r"(?:^|[^A-Za-z0-9_])(key[A-Za-z0-9]{14})(?:[^A-Za-z0-9_]|$)",
        )
    },
    // Linear: API keys and OAuth access tokens.
    Def {
        entropy: Some(3.0),
        entropy_skip: 8,
        ..tok(
            "linear-api-key",
            &["lin_api_", "lin_oauth_"],
            r"lin_(?:api_[A-Za-z0-9]{40}|oauth_[a-f0-9]{64})\b",
        )
    },
    // PagerDuty: REST API keys (20 characters, `u+` for user tokens) and
    // Events integration keys (32 hex digits), in settings named after it.
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        entropy: Some(3.0),
        needs: Some(named_needs!(r"[A-Za-z0-9_+\-]{20}")),
        ..tok(
            "pagerduty-token",
            &["pagerduty", "pager_duty", "pager-duty"],
            named!(
                r"pager[_\-]?duty",
                r"u\+[A-Za-z0-9_+\-]{18}|[A-Za-z0-9_+\-]{20}|[a-f0-9]{32}",
                r"(?:[^A-Za-z0-9_+\-]|$)"
            ),
        )
    },
    // Mapbox secret and temporary tokens.
    Def {
        group: 1,
        entropy: Some(3.5),
        entropy_skip: 3,
        ..tok(
            "mapbox-token",
            &["sk.eyJ", "tk.eyJ"],
            r"([st]k\.eyJ[A-Za-z0-9_\-]{20,600}\.[A-Za-z0-9_\-]{20,64})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    // Algolia admin, write and search keys: in settings and headers named
    // after it (`X-Algolia-API-Key`), and the client's second argument.
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        entropy: Some(3.0),
        needs: Some(named_needs!(r"[a-f0-9]{32}")),
        ..tok(
            "algolia-api-key",
            &["algolia"],
            named!("algolia", r"[a-f0-9]{32}", r"\b"),
        )
    },
    Def {
        group: 1,
        entropy: Some(3.0),
        ..tok(
            "algolia-api-key",
            &["algolia"],
            r#"(?i)algoliasearch\(\s{0,4}["'][A-Z0-9]{10}["']\s{0,4},\s{0,4}["']([a-f0-9]{32})["']"#,
        )
    },
    // Dropbox: short-lived tokens (`sl.`, `sl.u.`); long-lived ones (their
    // run of ten `A`) near `dropbox`.
    Def {
        fwd: 2100,
        entropy: Some(4.0),
        entropy_skip: 3,
        ..tok(
            "dropbox-token",
            &["sl."],
            r"sl\.(?:u\.)?[A-Za-z0-9_\-]{130,2000}",
        )
    },
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        entropy: Some(3.0),
        needs: Some(r"AAAAAAAAAA[A-Za-z0-9_\-=]{43}"),
        ..tok(
            "dropbox-token",
            &["dropbox"],
            r"(?:^|[^A-Za-z0-9_\-])([A-Za-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_\-=]{43})(?:[^A-Za-z0-9_\-=]|$)",
        )
    },
    // Figma personal access and OAuth tokens.
    Def {
        group: 1,
        entropy: Some(3.5),
        entropy_skip: 5,
        ..tok(
            "figma-token",
            &["figd_", "figu_", "figo_", "figp_"],
            r"(fig[dopu]_[A-Za-z0-9_\-]{40,64})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    // Zendesk API tokens: in settings named after it, and as the password
    // of `<email>/token` (`curl -u user@example.com/token:<token>`).
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        entropy: Some(3.5),
        mixed: true,
        needs: Some(named_needs!(r"[A-Za-z0-9]{40}")),
        ..tok(
            "zendesk-api-token",
            &["zendesk"],
            named!("zendesk", r"[A-Za-z0-9]{40}", r"\b"),
        )
    },
    Def {
        word_start: false,
        group: 1,
        entropy: Some(3.5),
        mixed: true,
        split: Some((r"/token:", r"[A-Za-z0-9]{40}\b")),
        ..tok(
            "zendesk-api-token",
            &["/token:"],
            r"/token:([A-Za-z0-9]{40}\b)",
        )
    },
    // Asana personal access tokens (`1/<user>:<hex>`, `2/<user>/<app>:...`)
    // near `asana`.
    Def {
        back: Some(0),
        fwd: 200,
        group: 1,
        entropy: Some(3.0),
        needs: Some(r"[0-9]{15}:[A-Za-z0-9]{32}"),
        ..tok(
            "asana-token",
            &["asana"],
            r"(?:^|[^A-Za-z0-9/])([0-9]{1,2}/[0-9]{15,20}(?:/[0-9]{15,20})?:[A-Za-z0-9]{32,64})(?:[^A-Za-z0-9]|$)",
        )
    },
    // ClickUp personal tokens.
    Def {
        entropy: Some(3.0),
        ..tok("clickup-token", &["pk_"], r"pk_[0-9]{6,12}_[0-9A-Z]{32}\b")
    },
    // Typeform personal tokens.
    Def {
        group: 1,
        entropy: Some(3.5),
        entropy_skip: 4,
        ..tok(
            "typeform-token",
            &["tfp_"],
            r"(tfp_[A-Za-z0-9_\-]{40,64})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    // Contentful personal access tokens (management API).
    Def {
        group: 1,
        exact_case: true,
        entropy: Some(3.5),
        entropy_skip: 6,
        ..tok(
            "contentful-token",
            &["CFPAT-"],
            r"(CFPAT-[A-Za-z0-9_\-]{43})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    // HubSpot private app tokens.
    Def {
        entropy: Some(3.0),
        entropy_skip: 8,
        ..tok(
            "hubspot-token",
            &["pat-"],
            r"pat-(?:na|eu|ap)[0-9]-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        )
    },
];

#[cfg(test)]
mod tests {
    use super::super::near::testing::{assert_cases, assert_dense_lines_linear};
    use super::*;

    const NOTION: &str = "secret_D7LTuKVOncQIxgX6HGneY9mm6TycjV604g57m5I4ZmZ";
    const NTN: &str = "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";
    const AIRTABLE_PAT: &str =
        "patWw2YGGkTwbf648.53f7f08808b1af25bf5cb4885ee68ff950c03b5ecff38b73affab33446bdd951";
    const AIRTABLE_KEY: &str = "key1dVROexkgojgC1";
    const LINEAR: &str = "lin_api_ru6OU7t56H7bUiCP4ulXoUpiJOGZFuoqx1yPAyeC";
    const LINEAR_OAUTH: &str =
        "lin_oauth_dd4d34792d8cca3038002eac9d0dab93b96c62a0b16abd897b174272e9897d4c";
    const PD_USER: &str = "u+9wKAjH_JXR3Puv_5bq";
    const PD_KEY: &str = "P52yOV3suTPXWxlL_Kn7";
    const PD_ROUTING: &str = "8cdfe9486c9538afe7b392eb15953174";
    const MAPBOX_SK: &str =
        "sk.eyJ1IjoidXNlcjAiLCJhIjoiNzJydWhxdGprOWd5dGdhN3k0dTV5Y2d0ZyJ9.KyyMjdZJVOHNbUTZ4jn-rH";
    const MAPBOX_TK: &str = "tk.eyJ1IjoidXNlcjAiLCJleHAiOjE2ODUxNTQwNzgsImEiOiJ1b2pxbGhvd2k1ejM2a2o5YW1qYnk2eGp6In0.sowNw-HcXPAxzGpZa54P7P";
    const ALGOLIA: &str = "168aa1ca5c2996702d3a48ed2dc00cb3";
    const DROPBOX_SL: &str = "sl.zqw0MWy3j2RHec2jVkjJEcD6AmxWqCi7G5DddH8gLEQ_QSqUVf8AZrIVxDgf8XuPrlG_oPouwiEOrjkd71o0BvVy-3usAX6_jB6HtzKM96mrRiqfb1YgP82dVs7wqWUPnX-6vtqKG5Ql";
    const DROPBOX_LL: &str = "t6G3rjozqL9AAAAAAAAAAUQNyyqRmCsFyaHsnDdrxZ9PmlkY9hvmhNe-TlC-6PEq";
    const FIGMA: &str = "figd_p30tsxb5H4aH5zrOJKLGiajEpOoeuH3HARCXXu-P";
    const ZENDESK: &str = "7oEfy9y0tNUX0KmnGFzvegItoSGSNZmWIkglt7O9";
    const ASANA: &str = "2/9030271475669270/9770786115609244:tEHxTzmKWN7tWHpeXAIhCys4nzUGtTlF";
    const CLICKUP: &str = "pk_328399321_Y7TVNZTLO8N9AUDQIPOCHP6Q5F4XV7HU";
    const TYPEFORM: &str = "tfp_Ne8zIcMlLGV4id7MgWmFSOIdpZa0KCojbYEJMR3MKVga_4IwPDgFgoCIpEG";
    const CONTENTFUL: &str = "CFPAT-2PeyKMMpZXADDMoKnTAF2BX5qPVvmbAQpVe63CXzQ-5";
    const HUBSPOT: &str = "pat-na1-bf995350-d3fe-4b02-aca3-ab96bfbd79d6";

    #[test]
    fn breadth_work_tokens_are_found_with_their_exact_span() {
        assert_cases(
            &[
                (
                    "notion-token",
                    NOTION,
                    &[
                        "NOTION_TOKEN={}",
                        "curl https://api.notion.com/v1/users -H 'Authorization: Bearer {}'",
                        r#"{"notion": {"auth": "{}"}}"#,
                    ],
                ),
                (
                    "notion-token",
                    NTN,
                    &["notion:\n  token: {}", "INFO notion client auth={} ok"],
                ),
                (
                    "airtable-token",
                    AIRTABLE_PAT,
                    &[
                        "AIRTABLE_TOKEN={}",
                        "GET https://api.airtable.com/v0/appX/tbl Authorization: Bearer {}",
                        "airtable sync: using token {}",
                        "const base = new Airtable({ apiKey: '{}' })",
                    ],
                ),
                (
                    "airtable-token",
                    AIRTABLE_KEY,
                    &[
                        "AIRTABLE_API_KEY={}",
                        "airtable:\n  api_key: '{}'",
                        "GET https://api.airtable.com/v0/appX/Table?api_key={}",
                    ],
                ),
                (
                    "linear-api-key",
                    LINEAR,
                    &[
                        "LINEAR_API_KEY={}",
                        r#"{"headers": {"Authorization": "{}"}}"#,
                    ],
                ),
                ("linear-api-key", LINEAR_OAUTH, &["linear oauth {} issued"]),
                (
                    "pagerduty-token",
                    PD_USER,
                    &["PAGERDUTY_TOKEN={}", "pagerduty:\n  api_token: \"{}\""],
                ),
                (
                    "pagerduty-token",
                    PD_KEY,
                    &[r#"{"pagerduty": {"apiKey": "{}"}}"#, "pager_duty_key: {}"],
                ),
                (
                    "pagerduty-token",
                    PD_ROUTING,
                    &[
                        "PAGERDUTY_ROUTING_KEY={}",
                        "pagerduty.integration_key = '{}'",
                    ],
                ),
                (
                    "mapbox-token",
                    MAPBOX_SK,
                    &[
                        "MAPBOX_SECRET_TOKEN={}",
                        "GET https://api.mapbox.com/tokens/v2/user0?access_token={}",
                    ],
                ),
                ("mapbox-token", MAPBOX_TK, &["mapbox temporary {}."]),
                (
                    "algolia-api-key",
                    ALGOLIA,
                    &[
                        "ALGOLIA_ADMIN_KEY={}",
                        "-H 'X-Algolia-API-Key: {}'",
                        "algolia: { appId: 'LATENCY01Q', apiKey: '{}' }",
                        "const client = algoliasearch('LATENCY01Q', '{}');",
                        "GET /1/indexes/x?x-algolia-application-id=LATENCY01Q&x-algolia-api-key={}",
                    ],
                ),
                (
                    "dropbox-token",
                    DROPBOX_SL,
                    &[
                        "DROPBOX_ACCESS_TOKEN={}",
                        "curl -X POST https://api.dropboxapi.com/2/files/list_folder --header \"Authorization: Bearer {}\"",
                    ],
                ),
                (
                    "dropbox-token",
                    DROPBOX_LL,
                    &["DROPBOX_TOKEN={}", "dropbox:\n  token: {}"],
                ),
                (
                    "figma-token",
                    FIGMA,
                    &[
                        "FIGMA_TOKEN={}",
                        "curl -H 'X-Figma-Token: {}' https://api.figma.com/v1/me",
                    ],
                ),
                (
                    "zendesk-api-token",
                    ZENDESK,
                    &[
                        "ZENDESK_API_TOKEN={}",
                        r#"{"zendesk": {"token": "{}", "subdomain": "acme"}}"#,
                        "curl https://acme.zendesk.com/api/v2/users.json -u agent@example.com/token:{}",
                    ],
                ),
                (
                    "asana-token",
                    ASANA,
                    &[
                        "ASANA_ACCESS_TOKEN={}",
                        "asana client with {} for workspace 1201234567890123",
                    ],
                ),
                (
                    "clickup-token",
                    CLICKUP,
                    &[
                        "CLICKUP_TOKEN={}",
                        "-H 'Authorization: {}' https://api.clickup.com/api/v2/team",
                    ],
                ),
                (
                    "typeform-token",
                    TYPEFORM,
                    &["TYPEFORM_TOKEN={}", "typeform: Bearer {} rejected"],
                ),
                (
                    "contentful-token",
                    CONTENTFUL,
                    &[
                        "CONTENTFUL_MANAGEMENT_TOKEN={}",
                        "contentful space import --management-token {}",
                    ],
                ),
                (
                    "hubspot-token",
                    HUBSPOT,
                    &[
                        "HUBSPOT_ACCESS_TOKEN={}",
                        "hubspot: private app {} installed",
                    ],
                ),
            ],
            &[
                "secret_key_base is rotated",
                "secret_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "ntn_12345678901",
                "path=/v0/appX patWw2YGGkTwbf648.not-hex",
                "airtable keyboardshortcut keyboardShortcuts",
                "lin_api_<your-linear-key>",
                "pagerduty service_id: PXXXXXX",
                "pagerduty_service_name: database-primary-1",
                "mapbox public pk.eyJ1IjoidXNlcjAiLCJhIjoiNzJydWhxdGprOWd5dGdhN3k0dTV5Y2d0ZyJ9.KyyMjdZJVOHNbUTZ4jn-rH",
                "algolia index products_2024 objectID 168aa1ca5c2996702d3a48ed2dc00cb3",
                "ssl.certificate loaded, sl.short",
                "dropbox folder id AAAAAAAAAA",
                "figure_1 figma frame",
                "zendesk ticket 12345 updated by agent",
                "asana task 1/1201234567890123 done",
                "pk_users_id_seq reset",
                "tfp_ prefix",
                "CFPAT-<token>",
                "pat-na1-00000000-0000-0000-0000-000000000000",
            ],
        );
    }

    #[test]
    fn breadth_work_dense_lines_cost_linear_work() {
        let units = [
            "path=/",
            "airtable patWw2YGGkTwbf648.",
            "pagerduty_token=",
            "pagerduty_token=u+9wKAjH_JXR3Puv_5b ",
            "algolia_api_key=168aa1ca5c2996702d3a48ed2dc00cb ",
            "algoliasearch('LATENCY01Q', '",
            "dropbox t6G3rjozqL9AAAAAAAAAA",
            "zendesk_token=7oEfy9y0tNUX0KmnGFzvegItoSGSNZmWIkglt7O ",
            "/token:",
            "asana 1/9030271475669270:",
            "sk.eyJ1IjoidXNlcjAiLCJhIjoi.",
        ];
        assert_dense_lines_linear(DEFS, &units);
    }
}
