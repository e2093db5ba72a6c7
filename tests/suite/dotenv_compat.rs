//! The `.env` reader against python-dotenv 1.2 itself (the version in the
//! test venv, a dependency of moto): the same texts, tricky and random,
//! must give the same values, and fail exactly where python-dotenv warns
//! that it cannot parse a line.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secret_chain::ExposeSecret;
use secret_chain::providers::env::parse_env_text;

/// The process environment both sides see, for `${VAR}`.
const ENV: &[(&str, &str)] = &[("HOST", "h1"), ("EMPTY", ""), ("A", "from-env")];

/// The test venv's python (scripts/test creates it).
fn python() -> PathBuf {
    let bin = std::env::var("SECRET_CHAIN_TEST_MOTO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server")
        });
    let py = bin.with_file_name("python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/test, which creates the venv",
        py.display()
    );
    py
}

/// What python-dotenv's `load_dotenv()` would set for each text, read from
/// a real file (universal newlines, as in production), and whether it
/// warned about a line it could not parse.
const PY: &str = r#"
import json, logging, os, sys, tempfile
from dotenv.main import DotEnv
warned = []
class H(logging.Handler):
    def emit(self, record):
        warned.append(record.getMessage())
logging.getLogger("dotenv.main").addHandler(H())
out = []
for text in json.load(sys.stdin):
    warned.clear()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", suffix=".env", delete=False) as f:
        f.write(text)
    try:
        d = DotEnv(f.name, interpolate=True, override=False, encoding="utf-8").dict()
    finally:
        os.unlink(f.name)
    out.append({"values": {k: v for k, v in d.items() if v is not None},
                "failed": any("could not parse" in w for w in warned)})
json.dump(out, sys.stdout)
"#;

#[derive(serde::Deserialize, Debug)]
struct PyResult {
    values: BTreeMap<String, String>,
    failed: bool,
}

fn python_dotenv(texts: &[String]) -> Vec<PyResult> {
    let mut child = Command::new(python())
        .args(["-c", PY])
        .env_clear()
        .envs(ENV.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    let input = serde_json::to_vec(texts).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python-dotenv failed");
    serde_json::from_slice(&out.stdout).expect("python's JSON")
}

fn ours(text: &str) -> Option<BTreeMap<String, String>> {
    let env = |k: &str| {
        ENV.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    parse_env_text(text, "case.env", &env).ok().map(|bindings| {
        bindings
            .into_iter()
            .map(|(k, v)| (k, v.expose_secret().to_owned()))
            .collect()
    })
}

const CASES: &[&str] = &[
    "DB_PASS=pa$$w0rd-x",
    "DB_PASS=\"pa$w0rd-x\"",
    "C=$UNDEFINED",
    "API_CONFIG={\"key\":\"k-1\",\"region\":\"eu-west-1\"}",
    "\u{feff}A=1\nB=2",
    "A=${HOST}:${MISSING:-dflt}:${EMPTY:-x}",
    "USER=file\nA=${USER}\nB=${A}",
    "A='${HOST}'\nB=\"${HOST}\"",
    "A=\"a\\nb\\t\\\"q\\\" \\\\ \\d\"",
    "A='a\\nb \\' \\\\'",
    "A=value # comment\nB=value#not\nC=  spaced  \nD=",
    "export A=1\nexport  B = 2 \nexportC=3",
    "'quoted key'=v\n\"dq\"=w",
    "A=\"multi\nline\"\nB=after",
    "A=\"crlf\r\ninside\"\r\nB=2\r\nC=3\r",
    "A=\"x\"junk",
    "A=\"open",
    "this is not a binding",
    "=novalue",
    "KEY_ONLY\nB=1",
    "A=1\nA=2",
    "A=ab\"cd'ef",
    "A=\"a\\\\\"",
    "A='it''s'",
    "  # indented comment\n\tB=tab",
    "A=${",
    "A=${}",
    "A=${HOST",
    "A=$${HOST}",
    "A=é-ü-中",
    "A=\u{a0}nbsp\u{a0}",
];

#[test]
fn tricky_env_files_read_as_python_dotenv_reads_them() {
    let texts: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    compare(&texts);
}

#[test]
fn random_env_files_read_as_python_dotenv_reads_them() {
    const PIECES: &[&str] = &[
        "A",
        "B_1",
        "key.x",
        "=",
        "=",
        " ",
        "\t",
        "#",
        "'",
        "\"",
        "\\",
        "$",
        "{",
        "}",
        ":-",
        "${HOST}",
        "${A}",
        "${NOPE:-d}",
        "\n",
        "\n",
        "\r\n",
        "export ",
        "x",
        "é",
        "{\"k\":\"v\"}",
        "\\n",
        "  # c",
    ];
    let mut rng = StdRng::seed_from_u64(0x5ec2e7);
    let texts: Vec<String> = (0..1000)
        .map(|_| {
            let n = rng.random_range(1..24);
            let mut t = String::new();
            for _ in 0..n {
                t.push_str(PIECES[rng.random_range(0..PIECES.len())]);
            }
            t
        })
        .collect();
    compare(&texts);
}

fn compare(texts: &[String]) {
    let theirs = python_dotenv(texts);
    let mut wrong = Vec::new();
    let mut parsed = 0;
    for (text, py) in texts.iter().zip(&theirs) {
        match ours(text) {
            Some(values) => {
                parsed += 1;
                if py.failed || values != py.values {
                    wrong.push(format!("{text:?}: ours {values:?}, python-dotenv {py:?}"));
                }
            }
            None if !py.failed => {
                wrong.push(format!("{text:?}: ours failed, python-dotenv {py:?}"))
            }
            None => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        texts.len(),
        wrong.join("\n")
    );
    assert!(
        parsed * 3 >= texts.len(),
        "too few texts parsed ({parsed}): the cases test little"
    );
}
