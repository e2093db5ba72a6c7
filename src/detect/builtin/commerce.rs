//! Built-in rules: Payments and commerce: Stripe, Shopify, Square,
//! Braintree, PayPal, Adyen.

use super::{Def, tok};

pub(super) const DEFS: &[Def] = &[
    // Stripe
    tok(
        "stripe-key",
        &[
            "sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_", "pk_live_",
            "pk_test_", "pk_prod_",
        ],
        r"(?:sk|rk|pk)_(?:live|test|prod)_[A-Za-z0-9]{10,255}\b",
    ),
    tok(
        "stripe-webhook-secret",
        &["whsec_"],
        r"whsec_[A-Za-z0-9+/]{24,128}",
    ),
    // Shopify
    tok(
        "shopify-token",
        &["shpat_", "shpca_", "shppa_", "shpss_"],
        r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",
    ),
    // Square: access tokens (`EAAA...`, the older `sq0atp-`) and OAuth
    // application secrets (`sq0csp-`, in the sandbox `sandbox-sq0csb-`).
    Def {
        group: 1,
        entropy: Some(3.0),
        entropy_skip: 7,
        ..tok(
            "square-access-token",
            &["sq0atp-"],
            r"(sq0atp-[A-Za-z0-9_\-]{22,60})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    Def {
        group: 1,
        exact_case: true,
        entropy: Some(3.5),
        entropy_skip: 4,
        mixed: true,
        pre: Some(not_inside_base64),
        ..tok(
            "square-access-token",
            &["EAAA"],
            r"(EAAA[A-Za-z0-9_\-]{60})(?:[^A-Za-z0-9_\-+/=]|$)",
        )
    },
    Def {
        back: Some(9),
        fwd: 60,
        group: 1,
        entropy: Some(3.0),
        ..tok(
            "square-secret",
            &["sq0csp-", "sq0csb-"],
            r"(?:^|[^A-Za-z0-9_\-])((?:sandbox-)?sq0cs[pb]-[A-Za-z0-9_\-]{43})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    // Braintree (PayPal) access tokens.
    tok(
        "braintree-access-token",
        &["access_token$"],
        r"access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}\b",
    ),
    // PayPal OAuth access tokens.
    Def {
        group: 1,
        exact_case: true,
        entropy: Some(3.5),
        entropy_skip: 5,
        ..tok(
            "paypal-access-token",
            &["A21AA"],
            r"(A21AA[A-Za-z0-9_\-]{60,200})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    // Adyen API keys: `AQE`, base64, `-`, base64.
    Def {
        group: 1,
        exact_case: true,
        entropy: Some(4.0),
        ..tok(
            "adyen-api-key",
            &["AQE"],
            r"(AQE[A-Za-z0-9+/]{50,150}={0,2}-[A-Za-z0-9+/]{42,44}={0,2})(?:[^A-Za-z0-9+/=\-]|$)",
        )
    },
];

/// `EAAA` is common inside base64 data (certificates, images): there it
/// follows a `+` or `/` as often as an alphanumeric byte, which
/// `word_start` already rejects (`=` ends base64, and starts a value).
fn not_inside_base64(b: &[u8], hs: usize) -> bool {
    hs == 0 || !matches!(b[hs - 1], b'+' | b'/')
}

#[cfg(test)]
mod tests {
    use super::super::near::testing::{assert_cases, assert_dense_lines_linear};
    use super::*;

    const SQ_ATP: &str = "sq0atp-uHKue8-2UjAmk7kZF8ZLEH";
    const SQ_CSP: &str = "sq0csp-DwJsEmfgy_TblzIR7x99NR2M88yiGYeVh0KLBb7vDd3";
    const SQ_EAAA: &str = "EAAA3cGE3OjtjLsO99rjAW-aohz9NKB6hiL5hm4abJTthbq8n4BNP2Y6dQC_ppqv";
    const BRAINTREE: &str =
        "access_token$production$3tbx1847sh5po9ck$48efbc0d7f00d6bc741e6e463844b2b8";
    const PAYPAL: &str = "A21AADPsAK92DDdpNpxorPuJdBujCTUz284kYOh8TH0j_kWqzNF__qIvGxAJHe7xFAraYRD2Mmb2xd378DGhZjlIacRzmBqvJ";
    const ADYEN: &str = "AQEApRSvVzT85JfEhAA4StARJ5D+joVMXVMi1GwAxCFJjtnG9V87XKeVnSxAkaOHDnavz7LXqsXRLlt3xCgY6fqB=-S2JP0ckymPei0XsGtedeqIEQSc5vn0Yd6d8F5gYiOEd=";
    const SHOPIFY_SS: &str = "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";
    const STRIPE: &str = "rk_live_51Hq2x9Kd7LmN4pQ8rS3tU6vW0yZ";

    #[test]
    fn breadth_commerce_tokens_are_found_with_their_exact_span() {
        let sandbox = "sandbox-sq0csb-p7dhtVZMG3ADcygQi2Bw24Cv3FcqQdcgo5XDSCX93bK";
        assert_cases(
            &[
                (
                    "square-access-token",
                    SQ_EAAA,
                    &[
                        "SQUARE_ACCESS_TOKEN={}",
                        "curl -H 'Authorization: Bearer {}' https://connect.squareup.com/v2/locations",
                        r#"{"square": {"accessToken": "{}"}}"#,
                        "square:\n  access_token: {}",
                        "INFO square client ready token={}",
                    ],
                ),
                (
                    "square-access-token",
                    SQ_ATP,
                    &["legacy square token {} used"],
                ),
                (
                    "square-secret",
                    SQ_CSP,
                    &["SQUARE_APP_SECRET={}", r#"{"client_secret":"{}"}"#],
                ),
                ("square-secret", sandbox, &["square sandbox secret: {}"]),
                (
                    "braintree-access-token",
                    BRAINTREE,
                    &[
                        "BRAINTREE_ACCESS_TOKEN={}",
                        r#"gateway = braintree.BraintreeGateway(access_token="{}")"#,
                    ],
                ),
                (
                    "paypal-access-token",
                    PAYPAL,
                    &[
                        "curl -H \"Authorization: Bearer {}\" https://api-m.paypal.com/v2/checkout/orders",
                        r#"{"scope":"https://uri.paypal.com/services/invoicing","access_token":"{}","token_type":"Bearer"}"#,
                    ],
                ),
                (
                    "adyen-api-key",
                    ADYEN,
                    &[
                        "ADYEN_API_KEY={}",
                        "-H 'X-API-Key: {}'",
                        "adyen:\n  api_key: \"{}\"",
                    ],
                ),
                ("shopify-token", SHOPIFY_SS, &["SHOPIFY_API_SECRET={}"]),
                ("stripe-key", STRIPE, &["stripe restricted key {} rotated"]),
            ],
            &[
                "square token EAAAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                // A base64 blob with `EAAA` inside it.
                "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
                "/EAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/x",
                "sq0atp-short",
                "sq0csp-<your-application-secret>",
                "access_token$production$<merchant-id>$<token>",
                "order id A21AA-1234 shipped",
                "AQE header",
                "shpss_0000000000000000000000000000000",
                "task_test_9a8b7c6d5e4f3g2h1i0j",
            ],
        );
    }

    #[test]
    fn breadth_commerce_dense_lines_cost_linear_work() {
        let eaaa = format!("{} ", &SQ_EAAA[..40]);
        let adyen = format!("{}-", &ADYEN[..90]);
        let units = [
            eaaa.as_str(),
            adyen.as_str(),
            "sandbox-sq0csb-",
            "access_token$production$3tbx1847sh5po9ck$",
            "A21AADPsAK92DDdpNpxor",
        ];
        assert_dense_lines_linear(DEFS, &units);
    }
}
