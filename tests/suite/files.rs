//! The mounted-files provider on real directories: the exact layout the
//! Kubernetes atomic writer makes (`..2026_.../key`, `..data -> ..2026_...`,
//! `key -> ..data/key`) and its `..data` swap, the chain through
//! `SECRETS_PROVIDERS`, named instances, the permission warning and what
//! is refused, with captured output checked for values.

#![cfg(all(feature = "files", unix))]

use crate::support;

use std::collections::HashMap;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secret_chain::providers::files::FilesProvider;
use secret_chain::providers::{Provider, SecretData};
use secret_chain::{Clock, Config, ErrorKind, ExposeSecret, SecretsManager, Version};

/// A directory laid out as the kubelet lays out a secret volume: each
/// version in its own `..<timestamp>` folder, `..data` linking to the
/// current one and each key linking through `..data`.
struct KubeVolume {
    dir: tempfile::TempDir,
    generation: u32,
}

impl KubeVolume {
    fn new(files: &[(&str, &[u8])]) -> KubeVolume {
        let mut v = KubeVolume {
            dir: tempfile::tempdir().unwrap(),
            generation: 0,
        };
        let first = v.write_version(files);
        symlink(&first, v.path().join("..data")).unwrap();
        for (key, _) in files {
            let top = key.split('/').next().unwrap();
            if !v.path().join(top).exists() {
                symlink(format!("..data/{top}"), v.path().join(top)).unwrap();
            }
        }
        v
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a complete new version folder, as the kubelet does before it
    /// publishes it, and returns its name.
    fn write_version(&mut self, files: &[(&str, &[u8])]) -> String {
        self.generation += 1;
        let name = format!(
            "..2026_12_02_10_00_{:02}.{}",
            self.generation % 60,
            self.generation
        );
        let ts = self.path().join(&name);
        for (key, content) in files {
            let f = ts.join(key);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(&f, content).unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o400)).unwrap();
        }
        name
    }

    /// The atomic swap: a new `..data` link renamed over the old one, then
    /// the old folder removed.
    fn swap(&mut self, files: &[(&str, &[u8])]) {
        let old = std::fs::read_link(self.path().join("..data")).unwrap();
        let new = self.write_version(files);
        let tmp = self.path().join("..data_tmp");
        symlink(&new, &tmp).unwrap();
        std::fs::rename(&tmp, self.path().join("..data")).unwrap();
        std::fs::remove_dir_all(self.path().join(old)).unwrap();
    }
}

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn str_of(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn a_read_after_the_ttl_sees_the_swapped_kubernetes_value() {
    let mut vol = KubeVolume::new(&[("db-password", b"kube-pw-v1\n"), ("db/user", b"app-v1\n")]);
    let (clock, mock) = Clock::mock();
    let m = SecretsManager::builder()
        .provider(FilesProvider::new(vol.path()).unwrap())
        .cache_ttl(Duration::from_secs(60))
        .ttl_jitter(0.0)
        .refresh_ahead(false)
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(
        m.get_secret("db-password").await.unwrap().expose_secret(),
        "kube-pw-v1"
    );
    assert_eq!(
        m.get_secret("db/user").await.unwrap().expose_secret(),
        "app-v1"
    );
    assert_eq!(
        m.list_secrets("").await.unwrap(),
        ["db-password", "db/user"],
        "the atomic writer's internals are not listed"
    );

    vol.swap(&[("db-password", b"kube-pw-v2\n"), ("db/user", b"app-v2\n")]);
    // Within the TTL the cached value is served.
    assert_eq!(
        m.get_secret("db-password").await.unwrap().expose_secret(),
        "kube-pw-v1"
    );
    mock.advance(Duration::from_secs(61));
    assert_eq!(
        m.get_secret("db-password").await.unwrap().expose_secret(),
        "kube-pw-v2"
    );
    assert_eq!(
        m.get_secret("db/user").await.unwrap().expose_secret(),
        "app-v2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_during_repeated_swaps_never_see_a_half_written_file() {
    // Each version is 256 KiB of one letter: a torn read would mix two.
    let size = 256 << 10;
    let versions: Vec<Vec<u8>> = (b'a'..=b'h').map(|c| vec![c; size]).collect();
    let vol = KubeVolume::new(&[("blob", &versions[0])]);
    let p = Arc::new(FilesProvider::new(vol.path()).unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let versions = versions.clone();
        let mut vol = vol;
        std::thread::spawn(move || {
            let mut swaps = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let v = &versions[swaps % versions.len()];
                vol.swap(&[("blob", v)]);
                swaps += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            (vol, swaps)
        })
    };

    let mut whole = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        match p.fetch("blob", &Version::Current).await {
            Ok(v) => {
                let SecretData::File(b) = v.data() else {
                    panic!("a file is File data");
                };
                let b = b.expose_secret();
                assert_eq!(b.len(), size, "a read saw a file of the wrong size");
                assert!(
                    b.iter().all(|&c| c == b[0]),
                    "a read saw two versions mixed"
                );
                whole += 1;
            }
            // Three swaps in a row during one read: reported, never torn.
            Err(e) => assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (_vol, swaps) = writer.join().unwrap();
    assert!(swaps > 10, "the writer swapped {swaps} times");
    assert!(whole > 10, "only {whole} whole reads");
}

#[tokio::test]
async fn files_then_env_through_secrets_providers() {
    let vol = KubeVolume::new(&[("stripe/api-key", b"sk_test_files_4242\n")]);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join(".env"), "LOCAL_ONLY=env-value-5\n").unwrap();
    let env_file = work.path().join(".env");
    let config = Config::from_vars(vars(&[
        ("SECRETS_PROVIDERS", "files,env"),
        ("SECRETS_FILES_DIR", str_of(vol.path())),
        ("SECRETS_ENV_FILE", str_of(&env_file)),
    ]))
    .unwrap();
    let m = SecretsManager::from_config(&config).unwrap();
    assert_eq!(
        m.get_secret("stripe/api-key")
            .await
            .unwrap()
            .expose_secret(),
        "sk_test_files_4242"
    );
    let meta = m.get_secret_metadata("stripe/api-key").await.unwrap();
    assert_eq!(meta.provider(), Some("files"));
    assert_eq!(meta.id(), Some("stripe/api-key"));
    // Absent from the files: the chain falls through to env.
    assert_eq!(
        m.get_secret("local/only").await.unwrap().expose_secret(),
        "env-value-5"
    );

    let e = m.get_secret("nowhere/at-all").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let msg = e.to_string();
    let file = vol.path().join("nowhere/at-all");
    assert!(
        msg.contains(&format!("files: not found ({})", file.display())),
        "{msg}"
    );
    assert!(msg.contains("env: not found (NOWHERE_AT_ALL)"), "{msg}");

    let report = m.health().await;
    assert_eq!(report[0].provider, "files");
    assert!(report[0].result.is_ok(), "{:?}", report[0].result);
}

#[tokio::test]
async fn named_instances_read_their_own_directories() {
    let app = KubeVolume::new(&[("token", b"app-token-6\n")]);
    let shared = KubeVolume::new(&[("token", b"shared-token-7\n"), ("only-shared", b"s-8")]);
    let config = Config::from_vars(vars(&[
        ("SECRETS_PROVIDERS", "app=files,files"),
        ("SECRETS_APP_FILES_DIR", str_of(app.path())),
        ("SECRETS_FILES_DIR", str_of(shared.path())),
    ]))
    .unwrap();
    let m = SecretsManager::from_config(&config).unwrap();
    assert_eq!(
        m.get_secret("token").await.unwrap().expose_secret(),
        "app-token-6"
    );
    assert_eq!(
        m.get_secret("only-shared").await.unwrap().expose_secret(),
        "s-8"
    );
    let meta = m.get_secret_metadata("only-shared").await.unwrap();
    assert_eq!(meta.provider(), Some("files"));
    let meta = m.get_secret_metadata("token").await.unwrap();
    assert_eq!(meta.provider(), Some("app"));

    let e = SecretsManager::from_config(
        &Config::from_vars(vars(&[
            ("SECRETS_PROVIDERS", "app=files"),
            ("SECRETS_APP_FILES_DIR", "/nonexistent-secret-chain-app-dir"),
        ]))
        .unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.to_string().contains("provider 'app'") && e.to_string().contains("SECRETS_APP_FILES_DIR"),
        "{e}"
    );
}

#[tokio::test]
async fn group_readable_files_warn_once_per_directory_naming_default_mode() {
    let dir = tempfile::tempdir().unwrap();
    for (name, mode) in [("a", 0o644), ("b", 0o640), ("c", 0o600)] {
        let f = dir.path().join(name);
        std::fs::write(&f, b"warn-canary-value-9").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let private = KubeVolume::new(&[("k", b"private-canary-10")]);

    let (capture, guard) = support::capture::capture_thread_logs();
    let p = FilesProvider::new(dir.path()).unwrap();
    for name in ["c", "a", "b", "a"] {
        p.fetch(name, &Version::Current).await.unwrap();
    }
    let q = FilesProvider::new(private.path()).unwrap();
    q.fetch("k", &Version::Current).await.unwrap();
    drop(guard);

    let logs = capture.text();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("secret_chain::files"))
        .collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    let w = warnings[0];
    assert!(
        w.contains("defaultMode: 0400") && w.contains(&*dir.path().to_string_lossy()),
        "{w}"
    );
    assert!(w.contains("mode=0644"), "{w}");
    assert!(
        !logs.contains("warn-canary-value-9") && !logs.contains("private-canary-10"),
        "{logs}"
    );
}

#[tokio::test]
async fn escapes_oversized_and_binary_files_are_refused_without_showing_a_value() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("stolen"), b"outside-canary-11").unwrap();
    let vol = KubeVolume::new(&[("ok", b"inside-canary-12\n")]);
    let root: PathBuf = vol.path().to_path_buf();
    symlink(outside.path().join("stolen"), root.join("escape")).unwrap();
    symlink(outside.path(), root.join("escape-dir")).unwrap();
    std::fs::write(root.join("big"), vec![b'z'; 2049]).unwrap();
    std::fs::write(root.join("bin"), b"bin-canary-13\xff\xfe").unwrap();
    let m = SecretsManager::builder()
        .provider(
            FilesProvider::new(&root)
                .unwrap()
                .with_max_bytes(2048)
                .unwrap(),
        )
        .build()
        .unwrap();

    let (capture, guard) = support::capture::capture_thread_logs();
    let mut shown = Vec::new();
    for (path, kind, needle) in [
        ("escape", ErrorKind::AccessDenied, "resolves outside"),
        (
            "escape-dir/stolen",
            ErrorKind::AccessDenied,
            "resolves outside",
        ),
        ("../escape", ErrorKind::InvalidPath, "'../escape'"),
        ("/etc/passwd", ErrorKind::InvalidPath, "absolute"),
        ("..data/ok", ErrorKind::InvalidPath, "atomic writer"),
        ("big", ErrorKind::InvalidValue, "larger than 2048 bytes"),
        ("bin", ErrorKind::InvalidValue, "not valid UTF-8"),
    ] {
        let e = m.get_secret(path).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{path}: {e}");
        assert!(e.to_string().contains(needle), "{path}: {e}");
        shown.push(format!("{e} {e:?}"));
    }
    let e = m.get_secret("escape").await.unwrap_err();
    assert!(
        e.to_string()
            .contains(&*root.join("escape").to_string_lossy()),
        "{e}"
    );
    assert_eq!(
        m.get_secret_bytes("bin").await.unwrap().expose_secret(),
        b"bin-canary-13\xff\xfe"
    );
    assert_eq!(m.list_secrets("").await.unwrap(), ["big", "bin", "ok"]);
    shown.push(format!("{m:?}"));
    drop(guard);

    let everything = format!("{}\n{}", shown.join("\n"), capture.text());
    for canary in [
        "outside-canary-11",
        "inside-canary-12",
        "bin-canary-13",
        "zzzzzzzz",
    ] {
        assert!(
            !everything.contains(canary),
            "leaked {canary:?} in:\n{everything}"
        );
    }
}

#[tokio::test]
async fn text_reads_trim_one_newline_and_bytes_reads_are_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lf"), b"pw-lf-1\n").unwrap();
    std::fs::write(dir.path().join("crlf"), b"pw-crlf-2\r\n").unwrap();
    std::fs::write(dir.path().join("two"), b"pw-two-3\n\n").unwrap();
    std::fs::write(
        dir.path().join("json"),
        b"{\"user\":\"app\",\"pw\":\"j-4\"}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("bin"), b"\x00\xff\xfe\n").unwrap();
    let m = SecretsManager::builder()
        .provider(FilesProvider::new(dir.path()).unwrap())
        .build()
        .unwrap();
    assert_eq!(m.get_secret("lf").await.unwrap().expose_secret(), "pw-lf-1");
    assert_eq!(
        m.get_secret("crlf").await.unwrap().expose_secret(),
        "pw-crlf-2"
    );
    assert_eq!(
        m.get_secret("two").await.unwrap().expose_secret(),
        "pw-two-3\n"
    );
    assert_eq!(
        m.get_secret_bytes("lf").await.unwrap().expose_secret(),
        b"pw-lf-1\n"
    );
    assert_eq!(
        m.get_secret_bytes("crlf").await.unwrap().expose_secret(),
        b"pw-crlf-2\r\n"
    );
    assert_eq!(
        m.get_secret("json#pw").await.unwrap().expose_secret(),
        "j-4"
    );
    assert_eq!(
        m.get_secret_bytes("bin").await.unwrap().expose_secret(),
        b"\x00\xff\xfe\n"
    );
    let e = m.get_secret("bin").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidValue);
    let msg = e.to_string();
    assert!(
        msg.contains("'bin'") && msg.contains("not valid UTF-8") && msg.contains("offset 1"),
        "{msg}"
    );
    let e = m.get_secret("bin#x").await.unwrap_err();
    assert!(e.to_string().contains("not valid UTF-8"), "{e}");
}
