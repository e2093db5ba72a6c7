//! Helpers shared by the unit tests of the detection modules.

use super::RuleSet;

/// The rule and the text of each finding of the built-in rules in `text`.
pub(super) fn spans(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    RuleSet::builtin().find(text, &mut out);
    out.into_iter()
        .map(|f| {
            (
                f.rule.as_str().to_string(),
                text[f.start..f.end].to_string(),
            )
        })
        .collect()
}

/// The text of each finding of the built-in rules in `text`.
pub(super) fn secret(text: &str) -> Vec<String> {
    spans(text).into_iter().map(|(_, s)| s).collect()
}

thread_local! {
    /// Bytes the engine read on this thread: what a DFA reads for each
    /// regex run, the engine's own scans (the `needs` searches, window
    /// counts, value parsers). Tests assert that it stays linear in the
    /// text (the machine is too noisy for timing tests).
    static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// One lazy DFA per pattern, to measure regex runs.
    static DFAS: std::cell::RefCell<std::collections::HashMap<String, (DFA, Cache)>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

thread_local! {
    static SHORTCUTS_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether searches on this thread do without their shortcuts (a memo
/// that proves nothing, captures for split regexes), to compare the
/// findings with what the shortcuts give.
pub(super) fn shortcuts_off() -> bool {
    SHORTCUTS_OFF.with(|m| m.get())
}

/// Runs `f` without the shortcuts on this thread.
pub(super) fn without_shortcuts<T>(f: impl FnOnce() -> T) -> T {
    SHORTCUTS_OFF.with(|m| m.set(true));
    let out = f();
    SHORTCUTS_OFF.with(|m| m.set(false));
    out
}

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::{Anchored, Input};

pub(super) fn add_work(n: usize) {
    WORK.with(|w| w.set(w.get() + n as u64));
}

/// The work counted on this thread since the last call.
pub(super) fn take_work() -> u64 {
    WORK.with(|w| w.replace(0))
}

/// Counts the bytes that a search of `pattern` over `text[start..end]`
/// reads: a DFA stops where no match can go on (the window end for an
/// unanchored search that finds nothing). This, not the window's length,
/// is the cost of a run: most runs stop after a few bytes.
pub(super) fn add_regex_work(pattern: &str, text: &str, start: usize, end: usize, anchored: bool) {
    if pattern.is_empty() {
        // A user rule's regex (compiled up front, no source kept).
        add_work(end - start);
        return;
    }
    let read = DFAS.with(|d| {
        let mut d = d.borrow_mut();
        let (dfa, cache) = d.entry(pattern.to_owned()).or_insert_with(|| {
            let dfa = DFA::builder()
                .configure(DFA::config().unicode_word_boundary(true))
                .build(pattern)
                .expect("rule regex builds as a lazy DFA");
            let cache = dfa.create_cache();
            (dfa, cache)
        });
        let mode = if anchored {
            Anchored::Yes
        } else {
            Anchored::No
        };
        let input = Input::new(text).range(start..end).anchored(mode);
        // A lazy DFA gives up on a Unicode word boundary next to a
        // non-ASCII byte: count the whole window then.
        let Ok(mut sid) = dfa.start_state_forward(cache, &input) else {
            return end - start;
        };
        let mut read = 0;
        for &b in &text.as_bytes()[start..end] {
            let Ok(next) = dfa.next_state(cache, sid, b) else {
                return end - start;
            };
            sid = next;
            read += 1;
            if sid.is_quit() {
                return end - start;
            }
            if sid.is_dead() {
                break;
            }
        }
        read
    });
    add_work(read);
}
