//! The breadth corpus: `tests/corpus/families/*.tsv`, one file per field
//! of credential families, each case a log, config or header line with a
//! generated value. Every positive must be found with its exact span (the
//! secret, not the key or the prefix around it) and every look-alike must
//! not be flagged.
//!
//! File format, tab-separated (`<TAB>` below), one header line:
//!
//! ```text
//! family<TAB>expect<TAB>secret<TAB>line
//! azure-storage-key<TAB>pos<TAB><the exact text to mask><TAB><the line>
//! azure-storage-key<TAB>neg<TAB><TAB><a look-alike line>
//! ```
//!
//! Run `cargo test --lib --no-default-features -- breadth --nocapture` for
//! the per-family table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::RuleSet;

/// One line of a corpus file.
struct Case {
    file: String,
    line_no: usize,
    family: String,
    positive: bool,
    secret: String,
    line: String,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/families")
}

fn load() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus/families exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("corpus file is UTF-8");
        let mut lines = text.lines().enumerate();
        let (_, header) = lines.next().expect("a header line");
        assert_eq!(header, "family\texpect\tsecret\tline", "{file}: header");
        for (i, raw) in lines {
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = raw.splitn(4, '\t').collect();
            assert_eq!(cols.len(), 4, "{file}:{}: four columns", i + 1);
            let positive = match cols[1] {
                "pos" => true,
                "neg" => false,
                other => panic!("{file}:{}: expect is pos or neg, not {other:?}", i + 1),
            };
            if positive {
                assert!(
                    !cols[2].is_empty() && cols[3].contains(cols[2]),
                    "{file}:{}: a positive's secret is part of its line",
                    i + 1
                );
            } else {
                assert!(
                    cols[2].is_empty(),
                    "{file}:{}: a negative has no secret",
                    i + 1
                );
            }
            cases.push(Case {
                file: file.clone(),
                line_no: i + 1,
                family: cols[0].to_string(),
                positive,
                secret: cols[2].to_string(),
                line: cols[3].to_string(),
            });
        }
    }
    cases
}

#[derive(Default)]
struct Tally {
    pos: usize,
    found: usize,
    neg: usize,
    flagged: usize,
}

#[test]
fn every_family_case_is_found_with_its_exact_span_and_no_look_alike_is_flagged() {
    let rules = RuleSet::builtin();
    let cases = load();
    let mut by_family: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    for c in &cases {
        let mut out = Vec::new();
        rules.find(&c.line, &mut out);
        let spans: Vec<&str> = out.iter().map(|f| &c.line[f.start..f.end]).collect();
        let t = by_family.entry(&c.family).or_default();
        if c.positive {
            t.pos += 1;
            // The secret is masked exactly: one finding is the secret itself
            // (copies of it elsewhere on the line may be findings too).
            if spans.iter().any(|s| *s == c.secret) {
                t.found += 1;
            } else {
                failures.push(format!(
                    "{}:{} {} pos: spans {:?}, want {:?}",
                    c.file, c.line_no, c.family, spans, c.secret
                ));
            }
        } else {
            t.neg += 1;
            if !out.is_empty() {
                t.flagged += 1;
                failures.push(format!(
                    "{}:{} {} neg: flagged {:?} ({})",
                    c.file,
                    c.line_no,
                    c.family,
                    spans,
                    out.iter()
                        .map(|f| f.rule.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
        }
    }
    println!("{:<40} {:>9} {:>9}", "family", "found", "flagged");
    for (family, t) in &by_family {
        println!(
            "{family:<40} {:>4}/{:<4} {:>4}/{:<4}",
            t.found, t.pos, t.flagged, t.neg
        );
    }
    let pos: usize = by_family.values().map(|t| t.pos).sum();
    let neg: usize = by_family.values().map(|t| t.neg).sum();
    println!(
        "{} families, {pos} positives, {neg} look-alikes",
        by_family.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_family_secret_is_found_with_the_other_cases_around_it() {
    // As `redact` and `scan` see a log: all cases in one text, so a rule
    // whose window reaches a neighbouring line must still find its own.
    let cases = load();
    let text: String = cases.iter().map(|c| format!("{}\n", c.line)).collect();
    let mut out = Vec::new();
    RuleSet::builtin().find(&text, &mut out);
    let found: std::collections::HashSet<&str> =
        out.iter().map(|f| &text[f.start..f.end]).collect();
    let missed: Vec<String> = cases
        .iter()
        .filter(|c| c.positive && !found.contains(c.secret.as_str()))
        .map(|c| format!("{}:{} {}", c.file, c.line_no, c.family))
        .collect();
    assert!(
        missed.is_empty(),
        "missed next to other lines:\n{}",
        missed.join("\n")
    );
}
