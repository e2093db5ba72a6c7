//! The architecture, checked: dependencies point one way, the library does
//! not pull in what only the command line needs, and no source file holds
//! two concepts' worth of code.
//!
//! ```text
//! cli/ ──> admin ──> chain, providers (write hooks)
//! cli/ ──> chain ──> providers ──> settings, clock, error
//!            │  └──> masking ──> detect ──> error
//!            └─────> settings, clock
//! ```

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The crate modules a file names in code (`crate::chain::...` gives
/// `chain`), comments left out.
fn crate_paths(path: &Path) -> Vec<(usize, String)> {
    let text = fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push((n + 1, name));
            rest = after;
        }
    }
    out
}

/// Asserts that no file under `src/{module}` names one of `forbidden`.
fn assert_does_not_use(module: &str, forbidden: &[&str]) {
    let src = root().join("src");
    let target = src.join(module);
    let files = if target.is_dir() {
        rust_files(&target)
    } else {
        vec![target.with_extension("rs")]
    };
    assert!(!files.is_empty(), "no files for {module}");
    let mut found = Vec::new();
    for f in files {
        for (line, name) in crate_paths(&f) {
            if forbidden.contains(&name.as_str()) {
                found.push(format!(
                    "{}:{line}: crate::{name}",
                    f.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{module} must not use {forbidden:?}:\n{}",
        found.join("\n")
    );
}

/// What reaches the global manager from inside the crate.
const GLOBAL: &[&str] = &[
    "global",
    "try_global",
    "init",
    "install",
    "get_secret",
    "get_secret_json",
    "get_secret_opt",
    "get_secret_blocking",
    "SecretsManager",
    "Config",
];

#[test]
fn detect_is_a_leaf() {
    let mut forbidden = vec![
        "chain",
        "providers",
        "masking",
        "settings",
        "clock",
        "admin",
    ];
    forbidden.extend(GLOBAL);
    assert_does_not_use("detect", &forbidden);
}

#[test]
fn providers_never_import_the_chain_or_masking() {
    // Nor the write side: reading knows nothing of `admin`, which builds
    // on the providers' hooks.
    let mut forbidden = vec!["chain", "masking", "admin"];
    forbidden.extend(GLOBAL);
    assert_does_not_use("providers", &forbidden);
}

#[test]
fn masking_never_reaches_the_chain_or_the_global_manager() {
    let mut forbidden = vec!["chain", "providers", "admin"];
    forbidden.extend(GLOBAL);
    assert_does_not_use("masking", &forbidden);
}

#[test]
fn settings_clock_and_error_are_leaves() {
    let others = [
        "chain",
        "providers",
        "masking",
        "detect",
        "settings",
        "clock",
        "admin",
    ];
    for leaf in ["settings", "clock", "error"] {
        let forbidden: Vec<&str> = others
            .iter()
            .copied()
            .filter(|m| *m != leaf)
            .chain(GLOBAL.iter().copied())
            .collect();
        assert_does_not_use(leaf, &forbidden);
    }
}

#[test]
fn the_library_does_not_depend_on_what_only_the_cli_needs() {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("\n[dependencies]\n")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap();
    for name in ["clap", "flate2", "toml", "sha2", "hex"] {
        assert!(
            !deps
                .lines()
                .any(|l| l.split([' ', '=']).next() == Some(name)),
            "the library depends on {name}; it belongs in cli/Cargo.toml"
        );
    }
}

#[test]
fn no_source_file_carries_more_than_a_thousand_lines_before_its_tests() {
    let mut long = Vec::new();
    for dir in [root().join("src"), root().join("cli/src")] {
        for f in rust_files(&dir) {
            let text = fs::read_to_string(&f).unwrap();
            let code = text.split("\n#[cfg(test)]\nmod tests").next().unwrap();
            let lines = code.lines().count();
            if lines > 1000 {
                long.push(format!("{}: {lines} lines", f.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these along their seams:\n{}",
        long.join("\n")
    );
}
