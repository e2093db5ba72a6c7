//! Built-in rules: Messaging and e-mail: Slack, Microsoft Teams, Discord,
//! Telegram, Twilio, SendGrid, Mailgun, Mailchimp, Postmark.

use super::near::{named, named_needs};
use super::{Def, tok};

/// A Discord bot token: the bot's numeric id in base64 (each three digits
/// `[MNO][DTjz][AEIMQUYcgk][w-z0-5]`, 15 to 20 digits), a timestamp and an
/// HMAC.
macro_rules! discord_token {
    () => {
        r"(?:[MNO][DTjz][AEIMQUYcgk][w-z0-5]){5,6}(?:[MNO][AQgw]|[MNO][DTjz][AEIMQUYcgk])?\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}"
    };
}

/// Twilio's 32 lowercase hex digits, standing alone.
const HEX32: &str = r"(?:^|[^A-Za-z0-9_])[a-f0-9]{32}(?:[^A-Za-z0-9_]|$)";

pub(super) const DEFS: &[Def] = &[
    // Slack
    tok(
        "slack-token",
        &[
            "xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xoxe.", "xoxc-",
        ],
        r"xox(?:e\.xox[bp]|[abposrec])-[0-9]+-[0-9A-Za-z\-]{8,300}",
    ),
    // The `d` cookie of a Slack browser session (URL-encoded).
    Def {
        entropy: Some(3.5),
        entropy_skip: 5,
        ..tok(
            "slack-token",
            &["xoxd-"],
            r"xoxd-[A-Za-z0-9%+/=_\-]{30,400}",
        )
    },
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
    // Microsoft Teams incoming webhooks: the path after `webhookb2/`.
    Def {
        word_start: false,
        group: 1,
        split: Some((
            r"webhookb2/",
            r"(?i)[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}@[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}/IncomingWebhook/[0-9a-f]{32}/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}(?:/V2[A-Za-z0-9_\-]{20,80})?",
        )),
        ..tok(
            "teams-webhook-url",
            &["webhookb2/"],
            r"webhookb2/((?i)[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}@[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}/IncomingWebhook/[0-9a-f]{32}/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}(?:/V2[A-Za-z0-9_\-]{20,80})?)",
        )
    },
    // Discord: webhook URLs (the token after the id), bot tokens after
    // `Bot ` or near the word `discord`.
    Def {
        group: 1,
        split: Some((
            r"discord(?:app)?\.com/api/(?:v[0-9]{1,2}/)?webhooks/[0-9]{17,20}/",
            r"[A-Za-z0-9_\-]{60,100}",
        )),
        ..tok(
            "discord-webhook-url",
            &["discord"],
            r"discord(?:app)?\.com/api/(?:v[0-9]{1,2}/)?webhooks/[0-9]{17,20}/([A-Za-z0-9_\-]{60,100})",
        )
    },
    Def {
        back: Some(0),
        fwd: 200,
        group: 1,
        entropy: Some(3.5),
        needs: Some(r"\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27}"),
        ..tok(
            "discord-bot-token",
            &["discord"],
            concat!(
                r"(?:^|[^A-Za-z0-9_\-])(",
                discord_token!(),
                r")(?:[^A-Za-z0-9_\-]|$)"
            ),
        )
    },
    Def {
        group: 1,
        exact_case: true,
        entropy: Some(3.5),
        ..tok(
            "discord-bot-token",
            &["Bot "],
            concat!(r"Bot +(", discord_token!(), r")(?:[^A-Za-z0-9_\-]|$)"),
        )
    },
    // Telegram bot tokens near `telegram` (`api.telegram.org/bot<token>/`)
    // or in an apprise `tgram://` URL.
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        entropy: Some(3.5),
        needs: Some(r"[0-9]{8,10}:[A-Za-z0-9_\-]{35}"),
        ..tok(
            "telegram-bot-token",
            &["telegram", "tgram://"],
            r"(?:/bot|^|[^A-Za-z0-9_\-:])([0-9]{8,10}:[A-Za-z0-9_\-]{35})(?:[^A-Za-z0-9_\-]|$)",
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
    // Account SIDs, and auth tokens before or after one, near `twilio` or
    // `account_sid` (`TwilioClient.Init("AC...", "<token>")`). Not at any
    // `AC`: as a keyword it would fire at each `access`, `space`, `trace`.
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        entropy: Some(3.0),
        needs: Some(r"AC[a-f0-9]{32}"),
        ..tok(
            "twilio-account-sid",
            TWILIO_CONTEXT,
            r"(?:^|[^A-Za-z0-9_])(AC[a-f0-9]{32})(?:[^A-Za-z0-9_]|$)",
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
    Def {
        back: Some(0),
        fwd: 300,
        group: 1,
        entropy: Some(3.0),
        mixed: true,
        needs: Some(HEX32),
        ..tok(
            "twilio-auth-token",
            TWILIO_CONTEXT,
            r"AC[a-f0-9]{32}(?:[^A-Za-z0-9_\r\n][^\r\n]{0,120}?)?[^A-Za-z0-9_]([a-f0-9]{32})(?:[^A-Za-z0-9_]|$)",
        )
    },
    Def {
        back: Some(0),
        fwd: 300,
        group: 1,
        entropy: Some(3.0),
        mixed: true,
        needs: Some(HEX32),
        ..tok(
            "twilio-auth-token",
            TWILIO_CONTEXT,
            r"(?:^|[^A-Za-z0-9_])([a-f0-9]{32})(?:[^A-Za-z0-9_\r\n][^\r\n]{0,120}?)?[^A-Za-z0-9_]AC[a-f0-9]{32}(?:[^A-Za-z0-9_]|$)",
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
    // Mailgun: `key-` keys anywhere; the newer keys (32-8-8 hex digits)
    // near the word `mailgun`, after or before it.
    Def {
        entropy: Some(3.0),
        entropy_skip: 4,
        ..tok("mailgun-api-key", &["key-"], r"key-[a-f0-9]{32}\b")
    },
    Def {
        back: Some(0),
        fwd: 200,
        group: 1,
        entropy: Some(3.0),
        needs: Some(MAILGUN_KEY),
        ..tok(
            "mailgun-api-key",
            &["mailgun"],
            r"(?:^|[^A-Za-z0-9_\-])([a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    Def {
        back: Some(200),
        fwd: 0,
        group: 1,
        entropy: Some(3.0),
        needs: Some(MAILGUN_KEY),
        ..tok(
            "mailgun-api-key",
            &["mailgun"],
            r"(?:^|[^A-Za-z0-9_\-])([a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8})[^A-Za-z0-9_\-\r\n][^\r\n]{0,180}?(?i:mailgun)",
        )
    },
    // Mailchimp: 32 hex digits, `-us` and the data center, near the word
    // `mailchimp` (`-us` is no keyword: `en-us` is in most request logs).
    Def {
        back: Some(0),
        fwd: 200,
        group: 1,
        entropy: Some(3.0),
        needs: Some(MAILCHIMP_KEY),
        ..tok(
            "mailchimp-api-key",
            &["mailchimp"],
            r"(?:^|[^A-Za-z0-9_\-])([a-f0-9]{32}-us[0-9]{1,2})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    Def {
        back: Some(200),
        fwd: 0,
        group: 1,
        entropy: Some(3.0),
        needs: Some(MAILCHIMP_KEY),
        ..tok(
            "mailchimp-api-key",
            &["mailchimp"],
            r"(?:^|[^A-Za-z0-9_\-])([a-f0-9]{32}-us[0-9]{1,2})[^A-Za-z0-9_\-\r\n][^\r\n]{0,160}?(?i:mailchimp)",
        )
    },
    // Postmark server and account tokens (UUIDs) in settings and headers
    // named after Postmark (`X-Postmark-Server-Token`).
    Def {
        back: Some(0),
        fwd: 160,
        group: 1,
        entropy: Some(3.0),
        needs: Some(named_needs!(r"[0-9a-f]{8}-[0-9a-f]{4}-")),
        ..tok(
            "postmark-token",
            &["postmark"],
            named!(
                "postmark",
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                r"\b"
            ),
        )
    },
];

/// The words near which Twilio account SIDs are looked for.
const TWILIO_CONTEXT: &[&str] = &["twilio", "account_sid", "accountsid", "account-sid"];

/// A newer Mailgun key.
const MAILGUN_KEY: &str = r"[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8}";

/// A Mailchimp key.
const MAILCHIMP_KEY: &str = r"[a-f0-9]{32}-us[0-9]";

#[cfg(test)]
mod tests {
    use super::super::near::testing::{assert_cases, assert_dense_lines_linear};
    use super::*;
    use crate::detect::testing::spans;

    const DISCORD_BOT: &str = "MjA4NTY0MDg5OTU3NzgyMDA0NA.l_tmgL.KoMRp-9EH9vorUUfENY6RaCqSu7";
    const DISCORD_BOT_NEW: &str =
        "NjM3MTMzMTQ3ODQ4NjgxMTc2NA.5dHizb.QUbXzP2wwAAGLfqLRFB6djRfm0vlh1UQzJhxXc";
    const DISCORD_HOOK: &str =
        "pbesrABbx8oe0tKUQbR2uLKkyBYCCAJoeaWQBcnl_wxofp5ICDT1Iz2_WT2p43cQ4BVJ";
    const TELEGRAM: &str = "6244066441:AA3v5M_NCQJ-swQaSrpaGZ_4aK3-gIUOapf";
    const MAILGUN_OLD: &str = "key-6903ac070dc0708f52e75e88e9bf73ca";
    const MAILGUN_NEW: &str = "5af4b669fcf51ae13f83c4cf2f1086bd-1d674695-3fe00366";
    const MAILCHIMP: &str = "d6512f7abf6213407b629c8aaa537ab4-us17";
    const POSTMARK: &str = "e5b7ca8d-289a-4e05-89c6-6dd31c028d20";
    const SID: &str = "AC0deb68ce98a411ddc381739dae57b98b";
    const TOKEN: &str = "fa480695064537a346ab2b1ffa47642e";
    const TEAMS: &str = "a025ee03-1530-4359-b4ee-bb886836ca42@aecae967-38a8-4924-b8ed-d0e8e032215f/IncomingWebhook/b380288e1268b2695807e12111c2e2ea/4550b1ef-248d-46ff-85a0-ecb330fadc15";
    const XOXC: &str = "xoxc-10716990868-421751056624-7867315183324-8b9c115aded7db6d4d16260760007152457938b4124369552d3d4c186daad4be";
    const XOXD: &str =
        "xoxd-dJMnFeFPtrbeby5AH81ydEgAs9cDQBHlvBuhahjE%2FaeMVgeMP0mJ17JsAPNVBnATz3i2R6g%3D";

    #[test]
    fn breadth_messaging_tokens_are_found_with_their_exact_span() {
        let teams_v2 = format!("{TEAMS}/V2MhWeMNM_2pDIcbbyTO82KXdFj-NT_ezt3Lj1sFjdFAF");
        assert_cases(
            &[
                (
                    "discord-bot-token",
                    DISCORD_BOT,
                    &[
                        "DISCORD_BOT_TOKEN={}",
                        r#"{"discord": {"token": "{}"}}"#,
                        "discord:\n  token: '{}'",
                        "curl -H 'Authorization: Bot {}' https://discord.com/api/v10/users/@me",
                        "> authorization: Bot {}",
                        "INFO discord client login with {} ok",
                    ],
                ),
                (
                    "discord-bot-token",
                    DISCORD_BOT_NEW,
                    &["discord.py: bot.run('{}')", "Authorization: Bot {}"],
                ),
                (
                    "discord-webhook-url",
                    DISCORD_HOOK,
                    &[
                        "POST https://discord.com/api/webhooks/1283872763568588453/{} 204",
                        r#"{"webhook": "https://discordapp.com/api/webhooks/283872763568588453/{}"}"#,
                        "DISCORD_WEBHOOK=https://ptb.discord.com/api/v10/webhooks/28387276356858845311/{}?wait=true",
                    ],
                ),
                (
                    "telegram-bot-token",
                    TELEGRAM,
                    &[
                        "GET https://api.telegram.org/bot{}/getUpdates 200",
                        r#"{"telegram": {"bot_token": "{}"}}"#,
                        "telegram:\n  token: {}",
                        "notify: tgram://{}/-100123456",
                        "TELEGRAM_BOT_TOKEN=\"{}\"",
                    ],
                ),
                (
                    "mailgun-api-key",
                    MAILGUN_OLD,
                    &[
                        "MG_KEY={}",
                        "curl --user 'api:{}' https://api.eu.mailgun.net/v3",
                    ],
                ),
                (
                    "mailgun-api-key",
                    MAILGUN_NEW,
                    &[
                        "mailgun: {apiKey: '{}'}",
                        "curl -s --user 'api:{}' https://api.mailgun.net/v3/mg.example.org/messages",
                        "MAILGUN_SIGNING_KEY={}",
                    ],
                ),
                (
                    "mailchimp-api-key",
                    MAILCHIMP,
                    &[
                        "MAILCHIMP_API_KEY={}",
                        "mailchimp_key: \"{}\"",
                        "curl -u any:{} https://us17.api.mailchimp.com/3.0/ping",
                        "GET https://us17.api.mailchimp.com/3.0/ apikey={}",
                    ],
                ),
                (
                    "postmark-token",
                    POSTMARK,
                    &[
                        "POSTMARK_SERVER_TOKEN={}",
                        "X-Postmark-Server-Token: {}",
                        "-H \"X-Postmark-Account-Token: {}\"",
                        r#"{"postmark": {"serverToken": "{}"}}"#,
                        "postmark:\n  api_token: {}",
                    ],
                ),
                (
                    "twilio-account-sid",
                    SID,
                    &[
                        "twilio account {} created",
                        "TWILIO_ACCOUNT_SID={}",
                        "GET https://api.twilio.com/2010-04-01/Accounts/{}/Messages.json",
                    ],
                ),
                (
                    "teams-webhook-url",
                    TEAMS,
                    &[
                        "POST https://contoso.webhook.office.com/webhookb2/{} 200",
                        r#"{"teams_webhook": "https://contoso.webhook.office.com/webhookb2/{}"}"#,
                    ],
                ),
                (
                    "teams-webhook-url",
                    &teams_v2,
                    &["url: https://acme.webhook.office.com/webhookb2/{}"],
                ),
                ("slack-token", XOXC, &["slack client token {} used"]),
                (
                    "slack-token",
                    XOXD,
                    &["slack_d_cookie = \"{}\"", "set d {} for .slack.com"],
                ),
            ],
            &[
                "DISCORD_BOT_TOKEN=MTIzNDU2Nzg5MDEyMzQ1Njc4.XXXXXX.xxxxxxxxxxxxxxxxxxxxxxxxxxx",
                // Not a base64 id: the first part decodes to letters.
                "discord token aGVsbG8td29ybGQtaGVsbG8td29y.l_tmgL.KoMRp-9EH9vorUUfENY6RaCqSu7",
                "Bot MjA4NTY0MDg5OTU3NzgyMDA0NA.l_tmgL.KoMRp (truncated)",
                "https://discord.com/api/webhooks/1283872763568588453/<webhook-token>",
                "telegram chat 6244066441:AA3v5M_NCQJ-swQaSrpa (short)",
                "message from bot 6244066441:AA3v5M_NCQJ-swQaSrpaGZ_4aK3-gIUOapf",
                "telegram bot 123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "mailgun id 5af4b669fcf51ae13f83c4cf2f1086bd-1d674695",
                "key-00000000000000000000000000000000",
                "key-value store keys: key-name",
                "mailchimp Accept-Language: en-us, 0123456789-us1",
                "mailchimp sha 6d512f7abf6213407b629c8aaa537ab4d6512f7abf6213407b629c8aaa537ab4-us17",
                "d6512f7abf6213407b629c8aaa537ab4-us17 (no vendor word)",
                "postmark message id e5b7ca8d-289a-4e05-89c6-6dd31c028d20 delivered",
                "postmark_key: 00000000-0000-0000-0000-000000000000",
                "X-Postmark-Server-Token: ${POSTMARK_TOKEN}",
                "twilio account ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "access granted to ACCOUNT acc-12",
                "https://contoso.webhook.office.com/webhookb2/{{TEAMS_ID}}",
            ],
        );
    }

    #[test]
    fn breadth_a_twilio_auth_token_is_found_next_to_its_account_sid() {
        for line in [
            format!("TwilioClient.Init(\"{SID}\", \"{TOKEN}\");"),
            format!("TWILIO_ACCOUNT_SID={SID} TWILIO_AUTH_TOKEN={TOKEN}"),
            format!("twilio --auth {TOKEN} --sid {SID}"),
            format!("twilio: sid={SID} {TOKEN}"),
            format!(r#"{{"twilio": {{"sid": "{SID}", "secret": "{TOKEN}"}}}}"#),
            format!("account_sid = '{SID}'; auth = '{TOKEN}'"),
        ] {
            let found = spans(&line);
            assert!(
                found.contains(&("twilio-auth-token".to_string(), TOKEN.to_string())),
                "{line}: {found:?}"
            );
            assert!(
                found.contains(&("twilio-account-sid".to_string(), SID.to_string())),
                "{line}: {found:?}"
            );
        }
        // A message SID or a request id is no auth token.
        let line = format!("twilio sent SM{TOKEN} from {SID} request 0123-{TOKEN}x");
        assert_eq!(
            spans(&line),
            vec![("twilio-account-sid".into(), SID.into())]
        );
    }

    #[test]
    fn breadth_messaging_dense_lines_cost_linear_work() {
        let sid_run = format!("twilio {SID} ");
        let sid_tok = format!("account_sid {SID}={} ", &TOKEN[..31]);
        let tok_sid = format!("twilio {TOKEN} {SID} ");
        let hook = "discord.com/api/webhooks/1283872763568588453/".to_string();
        let units = [
            sid_run.as_str(),
            sid_tok.as_str(),
            tok_sid.as_str(),
            "twilio AC0",
            hook.as_str(),
            "discord MjA4NTY0MDg5OTU3NzgyMDA0NA.l_tmgL.",
            "telegram 6244066441:",
            "mailchimp d6512f7abf6213407b629c8aaa537ab4-us",
            "d6512f7abf6213407b629c8aaa537ab4-us17 mailchimp",
            "mailgun 5af4b669fcf51ae13f83c4cf2f1086bd-1d674695-",
            "postmark_token=e5b7ca8d-289a-4e05-89c6-",
            "Bot MjA4NTY0MDg5OTU3NzgyMDA0NA.",
            "webhookb2/a025ee03-1530-4359-b4ee-bb886836ca42@",
        ];
        assert_dense_lines_linear(DEFS, &units);
    }
}
