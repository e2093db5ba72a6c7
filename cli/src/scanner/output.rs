//! Output formats of `secret-chain scan`: text, JSON Lines, SARIF 2.1.0.

use std::io::{self, Write};
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::ScanFinding;

/// The SARIF schema URL written in `$schema`.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Characters kept as they are in a SARIF `artifactLocation.uri`.
const URI_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// How findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// `path:line:column: rule-id: excerpt`, one finding a line (columns in bytes).
    #[default]
    Text,
    /// JSON Lines: one object a finding with `path`, `line`, `column`,
    /// `end_column` (1-based, bytes), `rule`, `excerpt`, `fingerprint`.
    Json,
    /// One SARIF 2.1.0 document, written when the scan ends (columns in
    /// Unicode code points, `columnKind: unicodeCodePoints`).
    Sarif,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" | "jsonl" | "json-lines" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            _ => Err(format!(
                "unknown format '{s}' (expected text, json or sarif)"
            )),
        }
    }
}

/// Writes findings in one [`Format`]. Text and JSON are written as they
/// come; SARIF is collected and written by [`FindingWriter::finish`].
#[derive(Debug)]
pub struct FindingWriter<W: Write> {
    format: Format,
    out: W,
    rule_ids: Vec<String>,
    results: Vec<Value>,
}

impl<W: Write> FindingWriter<W> {
    /// A writer to `out`; `rule_ids` (every rule of the scan) become the
    /// SARIF `tool.driver.rules`.
    pub fn new(format: Format, out: W, rule_ids: Vec<String>) -> FindingWriter<W> {
        FindingWriter {
            format,
            out,
            rule_ids,
            results: Vec::new(),
        }
    }

    /// Writes (or, for SARIF, records) one finding.
    ///
    /// # Errors
    ///
    /// When writing to `out` fails.
    pub fn write(&mut self, f: &ScanFinding) -> io::Result<()> {
        match self.format {
            // A file name can hold a newline and escape codes: escaped, it
            // cannot forge a finding line or drive the terminal.
            Format::Text => writeln!(
                self.out,
                "{}:{}:{}: {}: {}",
                escape_controls(&f.path),
                f.line,
                f.column,
                f.rule,
                f.excerpt
            ),
            Format::Json => {
                serde_json::to_writer(&mut self.out, f)?;
                self.out.write_all(b"\n")
            }
            Format::Sarif => {
                let index = match self.rule_ids.iter().position(|r| *r == f.rule) {
                    Some(i) => i,
                    None => {
                        self.rule_ids.push(f.rule.clone());
                        self.rule_ids.len() - 1
                    }
                };
                self.results.push(json!({
                    "ruleId": f.rule,
                    "ruleIndex": index,
                    "level": "error",
                    "message": { "text": format!("{} found: {}", f.rule, f.excerpt) },
                    "locations": [{
                        "physicalLocation": {
                            "artifactLocation": { "uri": sarif_uri(&f.path) },
                            "region": {
                                "startLine": f.line,
                                "startColumn": f.char_column,
                                "endColumn": f.char_end_column,
                            }
                        }
                    }],
                    "partialFingerprints": { "secretChainFingerprint/v1": f.fingerprint },
                }));
                Ok(())
            }
        }
    }

    /// Ends the output (writes the SARIF document) and returns the writer.
    ///
    /// # Errors
    ///
    /// When writing to `out` fails.
    pub fn finish(mut self) -> io::Result<W> {
        if self.format == Format::Sarif {
            let rules: Vec<Value> = self
                .rule_ids
                .iter()
                .map(|id| {
                    json!({
                        "id": id,
                        "name": id,
                        "shortDescription": { "text": format!("credential ({id})") },
                        "defaultConfiguration": { "level": "error" },
                    })
                })
                .collect();
            let doc = json!({
                "version": "2.1.0",
                "$schema": SARIF_SCHEMA,
                "runs": [{
                    "tool": { "driver": {
                        "name": "secret-chain",
                        "version": env!("CARGO_PKG_VERSION"),
                        "informationUri": "https://crates.io/crates/secret-chain",
                        "rules": rules,
                    }},
                    "columnKind": "unicodeCodePoints",
                    "results": std::mem::take(&mut self.results),
                }],
            });
            serde_json::to_writer_pretty(&mut self.out, &doc)?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A path as a SARIF URI: relative paths stay relative (percent-encoded),
/// absolute paths become `file://` URIs, standard input is `stdin`.
/// `s` with control characters escaped (`\n`, `\u{1b}`); borrowed when it
/// has none.
fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect(),
    )
}

fn sarif_uri(path: &str) -> String {
    if path == "<stdin>" {
        return "stdin".to_owned();
    }
    let encoded = utf8_percent_encode(path, URI_KEEP).to_string();
    if path.starts_with('/') {
        format!("file://{encoded}")
    } else {
        encoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> ScanFinding {
        ScanFinding {
            path: "logs/my app.log".into(),
            line: 3,
            column: 10,
            end_column: 20,
            char_column: 9,
            char_end_column: 19,
            rule: "stripe-key".into(),
            excerpt: "key=****".into(),
            fingerprint: "ab".repeat(32),
        }
    }

    #[test]
    fn text_is_path_line_column_rule_excerpt() {
        let mut w = FindingWriter::new(Format::Text, Vec::new(), vec![]);
        let mut forged = finding();
        forged.path = "x\nevil.log:1:1: github-pat: \u{1b}[2J".into();
        w.write(&forged).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.starts_with("x\\nevil.log:1:1: github-pat: \\u{1b}[2J:"),
            "{out}"
        );
        let mut w = FindingWriter::new(Format::Text, Vec::new(), vec![]);
        w.write(&finding()).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(out, "logs/my app.log:3:10: stripe-key: key=****\n");
    }

    #[test]
    fn json_lines_hold_the_documented_fields() {
        let mut w = FindingWriter::new(Format::Json, Vec::new(), vec![]);
        w.write(&finding()).unwrap();
        w.write(&finding()).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["line"], 3);
        assert_eq!(lines[0]["column"], 10);
        assert_eq!(lines[0]["rule"], "stripe-key");
        assert!(lines[0].get("char_column").is_none());
    }

    #[test]
    fn sarif_uses_code_point_columns_and_encoded_uris() {
        let mut w = FindingWriter::new(
            Format::Sarif,
            Vec::new(),
            vec!["aws".into(), "stripe-key".into()],
        );
        w.write(&finding()).unwrap();
        let doc: Value = serde_json::from_slice(&w.finish().unwrap()).unwrap();
        assert_eq!(doc["version"], "2.1.0");
        let r = &doc["runs"][0]["results"][0];
        assert_eq!(r["ruleIndex"], 1);
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "logs/my%20app.log");
        assert_eq!(loc["region"]["startColumn"], 9);
        assert_eq!(sarif_uri("/var/log/a.log"), "file:///var/log/a.log");
    }

    #[test]
    fn formats_parse_from_their_names() {
        assert_eq!("json".parse::<Format>().unwrap(), Format::Json);
        assert_eq!("SARIF".parse::<Format>().unwrap(), Format::Sarif);
        assert!("xml".parse::<Format>().is_err());
    }
}
