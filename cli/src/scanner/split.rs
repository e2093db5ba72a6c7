//! Cutting a big file into parts that start at line starts, so that one big
//! log keeps every thread busy.

use std::io::{self, Seek};
use std::path::Path;

use super::BINARY_SNIFF_LEN;
use super::read::read_full;
use super::search::Scanner;
use super::walk;

/// Files at least this big are searched in parts, one thread each.
pub(super) const SPLIT_MIN: u64 = 32 << 20;

impl Scanner {
    /// Splits plain (not gzip, not binary) files of at least
    /// [`SPLIT_MIN`] bytes into parts that start at line starts, so that one
    /// big log keeps every thread busy. A file that cannot be probed stays
    /// whole (its error is reported when it is scanned).
    pub(super) fn split_big_files(&self, jobs: Vec<walk::Job>) -> Vec<walk::Job> {
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let walk::Job::File(path) = &job else {
                out.push(job);
                continue;
            };
            match self.split_points(path) {
                Some(points) if points.len() > 2 => {
                    for (index, w) in points.windows(2).enumerate() {
                        out.push(walk::Job::Part {
                            path: path.clone(),
                            index,
                            start: w[0],
                            len: w[1] - w[0],
                        });
                    }
                }
                _ => out.push(job),
            }
        }
        out
    }

    /// Part boundaries of a file (first 0, last its size), or `None` when
    /// it is small, compressed, binary or unreadable.
    fn split_points(&self, path: &Path) -> Option<Vec<u64>> {
        let mut f = std::fs::File::open(path).ok()?;
        let size = f.metadata().ok()?.len();
        if size < self.split_min {
            return None;
        }
        let mut head = vec![0u8; BINARY_SNIFF_LEN];
        let n = read_full(&mut f, &mut head).ok()?;
        if head[..n].starts_with(&[0x1f, 0x8b]) || memchr::memchr(0, &head[..n]).is_some() {
            return None;
        }
        let parts = (self.threads as u64 * 2)
            .min(size / (self.split_min / 2).max(1))
            .max(1);
        let mut points = vec![0u64];
        let mut probe = vec![0u8; 64 * 1024];
        for k in 1..parts {
            let target = size * k / parts;
            if target <= *points.last()? {
                continue;
            }
            // The part starts after the first newline at or after `target`;
            // a line longer than the window stays in one part.
            f.seek(io::SeekFrom::Start(target)).ok()?;
            let mut at = target;
            let mut found = None;
            while at < size && at - target < self.max_line_len as u64 {
                let n = read_full(&mut f, &mut probe).ok()?;
                if n == 0 {
                    break;
                }
                if let Some(p) = memchr::memchr(b'\n', &probe[..n]) {
                    found = Some(at + p as u64 + 1);
                    break;
                }
                at += n as u64;
            }
            match found {
                Some(b) if b < size && b > *points.last()? => points.push(b),
                _ => {}
            }
        }
        points.push(size);
        Some(points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::test_support::KEY2;
    use crate::scanner::{Input, ScanEvent};
    use secret_chain::detect::RuleSet;

    #[test]
    fn a_big_file_split_across_threads_keeps_line_numbers_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let mut text = String::new();
        let mut want = Vec::new();
        for i in 1..=200_000u64 {
            if i % 9_973 == 0 {
                text.push_str(&format!("{i} k={KEY2}\n"));
                want.push(i);
            } else {
                text.push_str(&format!("{i} INFO GET /api/v1/items 200 3ms\n"));
            }
        }
        std::fs::write(&path, &text).unwrap();
        let mut scanner = Scanner::new(RuleSet::builtin()).threads(3);
        scanner.split_min = 1 << 20;
        assert!(
            scanner.split_points(&path).unwrap().len() > 3,
            "the file is split"
        );
        let mut lines = Vec::new();
        let summary = scanner.scan_inputs(&[Input::Path(path.clone())], |e| match e {
            ScanEvent::Finding(f) => lines.push(f.line),
            other => panic!("unexpected {other:?}"),
        });
        assert_eq!(lines, want);
        assert_eq!(
            (summary.inputs, summary.lines, summary.bytes),
            (1, 200_000, text.len() as u64)
        );
    }

    #[test]
    fn gzip_and_binary_files_are_not_split() {
        let dir = tempfile::tempdir().unwrap();
        let mut scanner = Scanner::new(RuleSet::builtin()).threads(2);
        scanner.split_min = 1024;
        let bin = dir.path().join("b.bin");
        std::fs::write(&bin, [b"ab\x00".repeat(2000), b"\n".repeat(10)].concat()).unwrap();
        assert!(scanner.split_points(&bin).is_none());
        let gz = dir.path().join("a.gz");
        std::fs::write(&gz, [vec![0x1f, 0x8b], b"x\n".repeat(2000)].concat()).unwrap();
        assert!(scanner.split_points(&gz).is_none());
    }
}
