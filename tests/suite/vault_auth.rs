//! Vault / OpenBao JWT and Kubernetes auth against the shared OpenBao dev
//! server: JWTs signed here (ES256, with a key made for each test and
//! given to OpenBao as `jwt_validation_pubkeys`), and, for Kubernetes auth,
//! a loopback fake of the Kubernetes TokenReview API that OpenBao calls to
//! check the service-account token (it answers "authenticated" only for
//! the tokens a test issued).
//!
//! Every test enables its own auth mount and works under its own KV
//! folder. Rotation is proven, not assumed: after the token file changes,
//! the old JWT is made unacceptable (a role's `bound_claims`, the fake
//! API's answer), so only a login that read the file again succeeds.

#![cfg(feature = "vault")]

use crate::support;
use crate::vault::{Admin, folder};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use secret_chain::providers::vault::VaultProvider;
use secret_chain::providers::{Provider, SecretData};
use secret_chain::settings::Settings;
use secret_chain::{Clock, ErrorKind, ExposeSecret, Version};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The audience the test JWTs are issued for.
const AUDIENCE: &str = "secret-chain-test";

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

/// A P-256 key that signs JWTs (ES256, the JWS form: `r || s`).
struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Signer {
    fn new() -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Signer { key, rng }
    }

    /// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo): the
    /// fixed DER head of an id-ecPublicKey / prime256v1 key, then the
    /// 65-byte uncompressed point ring gives.
    fn public_pem(&self) -> String {
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(self.key.public_key().as_ref());
        let b64 = STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    fn sign(&self, claims: &Value) -> String {
        let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
        let signing_input = format!("{head}.{body}");
        let sig = self.key.sign(&self.rng, signing_input.as_bytes()).unwrap();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims of a plain JWT for `sub`, valid for ten minutes from `from`.
fn jwt_claims(aud: &str, from: u64, generation: &str) -> Value {
    json!({
        "iss": "https://issuer.secret-chain.test",
        "sub": "svc-payments",
        "aud": aud,
        "iat": from,
        "nbf": from,
        "exp": from + 600,
        "gen": generation,
        "jti": support::unique_name("jti"),
    })
}

/// Claims of a projected Kubernetes service-account token.
fn kube_claims() -> Value {
    let t = now();
    json!({
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": "system:serviceaccount:team:app-sa",
        "aud": ["vault"],
        "iat": t,
        "nbf": t,
        "exp": t + 600,
        "kubernetes.io": {
            "namespace": "team",
            "serviceaccount": { "name": "app-sa", "uid": "5a1c-sa-uid" },
            "pod": { "name": "app-7d9f", "uid": "pod-uid-1" },
        },
        "jti": support::unique_name("jti"),
    })
}

// ---------------------------------------------------------------------------
// A fake Kubernetes TokenReview API
// ---------------------------------------------------------------------------

/// Answers `POST /apis/authentication.k8s.io/v1/tokenreviews` on loopback:
/// authenticated (as `system:serviceaccount:team:app-sa`) for the tokens
/// in `issued`, not for any other; 401 unless OpenBao authenticates as the
/// configured token reviewer.
struct FakeKube {
    url: String,
    issued: Arc<Mutex<HashSet<String>>>,
    /// The tokens OpenBao asked about, in order.
    reviewed: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeKube {
    async fn start(reviewer: &str) -> FakeKube {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let issued = Arc::new(Mutex::new(HashSet::new()));
        let reviewed = Arc::new(Mutex::new(Vec::new()));
        let bearer = format!("bearer {reviewer}");
        let task = {
            let issued = issued.clone();
            let reviewed = reviewed.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((conn, _)) = listener.accept().await else {
                        return;
                    };
                    let issued = issued.clone();
                    let reviewed = reviewed.clone();
                    let bearer = bearer.clone();
                    tokio::spawn(async move {
                        let _ = serve(conn, &bearer, &issued, &reviewed).await;
                    });
                }
            })
        };
        FakeKube {
            url,
            issued,
            reviewed,
            task,
        }
    }

    fn issue(&self, jwt: &str) {
        self.issued.lock().unwrap().insert(jwt.to_owned());
    }

    fn revoke(&self, jwt: &str) {
        self.issued.lock().unwrap().remove(jwt);
    }

    fn reviewed(&self) -> Vec<String> {
        self.reviewed.lock().unwrap().clone()
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request on `conn`, answered and closed.
async fn serve(
    mut conn: tokio::net::TcpStream,
    bearer: &str,
    issued: &Mutex<HashSet<String>>,
    reviewed: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let (status, answer) = if !head.starts_with("post /apis/authentication.k8s.io/v1/tokenreviews ")
    {
        (
            "404 Not Found",
            json!({ "kind": "Status", "status": "Failure", "code": 404 }),
        )
    } else if !head
        .lines()
        .any(|l| l.trim() == format!("authorization: {bearer}"))
    {
        (
            "401 Unauthorized",
            json!({ "kind": "Status", "status": "Failure", "code": 401 }),
        )
    } else {
        let review: Value = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
        let token = review["spec"]["token"].as_str().unwrap_or("").to_owned();
        reviewed.lock().unwrap().push(token.clone());
        let status = if issued.lock().unwrap().contains(&token) {
            json!({
                "authenticated": true,
                "user": { "username": "system:serviceaccount:team:app-sa", "uid": "5a1c-sa-uid" },
                "audiences": review["spec"]["audiences"].clone(),
            })
        } else {
            json!({ "authenticated": false, "error": "token is not known to this cluster" })
        };
        (
            "201 Created",
            json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status }),
        )
    };
    let body = serde_json::to_vec(&answer).unwrap();
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(reply.as_bytes()).await?;
    conn.write_all(&body).await?;
    conn.shutdown().await
}

// ---------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------

/// A JWT auth mount trusting `signer`, with a role `app` bound to
/// [`AUDIENCE`] and the claim `gen` = `generation`.
async fn jwt_mount(admin: &Admin, signer: &Signer, policy: &str, generation: &str) -> String {
    let mount = support::unique_name("jwt");
    admin
        .ok(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({ "type": "jwt" })),
        )
        .await;
    admin
        .ok(
            "POST",
            &format!("auth/{mount}/config"),
            Some(json!({ "jwt_validation_pubkeys": [signer.public_pem()] })),
        )
        .await;
    jwt_role(admin, &mount, policy, generation).await;
    mount
}

async fn jwt_role(admin: &Admin, mount: &str, policy: &str, generation: &str) {
    admin
        .ok(
            "POST",
            &format!("auth/{mount}/role/app"),
            Some(json!({
                "role_type": "jwt",
                "bound_audiences": [AUDIENCE],
                "user_claim": "sub",
                "bound_claims": { "gen": generation },
                "token_policies": [policy],
                "token_ttl": "1h",
            })),
        )
        .await;
}

fn write(path: &Path, jwt: &str) {
    // A new file renamed over the old one, as the kubelet publishes a
    // rotated projected token.
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, format!("{jwt}\n")).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    Settings::from_vars(pairs.iter().copied())
}

fn password(v: &secret_chain::providers::SecretValue) -> String {
    match v.data() {
        SecretData::Document(s) => {
            let doc: Value = serde_json::from_str(s.expose_secret()).unwrap();
            doc["password"].as_str().unwrap().to_owned()
        }
        other => panic!("expected a document, got {other:?}"),
    }
}

async fn revoke_logins(admin: &Admin, mount: &str) {
    admin
        .ok(
            "PUT",
            &format!("sys/leases/revoke-prefix/auth/{mount}/login"),
            None,
        )
        .await;
}

// ---------------------------------------------------------------------------
// JWT auth
// ---------------------------------------------------------------------------

#[tokio::test]
async fn jwt_login_reads_secrets_and_reads_the_rotated_file_at_each_login() {
    let admin = Admin::shared();
    let dir = folder("jwt");
    admin
        .kv_put(&format!("{dir}/db"), json!({ "password": "jwt-pw-1" }))
        .await;
    let policy = admin.read_policy(&dir).await;
    let signer = Signer::new();
    let mount = jwt_mount(&admin, &signer, &policy, "1").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("token");
    let first = signer.sign(&jwt_claims(AUDIENCE, now(), "1"));
    write(&file, &first);

    let p = VaultProvider::from_settings(&settings(&[
        ("VAULT_ADDR", admin.addr.as_str()),
        ("SECRETS_VAULT_AUTH", "jwt"),
        ("SECRETS_VAULT_ROLE", "app"),
        ("SECRETS_VAULT_JWT_FILE", file.to_str().unwrap()),
        ("SECRETS_VAULT_AUTH_MOUNT", mount.as_str()),
        ("SECRETS_PREFIX", dir.as_str()),
    ]))
    .unwrap();
    let v = p.fetch("db", &Version::Current).await.unwrap();
    assert_eq!(password(&v), "jwt-pw-1");
    p.fetch("db", &Version::Current).await.unwrap();
    assert_eq!(p.auth_stats().logins, 1, "one login serves many reads");

    // Rotation: a new token in the file, and the role now refuses the old
    // one. The login token is revoked, so the next read logs in again, and
    // only a login that read the file again gets in.
    write(&file, &signer.sign(&jwt_claims(AUDIENCE, now(), "2")));
    jwt_role(&admin, &mount, &policy, "2").await;
    revoke_logins(&admin, &mount).await;
    let v = p.fetch("db", &Version::Current).await.unwrap();
    assert_eq!(password(&v), "jwt-pw-1");
    assert_eq!(p.auth_stats().logins, 2);

    // The old token really is refused now.
    let old_file = tmp.path().join("old");
    write(&old_file, &first);
    let old = VaultProvider::builder(&admin.addr)
        .jwt("app", &old_file)
        .auth_mount(&mount)
        .prefix(&dir)
        .build()
        .unwrap();
    let e = old.fetch("db", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
}

#[tokio::test]
async fn a_jwt_session_renews_at_two_thirds_and_refused_reads_share_one_relogin() {
    let admin = Admin::shared();
    let dir = folder("jwt-session");
    admin
        .kv_put(&format!("{dir}/db"), json!({ "password": "jwt-pw-4" }))
        .await;
    let policy = admin.read_policy(&dir).await;
    let signer = Signer::new();
    let mount = jwt_mount(&admin, &signer, &policy, "1").await;
    // A short lease, renewable within the hour.
    admin
        .ok(
            "POST",
            &format!("auth/{mount}/role/app"),
            Some(json!({
                "role_type": "jwt",
                "bound_audiences": [AUDIENCE],
                "user_claim": "sub",
                "token_policies": [policy],
                "token_ttl": "60s",
                "token_max_ttl": "1h",
            })),
        )
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("token");
    write(&file, &signer.sign(&jwt_claims(AUDIENCE, now(), "1")));
    let (clock, mock) = Clock::mock();
    let p = Arc::new(
        VaultProvider::builder(&admin.addr)
            .jwt("app", &file)
            .auth_mount(&mount)
            .prefix(&dir)
            .clock(clock)
            .build()
            .unwrap(),
    );
    let stats = |p: &VaultProvider| (p.auth_stats().logins, p.auth_stats().renewals);
    p.fetch("db", &Version::Current).await.unwrap();
    mock.advance(Duration::from_secs(30));
    p.fetch("db", &Version::Current).await.unwrap();
    assert_eq!(stats(&p), (1, 0), "half the lease: nothing to do");
    mock.advance(Duration::from_secs(11));
    p.fetch("db", &Version::Current).await.unwrap();
    assert_eq!(stats(&p), (1, 1), "past two thirds: renew-self");
    mock.advance(Duration::from_secs(120));
    p.fetch("db", &Version::Current).await.unwrap();
    assert_eq!(stats(&p), (2, 1), "past the renewed lease: a new login");

    revoke_logins(&admin, &mount).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.fetch("db", &Version::Current).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        p.auth_stats().logins,
        3,
        "eight refused reads, one re-login"
    );
}

#[tokio::test]
async fn refused_jwts_are_access_denied_naming_mount_and_role_never_the_jwt() {
    let admin = Admin::shared();
    let dir = folder("jwt-refused");
    admin
        .kv_put(&format!("{dir}/db"), json!({ "password": "jwt-pw-2" }))
        .await;
    let policy = admin.read_policy(&dir).await;
    let signer = Signer::new();
    let other_key = Signer::new();
    let mount = jwt_mount(&admin, &signer, &policy, "1").await;
    let tmp = tempfile::tempdir().unwrap();

    let (capture, guard) = support::capture::capture_thread_logs();
    let mut shown = Vec::new();
    let mut jwts = Vec::new();
    for (name, jwt) in [
        (
            "wrong-audience",
            signer.sign(&jwt_claims("someone-else", now(), "1")),
        ),
        // Expired well past OpenBao's default leeway (150 s).
        (
            "expired",
            signer.sign(&jwt_claims(AUDIENCE, now() - 3600, "1")),
        ),
        (
            "wrong-key",
            other_key.sign(&jwt_claims(AUDIENCE, now(), "1")),
        ),
    ] {
        let file = tmp.path().join(name);
        write(&file, &jwt);
        jwts.push(jwt);
        let p = VaultProvider::builder(&admin.addr)
            .jwt("app", &file)
            .auth_mount(&mount)
            .prefix(&dir)
            .build()
            .unwrap();
        shown.push(format!("{p:?}"));
        let e = p.fetch("db", &Version::Current).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied, "{name}: {e}");
        let m = e.to_string();
        assert!(
            m.contains(&format!("JWT login at auth/{mount}/login as role 'app'")),
            "{name}: {m}"
        );
        shown.push(format!("{e} {e:?}"));
    }
    // A file that is not there any more at login time.
    let gone = tmp.path().join("gone");
    write(&gone, &jwts[0]);
    let p = VaultProvider::builder(&admin.addr)
        .jwt("app", &gone)
        .auth_mount(&mount)
        .build()
        .unwrap();
    std::fs::remove_file(&gone).unwrap();
    let e = p.fetch("db", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied);
    assert!(
        e.to_string().contains("JWT file") && e.to_string().contains("no such file"),
        "{e}"
    );
    drop(guard);

    let everything = format!("{}\n{}", shown.join("\n"), capture.text());
    assert!(
        everything.contains("hyper_util"),
        "the capture works (the HTTP stack's TRACE lines): {everything}"
    );
    for jwt in &jwts {
        // No token, nor any of its three parts (the claims alone identify
        // the workload).
        for part in jwt.split('.').chain([jwt.as_str()]) {
            assert!(
                !everything.contains(part),
                "leaked a JWT part in:\n{everything}"
            );
        }
    }
    assert!(!everything.contains(&admin.token));
}

// ---------------------------------------------------------------------------
// Kubernetes auth
// ---------------------------------------------------------------------------

/// OpenBao wants a CA certificate when `disable_local_ca_jwt` is set; the
/// fake API is plain HTTP, so none is used, and OpenBao only warns that
/// this one holds no certificate.
const UNUSED_CA: &str =
    "-----BEGIN CERTIFICATE-----\nunused: the fake API is plain http\n-----END CERTIFICATE-----\n";

async fn kube_mount(admin: &Admin, kube: &FakeKube, reviewer: &str, policy: &str) -> String {
    let mount = support::unique_name("k8s");
    admin
        .ok(
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({ "type": "kubernetes" })),
        )
        .await;
    admin
        .ok(
            "POST",
            &format!("auth/{mount}/config"),
            Some(json!({
                "kubernetes_host": kube.url,
                "disable_local_ca_jwt": true,
                "kubernetes_ca_cert": UNUSED_CA,
                "token_reviewer_jwt": reviewer,
            })),
        )
        .await;
    admin
        .ok(
            "POST",
            &format!("auth/{mount}/role/app"),
            Some(json!({
                "bound_service_account_names": ["app-sa"],
                "bound_service_account_namespaces": ["team"],
                "audience": "vault",
                "token_policies": [policy],
                "token_ttl": "1h",
            })),
        )
        .await;
    mount
}

#[tokio::test]
async fn kubernetes_login_goes_through_token_review_and_rereads_the_rotated_token() {
    let admin = Admin::shared();
    let dir = folder("k8s");
    admin
        .kv_put(&format!("{dir}/db"), json!({ "password": "k8s-pw-3" }))
        .await;
    let policy = admin.read_policy(&dir).await;
    let reviewer = support::unique_name("reviewer-jwt-canary");
    let kube = FakeKube::start(&reviewer).await;
    let mount = kube_mount(&admin, &kube, &reviewer, &policy).await;
    let signer = Signer::new();
    let tmp = tempfile::tempdir().unwrap();
    let file: PathBuf = tmp.path().join("token");
    let first = signer.sign(&kube_claims());
    kube.issue(&first);
    write(&file, &first);

    let (capture, guard) = support::capture::capture_thread_logs();
    let p = VaultProvider::from_settings(&settings(&[
        ("VAULT_ADDR", admin.addr.as_str()),
        ("SECRETS_VAULT_AUTH", "kubernetes"),
        ("SECRETS_VAULT_ROLE", "app"),
        ("SECRETS_VAULT_JWT_FILE", file.to_str().unwrap()),
        ("SECRETS_VAULT_AUTH_MOUNT", mount.as_str()),
        ("SECRETS_PREFIX", dir.as_str()),
    ]))
    .unwrap();
    let v = p.fetch("db", &Version::Current).await.unwrap();
    assert_eq!(password(&v), "k8s-pw-3");
    assert_eq!(
        kube.reviewed(),
        std::slice::from_ref(&first),
        "OpenBao asked the API"
    );
    let mut shown = vec![format!("{p:?}")];

    // The kubelet rotates the token and the old one stops being valid.
    let second = signer.sign(&kube_claims());
    kube.issue(&second);
    write(&file, &second);
    kube.revoke(&first);
    revoke_logins(&admin, &mount).await;
    let v = p.fetch("db", &Version::Current).await.unwrap();
    assert_eq!(password(&v), "k8s-pw-3");
    assert_eq!(p.auth_stats().logins, 2);
    assert_eq!(kube.reviewed().last(), Some(&second));

    // A token the cluster does not know (deleted service account).
    let unknown = signer.sign(&kube_claims());
    let stale = tmp.path().join("stale");
    write(&stale, &unknown);
    let q = VaultProvider::builder(&admin.addr)
        .kubernetes("app")
        .jwt_file(&stale)
        .auth_mount(&mount)
        .prefix(&dir)
        .build()
        .unwrap();
    let e = q.fetch("db", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    assert!(
        e.to_string().contains(&format!(
            "Kubernetes login at auth/{mount}/login as role 'app'"
        )),
        "{e}"
    );
    shown.push(format!("{e} {e:?} {q:?}"));
    drop(guard);

    let everything = format!("{}\n{}", shown.join("\n"), capture.text());
    assert!(
        everything.contains("kubernetes login"),
        "the capture works: {everything}"
    );
    for secret in [&first, &second, &unknown, &reviewer, &admin.token] {
        assert!(
            !everything.contains(secret.as_str()),
            "leaked in:\n{everything}"
        );
    }
}
