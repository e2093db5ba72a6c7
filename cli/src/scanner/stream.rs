//! The read buffer shared by the scanner and the redact filter.
//!
//! Holds at most the maximum line length, one read block and an open PEM
//! block's context: memory is bounded whatever the input.

use std::io::{self, Read};

use memchr::memmem;

use super::READ_SIZE;
use super::read::read_some;

/// How far back an open `-----BEGIN ...` block is kept as context.
pub(super) const PEM_CONTEXT: usize = 64 * 1024;
const PEM_BEGIN: &[u8] = b"-----BEGIN";
const PEM_END: &[u8] = b"-----END";

#[derive(Debug)]
pub(super) struct StreamBuf {
    pub(super) data: Vec<u8>,
    /// Start of the context to search again with the next block (an open
    /// PEM block); equal to `start` when there is none.
    pub(super) ctx: usize,
    /// The line number at `ctx`.
    pub(super) ctx_line: u64,
    /// Where the `-----BEGIN` of the open PEM block is.
    ctx_begin: usize,
    /// First byte not yet processed.
    pub(super) start: usize,
    /// End of the data read.
    pub(super) end: usize,
    /// Stream offset of `data[0]`.
    abs_base: u64,
    /// Whether `start` is the start of a line.
    at_line_start: bool,
    cap: usize,
}

impl StreamBuf {
    pub(super) fn new(max_line: usize) -> StreamBuf {
        StreamBuf {
            data: vec![0; READ_SIZE],
            ctx: 0,
            ctx_line: 1,
            ctx_begin: 0,
            start: 0,
            end: 0,
            abs_base: 0,
            at_line_start: true,
            cap: max_line + READ_SIZE + PEM_CONTEXT,
        }
    }

    /// Stream offset of `data[i]`.
    pub(super) fn abs(&self, i: usize) -> u64 {
        self.abs_base + i as u64
    }

    /// Makes room and reads once; returns the bytes read (0 at EOF).
    pub(super) fn fill(&mut self, reader: &mut impl Read) -> io::Result<usize> {
        if self.ctx == self.end {
            self.abs_base += self.end as u64;
            self.ctx = 0;
            self.ctx_begin = 0;
            self.start = 0;
            self.end = 0;
        }
        if self.data.len() - self.end < READ_SIZE / 4 {
            let shift = self.ctx;
            if shift > 0 {
                self.data.copy_within(shift..self.end, 0);
                self.abs_base += shift as u64;
                self.ctx = 0;
                self.ctx_begin -= shift.min(self.ctx_begin);
                self.start -= shift;
                self.end -= shift;
            }
            if self.data.len() - self.end < READ_SIZE / 4 {
                let grown = (self.data.len() * 2).min(self.cap);
                self.data.resize(grown, 0);
            }
        }
        let n = read_some(reader, &mut self.data[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// End of the last complete line not yet processed (`start` if none).
    pub(super) fn block_end(&self) -> usize {
        memchr::memrchr(b'\n', &self.data[self.start..self.end])
            .map_or(self.start, |p| self.start + p + 1)
    }

    /// Marks `start..block_end` processed; `line` is the line number at
    /// `block_end`. Keeps an open PEM block as context for the next block.
    pub(super) fn consume_lines(&mut self, block_end: usize, line: u64) {
        let old_start = self.start;
        let open = (self.ctx < old_start).then_some(self.ctx_begin);
        // Only a BEGIN in the last PEM_CONTEXT bytes can stay open (an
        // older one is dropped below, and so is `open`, older still).
        // Forward search (SIMD prefilter); `rfind` has none and is slower.
        let from = block_end.saturating_sub(PEM_CONTEXT).max(old_start);
        let newest = memmem::find_iter(&self.data[from..block_end], PEM_BEGIN)
            .last()
            .map(|q| from + q);
        let was_at_line_start = self.at_line_start;
        self.start = block_end;
        self.at_line_start = true;
        let keep_ctx = self.ctx;
        self.ctx = block_end;
        let Some(b) = newest.or(open) else { return };
        if block_end - b > PEM_CONTEXT || memmem::find(&self.data[b..block_end], PEM_END).is_some()
        {
            return;
        }
        if newest.is_none() {
            // Still the same open block: keep its context and line number.
            self.ctx = keep_ctx;
            return;
        }
        let ls = match memchr::memrchr(b'\n', &self.data[old_start..b]) {
            Some(p) => old_start + p + 1,
            None if was_at_line_start => old_start,
            None => return,
        };
        self.ctx = ls;
        self.ctx_begin = b;
        self.ctx_line = line - memchr::memchr_iter(b'\n', &self.data[ls..block_end]).count() as u64;
    }

    /// Marks a window of a long line processed; drops any context.
    pub(super) fn consume_window(&mut self, new_start: usize) {
        self.start = new_start;
        self.ctx = new_start;
        self.at_line_start = false;
    }
}
