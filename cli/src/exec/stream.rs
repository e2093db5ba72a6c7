//! One output stream of the child (stdout or stderr), masked as it comes.
//!
//! - A line is released at its newline: everything up to the last newline
//!   of a read is masked and written at once.
//! - A partial line (a prompt, a progress bar) is released after
//!   [`IDLE`] without input, except its last `hold` bytes: the longest
//!   known form minus one, the most of a secret that can still be
//!   completed by the next write. A secret split across two writes is
//!   therefore seen whole. The cut never falls inside a span that is
//!   masked: it moves back to that span's start.
//! - A line longer than [`MAX_PENDING`] is released the same way when it
//!   reaches that size, so memory stays bounded (binary output).
//! - Bytes that are not UTF-8 pass unchanged; the UTF-8 runs between them
//!   go through the [`Redactor`] (known values and credential patterns).

use std::borrow::Cow;
use std::io::{self, Write};
use std::ops::Range;
use std::time::Duration;

use secret_chain::masking::Redactor;

/// How long a partial line waits for the rest of it.
pub(crate) const IDLE: Duration = Duration::from_millis(50);

/// The longest partial line kept before it is released (minus the hold).
pub(crate) const MAX_PENDING: usize = 1 << 20;

/// The masking state of one stream.
pub(crate) struct Masker {
    redactor: Redactor,
    hold: usize,
    /// The partial line not released yet (never holds a newline).
    pending: Vec<u8>,
    spans: Vec<Range<usize>>,
}

impl Masker {
    /// A masker that keeps back `hold` bytes of a partial line.
    pub(crate) fn new(redactor: Redactor, hold: usize) -> Masker {
        Masker {
            redactor,
            hold,
            pending: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// Whether an idle release would write something now.
    pub(crate) fn has_releasable(&self) -> bool {
        self.pending.len() > self.hold
    }

    /// Takes `data` in: every complete line is masked and written.
    pub(crate) fn push(&mut self, data: &[u8], out: &mut impl Write) -> io::Result<()> {
        match memchr::memrchr(b'\n', data) {
            Some(last) => {
                let (lines, rest) = data.split_at(last + 1);
                if self.pending.is_empty() {
                    mask_lines(&self.redactor, lines, out)?;
                } else {
                    self.pending.extend_from_slice(lines);
                    mask_lines(&self.redactor, &self.pending, out)?;
                    self.pending.clear();
                }
                self.pending.extend_from_slice(rest);
            }
            None => self.pending.extend_from_slice(data),
        }
        if self.pending.len() >= MAX_PENDING {
            self.release_partial(out)?;
        }
        Ok(())
    }

    /// After [`IDLE`] without input: the partial line, except what could
    /// still begin a secret.
    pub(crate) fn release_partial(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.pending.len() <= self.hold {
            return Ok(());
        }
        let mut cut = self.pending.len() - self.hold;
        // Never through a span that is masked: back to its start.
        self.spans.clear();
        let mut at = 0;
        for chunk in self.pending.utf8_chunks() {
            let valid = chunk.valid();
            let base = at;
            let before = self.spans.len();
            self.redactor.spans(valid, &mut self.spans);
            for r in &mut self.spans[before..] {
                *r = r.start + base..r.end + base;
            }
            at += valid.len() + chunk.invalid().len();
            if at > cut + self.hold {
                break;
            }
        }
        for r in &self.spans {
            if r.start < cut && cut < r.end {
                cut = r.start;
            }
        }
        if cut == 0 {
            return Ok(());
        }
        mask_into(&self.redactor, &self.pending[..cut], out)?;
        self.pending.drain(..cut);
        Ok(())
    }

    /// At end of input: everything left.
    pub(crate) fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.pending.is_empty() {
            mask_into(&self.redactor, &self.pending, out)?;
            self.pending.clear();
        }
        Ok(())
    }
}

/// Complete lines from one read of this size or more are masked in two
/// halves on two threads: reads are this large when the child writes
/// faster than one thread masks (its pipe fills up), which is when a
/// second thread helps.
const PARALLEL_MIN: usize = 256 * 1024;

/// Writes complete `lines` masked; a large block is cut at a newline
/// near its middle and the second half is masked on another thread.
fn mask_lines(redactor: &Redactor, lines: &[u8], out: &mut impl Write) -> io::Result<()> {
    if lines.len() < PARALLEL_MIN {
        return mask_into(redactor, lines, out);
    }
    let Some(mid) = memchr::memchr(b'\n', &lines[lines.len() / 2..]) else {
        return mask_into(redactor, lines, out);
    };
    let (first, second) = lines.split_at(lines.len() / 2 + mid + 1);
    std::thread::scope(|s| {
        let other = s.spawn(|| {
            let mut buf = Vec::with_capacity(second.len() + 64);
            mask_into(redactor, second, &mut buf).map(|()| buf)
        });
        mask_into(redactor, first, out)?;
        let buf = other
            .join()
            .map_err(|_| io::Error::other("the masking thread panicked"))??;
        out.write_all(&buf)
    })
}

/// Writes `bytes` masked: each UTF-8 run through the redactor, the bytes
/// that are not UTF-8 as they are.
fn mask_into(redactor: &Redactor, bytes: &[u8], out: &mut impl Write) -> io::Result<()> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return match redactor.redact(text) {
            Cow::Borrowed(_) => out.write_all(bytes),
            Cow::Owned(masked) => out.write_all(masked.as_bytes()),
        };
    }
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        if !valid.is_empty() {
            out.write_all(redactor.redact(valid).as_bytes())?;
        }
        out.write_all(chunk.invalid())?;
    }
    Ok(())
}

/// An upper bound of the length of the longest form in which
/// `KnownSecrets` matches `value` (raw, base64 at each alignment,
/// percent-encoded, JSON-escaped once or twice, `Debug`, XML): the hold of
/// a partial line is this minus one.
pub(crate) fn longest_form(value: &str) -> usize {
    let base64 = 4 * (value.len() + 2).div_ceil(3);
    let escaped: usize = value
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => 1,
            // `\\` twice JSON-escaped: 4; `%5C`: 3; `&quot;`: 6.
            '<' | '>' | '&' | '"' | '\'' => 6,
            '\\' => 4,
            // `\\u0001` (JSON twice), `\u{1}` (Debug).
            c if c.is_ascii_control() => 7,
            c if c.is_ascii() => 3,
            // `\ud83d\ude00` (ASCII-only JSON), `%F0%9F%98%80`, Debug's `\u{...}`.
            _ => 12,
        })
        .sum();
    base64.max(escaped)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine;
    use secret_chain::masking::{KnownSecrets, Redactor};

    use super::*;

    const SECRET: &str = "pw-Zq8rT2vX9kLm";

    fn masker() -> Masker {
        let known = Arc::new(KnownSecrets::with_settings(6, Duration::MAX));
        known.register(SECRET);
        Masker::new(Redactor::new(known), longest_form(SECRET) - 1)
    }

    /// Feeds `writes` one by one (with an idle release after each when
    /// `idle`), then finishes; returns what was written after each step.
    fn run(writes: &[&[u8]], idle: bool) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut m = masker();
        let mut out = Vec::new();
        let mut steps = Vec::new();
        for w in writes {
            m.push(w, &mut out).unwrap();
            if idle {
                m.release_partial(&mut out).unwrap();
            }
            steps.push(out.clone());
        }
        m.finish(&mut out).unwrap();
        (steps, out)
    }

    #[test]
    fn a_line_is_released_at_its_newline_and_a_partial_one_is_held() {
        let (steps, all) = run(&[b"first line\nsecond ", b"part\n"], false);
        assert_eq!(steps[0], b"first line\n");
        assert_eq!(all, b"first line\nsecond part\n");
    }

    #[test]
    fn every_encoding_is_masked_and_the_text_around_it_stays() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let lines = [
            format!("raw {SECRET} end"),
            format!("b64 {} end", b64.encode(SECRET)),
            format!("b64+1 {} end", b64.encode(format!("u:{SECRET}"))),
            format!("b64+2 {} end", b64.encode(format!("ab:{SECRET}"))),
            "url pw%2DZq8rT2vX9kLm end".to_string(),
            format!(
                "json {} end",
                serde_json::to_string(&format!("{SECRET}\"q")).unwrap()
            ),
        ];
        let text = lines.join("\n") + "\n";
        let (_, out) = run(&[text.as_bytes()], false);
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("Zq8rT2vX9kLm"), "{out}");
        for (line, label) in out
            .lines()
            .zip(["raw ", "b64 ", "b64+1 ", "b64+2 ", "url ", "json "])
        {
            assert!(line.starts_with(label) && line.ends_with(" end"), "{line}");
            assert!(line.contains("****"), "{line}");
        }
        assert!(out.starts_with("raw **** end\n"), "{out}");
    }

    #[test]
    fn a_secret_split_across_writes_is_masked_even_after_an_idle_release() {
        let (a, b) = SECRET.split_at(7);
        let first = format!("Password: {a}");
        let (steps, all) = run(&[first.as_bytes(), b.as_bytes(), b" ok\n"], true);
        let all = String::from_utf8(all).unwrap();
        assert_eq!(all, "Password: **** ok\n");
        // The prompt itself was released while waiting, up to the hold.
        let hold = longest_form(SECRET) - 1;
        assert_eq!(steps[0].len(), first.len().saturating_sub(hold));
    }

    #[test]
    fn a_prompt_longer_than_the_hold_is_released_when_idle() {
        let prompt = format!("{} continue? [y/N] ", "x".repeat(60));
        let (steps, _) = run(&[prompt.as_bytes()], true);
        let hold = longest_form(SECRET) - 1;
        assert_eq!(steps[0], prompt.as_bytes()[..prompt.len() - hold]);
    }

    #[test]
    fn the_cut_never_falls_inside_a_masked_span() {
        let mut m = masker();
        let mut out = Vec::new();
        let hold = longest_form(SECRET) - 1;
        // The secret ends `hold - 2` bytes before the end: the plain cut
        // would fall inside it.
        let text = format!("{}{SECRET}{}", "a ".repeat(40), "b".repeat(hold - 2));
        m.push(text.as_bytes(), &mut out).unwrap();
        m.release_partial(&mut out).unwrap();
        assert_eq!(out, "a ".repeat(40).as_bytes());
        m.finish(&mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("****"));
    }

    #[test]
    fn binary_bytes_pass_unchanged_except_secrets() {
        let mut data: Vec<u8> = (0..=255u8).collect();
        data.extend_from_slice(SECRET.as_bytes());
        data.extend_from_slice(&[0xff, 0xfe, b'\n', 0xc3]);
        let (_, out) = run(&[&data[..100], &data[100..]], true);
        let mut want: Vec<u8> = (0..=255u8).collect();
        want.extend_from_slice(b"****");
        want.extend_from_slice(&[0xff, 0xfe, b'\n', 0xc3]);
        assert_eq!(out, want);
        let clean: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let (_, out) = run(&[&clean[..1234], &clean[1234..]], true);
        assert_eq!(out, clean);
    }

    #[test]
    fn a_large_block_is_masked_in_two_halves_like_in_one() {
        let mut text = String::new();
        let mut want = String::new();
        for i in 0..40_000 {
            if i % 997 == 0 {
                text.push_str(&format!("line {i} token {SECRET} end\n"));
                want.push_str(&format!("line {i} token **** end\n"));
            } else {
                text.push_str(&format!("line {i} plain text here\n"));
                want.push_str(&format!("line {i} plain text here\n"));
            }
        }
        assert!(text.len() > PARALLEL_MIN);
        let (_, out) = run(&[text.as_bytes()], false);
        assert!(String::from_utf8(out).unwrap() == want);
    }

    #[test]
    fn a_line_without_end_is_released_at_the_size_limit() {
        let mut m = masker();
        let mut out = Vec::new();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..(MAX_PENDING / chunk.len() + 1) {
            m.push(&chunk, &mut out).unwrap();
        }
        assert!(out.len() >= MAX_PENDING - longest_form(SECRET));
        assert!(m.pending.len() < MAX_PENDING);
    }

    #[test]
    fn the_longest_form_bounds_every_encoding() {
        for v in [SECRET, "a\"b\\c<d>&e'f", "pässwörd-😀", "tab\there\u{1}"] {
            let bound = longest_form(v);
            let b64 = base64::engine::general_purpose::STANDARD.encode(v);
            let json = serde_json::to_string(v).unwrap();
            let twice = serde_json::to_string(&json).unwrap();
            let pct: String =
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            for form in [v.to_string(), b64, json, twice, pct, format!("{v:?}")] {
                assert!(form.len() <= bound + 4, "{v:?}: {form} > {bound}");
            }
        }
    }
}
