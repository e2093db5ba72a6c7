//! Built-in rules: AI platforms: OpenAI, Anthropic, OpenRouter, DeepSeek, Langfuse, Hugging Face,
//! xAI, Groq, Perplexity, Replicate, Cohere (the only one found only after
//! its name: its keys have no prefix).

use super::context::{at, name_ends_at};
use super::{Def, tok};

pub(super) const DEFS: &[Def] = &[
    // OpenAI
    tok(
        "openai-api-key",
        &["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-none-"],
        r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,400}",
    ),
    Def {
        needs: Some("T3BlbkFJ"),
        ..tok(
            "openai-api-key",
            &["sk-"],
            r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b",
        )
    },
    // Anthropic
    tok(
        "anthropic-api-key",
        &["sk-ant-"],
        r"sk-ant-(?:api|admin|oat|sid)[0-9]{2}-[A-Za-z0-9_\-]{20,300}",
    ),
    // OpenRouter
    tok(
        "openrouter-api-key",
        &["sk-or-"],
        r"sk-or-v[0-9]+-[A-Za-z0-9]{32,128}\b",
    ),
    // DeepSeek (and other 32-hex sk- keys)
    Def {
        needs: Some("[a-f0-9]{32}"),
        ..tok("deepseek-api-key", &["sk-"], r"sk-[a-f0-9]{32}\b")
    },
    // Langfuse
    tok(
        "langfuse-key",
        &["sk-lf-", "pk-lf-"],
        r"(?:sk|pk)-lf-[0-9A-Za-z]{8}(?:-?[0-9A-Za-z]{4}){3}-?[0-9A-Za-z]{12}\b",
    ),
    // Hugging Face
    tok("huggingface-token", &["hf_"], r"hf_[A-Za-z]{34}\b"),
    tok(
        "huggingface-org-token",
        &["api_org_"],
        r"api_org_[A-Za-z]{34}\b",
    ),
    // xAI
    Def {
        entropy: Some(3.5),
        entropy_skip: 4,
        ..tok("xai-api-key", &["xai-"], r"xai-[A-Za-z0-9_]{80}\b")
    },
    // Groq
    Def {
        entropy: Some(3.5),
        entropy_skip: 4,
        ..tok("groq-api-key", &["gsk_"], r"gsk_[A-Za-z0-9]{52}\b")
    },
    // Perplexity
    Def {
        entropy: Some(3.5),
        entropy_skip: 5,
        ..tok("perplexity-api-key", &["pplx-"], r"pplx-[A-Za-z0-9]{48}\b")
    },
    // Replicate
    Def {
        group: 1,
        entropy: Some(3.5),
        entropy_skip: 3,
        ..tok(
            "replicate-api-token",
            &["r8_"],
            r"(r8_[A-Za-z0-9_\-]{37})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    // Cohere: 40 random characters after a Cohere setting name.
    Def {
        fwd: 120,
        group: 1,
        entropy: Some(3.5),
        mixed: true,
        word_start: false,
        pre: Some(cohere_pre),
        ..tok(
            "cohere-api-key",
            &["cohere", "api_key"],
            concat!(
                r"(?i:cohere|api_key)[\w.\-]{0,32}",
                nested!(),
                assign!(),
                r"([A-Za-z0-9]{40})\b"
            ),
        )
    },
];

/// `cohere` at a word start, or `api_key` in `CO_API_KEY` (the secret-named
/// key rule's keyword: `co_api_key` would hide its hit).
fn cohere_pre(b: &[u8], hs: usize) -> bool {
    if at(b, hs, b"api_key") {
        name_ends_at(b, hs, &[b"co_"])
    } else {
        hs == 0 || !b[hs - 1].is_ascii_alphanumeric()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::spans;

    /// Fake keys (random, in each vendor's shape).
    const XAI: &str =
        "xai-5qiBZPImdgC4mYVArJH9fTV5AW4nHMX0o2GBNAtulyOkxuWjAmyVn32tRH9fi8HbbLc3LGPwwqrQF_Ja";
    const GROQ: &str = "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";
    const PPLX: &str = "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";
    const R8: &str = "r8_0X2i1m7t0DDkQ5rcey3qEqVCBe_0aoUxw_zPR";
    const COHERE: &str = "LWuJtOVuO8v1cJwqlJwKh1GuMj86Itn7qdCvqU7x";

    #[test]
    fn ai_keys_are_found_with_their_exact_span_in_each_context() {
        let cases: Vec<(String, &str, &str)> = vec![
            (format!("XAI_API_KEY={XAI}"), "xai-api-key", XAI),
            (format!("Authorization: Bearer {XAI}"), "xai-api-key", XAI),
            (format!(r#"{{"api_key": "{GROQ}"}}"#), "groq-api-key", GROQ),
            (
                format!("2025-06-01 INFO groq client key={GROQ} model=llama"),
                "groq-api-key",
                GROQ,
            ),
            (
                format!("PERPLEXITY_API_KEY: '{PPLX}'"),
                "perplexity-api-key",
                PPLX,
            ),
            (
                format!("curl -H \"Authorization: Bearer {PPLX}\" https://api.perplexity.ai"),
                "perplexity-api-key",
                PPLX,
            ),
            (
                format!("REPLICATE_API_TOKEN={R8}"),
                "replicate-api-token",
                R8,
            ),
            (
                format!("replicate.Client(api_token=\"{R8}\")"),
                "replicate-api-token",
                R8,
            ),
            (format!("CO_API_KEY={COHERE}"), "cohere-api-key", COHERE),
            (
                format!("cohere:\n  api_key: {COHERE}"),
                "cohere-api-key",
                COHERE,
            ),
            (
                format!(r#"{{"cohereApiKey": "{COHERE}"}}"#),
                "cohere-api-key",
                COHERE,
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
    fn ai_look_alikes_are_not_flagged() {
        let lines = [
            format!("prefix {}", &XAI[..40]),
            "model xai-grok-4 selected".to_string(),
            format!("key {}", GROQ.replace("gsk_", "gsx_")),
            "gsk_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".to_string(),
            PPLX[..30].to_string(),
            "r8_short".to_string(),
            "cohere_model: command-r-plus-08-2024-aaaaaaaaaaaaaaaaaaa".to_string(),
            "CO_API_KEY=${CO_API_KEY}".to_string(),
        ];
        for line in lines {
            assert_eq!(spans(&line), Vec::<(String, String)>::new(), "{line:?}");
        }
    }

    #[test]
    fn breadth_ai_keyword_lines_cost_linear_work() {
        crate::detect::builtin::near::testing::assert_dense_lines_linear(DEFS, &[]);
    }
}
