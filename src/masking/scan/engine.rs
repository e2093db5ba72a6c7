//! TEMPORARY stand-in for `crate::masking::patterns` (deleted once it lands).
#![allow(dead_code, missing_docs, unreachable_pub)]

use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, serde::Deserialize)]
pub struct RuleSpec {
    pub id: String,
    pub regex: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub min_entropy: Option<f64>,
    pub secret_group: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Arc<Vec<(String, regex::Regex, Option<usize>)>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleId(String);
impl RuleId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: RuleId,
    pub start: usize,
    pub end: usize,
}

impl RuleSet {
    pub fn builtin() -> RuleSet {
        let specs = [
            ("openai-api-key", r"\b(sk-(?:proj-|svcacct-|ant-api03-|or-v1-|lf-)?[A-Za-z0-9_\-]{20,})", Some(1)),
            ("stripe-key", r"\b((?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,})", Some(1)),
            ("aws-access-key-id", r"\b((?:AKIA|ASIA)[A-Z2-7]{16})\b", Some(1)),
            ("github-token", r"\b((?:ghp|gho|ghs|ghu)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,})", Some(1)),
        ];
        RuleSet {
            rules: Arc::new(
                specs
                    .iter()
                    .map(|(id, re, g)| (id.to_string(), regex::Regex::new(re).unwrap(), *g))
                    .collect(),
            ),
        }
    }
    pub fn with_user_rules(self, rules: Vec<RuleSpec>) -> Result<RuleSet, crate::Error> {
        let mut v: Vec<_> = (*self.rules).clone();
        for r in rules {
            let re = regex::Regex::new(&r.regex)
                .map_err(|_| crate::Error::config(format!("rule '{}': invalid regex", r.id)))?;
            v.push((r.id, re, r.secret_group));
        }
        Ok(RuleSet { rules: Arc::new(v) })
    }
    pub fn find(&self, text: &str, out: &mut Vec<Finding>) {
        let mut all = Vec::new();
        for (id, re, g) in self.rules.iter() {
            for c in re.captures_iter(text) {
                let m = g.and_then(|g| c.get(g)).unwrap_or_else(|| c.get(0).unwrap());
                if m.as_str().contains("xxxx") {
                    continue;
                }
                all.push(Finding { rule: RuleId(id.clone()), start: m.start(), end: m.end() });
            }
        }
        all.sort_by_key(|f| f.start);
        let mut last = 0;
        for f in all {
            if f.start >= last {
                last = f.end;
                out.push(f);
            }
        }
    }
    pub fn rule_ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.0.as_str()).collect()
    }
}
