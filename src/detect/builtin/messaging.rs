//! Built-in rules: Messaging and e-mail: Slack, Twilio, SendGrid.

use super::{Def, tok};

pub(super) const DEFS: &[Def] = &[
    // Slack
    tok(
        "slack-token",
        &[
            "xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xoxe.",
        ],
        r"xox(?:e\.xox[bp]|[abposre])-[0-9]+-[0-9A-Za-z\-]{8,300}",
    ),
    tok(
        "slack-app-token",
        &["xapp-"],
        r"(?i)xapp-[0-9]+-[A-Z0-9]+-[0-9]+-[a-z0-9]+",
    ),
    Def {
        word_start: false,
        group: 1,
        ..tok(
            "slack-webhook-url",
            &["hooks.slack.com/"],
            r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/_\-]{20,200})",
        )
    },
    // Twilio
    Def {
        exact_case: true,
        ..tok(
            "twilio-api-key",
            &[
                "SK0", "SK1", "SK2", "SK3", "SK4", "SK5", "SK6", "SK7", "SK8", "SK9", "SKa", "SKb",
                "SKc", "SKd", "SKe", "SKf", "SKA", "SKB", "SKC", "SKD", "SKE", "SKF",
            ],
            r"SK[0-9a-fA-F]{32}\b",
        )
    },
    Def {
        back: Some(0),
        fwd: 120,
        group: 1,
        needs: Some(r#"(?i)(?::|=>|:=|=)\s*(?:\\*["'])?[a-f0-9]{32}"#),
        ..tok(
            "twilio-auth-token",
            &["twilio"],
            r#"(?i)twilio[\w.\-]{0,24}(?:\\*["'])?\s*(?::|=>|:=|=)\s*(?:\\*["'])?([a-f0-9]{32})\b"#,
        )
    },
    // SendGrid
    Def {
        exact_case: true,
        ..tok(
            "sendgrid-api-key",
            &["SG."],
            r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{30,64}",
        )
    },
];
