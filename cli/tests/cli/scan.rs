//! `secret-chain scan` and `secret-chain redact`, run as the built binary in
//! temporary directories.
//!
//! The fake credentials below are marked `secret-chain:allow` so that a scan
//! of this repository does not report them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_secret-chain");

const STRIPE: &str = "sk_live_OGAucWtJGXdfhxnmrl8kc5S6"; // secret-chain:allow
const GITHUB: &str = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"; // secret-chain:allow
const AWS_ID: &str = "AKIAPVUD4ALW7MJJD7E6"; // secret-chain:allow

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(name)
}

pub(crate) fn run(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the secret-chain binary runs");
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        let input = input.to_vec();
        // Write from a thread: the child streams output while reading.
        std::thread::spawn(move || {
            let _ = w.write_all(&input);
        });
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub(crate) fn write(dir: &Path, rel: &str, data: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    p
}

/// The secret of each JSON finding, cut from `input` by its line and byte columns.
fn secrets_of(input: &str, findings: &[Value]) -> Vec<String> {
    let lines: Vec<&str> = input.split('\n').collect();
    findings
        .iter()
        .map(|f| {
            let line = lines[f["line"].as_u64().unwrap() as usize - 1];
            let (s, e) = (
                f["column"].as_u64().unwrap() as usize - 1,
                f["end_column"].as_u64().unwrap() as usize - 1,
            );
            line[s..e].to_owned()
        })
        .collect()
}

#[test]
fn every_corpus_positive_is_found_on_its_line() {
    let dir = tmp();
    let tsv = corpus("positives.tsv");
    let text = std::fs::read_to_string(&tsv).expect("../shared/corpus/positives.tsv exists");
    let out = run(
        dir.path(),
        &["scan", "--format", "json", tsv.to_str().unwrap()],
        None,
    );
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    let findings = json_lines(&out);
    let mut hit = std::collections::BTreeSet::new();
    for f in &findings {
        hit.insert(f["line"].as_u64().unwrap());
    }
    let mut missed = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if !hit.contains(&(i as u64 + 1)) {
            missed.push(format!(
                "line {}: {}",
                i + 1,
                line.split('\t').next().unwrap()
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "positives not found (kind per line):\n{}",
        missed.join("\n")
    );
    assert!(!hit.contains(&1), "the header line was flagged");
    // Each reported span lies in the line's example column, never in the kind.
    for (f, secret) in findings.iter().zip(secrets_of(&text, &findings)) {
        assert!(f["column"].as_u64().unwrap() > 1, "{f}");
        assert!(!secret.is_empty() && !secret.contains('\t'), "{f}");
        assert!(
            !stdout(&out).contains(&secret),
            "secret printed: rule {}",
            f["rule"]
        );
    }
}

#[test]
fn no_corpus_negative_is_flagged() {
    let dir = tmp();
    let tsv = corpus("negatives.tsv");
    let out = run(dir.path(), &["scan", tsv.to_str().unwrap()], None);
    assert_eq!(stdout(&out), "", "negatives flagged");
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
}

#[test]
fn exit_codes_are_zero_clean_one_found_two_error() {
    let dir = tmp();
    write(dir.path(), "clean.log", "INFO all good\n");
    write(dir.path(), "dirty.log", format!("INFO key={STRIPE}\n"));
    assert_eq!(code(&run(dir.path(), &["scan", "clean.log"], None)), 0);
    assert_eq!(code(&run(dir.path(), &["scan", "dirty.log"], None)), 1);
    let missing = run(dir.path(), &["scan", "clean.log", "nope.log"], None);
    assert_eq!(code(&missing), 2);
    assert!(
        stderr(&missing).contains("cannot open 'nope.log'"),
        "{}",
        stderr(&missing)
    );
    // An error wins over findings, and the findings are still printed.
    let both = run(dir.path(), &["scan", "dirty.log", "nope.log"], None);
    assert_eq!(code(&both), 2);
    assert!(
        stdout(&both).starts_with("dirty.log:1:10: "),
        "{}",
        stdout(&both)
    );
    assert_eq!(
        code(&run(
            dir.path(),
            &["scan", "--format", "xml", "clean.log"],
            None
        )),
        2
    );
}

#[test]
fn text_output_is_path_line_column_rule_and_masked_excerpt() {
    let dir = tmp();
    write(
        dir.path(),
        "app.log",
        format!("boot\nINFO using key={STRIPE}, retrying\n"),
    );
    let out = run(dir.path(), &["scan", "app.log"], None);
    let text = stdout(&out);
    let line = text.lines().next().unwrap();
    let (loc, rest) = line.split_at(line.find(": ").unwrap());
    assert_eq!(loc, "app.log:2:16");
    let (rule, excerpt) = rest[2..].split_once(": ").unwrap();
    assert!(!rule.is_empty() && !rule.contains(' '), "{line}");
    assert_eq!(excerpt, "INFO using key=****, retrying");
    assert!(!text.contains(STRIPE) && !stderr(&out).contains(STRIPE));
}

#[test]
fn json_lines_have_the_documented_fields() {
    let dir = tmp();
    let input = format!("x\n  token={GITHUB}\n{{\"k\":\"{AWS_ID}\"}}\n");
    write(dir.path(), "a.log", &input);
    let out = run(dir.path(), &["scan", "--format", "json", "a.log"], None);
    assert_eq!(code(&out), 1);
    let findings = json_lines(&out);
    assert_eq!(findings.len(), 2);
    for f in &findings {
        assert_eq!(f["path"], "a.log");
        for k in ["line", "column", "end_column"] {
            assert!(f[k].as_u64().unwrap() >= 1, "{k} in {f}");
        }
        for k in ["rule", "excerpt", "fingerprint"] {
            assert!(!f[k].as_str().unwrap().is_empty(), "{k} in {f}");
        }
        assert_eq!(f["fingerprint"].as_str().unwrap().len(), 64);
        assert!(f["excerpt"].as_str().unwrap().contains("****"));
    }
    assert_eq!(
        (findings[0]["line"].as_u64(), findings[0]["column"].as_u64()),
        (Some(2), Some(9))
    );
    assert_eq!(
        (findings[1]["line"].as_u64(), findings[1]["column"].as_u64()),
        (Some(3), Some(7))
    );
    assert_eq!(secrets_of(&input, &findings), [GITHUB, AWS_ID]);
    assert!(!stdout(&out).contains(GITHUB) && !stdout(&out).contains(AWS_ID));
}

/// Checks the parts of the SARIF 2.1.0 schema that code-scanning upload uses.
fn assert_valid_sarif(doc: &Value) {
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let runs = doc["runs"].as_array().expect("runs is an array");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "secret-chain");
    let rules = driver["rules"]
        .as_array()
        .expect("driver.rules is an array");
    assert!(!rules.is_empty());
    let ids: Vec<&str> = rules
        .iter()
        .map(|r| r["id"].as_str().expect("rule id is a string"))
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "rule ids are unique");
    assert!(matches!(
        run["columnKind"].as_str(),
        Some("unicodeCodePoints" | "utf16CodeUnits")
    ));
    for r in run["results"].as_array().expect("results is an array") {
        let rule_id = r["ruleId"].as_str().expect("ruleId");
        let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(ids[index], rule_id, "ruleIndex points at ruleId");
        assert!(matches!(
            r["level"].as_str(),
            Some("none" | "note" | "warning" | "error")
        ));
        assert!(
            !r["message"]["text"]
                .as_str()
                .expect("message.text")
                .is_empty()
        );
        let locations = r["locations"].as_array().expect("locations");
        assert_eq!(locations.len(), 1);
        let phys = &locations[0]["physicalLocation"];
        assert!(
            !phys["artifactLocation"]["uri"]
                .as_str()
                .expect("uri")
                .is_empty()
        );
        let region = &phys["region"];
        let (line, start, end) = (
            region["startLine"].as_u64().expect("startLine"),
            region["startColumn"].as_u64().expect("startColumn"),
            region["endColumn"].as_u64().expect("endColumn"),
        );
        assert!(line >= 1 && start >= 1 && end > start, "{region}");
        let fps = r["partialFingerprints"]
            .as_object()
            .expect("partialFingerprints");
        assert!(!fps.is_empty() && fps.values().all(Value::is_string));
    }
}

#[test]
fn sarif_output_is_a_valid_2_1_0_document() {
    let dir = tmp();
    write(dir.path(), "logs/app one.log", format!("héllo {STRIPE}\n"));
    write(dir.path(), "logs/b.log", format!("a\nb\ntoken {GITHUB}\n"));
    let out = run(dir.path(), &["scan", "--format", "sarif", "logs"], None);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_valid_sarif(&doc);
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let loc = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "logs/app%20one.log");
    assert_eq!(loc["region"]["startLine"], 1);
    assert_eq!(loc["region"]["startColumn"], 7, "code points, not bytes");
    assert_eq!(loc["region"]["endColumn"], 7 + STRIPE.len() as u64);
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    assert!(!stdout(&out).contains(STRIPE));

    let clean = run(
        dir.path(),
        &["scan", "--format", "sarif", "-"],
        Some(b"nothing here\n"),
    );
    assert_eq!(code(&clean), 0);
    let doc: Value = serde_json::from_str(&stdout(&clean)).unwrap();
    assert_valid_sarif(&doc);
    assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 0);
}

#[test]
fn a_baseline_round_trip_accepts_old_findings_only() {
    let dir = tmp();
    write(dir.path(), "app.log", format!("a {STRIPE}\nb {GITHUB}\n"));
    let wrote = run(
        dir.path(),
        &["scan", "--write-baseline", "baseline.txt", "app.log"],
        None,
    );
    assert_eq!(code(&wrote), 0, "{}", stderr(&wrote));
    let baseline = std::fs::read_to_string(dir.path().join("baseline.txt")).unwrap();
    assert!(
        !baseline.contains(STRIPE) && !baseline.contains(GITHUB),
        "baseline holds a secret"
    );
    let fps: Vec<&str> = baseline.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(fps.len(), 2);

    let accepted = run(
        dir.path(),
        &["scan", "--baseline", "baseline.txt", "app.log"],
        None,
    );
    assert_eq!((code(&accepted), stdout(&accepted)), (0, String::new()));

    // The same secrets elsewhere are still accepted; a new one is not.
    write(
        dir.path(),
        "app.log",
        format!("moved {GITHUB}\nnew {AWS_ID}\nx {STRIPE}\n"),
    );
    let new = run(
        dir.path(),
        &[
            "scan",
            "--baseline",
            "baseline.txt",
            "--format",
            "json",
            "app.log",
        ],
        None,
    );
    assert_eq!(code(&new), 1);
    let f = json_lines(&new);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["line"], 2);

    // Refreshing with both flags keeps the accepted findings and adds the new one.
    let refresh = run(
        dir.path(),
        &[
            "scan",
            "--baseline",
            "baseline.txt",
            "--write-baseline",
            "baseline.txt",
            "app.log",
        ],
        None,
    );
    assert_eq!(code(&refresh), 0, "{}", stderr(&refresh));
    assert_eq!(
        stdout(&refresh).lines().count(),
        1,
        "only the new finding prints"
    );
    let accepted_all = run(
        dir.path(),
        &["scan", "--baseline", "baseline.txt", "app.log"],
        None,
    );
    assert_eq!(
        (code(&accepted_all), stdout(&accepted_all)),
        (0, String::new())
    );

    write(dir.path(), "bad.txt", "not a fingerprint\n");
    let bad = run(
        dir.path(),
        &["scan", "--baseline", "bad.txt", "app.log"],
        None,
    );
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("bad.txt") && stderr(&bad).contains("line 1"),
        "{}",
        stderr(&bad)
    );
    assert_eq!(
        code(&run(
            dir.path(),
            &["scan", "--baseline", "missing.txt", "app.log"],
            None
        )),
        2
    );
}

#[test]
fn the_allow_marker_silences_its_line_only() {
    let dir = tmp();
    write(
        dir.path(),
        "a.log",
        format!("test fixture {STRIPE} # secret-chain:allow\nreal {GITHUB}\n"),
    );
    let out = run(dir.path(), &["scan", "a.log"], None);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out).lines().count(), 1);
    assert!(stdout(&out).starts_with("a.log:2:"));
}

#[test]
fn stdin_is_scanned_with_a_dash() {
    let dir = tmp();
    let out = run(
        dir.path(),
        &["scan", "-"],
        Some(format!("one\ntwo {STRIPE}\n").as_bytes()),
    );
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).starts_with("<stdin>:2:5: "),
        "{}",
        stdout(&out)
    );
    let clean = run(dir.path(), &["scan", "-"], Some(b"one\ntwo\n"));
    assert_eq!((code(&clean), stdout(&clean)), (0, String::new()));
}

#[test]
fn directories_are_scanned_recursively_skipping_git_and_target() {
    let dir = tmp();
    write(dir.path(), "logs/a.log", format!("{STRIPE}\n"));
    write(dir.path(), "logs/deep/er/b.txt", format!("x {GITHUB}\n"));
    write(dir.path(), "logs/.git/config", format!("{AWS_ID}\n"));
    write(dir.path(), "logs/target/debug.log", format!("{AWS_ID}\n"));
    write(dir.path(), "other.log", format!("{AWS_ID}\n"));
    let out = run(dir.path(), &["scan", "logs"], None);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    let paths: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(paths, ["logs/a.log", "logs/deep/er/b.txt"]);
    // With no path, the current directory is scanned.
    let all = run(dir.path(), &["scan"], None);
    assert_eq!(stdout(&all).lines().count(), 3, "{}", stdout(&all));
}

#[test]
fn gzip_logs_are_read_transparently() {
    use flate2::{Compression, write::GzEncoder};
    let dir = tmp();
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(format!("rotated\nold key {STRIPE}\n").as_bytes())
        .unwrap();
    write(dir.path(), "app.log.1.gz", gz.finish().unwrap());
    let out = run(dir.path(), &["scan", "app.log.1.gz"], None);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("app.log.1.gz:2:9: "),
        "{}",
        stdout(&out)
    );

    write(
        dir.path(),
        "broken.gz",
        [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3],
    );
    let broken = run(dir.path(), &["scan", "broken.gz"], None);
    assert_eq!(code(&broken), 2);
    assert!(stderr(&broken).contains("broken.gz"));
}

#[test]
fn a_binary_file_is_skipped_without_error() {
    let dir = tmp();
    let mut bin = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0];
    bin.extend_from_slice(STRIPE.as_bytes());
    write(dir.path(), "d/tool.bin", &bin);
    write(dir.path(), "d/clean.log", "ok\n");
    let out = run(dir.path(), &["scan", "d"], None);
    assert_eq!(
        (code(&out), stdout(&out)),
        (0, String::new()),
        "{}",
        stderr(&out)
    );
    let stats = run(dir.path(), &["scan", "--stats", "d/tool.bin"], None);
    assert_eq!(code(&stats), 0);
    assert!(
        stderr(&stats).contains("skipped binary file 'd/tool.bin'"),
        "{}",
        stderr(&stats)
    );
}

#[test]
fn a_key_followed_by_punctuation_is_found() {
    let dir = tmp();
    let mut input = String::new();
    for p in [".", ",", ")", "\"", "'", ";", "]"] {
        input.push_str(&format!("failed with ({STRIPE}{p} retry\n"));
    }
    let out = run(
        dir.path(),
        &["scan", "--format", "json", "-"],
        Some(input.as_bytes()),
    );
    let f = json_lines(&out);
    assert_eq!(f.len(), 7, "{}", stdout(&out));
    assert!(secrets_of(&input, &f).iter().all(|s| s == STRIPE));
}

#[test]
fn a_password_in_a_basic_auth_header_is_found() {
    use base64::Engine;
    let dir = tmp();
    let payload = base64::engine::general_purpose::STANDARD.encode("deploy:bNkywXxDi9SicguiUAbj");
    let input = format!("> GET /v1 HTTP/1.1\n> Authorization: Basic {payload}\n"); // secret-chain:allow
    let out = run(
        dir.path(),
        &["scan", "--format", "json", "-"],
        Some(input.as_bytes()),
    );
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let f = json_lines(&out);
    assert_eq!(f[0]["line"], 2);
    assert!(!stdout(&out).contains(&payload) && !stdout(&out).contains("bNkywXxDi9SicguiUAbj"));
    let redacted = run(dir.path(), &["redact"], Some(input.as_bytes()));
    assert!(
        !stdout(&redacted).contains(&payload),
        "{}",
        stdout(&redacted)
    );
}

/// Whether `out` is `input` with some spans replaced by `mask`.
fn is_masked_copy(input: &str, out: &str, mask: &str) -> bool {
    let pieces: Vec<&str> = out.split(mask).collect();
    let mut rest = input;
    for (i, piece) in pieces.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(piece) else {
                return false;
            };
            rest = r;
        } else if i == pieces.len() - 1 {
            return rest.len() > piece.len() && rest.ends_with(piece);
        } else {
            // The masked span is not empty, then the piece follows.
            let Some(at) = rest.get(1..).and_then(|r| r.find(piece)) else {
                return false;
            };
            rest = &rest[1 + at + piece.len()..];
        }
    }
    rest.is_empty()
}

#[test]
fn redact_output_equals_input_except_the_masked_spans() {
    let dir = tmp();
    let pos = std::fs::read_to_string(corpus("positives.tsv")).unwrap();
    let neg = std::fs::read_to_string(corpus("negatives.tsv")).unwrap();
    let mut input = String::new();
    let mut positive = Vec::new();
    for (text, is_pos) in [(&pos, true), (&neg, false)] {
        for line in text.lines().skip(1) {
            input.push_str(line.split_once('\t').unwrap().1);
            input.push('\n');
            positive.push(is_pos);
        }
    }
    input.push_str("last line without newline\r\n\r\nend");
    let out = run(dir.path(), &["redact"], Some(input.as_bytes()));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let output = stdout(&out);
    let in_lines: Vec<&str> = input.split('\n').collect();
    let out_lines: Vec<&str> = output.split('\n').collect();
    assert_eq!(in_lines.len(), out_lines.len(), "line structure kept");
    for (i, (a, b)) in in_lines.iter().zip(&out_lines).enumerate() {
        if positive.get(i) == Some(&true) {
            assert!(b.contains("****"), "line {} not masked", i + 1);
            assert!(
                is_masked_copy(a, b, "****"),
                "line {} changed outside masks",
                i + 1
            );
        } else {
            assert_eq!(a, b, "line {} changed", i + 1);
        }
    }
    // Every secret the scanner finds is gone from the output.
    let scan = run(
        dir.path(),
        &["scan", "--format", "json", "-"],
        Some(input.as_bytes()),
    );
    for secret in secrets_of(&input, &json_lines(&scan)) {
        assert!(!output.contains(&secret), "secret left in redact output");
    }
    // A file argument and `-` work too, with a custom mask.
    write(dir.path(), "in.log", format!("k={STRIPE}.\n"));
    let file = run(
        dir.path(),
        &["redact", "--mask", "[MASKED]", "in.log"],
        None,
    );
    assert_eq!(stdout(&file), "k=[MASKED].\n");
    let dash = run(
        dir.path(),
        &["redact", "-"],
        Some(format!("k={STRIPE}\n").as_bytes()),
    );
    assert_eq!(stdout(&dash), "k=****\n");
    assert_eq!(code(&run(dir.path(), &["redact", "missing.log"], None)), 2);
}

#[test]
fn redact_writes_each_line_before_the_next_arrives() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(BIN)
        .arg("redact")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    for i in 0..3 {
        writeln!(input, "line {i} key={STRIPE}").unwrap();
        input.flush().unwrap();
        // Blocks until the line comes out: the input stays open meanwhile.
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        assert_eq!(line, format!("line {i} key=****\n"));
    }
    drop(input);
    assert!(child.wait().unwrap().success());
}

#[test]
fn user_rules_from_a_config_file_are_used() {
    let dir = tmp();
    write(
        dir.path(),
        "rules.toml",
        "[[rules]]\nid = \"acme-token\"\nregex = '''\\bacme_([a-z0-9]{24})\\b'''\nkeywords = [\"acme_\"]\nsecret_group = 1\n",
    );
    write(
        dir.path(),
        "a.log",
        "INFO token acme_k3j4h5g6f7d8s9a0q1w2e3r4 ok\n",
    ); // secret-chain:allow
    let out = run(
        dir.path(),
        &[
            "scan",
            "--config",
            "rules.toml",
            "--format",
            "json",
            "a.log",
        ],
        None,
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let f = json_lines(&out);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["rule"], "acme-token");
    assert_eq!(f[0]["column"], 17, "the secret group, after the prefix");
    assert_eq!(
        code(&run(dir.path(), &["scan", "a.log"], None)),
        0,
        "no built-in rule matches it"
    );
    let red = run(
        dir.path(),
        &["redact", "--config", "rules.toml", "a.log"],
        None,
    );
    assert_eq!(stdout(&red), "INFO token acme_**** ok\n");

    write(
        dir.path(),
        "bad.toml",
        "[[rules]]\nid = \"broken-rule\"\nregex = 'acme_[a-z'\n",
    );
    let bad = run(dir.path(), &["scan", "--config", "bad.toml", "a.log"], None);
    assert_eq!(code(&bad), 2);
    let msg = stderr(&bad);
    assert!(
        msg.contains("broken-rule") && msg.contains("line 1") && msg.contains("bad.toml"),
        "{msg}"
    );

    write(
        dir.path(),
        "syntax.toml",
        "[[rules]]\nid = \"x\"\nregex = 'a\n",
    );
    let syntax = run(
        dir.path(),
        &["scan", "--config", "syntax.toml", "a.log"],
        None,
    );
    assert_eq!(code(&syntax), 2);
    assert!(stderr(&syntax).contains("line 3"), "{}", stderr(&syntax));
    assert_eq!(
        code(&run(
            dir.path(),
            &["scan", "--config", "none.toml", "a.log"],
            None
        )),
        2
    );
}

#[test]
fn many_files_are_reported_in_a_stable_order_with_threads() {
    let dir = tmp();
    let mut want = Vec::new();
    for i in 0..40 {
        let name = format!("logs/f{i:02}.log");
        let filler = "INFO GET /api/v1/items 200 3ms\n".repeat(if i % 5 == 0 { 30_000 } else { 3 });
        write(dir.path(), &name, format!("{filler}key={STRIPE}\n"));
        want.push(name);
    }
    for threads in ["1", "2", "4"] {
        let out = run(dir.path(), &["scan", "-j", threads, "logs"], None);
        let got: Vec<String> = stdout(&out)
            .lines()
            .map(|l| l.split(':').next().unwrap().to_owned())
            .collect();
        assert_eq!(got, want, "with -j {threads}");
    }
}

#[test]
fn no_output_format_ever_prints_a_corpus_secret() {
    let dir = tmp();
    let tsv = corpus("positives.tsv");
    let text = std::fs::read_to_string(&tsv).unwrap();
    let json = run(
        dir.path(),
        &["scan", "--format", "json", tsv.to_str().unwrap()],
        None,
    );
    let secrets = secrets_of(&text, &json_lines(&json));
    assert!(!secrets.is_empty());
    for format in ["text", "json", "sarif"] {
        let out = run(
            dir.path(),
            &["scan", "--stats", "--format", format, tsv.to_str().unwrap()],
            None,
        );
        let all = format!("{}{}", stdout(&out), stderr(&out));
        for (i, s) in secrets.iter().enumerate() {
            // Short values (a password) could occur by chance: check the long ones.
            if s.len() >= 12 {
                assert!(!all.contains(s.as_str()), "{format}: secret #{i} printed");
            }
        }
    }
    let baseline = dir.path().join("b.txt");
    run(
        dir.path(),
        &[
            "scan",
            "--write-baseline",
            baseline.to_str().unwrap(),
            tsv.to_str().unwrap(),
        ],
        None,
    );
    let written = std::fs::read_to_string(&baseline).unwrap();
    assert!(
        secrets.iter().all(|s| !written.contains(s.as_str())),
        "the baseline holds a secret"
    );
}

#[test]
fn scan_of_stdin_reports_a_finding_before_the_input_ends() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(BIN)
        .args(["scan", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    writeln!(input, "INFO ok\nINFO key={STRIPE}").unwrap();
    input.flush().unwrap();
    // Blocks until the finding comes out while stdin is still open.
    let mut line = String::new();
    output.read_line(&mut line).unwrap();
    assert!(line.starts_with("<stdin>:2:"), "{line}");
    drop(input);
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

#[test]
fn a_multi_line_pem_key_is_reported_once_and_redacted_line_by_line() {
    let dir = tmp();
    let body: Vec<String> = (0..6)
        .map(|i| format!("MIIEpAIBAAKCAQEAx{i}Hq9Wk2ZpLr4Vb8sTnYc3Jd5Fg6Hh0Kk1Mm2Nn3Pp4Qq5Rr6Ss"))
        .collect();
    let input = format!(
        "INFO loading key\n-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\nINFO done\n", // secret-chain:allow
        body.join("\n")
    );
    write(dir.path(), "key.log", &input);
    let out = run(dir.path(), &["scan", "--format", "json", "key.log"], None);
    let f = json_lines(&out);
    assert_eq!(f.len(), 1, "{}", stdout(&out));
    assert_eq!(
        (f[0]["line"].as_u64(), f[0]["rule"].as_str()),
        (Some(3), Some("private-key"))
    );
    let red = run(dir.path(), &["redact", "key.log"], None);
    let want = format!(
        "INFO loading key\n-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\nINFO done\n", // secret-chain:allow
        ["****"; 6].join("\n")
    );
    assert_eq!(stdout(&red), want);
}

#[test]
fn a_secret_found_once_is_masked_and_reported_wherever_it_is_copied() {
    let dir = tmp();
    let input = "connect password=Zq8-Lw3x-Pt7v host=db1\n\
                 GET /health 200\n\
                 token = 'Zq8-Lw3x-Pt7v' | 'Zq8-Lw3x-Pt7v'\n\
                 auth failed for Zq8-Lw3x-Pt7v, retrying\n";
    let redacted = run(dir.path(), &["redact"], Some(input.as_bytes()));
    assert_eq!(code(&redacted), 0, "{}", stderr(&redacted));
    assert_eq!(
        stdout(&redacted),
        "connect password=**** host=db1\n\
         GET /health 200\n\
         token = '****' | '****'\n\
         auth failed for ****, retrying\n"
    );
    let out = run(
        dir.path(),
        &["scan", "--format", "json", "-"],
        Some(input.as_bytes()),
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let f = json_lines(&out);
    let lines: Vec<u64> = f.iter().map(|f| f["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [1, 3, 3, 4]);
    assert!(
        f.iter()
            .all(|x| x["rule"] == f[0]["rule"] && x["fingerprint"] == f[0]["fingerprint"])
    );
    assert!(!stdout(&out).contains("Zq8-Lw3x-Pt7v"), "{}", stdout(&out));
}
