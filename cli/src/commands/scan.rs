//! `secret-chain scan`: arguments and printing; the work is done by
//! [`secret_chain_cli::scanner`].

use std::io;
use std::path::PathBuf;

use secret_chain_cli::scanner::{
    Baseline, ConfigFormat, DEFAULT_MAX_LINE_LEN, FindingWriter, Format, Input, ScanEvent, Scanner,
};

use super::{fail, rules};
use crate::Exit;

/// Arguments of `secret-chain scan`.
#[derive(Debug, clap::Args)]
pub(crate) struct ScanArgs {
    /// Files and directories to scan (directories recursively, skipping
    /// .git, target and binary files; .gz read transparently), `-` for
    /// stdin. Default: the current directory.
    #[arg(value_name = "PATH")]
    paths: Vec<String>,
    /// Output: `text` (path:line:column: rule: excerpt, columns in bytes),
    /// `json` (JSON Lines) or `sarif` (SARIF 2.1.0).
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    format: Format,
    /// Rules from a TOML file: ours ([[rules]] id, regex, keywords,
    /// min_entropy, secret_group; added to the built-in rules) or a
    /// gitleaks rules file (gitleaks' semantics: only its rules unless
    /// [extend] useDefault = true).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How --config is read: `auto` (gitleaks' format when the file has a
    /// gitleaks-only key such as title, [extend], [allowlist], secretGroup,
    /// entropy, path), `secret-chain` or `gitleaks`.
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "auto",
        requires = "config"
    )]
    config_format: ConfigFormat,
    /// Do not report findings whose fingerprint is in FILE.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write the fingerprints of every finding to FILE (no secret values)
    /// and exit 0: accept what is there now. With --baseline, only findings
    /// not in the old baseline are printed.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// Threads (default: one per core); files of 32 MiB or more are split
    /// across them.
    #[arg(short = 'j', long, value_name = "N", env = "SECRET_CHAIN_SCAN_THREADS")]
    threads: Option<usize>,
    /// Lines longer than this are scanned in overlapping windows.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_LEN)]
    max_line_len: usize,
    /// Print a summary (inputs, bytes, findings, skipped) to stderr.
    #[arg(long)]
    stats: bool,
}

/// Runs `secret-chain scan`.
pub(crate) fn run(args: ScanArgs) -> Exit {
    let rules = match rules(args.config.as_deref(), args.config_format) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let rule_ids: Vec<String> = rules.rule_ids().into_iter().map(str::to_owned).collect();
    let mut scanner = Scanner::new(rules).max_line_len(args.max_line_len);
    if let Some(n) = args.threads {
        scanner = scanner.threads(n);
    }
    // With --write-baseline every finding goes into the new file (accepted
    // ones included, so that it replaces the old one); only new ones print.
    let mut old_baseline = None;
    if let Some(path) = &args.baseline {
        match Baseline::load(path) {
            Ok(b) if args.write_baseline.is_some() => old_baseline = Some(b),
            Ok(b) => scanner = scanner.baseline(b),
            Err(e) => return fail(&e),
        }
    }
    let inputs: Vec<Input> = if args.paths.is_empty() {
        vec![Input::Path(PathBuf::from("."))]
    } else {
        args.paths.iter().map(|p| Input::from_arg(p)).collect()
    };

    let stdout = io::stdout();
    let mut writer = FindingWriter::new(args.format, stdout.lock(), rule_ids);
    let mut write_error: Option<io::Error> = None;
    let mut accepted = args.write_baseline.as_ref().map(|_| Baseline::new());
    let summary = scanner.scan_inputs(&inputs, |event| match event {
        ScanEvent::Finding(f) => {
            if let Some(b) = accepted.as_mut() {
                b.insert(&f);
            }
            if old_baseline
                .as_ref()
                .is_some_and(|b| b.contains(&f.fingerprint))
            {
                return;
            }
            if write_error.is_none()
                && let Err(e) = writer.write(&f)
            {
                write_error = Some(e);
            }
        }
        ScanEvent::Error { error, .. } => eprintln!("secret-chain: {error}"),
        ScanEvent::SkippedBinary { path } if args.stats => {
            eprintln!("secret-chain: skipped binary file '{path}'");
        }
        _ => {}
    });
    if write_error.is_none()
        && let Err(e) = writer.finish()
    {
        write_error = Some(e);
    }
    if let Some(e) = write_error {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("secret-chain: cannot write to stdout: {e}");
        }
        return Exit::Usage;
    }
    if args.stats {
        eprintln!(
            "secret-chain: {} input(s), {} bytes, {} finding(s), {} allowed inline, {} in baseline, {} binary skipped, {} error(s)",
            summary.inputs,
            summary.bytes,
            summary.findings,
            summary.allowed,
            summary.baselined,
            summary.skipped_binary,
            summary.errors
        );
    }
    if let (Some(path), Some(b)) = (&args.write_baseline, &accepted) {
        if let Err(e) = b.write(path) {
            return fail(&e);
        }
        eprintln!(
            "secret-chain: wrote {} fingerprint(s) to '{}'",
            b.len(),
            path.display()
        );
    }
    // Each input adds its answer; an unreadable one (2) wins over findings
    // (1) elsewhere, so that a CI gate never passes on a partial scan.
    let mut exit = Exit::Ok;
    if summary.findings > 0 && args.write_baseline.is_none() {
        exit = exit.max(Exit::No);
    }
    if summary.errors > 0 {
        exit = exit.max(Exit::Usage);
    }
    exit
}
