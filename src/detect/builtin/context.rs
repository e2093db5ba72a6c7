//! Checks for the rules whose hit is inside a longer credential or name:
//! the run of key bytes before a signature (`+ASt`, `JQQJ9`), the vendor
//! name before a shared keyword (`DD_` before `API_KEY`). Each reads a few
//! bytes before the hit, so a rule's regex runs only where they pass.

/// Whether exactly `n` bytes of `class` end at `hs`: the start of the
/// text or a byte outside `class` before them. The regex of a rule that
/// looks back from a signature checks more; this checks the run in about
/// as many bytes as the hits are apart (a byte outside the class one
/// period back ends it), so a line of repeated signatures costs linear
/// work: only hits `n + 1` or more bytes apart pass.
pub(super) fn run_before(b: &[u8], hs: usize, n: usize, class: fn(u8) -> bool) -> bool {
    hs >= n && (hs == n || !class(b[hs - n - 1])) && b[hs - n..hs].iter().all(|&c| class(c))
}

/// Whether one of `names` (lowercase) ends right at `hs`, ASCII
/// case-insensitively, and starts a word (no letter or digit before it):
/// `DD_` before `API_KEY` in `DD_API_KEY`, not in `ADD_API_KEY`. A rule
/// that shares the secret-named key rule's keyword (`api_key`, `token`)
/// checks its vendor's name this way instead of a keyword of its own: a
/// keyword like `dd_api_key` would hide that rule's `api_key` hit (hits do
/// not overlap) and add a prefix to the keyword filter.
///
/// Compared from the hit backwards: the names end where the text differs
/// most (`prompt_` against `cf_api_` differs at its second-last byte), and
/// these run at every `token`/`api_key` hit.
pub(super) fn name_ends_at(b: &[u8], hs: usize, names: &[&[u8]]) -> bool {
    let before = &b[..hs];
    names.iter().any(|n| {
        hs >= n.len()
            && n.iter()
                .rev()
                .zip(before.iter().rev())
                .all(|(want, c)| c.to_ascii_lowercase() == *want)
            && (hs == n.len() || !b[hs - n.len() - 1].is_ascii_alphanumeric())
    })
}

/// Whether the text at `hs` starts with `word` (lowercase), ASCII
/// case-insensitively.
pub(super) fn at(b: &[u8], hs: usize, word: &[u8]) -> bool {
    b.len() >= hs + word.len() && b[hs..hs + word.len()].eq_ignore_ascii_case(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vendor_name_must_end_at_the_hit_and_start_a_word() {
        let names: &[&[u8]] = &[b"dd_", b"datadog_"];
        for (text, hs, want) in [
            ("DD_API_KEY=1", 3, true),
            ("export dd_api_key=1", 10, true),
            ("DATADOG_API_KEY=1", 8, true),
            ("ADD_API_KEY=1", 4, false),
            ("X_API_KEY=1", 2, false),
        ] {
            assert_eq!(name_ends_at(text.as_bytes(), hs, names), want, "{text}");
        }
        assert!(run_before(b" abcd+ASt", 5, 4, |c| c.is_ascii_alphanumeric()));
        assert!(!run_before(b"xabcd+ASt", 5, 4, |c| c.is_ascii_alphanumeric()));
        assert!(!run_before(b"abc+ASt", 3, 4, |c| c.is_ascii_alphanumeric()));
    }
}
