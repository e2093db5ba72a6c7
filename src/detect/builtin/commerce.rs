//! Built-in rules: Payments and commerce: Stripe, Shopify.

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
];
