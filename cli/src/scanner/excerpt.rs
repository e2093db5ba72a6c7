//! Excerpts: the line around a secret, every secret of the line masked and
//! control characters escaped.

use super::MASK;

/// Bytes of context kept on each side of a secret in an excerpt.
const EXCERPT_CONTEXT: usize = 40;

/// A line with every finding replaced by [`MASK`], for excerpts.
pub(super) struct MaskedLine {
    text: String,
    /// Byte range of each mask in `text`.
    masks: Vec<(usize, usize)>,
}

impl MaskedLine {
    pub(super) fn new(line: &[u8], spans: &[(usize, usize)]) -> MaskedLine {
        let mut text = String::with_capacity(line.len());
        let mut masks = Vec::with_capacity(spans.len());
        let mut pos = 0;
        for &(s, e) in spans {
            push_escaped(&mut text, &line[pos..s.max(pos)]);
            let m = text.len();
            text.push_str(MASK);
            masks.push((m, text.len()));
            pos = pos.max(e);
        }
        push_escaped(&mut text, &line[pos..]);
        MaskedLine { text, masks }
    }

    pub(super) fn excerpt(&self, i: usize) -> String {
        let (ms, me) = self.masks[i];
        let mut from = ms.saturating_sub(EXCERPT_CONTEXT);
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = (me + EXCERPT_CONTEXT).min(self.text.len());
        while !self.text.is_char_boundary(to) {
            to += 1;
        }
        // Never cut a mask of another finding in half. The masks are in
        // order and disjoint, so at most one holds `from` (or `to`), and
        // it is among the few masks within the context of mask `i`: walk
        // out from `i` instead of over every mask of the line, which made
        // a line with many findings quadratic.
        let mut j = i;
        while j > 0 && self.masks[j - 1].1 > from {
            j -= 1;
            #[cfg(test)]
            super::test_support::add_work(1);
        }
        let (s, e) = self.masks[j];
        if s < from && from < e {
            from = s;
        }
        let mut j = i;
        while j + 1 < self.masks.len() && self.masks[j].1 <= to {
            j += 1;
            #[cfg(test)]
            super::test_support::add_work(1);
        }
        let (s, e) = self.masks[j];
        if s < to && to < e {
            to = e;
        }
        let mut out = String::with_capacity(to - from + 6);
        if from > 0 {
            out.push('…');
        }
        out.push_str(self.text[from..to].trim_start_matches(' '));
        if to < self.text.len() {
            out.push('…');
        }
        out
    }
}

/// Appends bytes as text: invalid UTF-8 as U+FFFD, control characters
/// (other than tab) escaped so an excerpt cannot drive a terminal.
fn push_escaped(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        // Runs between control characters are copied whole (pushing them
        // char by char was a fifth of the cost of a long line).
        let valid = chunk.valid();
        let mut copied = 0;
        for (i, c) in valid.char_indices() {
            if c.is_control() && c != '\t' {
                out.push_str(&valid[copied..i]);
                out.extend(c.escape_default());
                copied = i + c.len_utf8();
            }
        }
        out.push_str(&valid[copied..]);
        if !chunk.invalid().is_empty() {
            out.push('\u{FFFD}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::test_support::{KEY, KEY2, scan, scan_with, take_work};
    use crate::scanner::{LONG_LINE_OVERLAP, Scanner};
    use secret_chain::detect::RuleSet;

    /// The excerpt as it was computed before: every mask of the line
    /// checked for each excerpt.
    fn excerpt_checking_every_mask(m: &MaskedLine, i: usize) -> String {
        let (ms, me) = m.masks[i];
        let mut from = ms.saturating_sub(EXCERPT_CONTEXT);
        while !m.text.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = (me + EXCERPT_CONTEXT).min(m.text.len());
        while !m.text.is_char_boundary(to) {
            to += 1;
        }
        for &(s, e) in &m.masks {
            if s < from && from < e {
                from = s;
            }
            if s < to && to < e {
                to = e;
            }
        }
        let mut out = String::new();
        if from > 0 {
            out.push('…');
        }
        out.push_str(m.text[from..to].trim_start_matches(' '));
        if to < m.text.len() {
            out.push('…');
        }
        out
    }

    #[test]
    fn excerpts_of_a_line_with_many_masks_are_as_before_and_cost_linear_work() {
        // Secrets of every width from 1 to 60 bytes, next to each other or
        // apart, so the context edges land inside masks, between them and
        // in multibyte characters.
        let mut work = Vec::new();
        for n in [2_000, 4_000] {
            let mut line = Vec::new();
            let mut spans = Vec::new();
            for i in 0..n {
                line.extend_from_slice(&"ä x".as_bytes()[..i % 4]);
                let s = line.len();
                line.extend(std::iter::repeat_n(b'k', 1 + i * 7 % 60));
                spans.push((s, line.len()));
            }
            let m = MaskedLine::new(&line, &spans);
            take_work();
            let got: Vec<String> = (0..n).map(|i| m.excerpt(i)).collect();
            work.push(take_work());
            for (i, g) in got.iter().enumerate() {
                assert_eq!(*g, excerpt_checking_every_mask(&m, i), "mask {i}");
            }
        }
        assert!(work[1] <= 2 * work[0] + 100, "work {work:?}");
    }

    #[test]
    fn every_secret_of_a_line_is_masked_in_each_excerpt() {
        let f = scan(format!("a={KEY} b={KEY2}\n").as_bytes());
        assert_eq!(f.len(), 2);
        for x in &f {
            assert!(
                !x.excerpt.contains(KEY) && !x.excerpt.contains(KEY2),
                "{}",
                x.excerpt
            );
        }
    }

    #[test]
    fn control_characters_in_an_excerpt_are_escaped() {
        let f = scan(format!("\x1b[31mred {KEY}\x07\n").as_bytes());
        assert!(!f[0].excerpt.contains('\x1b') && !f[0].excerpt.contains('\x07'));
        assert!(
            f[0].excerpt.contains("\\u{1b}[31mred ****"),
            "{}",
            f[0].excerpt
        );
    }

    const PW: &str = "Zq8-Lw3x-Pt7v";

    /// Asserts that no excerpt of `found` holds one of `secrets` (or a
    /// piece of one of at least 6 bytes).
    fn no_secret_in_excerpts(found: &[crate::scanner::ScanFinding], secrets: &[&str]) {
        for f in found {
            for s in secrets {
                for w in s.as_bytes().windows(6) {
                    let w = std::str::from_utf8(w).unwrap();
                    assert!(!f.excerpt.contains(w), "{w:?} in {:?}", f.excerpt);
                }
            }
        }
    }

    #[test]
    fn every_copy_on_the_line_is_a_finding_and_masked_in_each_excerpt() {
        let f = scan(format!("token = '{KEY}' | '{KEY}'\n").as_bytes());
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].rule, f[1].rule);
        assert_eq!(f[0].fingerprint, f[1].fingerprint);
        assert_eq!(f[0].excerpt, "token = '****' | '****'");
        assert_eq!((f[0].column, f[1].column), (10, 10 + KEY.len() + 5));
    }

    #[test]
    fn several_families_with_repeats_on_one_line_are_all_masked() {
        let line = format!(
            "a={KEY} b={KEY2} password={PW} then again {KEY} {KEY2} ({PW}) and {PW}{KEY2}\n"
        );
        let f = scan(line.as_bytes());
        let got: Vec<&str> = f
            .iter()
            .map(|f| &line[f.column - 1..f.end_column - 1])
            .collect();
        // (Copies next to each other are two findings, as other findings.)
        assert_eq!(got, [KEY, KEY2, PW, KEY, KEY2, PW, PW, KEY2]);
        no_secret_in_excerpts(&f, &[KEY, KEY2, PW]);
    }

    #[test]
    fn a_copy_overlapping_another_finding_is_masked_with_it() {
        // The password's value starts with the last 7 characters of the
        // token: its copy after the token overlaps the token's finding.
        let tail = &KEY2[KEY2.len() - 7..];
        let pw = format!("{tail}-tail9");
        let line = format!("password={pw} and x {KEY2}-tail9 end\n");
        let f = scan(line.as_bytes());
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(
            &line[f[1].column - 1..f[1].end_column - 1],
            format!("{KEY2}-tail9")
        );
        assert_eq!(f[1].excerpt, "password=**** and x **** end");
        no_secret_in_excerpts(&f, &[KEY2, &pw]);
    }

    #[test]
    fn a_copy_on_a_later_line_is_reported_with_the_rule_of_the_original() {
        let input = format!(
            "connect password={PW} host=db1\nGET /health 200\nGET /health 200\n\
             GET /health 200\nauth failed for {PW}, retrying\n"
        );
        let f = scan(input.as_bytes());
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].line, f[1].line), (1, 5));
        assert_eq!(f[1].rule, f[0].rule);
        assert_eq!(f[1].fingerprint, f[0].fingerprint);
        assert_eq!(f[1].excerpt, "auth failed for ****, retrying");
    }

    #[test]
    fn excerpts_near_the_edges_of_long_line_windows_hold_no_secret() {
        let window = 64 * 1024;
        let scanner = Scanner::new(RuleSet::builtin()).max_line_len(window);
        let cut = window - LONG_LINE_OVERLAP; // where the second window starts
        let mut line = vec![b'a'; 4 * window];
        let mut put = |at: usize, s: &str| {
            line[at - 1] = b' ';
            line[at..at + s.len()].copy_from_slice(s.as_bytes());
            line[at + s.len()] = b' ';
        };
        // A token across the cut, a token just after it (reported in the
        // next window, which starts inside the first), and a token just
        // before the cut next to one after it.
        put(cut - 10, KEY);
        put(cut - 10 + KEY.len() + 2, KEY2);
        let second = 2 * cut;
        put(second - 45, KEY2);
        put(second + 3, KEY);
        line.push(b'\n');
        let (f, _) = scan_with(&scanner, &line);
        let cols: Vec<usize> = f.iter().map(|f| f.column - 1).collect();
        assert_eq!(
            cols,
            [cut - 10, cut - 10 + KEY.len() + 2, second - 45, second + 3]
        );
        no_secret_in_excerpts(&f, &[KEY, KEY2]);
    }
}
