//! The Google Cloud Secret Manager provider against drongo (the emulator
//! `scripts/test` starts), each test in a project of its own. What drongo
//! cannot do (IAM denials, checksums, tokens) is answered by a small
//! loopback server of the test's own that speaks the real API's JSON.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secret_chain::providers::gcp::GcpProvider;
use secret_chain::providers::{EnvProvider, Provider, SecretData, SecretValue};
use secret_chain::settings::Settings;
use secret_chain::{Config, ErrorKind, ExposeSecret, SecretsManager, Version};

use crate::support;

/// A project of the test's own (drongo keeps projects apart).
fn project(tag: &str) -> String {
    support::unique_name(&format!("p-{tag}"))
}

fn vars(endpoint: &str, project: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    [
        ("SECRETS_PROVIDERS", "gcp"),
        ("SECRETS_GCP_ENDPOINT", endpoint),
        ("SECRETS_GCP_PROJECT", project),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn provider(endpoint: &str, project: &str, extra: &[(&str, &str)]) -> GcpProvider {
    GcpProvider::from_settings(&Settings::from_vars(vars(endpoint, project, extra))).unwrap()
}

fn text(v: &SecretValue) -> String {
    match v.data() {
        SecretData::Text(s) => s.expose_secret().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn values_versions_and_metadata_come_from_the_emulator() {
    let endpoint = support::gcp_endpoint();
    let p_id = project("read");
    support::gcp_seed(
        &endpoint,
        &p_id,
        "database_password",
        &[b"pw-one-1111", b"pw-two-2222"],
    );
    support::gcp_seed(&endpoint, &p_id, "blob", &[&[0xff, 0x00, 0xfe]]);
    let p = provider(&endpoint, &p_id, &[]);

    let latest = p
        .fetch("database/password", &Version::Current)
        .await
        .unwrap();
    assert_eq!(text(&latest), "pw-two-2222");
    let m = latest.metadata();
    assert_eq!(
        m.id(),
        Some(format!("projects/{p_id}/secrets/database_password/versions/2").as_str())
    );
    assert_eq!(m.version_id(), Some("2"));

    let first = p
        .fetch("database/password", &Version::Id("1".into()))
        .await
        .unwrap();
    assert_eq!(text(&first), "pw-one-1111");
    assert_eq!(first.metadata().version_id(), Some("1"));
    let e = p
        .fetch("database/password", &Version::Id("9".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(e.http_status(), Some(404));
    assert_eq!(e.code(), Some("NOT_FOUND"));
    let e = p
        .fetch("database/password", &Version::Id("first".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        e.to_string().contains("positive numbers or 'latest'"),
        "{e}"
    );

    let blob = p.fetch("blob", &Version::Current).await.unwrap();
    assert!(
        matches!(blob.data(), SecretData::Binary(b) if b.expose_secret() == [0xff, 0x00, 0xfe])
    );

    // Through the chain, with a JSON field.
    support::gcp_seed(
        &endpoint,
        &p_id,
        "db",
        &[br#"{"user":"app","password":"json-pw-3333"}"#],
    );
    let manager = SecretsManager::builder().provider(p).build().unwrap();
    assert_eq!(
        manager
            .get_secret("db#password")
            .await
            .unwrap()
            .expose_secret(),
        "json-pw-3333"
    );
}

#[tokio::test]
async fn the_separator_and_the_prefix_map_paths_to_ids_and_bad_paths_are_refused() {
    let endpoint = support::gcp_endpoint();
    let p_id = project("ids");
    support::gcp_seed(
        &endpoint,
        &p_id,
        "myapp--database--password",
        &[b"sep-pw-4444"],
    );
    // The emulator holds an id GCP itself would refuse: the refusal below
    // is ours, made before any call.
    support::gcp_seed(&endpoint, &p_id, "database.password", &[b"never-read"]);
    let p = provider(
        &endpoint,
        &p_id,
        &[("SECRETS_GCP_SEPARATOR", "--"), ("SECRETS_PREFIX", "myapp")],
    );
    assert_eq!(
        text(
            &p.fetch("database/password", &Version::Current)
                .await
                .unwrap()
        ),
        "sep-pw-4444"
    );
    // A path that has no valid id is refused naming it, never read as
    // some other id.
    for (path, why) in [
        ("database.password", "only letters, digits"),
        ("a//b", "empty segment"),
    ] {
        let e = p.fetch(path, &Version::Current).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert!(
            e.to_string()
                .contains(&format!("the path '{path}' has no valid secret id")),
            "{e}"
        );
        assert!(e.to_string().contains(why), "{e}");
        assert!(e.to_string().contains(&p_id), "{e}");
        assert_eq!(e.http_status(), None, "refused before any call: {e}");
    }
}

#[tokio::test]
async fn not_found_falls_through_to_env_and_the_error_names_gcp_and_the_id() {
    let endpoint = support::gcp_endpoint();
    let p_id = project("miss");
    support::gcp_seed(&endpoint, &p_id, "only_in_gcp", &[b"from-gcp-5555"]);
    let config = Config::from_vars(vars(
        &endpoint,
        &p_id,
        &[
            ("SECRETS_PROVIDERS", "gcp,env"),
            ("FEATURE_FLAG_KEY", "from-env-5555"),
        ],
    ))
    .unwrap();
    let manager = SecretsManager::from_config(&config).unwrap();
    assert_eq!(manager.provider_names(), vec!["gcp", "env"]);
    assert_eq!(
        manager
            .get_secret("only/in/gcp")
            .await
            .unwrap()
            .expose_secret(),
        "from-gcp-5555"
    );
    assert_eq!(
        manager
            .get_secret("feature/flag-key")
            .await
            .unwrap()
            .expose_secret(),
        "from-env-5555"
    );
    let e = manager.get_secret("database/url").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!(
            "secret 'database/url' not found: gcp: not found (gcp secret database_url (version latest) in project {p_id}); env: not found (DATABASE_URL)"
        )
    );
    assert_eq!(e.outcomes()[0].code.as_deref(), Some("NOT_FOUND"));
    assert_eq!(e.outcomes()[0].http_status, Some(404));
}

#[tokio::test]
async fn a_named_instance_reads_its_own_project_and_prefix() {
    let endpoint = support::gcp_endpoint();
    let main = project("main");
    let dr = project("dr");
    support::gcp_seed(&endpoint, &main, "app_db", &[b"main-6666"]);
    support::gcp_seed(&endpoint, &dr, "drapp_db", &[b"dr-6666"]);
    let config = Config::from_vars(vars(
        &endpoint,
        &main,
        &[
            ("SECRETS_PROVIDERS", "dr=gcp,gcp"),
            ("SECRETS_GCP_PREFIX", "app"),
            ("SECRETS_DR_GCP_PROJECT", &dr),
            ("SECRETS_DR_GCP_PREFIX", "drapp"),
        ],
    ))
    .unwrap();
    let manager = SecretsManager::from_config(&config).unwrap();
    assert_eq!(
        manager.get_secret("db").await.unwrap().expose_secret(),
        "dr-6666"
    );
    assert_eq!(manager.provider_names(), vec!["dr", "gcp"]);
}

#[tokio::test]
async fn list_returns_paths_under_the_prefix_and_health_answers() {
    let endpoint = support::gcp_endpoint();
    let p_id = project("list");
    for id in [
        "app_db_url",
        "app_db_password",
        "app_cache_url",
        "other_db_url",
        "appx_db",
    ] {
        support::gcp_seed(&endpoint, &p_id, id, &[b"listed-value-7777"]);
    }
    let p = provider(&endpoint, &p_id, &[("SECRETS_GCP_PREFIX", "app")]);
    assert_eq!(
        p.list("db/").await.unwrap(),
        vec!["db/password".to_owned(), "db/url".to_owned()]
    );
    // Without a listing prefix, the rest of the id stays as it is: `_`
    // may have been `/` or `_`, and both read the same secret.
    let all = p.list("").await.unwrap();
    assert_eq!(all, vec!["cache_url", "db_password", "db_url"]);
    for path in &all {
        assert_eq!(
            text(&p.fetch(path, &Version::Current).await.unwrap()),
            "listed-value-7777",
            "{path}"
        );
    }
    assert_eq!(p.list("nothing/").await.unwrap(), Vec::<String>::new());
    assert_eq!(p.list("bad.prefix").await.unwrap(), Vec::<String>::new());
    p.health().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_naming_gcp_and_the_chain_falls_through() {
    let port = support::free_port();
    let dead = format!("http://127.0.0.1:{port}");
    let p = provider(
        &dead,
        "p-dead",
        &[("SECRETS_GCP_CONNECT_TIMEOUT_MS", "300")],
    );
    let e = p.fetch("down/key", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "unavailable (gcp secret down_key (version latest) in project p-dead: cannot connect to 127.0.0.1:{port})"
        )
    );
    assert_eq!(e.provider(), Some("gcp"));
    assert_eq!(p.health().await.unwrap_err().kind(), ErrorKind::Unavailable);
    support::fallback::assert_falls_back_to_env(p, "env-fallback-8888").await;
}

// ---------------------------------------------------------------------------
// A loopback server of the test's own
// ---------------------------------------------------------------------------

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    headers: String,
    body: String,
}

type Answer = Box<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

/// A loopback HTTP server that answers each request with `answer` (one
/// request a connection, at most 200) and records what it was sent.
fn fake_server(answer: Answer) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let mut headers = String::new();
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push_str(&h);
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let req = Seen {
                line: line.trim_end().to_owned(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let (status, reply) = answer(&req);
            log.lock().unwrap().push(req);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (endpoint, seen)
}

fn rpc_error(code: u16, status: &str, message: &str) -> String {
    serde_json::json!({"error": {"code": code, "message": message, "status": status}}).to_string()
}

fn crc32c(data: &[u8]) -> u32 {
    // Bitwise CRC-32C, independent of the provider's table.
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn access_body(name: &str, data: &[u8], crc: Option<u32>) -> String {
    let mut payload = serde_json::json!({"data": STANDARD.encode(data)});
    if let Some(c) = crc {
        payload["dataCrc32c"] = serde_json::Value::String(c.to_string());
    }
    serde_json::json!({"name": name, "payload": payload}).to_string()
}

#[tokio::test]
async fn denials_are_access_denied_and_quota_and_outages_unavailable() {
    for (code, status, kind) in [
        (403, "PERMISSION_DENIED", ErrorKind::AccessDenied),
        (401, "UNAUTHENTICATED", ErrorKind::AccessDenied),
        (429, "RESOURCE_EXHAUSTED", ErrorKind::Unavailable),
        (503, "UNAVAILABLE", ErrorKind::Unavailable),
    ] {
        let (endpoint, _) = fake_server(Box::new(move |_| {
            (
                code,
                rpc_error(
                    code,
                    status,
                    "Permission 'secretmanager.versions.access' denied for resource 'projects/p/secrets/app_db/versions/latest' (or it may not exist). canary-not-a-value",
                ),
            )
        }));
        let p = provider(&endpoint, "p-denied", &[("SECRETS_GCP_PREFIX", "app")]);
        let e = p.fetch("db", &Version::Current).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{status}: {e}");
        assert_eq!(
            (e.code(), e.http_status()),
            (Some(status), Some(code)),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("gcp secret app_db (version latest) in project p-denied"),
            "{e}"
        );
        assert!(!format!("{e} {e:?}").contains("canary"), "{e:?}");
        if code == 403 {
            assert!(
                e.to_string()
                    .contains("missing secretmanager.versions.access"),
                "{e}"
            );
            // The chain moves on past a denial (unless told to stop).
            let manager = SecretsManager::builder()
                .provider(p)
                .provider(EnvProvider::from_vars([("DB", "env-after-denial")]))
                .build()
                .unwrap();
            assert_eq!(
                manager.get_secret("db").await.unwrap().expose_secret(),
                "env-after-denial"
            );
        }
    }
}

/// A warm cache serves the last value while Secret Manager is down (503),
/// until the stale window ends; then the error names `gcp`.
#[tokio::test]
async fn a_cached_value_is_served_stale_while_the_api_is_down() {
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = down.clone();
    let (endpoint, _) = fake_server(Box::new(move |_| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            (
                503,
                rpc_error(503, "UNAVAILABLE", "The service is currently unavailable."),
            )
        } else {
            (
                200,
                access_body("projects/1/secrets/db/versions/1", b"stale-gcp-value", None),
            )
        }
    }));
    let (clock, time) = secret_chain::Clock::mock();
    let m = SecretsManager::builder()
        .provider(provider(&endpoint, "p-stale", &[]))
        .cache_ttl(std::time::Duration::from_secs(60))
        .ttl_jitter(0.0)
        .refresh_ahead(false)
        .max_stale(std::time::Duration::from_secs(600))
        .retries(
            0,
            std::time::Duration::from_millis(10),
            std::time::Duration::from_millis(100),
        )
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(
        m.get_secret("db").await.unwrap().expose_secret(),
        "stale-gcp-value"
    );
    down.store(true, std::sync::atomic::Ordering::SeqCst);
    time.advance(std::time::Duration::from_secs(61));
    assert_eq!(
        m.get_secret("db").await.unwrap().expose_secret(),
        "stale-gcp-value"
    );
    assert!(m.stats().stale_served >= 1);
    time.advance(std::time::Duration::from_secs(601));
    let e = m.get_secret("db").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        e.to_string()
            .starts_with("secret 'db' unavailable: gcp: unavailable (gcp secret db"),
        "{e}"
    );
    assert_eq!(e.outcomes()[0].code.as_deref(), Some("UNAVAILABLE"));
    assert!(!e.to_string().contains("stale-gcp"), "{e}");
}

#[tokio::test]
async fn the_payload_checksum_is_verified_and_a_mismatch_is_never_a_value() {
    let value = b"crc-checked-9999";
    let name = "projects/123/secrets/db/versions/4";
    for (crc, ok) in [
        (Some(crc32c(value)), true),
        (Some(crc32c(value) ^ 0x10), false),
    ] {
        let body = access_body(name, value, crc);
        let (endpoint, seen) = fake_server(Box::new(move |_| (200, body.clone())));
        let p = provider(&endpoint, "p-crc", &[]);
        let got = p.fetch("db", &Version::Current).await;
        if ok {
            let v = got.unwrap();
            assert_eq!(text(&v), "crc-checked-9999");
            assert_eq!(v.metadata().id(), Some(name));
            assert_eq!(v.metadata().version_id(), Some("4"));
        } else {
            let e = got.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unavailable);
            assert_eq!(e.code(), Some("DATA_LOSS"));
            assert!(
                e.to_string().contains("does not match its dataCrc32c"),
                "{e}"
            );
            assert!(!format!("{e:?}").contains("crc-checked"), "{e:?}");
        }
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0].line,
            "GET /v1/projects/p-crc/secrets/db/versions/latest:access HTTP/1.1"
        );
        assert!(
            !seen[0]
                .headers
                .to_ascii_lowercase()
                .contains("authorization"),
            "an emulator gets no token: {}",
            seen[0].headers
        );
    }
}

/// A stage is a GCP version alias, read like a version number.
#[tokio::test]
async fn a_stage_reads_the_version_alias() {
    let (endpoint, seen) = fake_server(Box::new(|_| {
        (
            200,
            access_body("projects/1/secrets/db/versions/7", b"alias-value", None),
        )
    }));
    let p = provider(&endpoint, "p-alias", &[]);
    let v = p.fetch("db", &Version::Stage("blue".into())).await.unwrap();
    assert_eq!(text(&v), "alias-value");
    assert_eq!(v.metadata().version_id(), Some("7"));
    assert_eq!(v.metadata().stages(), ["blue"]);
    assert_eq!(
        seen.lock().unwrap()[0].line,
        "GET /v1/projects/p-alias/secrets/db/versions/blue:access HTTP/1.1"
    );
    let e = p
        .fetch("db", &Version::Stage("7".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("starts with a letter"), "{e}");
    assert_eq!(seen.lock().unwrap().len(), 1, "refused before any call");
}

/// The listing asks the API to filter and follows page tokens.
#[tokio::test]
async fn list_sends_the_filter_and_follows_pages() {
    let (endpoint, seen) = fake_server(Box::new(|req| {
        let body = if req.line.contains("pageToken=next%2D1") {
            r#"{"secrets":[{"name":"projects/p/secrets/app_db_b"}]}"#
        } else {
            r#"{"secrets":[{"name":"projects/p/secrets/app_db_a"},{"name":"projects/p/secrets/xapp_db_c"}],"nextPageToken":"next-1"}"#
        };
        (200, body.to_owned())
    }));
    let p = provider(&endpoint, "p-pages", &[("SECRETS_GCP_PREFIX", "app")]);
    assert_eq!(p.list("db/").await.unwrap(), vec!["db/a", "db/b"]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0].line.starts_with(
            "GET /v1/projects/p-pages/secrets?pageSize=250&filter=name%3Aapp%5Fdb%5F "
        ),
        "{}",
        seen[0].line
    );
}

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

/// A token endpoint that hands out `ya29.t1`, `ya29.t2`, ... and an API
/// that accepts only the newest one: issuing a new token revokes the
/// others, as a rotation or a revocation would.
struct Tokens {
    endpoint: String,
    api: String,
    token_requests: Arc<Mutex<Vec<Seen>>>,
    api_requests: Arc<Mutex<Vec<Seen>>>,
}

fn token_endpoint_and_api(check: fn(&Seen)) -> Tokens {
    let newest = Arc::new(Mutex::new(0u32));
    let issued = newest.clone();
    let (endpoint, token_requests) = fake_server(Box::new(move |req| {
        check(req);
        let mut n = issued.lock().unwrap();
        *n += 1;
        (
            200,
            format!(r#"{{"access_token":"ya29.t{n}","expires_in":3600,"token_type":"Bearer"}}"#),
        )
    }));
    let (api, api_requests) = fake_server(Box::new(move |req| {
        let want = format!("authorization: bearer ya29.t{}", newest.lock().unwrap());
        if req.headers.to_ascii_lowercase().contains(&want) {
            (
                200,
                access_body(
                    "projects/1/secrets/db/versions/1",
                    b"token-read-value",
                    None,
                ),
            )
        } else {
            (
                401,
                rpc_error(
                    401,
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials.",
                ),
            )
        }
    }));
    Tokens {
        endpoint,
        api,
        token_requests,
        api_requests,
    }
}

#[tokio::test]
async fn an_authorized_user_file_gets_a_token_once_and_again_after_a_401() {
    let t = token_endpoint_and_api(|req| {
        assert_eq!(req.line, "POST /token HTTP/1.1");
        assert_eq!(
            form_value(&req.body, "grant_type").as_deref(),
            Some("refresh_token")
        );
        assert_eq!(
            form_value(&req.body, "refresh_token").as_deref(),
            Some("rt-test-1")
        );
        assert_eq!(
            form_value(&req.body, "client_secret").as_deref(),
            Some("cs-test-1")
        );
        assert_eq!(form_value(&req.body, "client_id").as_deref(), Some("cid"));
    });
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("user.json");
    std::fs::write(
        &key,
        format!(
            r#"{{"type":"authorized_user","client_id":"cid","client_secret":"cs-test-1","refresh_token":"rt-test-1","token_uri":"{}/token"}}"#,
            t.endpoint
        ),
    )
    .unwrap();
    let auth = [
        ("SECRETS_GCP_AUTH", "adc"),
        ("GOOGLE_APPLICATION_CREDENTIALS", key.to_str().unwrap()),
    ];
    let p = provider(&t.api, "p-user", &auth);
    for _ in 0..3 {
        assert_eq!(
            text(&p.fetch("db", &Version::Current).await.unwrap()),
            "token-read-value"
        );
    }
    assert_eq!(
        t.token_requests.lock().unwrap().len(),
        1,
        "the token is cached"
    );
    assert_eq!(t.api_requests.lock().unwrap().len(), 3);

    // Someone else gets a token: the cached one is now refused (401),
    // dropped, and the call sent once more with a new one.
    let r = support::http_request("POST", &t.endpoint, "/token", &[], Some(b"grant_type=refresh_token&refresh_token=rt-test-1&client_secret=cs-test-1&client_id=cid")).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        text(&p.fetch("db", &Version::Current).await.unwrap()),
        "token-read-value"
    );
    assert_eq!(t.token_requests.lock().unwrap().len(), 3);
    assert_eq!(
        t.api_requests.lock().unwrap().len(),
        5,
        "one refused, one sent again"
    );
    let d = format!("{p:?}");
    assert!(
        !d.contains("ya29") && !d.contains("rt-test") && !d.contains("cs-test"),
        "{d}"
    );

    // A token endpoint that refuses: access denied, naming the file and
    // the OAuth code, never the refresh token.
    let (refusing, _) = fake_server(Box::new(|_| {
        (
            400,
            r#"{"error":"invalid_grant","error_description":"Bad Request rt-test-2"}"#.to_owned(),
        )
    }));
    std::fs::write(
        &key,
        format!(
            r#"{{"type":"authorized_user","client_id":"cid","client_secret":"cs-test-2","refresh_token":"rt-test-2","token_uri":"{refusing}/token"}}"#
        ),
    )
    .unwrap();
    let p = provider(&t.api, "p-user", &auth);
    let e = p.fetch("db", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    assert_eq!(
        (e.code(), e.http_status()),
        (Some("invalid_grant"), Some(400))
    );
    assert!(
        e.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains("rt-test-2"), "{e:?}");
}

#[tokio::test]
async fn the_metadata_server_gives_the_token_when_there_is_no_file() {
    let t = token_endpoint_and_api(|req| {
        assert_eq!(
            req.line,
            "GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1"
        );
        assert!(
            req.headers
                .to_ascii_lowercase()
                .contains("metadata-flavor: google"),
            "{}",
            req.headers
        );
    });
    let host = t.endpoint.trim_start_matches("http://").to_owned();
    let empty_home = tempfile::tempdir().unwrap();
    let p = provider(
        &t.api,
        "p-meta",
        &[
            ("SECRETS_GCP_AUTH", "adc"),
            ("GCE_METADATA_HOST", &host),
            ("HOME", empty_home.path().to_str().unwrap()),
        ],
    );
    assert!(format!("{p:?}").contains("metadata server"), "{p:?}");
    assert_eq!(
        text(&p.fetch("db", &Version::Current).await.unwrap()),
        "token-read-value"
    );
    assert_eq!(
        text(&p.fetch("db", &Version::Current).await.unwrap()),
        "token-read-value"
    );
    assert_eq!(t.token_requests.lock().unwrap().len(), 1);

    // Off GCP, the metadata server does not answer: unavailable, naming it.
    let dead = format!("127.0.0.1:{}", support::free_port());
    let p = provider(
        &t.api,
        "p-meta",
        &[
            ("SECRETS_GCP_AUTH", "adc"),
            ("GCE_METADATA_HOST", &dead),
            ("HOME", empty_home.path().to_str().unwrap()),
        ],
    );
    let e = p.fetch("db", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        e.to_string().contains(&format!(
            "gcp access token from the metadata server at {dead}"
        )),
        "{e}"
    );
}

/// An RSA key made by the test venv's `cryptography` (a moto dependency):
/// the PKCS#8 PEM and the public key as PKCS#1 DER.
fn rsa_key() -> (String, Vec<u8>) {
    let moto = support::moto_bin();
    let python = std::path::Path::new(&moto).with_file_name("python");
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(
            "from cryptography.hazmat.primitives.asymmetric import rsa\n\
             from cryptography.hazmat.primitives import serialization as s\n\
             k = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n\
             print(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode(), end='')\n\
             print('|' + k.public_key().public_bytes(s.Encoding.DER, s.PublicFormat.PKCS1).hex())",
        )
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (pem, hex) = text.trim().split_once('|').unwrap();
    let der = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    (pem.to_owned(), der)
}

#[tokio::test]
async fn a_service_account_key_signs_a_jwt_that_the_public_key_verifies() {
    let (pem, public) = rsa_key();
    let (endpoint, token_reqs) = fake_server(Box::new(move |req| {
        let assertion = form_value(&req.body, "assertion").unwrap_or_default();
        let ok = form_value(&req.body, "grant_type").as_deref()
            == Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
            && verify(&assertion, &public);
        if ok {
            (
                200,
                r#"{"access_token":"ya29.t1","expires_in":3600}"#.to_owned(),
            )
        } else {
            (400, r#"{"error":"invalid_grant"}"#.to_owned())
        }
    }));
    let (api, _) = fake_server(Box::new(|req| {
        if req
            .headers
            .to_ascii_lowercase()
            .contains("authorization: bearer ya29.t1")
        {
            (
                200,
                access_body("projects/1/secrets/db/versions/1", b"sa-read-value", None),
            )
        } else {
            (401, rpc_error(401, "UNAUTHENTICATED", "no"))
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sa.json");
    let file = serde_json::json!({
        "type": "service_account",
        "project_id": "p-sa",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": "reader@p-sa.iam.gserviceaccount.com",
        "token_uri": format!("{endpoint}/token"),
    });
    std::fs::write(&key, file.to_string()).unwrap();
    let p = provider(
        &api,
        "p-sa",
        &[
            ("SECRETS_GCP_AUTH", "adc"),
            ("GOOGLE_APPLICATION_CREDENTIALS", key.to_str().unwrap()),
        ],
    );
    assert!(
        format!("{p:?}").contains("service account reader@p-sa.iam.gserviceaccount.com"),
        "{p:?}"
    );
    assert!(!format!("{p:?}").contains("PRIVATE KEY"));
    assert_eq!(
        text(&p.fetch("db", &Version::Current).await.unwrap()),
        "sa-read-value"
    );
    let seen = token_reqs.lock().unwrap();
    assert_eq!(seen.len(), 1);
    // The claims a token endpoint checks.
    let assertion = form_value(&seen[0].body, "assertion").unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(assertion.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "reader@p-sa.iam.gserviceaccount.com");
    assert_eq!(claims["aud"], format!("{endpoint}/token"));
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/cloud-platform"
    );
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
}

/// The value of `key` in a form body (`a=1&b=x%2Dy`), decoded.
fn form_value(body: &str, key: &str) -> Option<String> {
    let raw = body
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?;
    let bytes = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(raw.get(i + 1..i + 3)?, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `jwt` is signed with RS256 by the key whose public half is
/// `public` (PKCS#1 DER), with the key id of the key file.
fn verify(jwt: &str, public: &[u8]) -> bool {
    let Some((signed, sig)) = jwt.rsplit_once('.') else {
        return false;
    };
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    let header: serde_json::Value = match signed
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice(&h).ok())
    {
        Some(h) => h,
        None => return false,
    };
    header["alg"] == "RS256"
        && header["kid"] == "kid-1"
        && ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            public,
        )
        .verify(signed.as_bytes(), &sig)
        .is_ok()
}

#[test]
fn no_log_line_error_or_debug_output_holds_a_value_even_at_trace_level() {
    let endpoint = support::gcp_endpoint();
    let p_id = project("leak");
    let value = format!("leak-canary-{}", support::unique_name("v"));
    let json_value = format!(r#"{{"password":"{value}"}}"#);
    support::gcp_seed(&endpoint, &p_id, "json", &[json_value.as_bytes()]);
    support::gcp_seed(&endpoint, &p_id, "plain", &[value.as_bytes()]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A mismatching checksum over the value, from the test's own server.
    let body = access_body(
        "projects/1/secrets/plain/versions/1",
        value.as_bytes(),
        Some(1),
    );
    let (bad_crc, _) = fake_server(Box::new(move |_| (200, body.clone())));

    let captured = support::capture::Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let mut shown = String::new();
    support::capture::with_subscriber(subscriber, || {
        rt.block_on(async {
            let p = provider(&endpoint, &p_id, &[]);
            shown.push_str(&format!("{p:?}\n"));
            let fetched = p.fetch("plain", &Version::Current).await.unwrap();
            assert_eq!(text(&fetched), value);
            shown.push_str(&format!("{fetched:?}\n"));
            for answer in p.fetch_many(&["json", "plain", "missing"]).await {
                shown.push_str(&format!("{answer:?}\n"));
            }
            shown.push_str(&format!("{:?}\n", p.list("").await.unwrap()));
            let e = provider(&bad_crc, "p-leak", &[])
                .fetch("plain", &Version::Current)
                .await
                .unwrap_err();
            shown.push_str(&format!("{e} {e:?}\n"));
            let manager = SecretsManager::builder().provider(p).build().unwrap();
            let got = manager.get_secret("json#password").await.unwrap();
            assert_eq!(got.expose_secret(), value);
            for path in ["json#user", "plain#field"] {
                let e = manager.get_secret(path).await.unwrap_err();
                shown.push_str(&format!("{e} {e:?}\n"));
            }
            shown.push_str(&format!("{manager:?}\n"));
        });
    });
    assert!(
        !shown.contains(&value),
        "an error or Debug output holds the value:\n{shown}"
    );
    assert!(
        shown.contains("not found (gcp secret missing"),
        "the miss was shown:\n{shown}"
    );
    assert!(
        shown.contains("dataCrc32c"),
        "the checksum error was shown:\n{shown}"
    );
    let out = captured.text();
    assert!(
        out.contains("secret fetch"),
        "the audit event was not captured:\n{out}"
    );
    assert!(!out.contains(&value), "a log line holds the value");
}
