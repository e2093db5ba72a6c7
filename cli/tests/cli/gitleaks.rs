//! `scan --config` and `redact --config` with gitleaks rules files, run as
//! the built binary in temporary directories. Every rules file here is
//! written for these tests; every credential is a fake value.
//!
//! The fake credentials are marked `secret-chain:allow` so that a scan of
//! this repository does not report them.

use std::path::Path;

use serde_json::Value;

use crate::scan::{code, run, stderr, stdout, write};

const GITHUB: &str = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"; // secret-chain:allow

/// `scan --format json` with `config` over `paths`: each finding as
/// (path, rule, the secret cut from the file by its columns).
fn scan(dir: &Path, config: &str, paths: &[&str]) -> (i32, Vec<(String, String, String)>, String) {
    let mut args = vec!["scan", "--config", config, "--format", "json"];
    args.extend_from_slice(paths);
    let out = run(dir, &args, None);
    let found = stdout(&out)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let path = v["path"].as_str().unwrap().to_owned();
            let text = std::fs::read(dir.join(&path)).unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            let line = text
                .lines()
                .nth(v["line"].as_u64().unwrap() as usize - 1)
                .unwrap_or("");
            let (s, e) = (
                v["column"].as_u64().unwrap() as usize - 1,
                v["end_column"].as_u64().unwrap() as usize - 1,
            );
            let secret = line.get(s..e).unwrap_or("").to_owned();
            (path, v["rule"].as_str().unwrap().to_owned(), secret)
        })
        .collect();
    (code(&out), found, stderr(&out))
}

fn f(path: &str, rule: &str, secret: &str) -> (String, String, String) {
    (path.into(), rule.into(), secret.into())
}

#[test]
fn a_custom_gitleaks_rule_with_secret_group_and_entropy_reports_its_secret_only() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "gitleaks.toml",
        r#"title = "team rules"

[[rules]]
id = "acme-api-key"
description = "Acme API key"
regex = '''(?i)acme[_-]?key\s*[:=]\s*["']?([\w]{24})\b'''
secretGroup = 1
entropy = 3.5
keywords = ["acme"]
tags = ["api", "acme"]

[[rules]]
id = "acme-session"
regex = '''sess_(?:live|test)_([a-z0-9]{16})'''
keywords = ["sess_"]
"#,
    );
    write(
        dir,
        "app.log",
        concat!(
            "INFO acme_key=Zk4q7Wm2Pn9Rx3Lb8Vc6Td1H loaded\n", // secret-chain:allow
            "INFO ACME-KEY: \"aaaaaaaaaaaabbbbbbbbbbbb\"\n",   // low entropy
            "DEBUG cookie sess_live_q8jx2mvn5lz1k7wd\n",       // secret-chain:allow
            "{\"token\": \"",
            "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB",
            "\"}\n", // secret-chain:allow
        ),
    );
    let (c, found, err) = scan(dir, "gitleaks.toml", &["app.log"]);
    assert_eq!(c, 1, "{err}");
    // Only the file's rules: the GitHub token is not one of them.
    assert_eq!(
        found,
        [
            f("app.log", "acme-api-key", "Zk4q7Wm2Pn9Rx3Lb8Vc6Td1H"),
            f("app.log", "acme-session", "q8jx2mvn5lz1k7wd"),
        ]
    );
    assert!(err.is_empty(), "{err}");
}

#[test]
fn rule_and_file_wide_allowlists_follow_gitleaks_semantics() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "g.toml",
        r#"
[extend]
useDefault = true

[[rules]]
id = "acme-token"
regex = '''acme_tok_([A-Za-z0-9]{20})'''
keywords = ["acme_tok_"]

# The secret starts with TEST, or holds a stopword (any case).
[[rules.allowlists]]
regexes = ['''^TEST''']
stopwords = ["qa1team"]

# The whole match, when 0000 follows the first four characters (test keys).
[[rules.allowlists]]
regexTarget = "match"
regexes = ['''^acme_tok_[A-Za-z0-9]{4}0000''']

# Lines of the staging environment, but only in fixtures.
[[rules.allowlists]]
condition = "AND"
regexTarget = "line"
regexes = ['''env=staging''']
paths = ['''(^|/)fixtures/''']

# Every rule: lines marked as documentation.
[[allowlists]]
regexTarget = "line"
regexes = ['''\[docs\]''']

# Only the built-in GitHub rule: tokens of the CI bot.
[[allowlists]]
targetRules = ["github-pat"]
stopwords = ["b5h9m344"]
"#,
    );
    let lines = [
        "a acme_tok_TESTk3j4h5g6f7d8s9a0q1",  // regex on the secret
        "b acme_tok_Ab3dQA1TEAMf7d8s9a0q1zz", // stopword
        "c acme_tok_Qw3r0000Zx9v8B7n6M5l",    // regex on the match
        "d env=staging acme_tok_Lk9j8H7g6F5d4S3a2P1o", // line, AND path
        "e [docs] acme_tok_Mn8b7V6c5X4z3L2k1J0h", // file-wide allowlist
        "f token ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB", // targeted allowlist
        "g acme_tok_Rt5y6U7i8O9p0A1s2D3f",    // a finding
        "h [docs] password=hunter22xyz",      // file-wide, built-in rule
    ]; // secret-chain:allow
    let text = lines.join("\n") + "\n";
    write(dir, "logs/app.log", &text);
    write(dir, "fixtures/app.log", &text);
    let (c, found, err) = scan(dir, "g.toml", &["logs/app.log", "fixtures/app.log"]);
    assert_eq!(c, 1, "{err}");
    assert_eq!(
        found,
        [
            f("logs/app.log", "acme-token", "Lk9j8H7g6F5d4S3a2P1o"),
            f("logs/app.log", "acme-token", "Rt5y6U7i8O9p0A1s2D3f"),
            f("fixtures/app.log", "acme-token", "Rt5y6U7i8O9p0A1s2D3f"),
        ]
    );
    // OR: a path alone allows the whole file.
    write(
        dir,
        "paths.toml",
        "[[rules]]\nid = 'acme-token'\nregex = 'acme_tok_[A-Za-z0-9]{20}'\nkeywords = ['acme_tok_']\n[[rules.allowlists]]\npaths = ['''^fixtures/''']\n",
    );
    let (_, found, _) = scan(dir, "paths.toml", &["logs/app.log", "fixtures/app.log"]);
    assert!(
        found.iter().all(|(p, _, _)| p == "logs/app.log"),
        "{found:?}"
    );
    assert_eq!(found.len(), 6, "{found:?}");
}

#[test]
fn path_rules_run_only_in_matching_files_and_path_only_rules_flag_the_file() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "g.toml",
        r#"title = "paths"

[[rules]]
id = "dotenv-db-password"
path = '''(^|/)\.env(\.\w+)?$'''
regex = '''DB_PASSWORD=(\S{8,})'''
keywords = ["db_password"]

[[rules]]
id = "pkcs12-file"
description = "A PKCS#12 key store"
path = '''(?i)\.p(12|fx)$'''
"#,
    );
    write(dir, "app/.env.prod", "DB_PASSWORD=Xq7!pL2#vR9z\n"); // secret-chain:allow
    write(dir, "app/notes.txt", "DB_PASSWORD=Xq7!pL2#vR9z\n"); // secret-chain:allow
    write(dir, "certs/Server.PFX", [0u8, 1, 2, 3, 0, 255]);
    let (c, found, err) = scan(dir, "g.toml", &["app", "certs"]);
    assert_eq!(c, 1, "{err}");
    assert_eq!(
        found,
        [
            f("app/.env.prod", "dotenv-db-password", "Xq7!pL2#vR9z"),
            f("certs/Server.PFX", "pkcs12-file", ""),
        ]
    );
    // SARIF lists every rule, and the file finding at line 1.
    let sarif = run(
        dir,
        &["scan", "--config", "g.toml", "--format", "sarif", "certs"],
        None,
    );
    let v: Value = serde_json::from_str(&stdout(&sarif)).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "pkcs12-file");
    // Stdin has no path: neither rule applies.
    let out = run(
        dir,
        &["scan", "--config", "g.toml", "-"],
        Some(b"DB_PASSWORD=Xq7!pL2#vR9z\n"),
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}

#[test]
fn extend_use_default_disabled_rules_and_path() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "shared/base.toml",
        r#"[extend]
useDefault = true
disabledRules = ["aws-access-key-id"]

[[rules]]
id = "acme-token"
regex = '''acme_tok_([A-Za-z0-9]{20})'''
keywords = ["acme_tok_"]

[[rules]]
id = "legacy-token"
regex = '''legacy_([a-f0-9]{16})'''
keywords = ["legacy_"]
"#,
    );
    write(
        dir,
        "gitleaks.toml",
        r#"[extend]
path = "shared/base.toml"
disabledRules = ["legacy-token", "not-a-rule"]

[[rules]]
id = "acme-token"
[[rules.allowlists]]
stopwords = ["ci7bot"]
"#,
    );
    write(
        dir,
        "a.log",
        format!(
            "t1 {GITHUB}\nt2 AKIAPVUD4ALW7MJJD7E6\nt3 legacy_0123456789abcdef\nt4 acme_tok_CI7BOTk3j4h5g6f7d8s9\nt5 acme_tok_Rt5y6U7i8O9p0A1s2D3f\n"
        ),
    ); // secret-chain:allow
    let (c, found, err) = scan(dir, "gitleaks.toml", &["a.log"]);
    assert_eq!(c, 1, "{err}");
    assert_eq!(
        found,
        [
            f("a.log", "github-pat", GITHUB),
            f("a.log", "acme-token", "Rt5y6U7i8O9p0A1s2D3f"),
        ]
    );
    assert!(
        err.contains("warning")
            && err.contains("'not-a-rule'")
            && err.contains("gitleaks.toml' line 3"),
        "{err}"
    );
}

#[test]
fn the_config_format_flag_overrides_what_the_keys_say() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Valid in both formats: ours adds it to the built-in rules, gitleaks'
    // has it alone, with Go's ASCII \w.
    write(
        dir,
        "plain.toml",
        "[[rules]]\nid = 'acme'\nregex = '''acme_(\\w{8})'''\nkeywords = ['acme_']\n",
    );
    write(
        dir,
        "a.log",
        format!("acme_abcdéfgh {GITHUB}\nacme_Zk4q7Wm2\n"),
    ); // secret-chain:allow
    let (_, found, _) = scan(dir, "plain.toml", &["a.log"]);
    assert_eq!(
        found,
        [
            f("a.log", "acme", "acme_abcdéfgh"),
            f("a.log", "github-pat", GITHUB),
            f("a.log", "acme", "acme_Zk4q7Wm2"),
        ]
    );
    let out = run(
        dir,
        &[
            "scan",
            "--config",
            "plain.toml",
            "--config-format",
            "gitleaks",
            "--format",
            "json",
            "a.log",
        ],
        None,
    );
    let rules: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["rule"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(rules, ["acme"], "one ASCII-only match, no built-in rules");
    write(
        dir,
        "g.toml",
        "title = 't'\n[[rules]]\nid = 'acme'\nregex = 'acme_[a-z]{8}'\nkeywords = ['acme_']\n",
    );
    let out = run(
        dir,
        &[
            "scan",
            "--config",
            "g.toml",
            "--config-format",
            "secret-chain",
            "a.log",
        ],
        None,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("line 1") && stderr(&out).contains("`title`"),
        "{}",
        stderr(&out)
    );
    let out = run(dir, &["scan", "--config-format", "gitleaks", "a.log"], None);
    assert_eq!(code(&out), 2, "--config-format needs --config");
    let out = run(
        dir,
        &[
            "scan",
            "--config",
            "g.toml",
            "--config-format",
            "yaml",
            "a.log",
        ],
        None,
    );
    assert_eq!(code(&out), 2);
}

#[test]
fn bad_gitleaks_files_are_refused_naming_file_line_rule_and_key() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "a.log", "nothing here\n");
    for (text, want) in [
        (
            "title = 't'\n\n[[rules]]\nid = 'r'\nregex = 'abc'\nregexTargets = 'line'\n",
            vec!["bad.toml", "line 6", "unknown key `regexTargets`"],
        ),
        (
            "[[rules]]\nid = 'broken-rule'\nentropy = 3.0\nregex = '''key_([a-z'''\n",
            vec!["bad.toml", "line 4", "'broken-rule'", "regex"],
        ),
        (
            "[[rules]]\nid = 'uni'\nregex = '''[\\pL]{40}[\\pL]{40}[\\pL]{40}[\\pL]{40}[\\pL]{40}'''\npath = 'x'\n",
            vec!["bad.toml", "line 3", "'uni'", "MiB"],
        ),
        (
            "[extend]\nurl = 'https://example.invalid/rules.toml'\n",
            vec!["bad.toml", "line 2", "extend.url"],
        ),
        (
            "title = 't'\n[[rules]]\nid = 'mixed'\nregex = 'abc'\nmin_entropy = 3.0\n",
            vec!["bad.toml", "line 5", "min_entropy", "line 1"],
        ),
    ] {
        write(dir, "bad.toml", text);
        let out = run(dir, &["scan", "--config", "bad.toml", "a.log"], None);
        assert_eq!(code(&out), 2, "{text}");
        let err = stderr(&out);
        for w in want {
            assert!(err.contains(w), "{w} not in: {err}");
        }
        assert!(
            !err.contains("example.invalid") && !err.contains("key_([a-z"),
            "{err}"
        );
        let red = run(dir, &["redact", "--config", "bad.toml", "a.log"], None);
        assert_eq!(code(&red), 2);
    }
}

#[test]
fn redact_honours_the_allowlists_and_path_rules_of_a_file_it_is_given() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "g.toml",
        r#"[[rules]]
id = "acme-token"
regex = '''acme_tok_([A-Za-z0-9]{20})'''
keywords = ["acme_tok_"]
[[rules.allowlists]]
stopwords = ["qa1team"]

[[rules]]
id = "dotenv-secret"
path = '''\.env$'''
regex = '''SECRET=(\S+)'''
keywords = ["secret="]

[[allowlists]]
paths = ['''(^|/)vendor/''']
"#,
    );
    let text =
        "a acme_tok_QA1TEAMk3j4h5g6f7d8s\nb acme_tok_Rt5y6U7i8O9p0A1s2D3f\nSECRET=Xq7pL2vR9zW4\n"; // secret-chain:allow
    write(dir, "app.log", text);
    write(dir, "prod.env", text);
    write(dir, "vendor/lib.log", text);
    let red = |path: &str| stdout(&run(dir, &["redact", "--config", "g.toml", path], None));
    let stdin = stdout(&run(
        dir,
        &["redact", "--config", "g.toml"],
        Some(text.as_bytes()),
    ));
    let plain = "a acme_tok_QA1TEAMk3j4h5g6f7d8s\nb acme_tok_****\nSECRET=Xq7pL2vR9zW4\n"; // secret-chain:allow
    assert_eq!(red("app.log"), plain);
    assert_eq!(stdin, plain, "no path: the path rule does not run");
    assert_eq!(
        red("prod.env"),
        "a acme_tok_QA1TEAMk3j4h5g6f7d8s\nb acme_tok_****\nSECRET=****\n" // secret-chain:allow
    );
    assert_eq!(red("vendor/lib.log"), text, "the file-wide path allowlist");
}
