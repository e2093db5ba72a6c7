//! The breadth corpus (`tests/corpus/families/*.tsv`, one file per field of
//! credential families; format in `src/detect/breadth.rs`) through the
//! binary: `redact` leaves no found secret in its output and changes no
//! look-alike line, and no output format of `scan` prints a secret.

use std::path::Path;
use std::process::Output;

/// `(positive, secret, line)` of every case in the corpus files.
fn cases() -> Vec<(bool, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/families");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/corpus/families exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for raw in text.lines().skip(1) {
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = raw.splitn(4, '\t').collect();
            out.push((cols[1] == "pos", cols[2].to_string(), cols[3].to_string()));
        }
    }
    out
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    crate::scan::run(Path::new("."), args, Some(stdin))
}

#[test]
fn redact_leaves_no_family_secret_and_keeps_every_look_alike() {
    let cases = cases();
    assert!(!cases.is_empty());
    let input: String = cases.iter().map(|(_, _, l)| format!("{l}\n")).collect();
    let out = run(&["redact", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "redact exits 0");
    let text = String::from_utf8(out.stdout).expect("UTF-8 in, UTF-8 out");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), cases.len(), "one output line per input line");
    let mut leaks = Vec::new();
    for (i, ((positive, secret, line), got)) in cases.iter().zip(&lines).enumerate() {
        if *positive {
            // The whole output, not only its line: a copy on another line
            // must be masked too (short values could occur by chance in
            // other lines: those are checked on their own line).
            let hay = if secret.len() >= 8 {
                text.as_str()
            } else {
                got
            };
            if hay.contains(secret.as_str()) {
                leaks.push(format!("case {i}: a secret is left in clear"));
            }
        } else if got != line {
            leaks.push(format!("case {i}: a look-alike line was changed"));
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[test]
fn no_scan_output_format_prints_a_family_secret() {
    let cases = cases();
    let input: String = cases.iter().map(|(_, _, l)| format!("{l}\n")).collect();
    for format in ["text", "json", "sarif"] {
        let out = run(&["scan", "--format", format, "-"], input.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{format}: findings exit 1");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for (i, (positive, secret, _)) in cases.iter().enumerate() {
            if *positive && secret.len() >= 8 && all.contains(secret.as_str()) {
                panic!("{format}: the secret of case {i} is printed");
            }
        }
    }
}
