//! `secret-chain exec`: injection, masking of the child's output in every
//! encoding, streaming, exit statuses, signals, refusal.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::get::{dir_with_env, run, text};

const BIN: &str = env!("CARGO_BIN_EXE_secret-chain");

/// A fake credential for these tests only.
const SECRET: &str = "exec-Pw-7Qz2Lk9Xv";

fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("spawn secret-chain")
}

fn sh(script: &str) -> [&str; 3] {
    ["sh", "-c", script]
}

fn exec_args<'a>(pre: &[&'a str], script: &'a str) -> Vec<&'a str> {
    let mut v = vec!["exec"];
    v.extend_from_slice(pre);
    v.push("--");
    v.extend(sh(script));
    v
}

#[test]
fn secrets_are_injected_and_replace_inherited_variables() {
    let dir = dir_with_env(&format!("DATABASE_URL={SECRET}\nAPI_KEY=short\n"));
    std::fs::write(
        dir.path().join("secrets.toml"),
        "[secrets.DB]\npath = \"database/url\"\n[secrets.KEY]\npath = \"api/key\"\n[secrets.OPT]\npath = \"not/there\"\nrequired = false\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &exec_args(
            &["--manifest", "secrets.toml", "--env", "AGAIN=database/url"],
            "echo \"db=${#DB} key=$KEY opt=${OPT-unset} again=${#AGAIN} kept=$KEPT\"",
        ),
        &[("KEY", "inherited"), ("OPT", "inherited"), ("KEPT", "yes")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Lengths, since the values themselves are masked.
    assert_eq!(
        text(&out.stdout),
        format!(
            "db={0} key=short opt=unset again={0} kept=yes\n",
            SECRET.len()
        )
    );
    // SECRETS_MANIFEST names the manifest too.
    let out = run(
        dir.path(),
        &exec_args(&[], "echo \"$DB\""),
        &[("SECRETS_MANIFEST", "secrets.toml")],
    );
    assert_eq!(text(&out.stdout), "****\n", "{}", text(&out.stderr));
}

#[test]
fn every_encoding_is_masked_and_the_text_around_it_stays() {
    let dir = dir_with_env(&format!("TOKEN={SECRET}\n"));
    let b64 = base64::engine::general_purpose::STANDARD;
    let forms = [
        ("RAW", SECRET.to_string()),
        ("B0", b64.encode(SECRET)),
        ("B1", b64.encode(format!("u:{SECRET}"))),
        ("B2", b64.encode(format!("ab:{SECRET}"))),
        ("URL", SECRET.replace('-', "%2D")),
        ("JSON", {
            let j = serde_json::to_string(&format!("{SECRET}\n")).unwrap();
            j[1..j.len() - 1].to_string()
        }),
    ];
    let script = "printf 'raw [%s] end\\nb64 [%s] end\\nb64+1 [%s] end\\nb64+2 [%s] end\\nurl [%s] end\\njson [%s] end\\n' \"$RAW\" \"$B0\" \"$B1\" \"$B2\" \"$URL\" \"$JSON\" >&2; echo \"out [$T] end\"";
    let mut env: Vec<(&str, &str)> = forms.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("X", "1"));
    let out = run(dir.path(), &exec_args(&["--env", "T=token"], script), &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out [****] end\n");
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 6, "{err}");
    assert_eq!(lines[0], "raw [****] end");
    for (line, label) in lines
        .iter()
        .zip(["raw", "b64", "b64+1", "b64+2", "url", "json"])
    {
        assert!(
            line.starts_with(&format!("{label} [")) && line.ends_with("] end"),
            "{line}"
        );
        assert!(line.contains("****"), "{line}");
    }
    for (_, form) in &forms {
        assert!(!err.contains(form.as_str()), "{form} leaked: {err}");
    }
    assert!(!err.contains("7Qz2Lk9Xv"), "{err}");
    assert_eq!(lines[4], "url [****] end");
}

#[test]
fn backend_credentials_pass_on_and_are_masked() {
    let dir = dir_with_env("");
    let token = "hvs.exec-fake-token-5Kq";
    let out = run(
        dir.path(),
        &exec_args(
            &[],
            "[ \"$VAULT_TOKEN\" = \"$EXPECT\" ] && echo same; echo \"t=$VAULT_TOKEN\"",
        ),
        &[("VAULT_TOKEN", token), ("EXPECT", token)],
    );
    assert_eq!(text(&out.stdout), "same\nt=****\n", "{}", text(&out.stderr));
}

#[test]
fn a_line_is_visible_before_the_child_exits_and_a_prompt_after_a_pause() {
    let dir = dir_with_env(&format!("TOKEN={SECRET}\n"));
    let mut child = spawn(
        dir.path(),
        &exec_args(
            &[],
            "echo first; printf 'a long enough question, continue? [y/N] '; read answer; echo \"got $answer\"",
        ),
        &[],
    );
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "first\n");
    // The prompt has no newline: it comes after the idle pause.
    let mut prompt = vec![0u8; "a long enough question, continue? [y/N] ".len()];
    stdout.read_exact(&mut prompt).unwrap();
    assert_eq!(prompt, b"a long enough question, continue? [y/N] ");
    assert!(child.try_wait().unwrap().is_none(), "the child still runs");
    child.stdin.take().unwrap().write_all(b"yes\n").unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "got yes\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn a_secret_split_across_two_writes_is_still_masked() {
    let dir = dir_with_env(&format!("TOKEN={SECRET}\n"));
    let (a, b) = SECRET.split_at(6);
    let script = format!("printf 'token={a}'; sleep 0.3; printf '{b} end\\n'");
    let out = run(dir.path(), &exec_args(&["--env", "T=token"], &script), &[]);
    assert_eq!(
        text(&out.stdout),
        "token=**** end\n",
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn binary_output_passes_unchanged_except_secrets() {
    let dir = dir_with_env(&format!("TOKEN={SECRET}\n"));
    let mut data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    data.extend_from_slice(&[0xff, 0xc3, b'\n', 0x00]);
    std::fs::write(dir.path().join("clean.bin"), &data).unwrap();
    let out = run(
        dir.path(),
        &["exec", "--env", "T=token", "--", "cat", "clean.bin"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout == data, "binary output changed");

    let mut dirty = data.clone();
    dirty.splice(1000..1000, SECRET.bytes());
    std::fs::write(dir.path().join("dirty.bin"), &dirty).unwrap();
    let out = run(
        dir.path(),
        &["exec", "--env", "T=token", "--", "cat", "dirty.bin"],
        &[],
    );
    let mut want = data.clone();
    want.splice(1000..1000, b"****".iter().copied());
    assert!(out.stdout == want, "only the secret is replaced");
}

#[test]
fn exit_statuses_follow_env() {
    let dir = dir_with_env(&format!("TOKEN={SECRET}\n"));
    std::fs::write(dir.path().join("not-executable"), "echo hi\n").unwrap();
    let status = |args: &[&str]| run(dir.path(), args, &[]).status.code();
    assert_eq!(status(&exec_args(&[], "exit 0")), Some(0));
    assert_eq!(status(&exec_args(&[], "exit 42")), Some(42));
    assert_eq!(status(&exec_args(&[], "kill -KILL $$")), Some(128 + 9));
    assert_eq!(status(&exec_args(&[], "kill -TERM $$")), Some(128 + 15));
    assert_eq!(status(&["exec", "--", "./not-executable"]), Some(126));
    assert_eq!(status(&["exec", "--", "."]), Some(126));
    assert_eq!(status(&["exec", "--", "no-such-command-here"]), Some(127));
    assert_eq!(
        status(&["exec", "--no-mask", "--", "no-such-command-here"]),
        Some(127)
    );
    // exec's own failures: bad arguments, configuration, manifest.
    assert_eq!(status(&["exec"]), Some(125));
    assert_eq!(status(&["exec", "--bogus", "--", "true"]), Some(125));
    assert_eq!(
        status(&["exec", "--env", "1BAD=x", "--", "true"]),
        Some(125)
    );
    assert_eq!(
        status(&["exec", "--manifest", "nope.toml", "--", "true"]),
        Some(125)
    );
    let out = run(
        dir.path(),
        &["exec", "--", "true"],
        &[("SECRETS_CACHE_TTL", "soon")],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("SECRETS_CACHE_TTL"));
    // --help is not a failure.
    let out = run(dir.path(), &["exec", "--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("128+N"), "{}", text(&out.stdout));
}

#[test]
fn nothing_runs_when_required_secrets_are_missing_and_all_are_named() {
    let dir = dir_with_env("PRESENT=value-present-1\n");
    std::fs::write(
        dir.path().join("secrets.toml"),
        "[secrets.A]\npath = \"missing/one\"\n[secrets.B]\npath = \"present\"\n[secrets.C]\npath = \"missing/two\"\n[secrets.D]\npath = \"missing/three\"\nrequired = false\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &exec_args(&["--manifest", "secrets.toml"], "touch ran"),
        &[],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(!dir.path().join("ran").exists(), "the command must not run");
    let err = text(&out.stderr);
    assert_eq!(
        err,
        "secret-chain: exec: 2 of 4 secrets do not resolve; the command was not run:\n  \
         A missing/one: missing: env: not found (MISSING_ONE)\n  \
         C missing/two: missing: env: not found (MISSING_TWO)\n"
    );
    assert!(!err.contains("value-present-1"));
}

#[test]
fn no_mask_hands_the_child_the_streams_as_they_are() {
    let dir = dir_with_env(&format!("TOKEN={SECRET}\n"));
    let out = run(
        dir.path(),
        &exec_args(&["--no-mask", "--env", "T=token"], "echo \"$T\"; exit 4"),
        &[],
    );
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(text(&out.stdout), format!("{SECRET}\n"));
}

/// Sends `signal` to `pid` with kill(1).
fn kill(signal: &str, pid: u32) {
    let ok = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {signal} {pid}");
}

#[test]
fn signals_sent_to_exec_reach_the_child_once_and_exec_waits_for_it() {
    let dir = dir_with_env("");
    for (signal, name) in [
        ("-TERM", "TERM"),
        ("-INT", "INT"),
        ("-HUP", "HUP"),
        ("-QUIT", "QUIT"),
    ] {
        let script = format!(
            "n=0; trap 'n=$((n+1)); echo got-{name}-$n' {name}; echo ready; i=0; while [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; echo \"done $n\"; exit 7"
        );
        let mut child = spawn(dir.path(), &exec_args(&[], &script), &[]);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        let start = Instant::now();
        kill(signal, child.id());
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            rest,
            format!("got-{name}-1\ndone 1\n"),
            "{name}: once, and the child went on"
        );
        assert_eq!(status.code(), Some(7), "{name}: the child's status");
        assert!(start.elapsed() < Duration::from_secs(20));
    }
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn secrets_from_aws_with_an_env_fallback_are_injected_and_masked() {
    let endpoint = crate::support::aws_endpoint();
    let client = crate::support::seed_client(&endpoint);
    let prefix = format!("/{}/", crate::support::unique_name("cli-exec"));
    client
        .create_secret()
        .name(format!("{prefix}database/url"))
        .secret_string("postgres://app:exec-aws-pw-6@db/app")
        .send()
        .await
        .unwrap();
    let dir = dir_with_env("LOCAL_TOKEN=exec-env-pw-7x\n");
    let env = crate::get::aws_env(&endpoint, &prefix);
    let out = run(
        dir.path(),
        &exec_args(
            &["--env", "DB=database/url", "--env", "TOK=local/token"],
            "echo \"db=$DB tok=$TOK len=${#DB} key=$AWS_SECRET_ACCESS_KEY\"",
        ),
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "db=**** tok=**** len={} key=****\n",
            "postgres://app:exec-aws-pw-6@db/app".len()
        )
    );
}

#[cfg(feature = "vault")]
#[test]
fn secrets_from_openbao_are_injected_and_the_token_is_masked() {
    let (addr, token) = (
        crate::support::vault_addr(),
        crate::support::vault_root_token(),
    );
    let folder = crate::support::unique_name("cli-exec");
    let r = crate::support::http_request(
        "POST",
        &addr,
        &format!("/v1/secret/data/{folder}/api/key"),
        &[
            ("X-Vault-Token", &token),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"data":{"value":"exec-vault-pw-8Qx"}}"#),
    )
    .unwrap();
    assert!((200..300).contains(&r.status), "{r:?}");
    let dir = dir_with_env("");
    let out = run(
        dir.path(),
        &exec_args(
            &["--env", "KEY=api/key"],
            "echo \"key=$KEY token=$VAULT_TOKEN len=${#KEY}\"",
        ),
        &[
            ("SECRETS_PROVIDERS", "vault"),
            ("VAULT_ADDR", addr.as_str()),
            ("VAULT_TOKEN", token.as_str()),
            ("SECRETS_PREFIX", folder.as_str()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("key=**** token=**** len={}\n", "exec-vault-pw-8Qx".len())
    );
}
