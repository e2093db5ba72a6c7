//! [`Scanner::scan_inputs`]: many inputs searched on threads, their events
//! delivered in input order.

use std::io::{self, Read, Seek};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use std::sync::Arc;

use super::baseline::fingerprint;
use super::input;
use super::read::{display_path, open_error, read_error};
use super::report::{ScanEvent, ScanFinding, ScanSummary};
use super::search::Scanner;
use super::walk::{self, Input};

impl Scanner {
    /// Searches every input: files, directories (recursively; `.git` and
    /// `target` directories, symbolic links inside directories and binary
    /// files are skipped) and standard input. Files are searched on up to
    /// [`Scanner::threads`] threads, files of 32 MiB or more in parts;
    /// `on_event` is called on the calling thread, in input order
    /// (directory entries sorted by name).
    ///
    /// Unreadable inputs become [`ScanEvent::Error`] and the scan goes on.
    pub fn scan_inputs(
        &self,
        inputs: &[Input],
        mut on_event: impl FnMut(ScanEvent),
    ) -> ScanSummary {
        let mut jobs = Vec::new();
        for input in inputs {
            match input {
                Input::Stdin => jobs.push(walk::Job::Stdin),
                Input::Path(p) => walk::expand(p, &mut jobs),
            }
        }
        if self.threads > 1 {
            jobs = self.split_big_files(jobs);
        }
        let mut summary = ScanSummary::default();
        let workers = self.threads.min(jobs.len());
        if workers <= 1 {
            for job in &jobs {
                let s = self.run_job(job, &mut on_event);
                summary.add(&s);
            }
            return summary;
        }

        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::sync_channel::<(usize, Vec<ScanEvent>, ScanSummary)>(workers * 4);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let tx = tx.clone();
                let next = &next;
                let jobs = &jobs;
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let mut events = Vec::new();
                        let s = self.run_job(job, &mut |e| events.push(e));
                        if tx.send((i, events, s)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            // Deliver in input order: keep results that arrive early.
            // Parts of a split file count lines from their own start: add
            // the lines of the parts before them, known by then.
            let mut pending = std::collections::BTreeMap::new();
            let mut want = 0;
            let mut line_offset = 0u64;
            for (i, events, s) in rx {
                pending.insert(i, (events, s));
                while let Some((events, s)) = pending.remove(&want) {
                    if !matches!(jobs[want], walk::Job::Part { index, .. } if index > 0) {
                        line_offset = 0;
                    }
                    for mut e in events {
                        if let ScanEvent::Finding(f) = &mut e {
                            f.line += line_offset;
                        }
                        on_event(e);
                    }
                    line_offset += s.lines;
                    summary.add(&s);
                    want += 1;
                }
            }
        });
        summary
    }

    fn run_job(&self, job: &walk::Job, on_event: &mut dyn FnMut(ScanEvent)) -> ScanSummary {
        // Rules with a path (gitleaks rules files) apply per file.
        let scoped;
        let this = match job {
            walk::Job::File(path) | walk::Job::Part { path, .. }
                if self.rules.depends_on_path() =>
            {
                let name = display_path(path);
                scoped = Scanner {
                    rules: Arc::new(self.rules.for_path(Some(&name))),
                    ..self.clone()
                };
                &scoped
            }
            _ => self,
        };
        let mut flagged = ScanSummary::default();
        if let walk::Job::File(path) | walk::Job::Part { path, index: 0, .. } = job {
            flagged = this.flag_file(&display_path(path), on_event);
        }
        let mut s = this.run_job_scoped(job, on_event);
        s.findings += flagged.findings;
        s.baselined += flagged.baselined;
        s
    }

    /// Reports the file itself for each path-only rule its path matches
    /// (line 1, column 1; the fingerprint is of the rule and the path).
    fn flag_file(&self, name: &str, on_event: &mut dyn FnMut(ScanEvent)) -> ScanSummary {
        let mut s = ScanSummary::default();
        for rule in self.rules.file_rules() {
            let rule = rule.to_string();
            let fingerprint = fingerprint(&rule, name.as_bytes());
            if self
                .baseline
                .as_ref()
                .is_some_and(|b| b.contains(&fingerprint))
            {
                s.baselined += 1;
                continue;
            }
            s.findings += 1;
            on_event(ScanEvent::Finding(ScanFinding {
                path: name.to_owned(),
                line: 1,
                column: 1,
                end_column: 1,
                char_column: 1,
                char_end_column: 1,
                rule,
                excerpt: "(the file itself: its path matches the rule)".to_owned(),
                fingerprint,
            }));
        }
        s
    }

    fn run_job_scoped(&self, job: &walk::Job, on_event: &mut dyn FnMut(ScanEvent)) -> ScanSummary {
        let (name, result) = match job {
            walk::Job::Error { path, error } => {
                on_event(ScanEvent::Error {
                    path: path.clone(),
                    error: error.clone(),
                });
                return ScanSummary {
                    errors: 1,
                    ..ScanSummary::default()
                };
            }
            walk::Job::Stdin => {
                let name = "<stdin>".to_owned();
                // No binary sniffing on stdin: it would hold back the first
                // findings of a slow pipe until 8 KiB have arrived.
                let r = input::decompressing(io::stdin().lock())
                    .map_err(|e| read_error(&name, e))
                    .and_then(|r| {
                        self.scan_plain(&name, r, false, &mut |f| on_event(ScanEvent::Finding(f)))
                            .map_err(|e| read_error(&name, e))
                    });
                (name, r)
            }
            walk::Job::Part {
                path,
                index,
                start,
                len,
            } => {
                let name = display_path(path);
                let r = std::fs::File::open(path)
                    .and_then(|mut f| {
                        f.seek(io::SeekFrom::Start(*start))?;
                        Ok(f)
                    })
                    .map_err(|e| open_error(&name, e))
                    .and_then(|f| {
                        self.scan_plain(&name, f.take(*len), false, &mut |f| {
                            on_event(ScanEvent::Finding(f))
                        })
                        .map_err(|e| read_error(&name, e))
                    })
                    .map(|mut s| {
                        // One input, however many parts.
                        s.inputs = u64::from(*index == 0);
                        s
                    });
                (name, r)
            }
            walk::Job::File(path) => {
                let name = display_path(path);
                let r = match std::fs::File::open(path) {
                    Ok(file) => {
                        self.scan_reader(&name, file, &mut |f| on_event(ScanEvent::Finding(f)))
                    }
                    Err(e) => Err(open_error(&name, e)),
                };
                (name, r)
            }
        };
        match result {
            Ok(s) => {
                if s.skipped_binary > 0 {
                    on_event(ScanEvent::SkippedBinary { path: name });
                }
                s
            }
            Err(error) => {
                on_event(ScanEvent::Error { path: name, error });
                ScanSummary {
                    errors: 1,
                    ..ScanSummary::default()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::test_support::KEY;
    use secret_chain::ErrorKind;
    use secret_chain::detect::RuleSet;

    #[test]
    fn parallel_scans_deliver_events_in_input_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut inputs = Vec::new();
        for i in 0..12 {
            let p = dir.path().join(format!("f{i:02}.log"));
            let filler = "INFO filler line\n".repeat(if i % 3 == 0 { 20_000 } else { 10 });
            std::fs::write(&p, format!("{filler}k={KEY}\n")).unwrap();
            inputs.push(Input::Path(p));
        }
        inputs.push(Input::Path(dir.path().join("missing.log")));
        let scanner = Scanner::new(RuleSet::builtin()).threads(4);
        let mut order = Vec::new();
        let summary = scanner.scan_inputs(&inputs, |e| match e {
            ScanEvent::Finding(f) => {
                let name = f.path.rsplit('/').next().unwrap().to_owned();
                let i: u64 = name[1..3].parse().unwrap();
                assert_eq!(
                    f.line,
                    if i.is_multiple_of(3) { 20_001 } else { 11 },
                    "line in {name}"
                );
                order.push(name);
            }
            ScanEvent::Error { path, error } => {
                assert_eq!(error.kind(), ErrorKind::Io);
                order.push(format!("error:{}", path.rsplit('/').next().unwrap()));
            }
            other => panic!("unexpected {other:?}"),
        });
        let mut want: Vec<String> = (0..12).map(|i| format!("f{i:02}.log")).collect();
        want.push("error:missing.log".into());
        assert_eq!(order, want);
        assert_eq!(
            (summary.findings, summary.errors, summary.inputs),
            (12, 1, 12)
        );
    }
}
