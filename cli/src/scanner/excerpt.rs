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
        // Never cut a mask of another finding in half.
        for &(s, e) in &self.masks {
            if s < from && from < e {
                from = s;
            }
            if s < to && to < e {
                to = e;
            }
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
        for c in chunk.valid().chars() {
            if c.is_control() && c != '\t' {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        if !chunk.invalid().is_empty() {
            out.push('\u{FFFD}');
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scanner::test_support::{KEY, KEY2, scan};

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
}
