//! Built-in rules: The catch-all `sk-`/`pk-` rule: any long, random enough key with one of
//! these prefixes (the CI gate exists for it). It runs with the lowest
//! priority, so a vendor rule names an overlapping finding.

use super::{Def, tok};

pub(super) const DEFS: &[Def] = &[
    // Generic sk-/pk- keys: long and random enough.
    Def {
        entropy: Some(3.5),
        entropy_skip: 3,
        mixed: true,
        ..tok(
            "generic-prefixed-key",
            &["sk-", "pk-"],
            r"[sp]k-[A-Za-z0-9_\-]{20,200}",
        )
    },
];

#[cfg(test)]
mod tests {
    use crate::detect::RuleSet;
    use crate::detect::testing::spans;

    /// A small deterministic generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
        fn run(&mut self, alphabet: &[u8], n: usize) -> String {
            (0..n)
                .map(|_| alphabet[self.below(alphabet.len())] as char)
                .collect()
        }
    }

    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// `sk-`/`pk-` keys in the shapes the vendor rules look at (and just
    /// miss: a wrong length, a wrong version, the marker misplaced).
    fn key(r: &mut Rng) -> String {
        const PREFIXES: &[&str] = &[
            "sk-",
            "pk-",
            "sk-proj-",
            "sk-svcacct-",
            "sk-admin-",
            "sk-None-",
            "sk-ant-api03-",
            "sk-ant-api3-",
            "sk-ant-",
            "sk-or-v1-",
            "sk-or-",
            "sk-lf-",
            "pk-lf-",
            "sk-lf-x",
        ];
        let prefix = PREFIXES[r.below(PREFIXES.len())];
        let n = r.below(220);
        let body = match r.below(6) {
            0 => r.run(b"0123456789abcdef", 28 + n % 8),
            1 => {
                let head = r.run(ALNUM, 18 + n % 5);
                format!("{head}T3BlbkFJ{}", r.run(ALNUM, 20))
            }
            2 => r.run(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
                10 + n,
            ),
            3 => {
                let parts = [8, 4, 4, 3 + n % 3, 12].map(|len| r.run(ALNUM, len));
                parts.join("-")
            }
            _ => r.run(ALNUM, 15 + n % 60),
        };
        format!("{prefix}{body}")
    }

    #[test]
    fn every_key_the_generic_rule_takes_alone_is_found_with_all_vendor_rules() {
        let generic = RuleSet::builtin().subset(&["generic-prefixed-key"]);
        let all = RuleSet::builtin();
        let mut r = Rng(0x5EED_2025_0314_0001);
        let mut checked = 0;
        for round in 0..4000 {
            let k = key(&mut r);
            let line = match round % 5 {
                0 => format!("2025-03-01T10:00:00Z WARN llm: retry with key {k} after 429"),
                1 => format!(r#"{{"level":"debug","OPENAI_API_KEY":"{k}"}}"#),
                2 => format!("api_key: {k}"),
                3 => format!("export LLM_KEY={k}"),
                _ => format!("Authorization: Bearer {k}"),
            };
            let mut alone = Vec::new();
            generic.find(&line, &mut alone);
            let mut out = Vec::new();
            all.find(&line, &mut out);
            for g in &alone {
                checked += 1;
                assert!(
                    out.iter().any(|f| f.start <= g.start && g.end <= f.end),
                    "{line}: generic alone {:?}, all rules {:?}",
                    &line[g.start..g.end],
                    spans(&line)
                );
            }
        }
        assert!(checked > 1000, "only {checked} keys the generic rule takes");
    }

    #[test]
    fn generic_keys_are_found_with_their_exact_span_in_every_context() {
        let k = "sk-q8Wd3kz0pTx7Lm2vB5nYc0dFs7gJ";
        let p = "pk-Zq8fK2pLx9Wm3TzB5nYc0dFs7gJp4a";
        for line in [
            format!("2025-03-01T10:00:00Z WARN retry with key {k} after 429"),
            format!(r#"{{"level":"debug","llm":"{k}"}}"#),
            format!("  llm: {k}"),
            format!("export LLM={k}"),
            format!("GET /v1/models?key={k} HTTP/1.1"),
            format!("X-Llm: {k}"),
        ] {
            assert_eq!(
                spans(&line),
                vec![("generic-prefixed-key".to_string(), k.to_string())],
                "{line}"
            );
        }
        assert_eq!(
            spans(&format!("client pk={p}")),
            vec![("generic-prefixed-key".to_string(), p.to_string())]
        );
        for line in [
            "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "expected format sk-... or sk-proj-...",
            "pk-orders-primary-key-index-rebuild-nightly",
            "sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
            "sk-1234567890abcdef1234567890abcdef",
            "sk-dummy-key-for-local-development-00",
            "task-runner-7d9f8b6c5-x2k4z disk-usage-48213abc",
        ] {
            assert!(spans(line).is_empty(), "{line}: {:?}", spans(line));
        }
    }
}
