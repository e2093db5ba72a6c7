//! Built-in rules: AI platforms: OpenAI, Anthropic, OpenRouter, DeepSeek, Langfuse, Hugging Face.

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
];
