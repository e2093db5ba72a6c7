//! Role assumption (`SECRETS_AWS_ROLE_ARN`) against moto's STS, which the
//! shared moto server serves on the same port as Secrets Manager.
//!
//! Recording proxies in front of moto (one as STS's endpoint, one as
//! Secrets Manager's) show which credentials signed each call: the base
//! keys sign `AssumeRole` only, the key id and session token that
//! `AssumeRole` returned sign the Secrets Manager calls. A refused role
//! comes from a loopback stub answering as STS does (moto assumes any
//! role, even a user's ARN).
//!
//! Run with `scripts/test aws_role`.

#![cfg(feature = "aws")]

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_secretsmanager::Client;
use secret_chain::providers::aws::AwsProvider;
use secret_chain::providers::{EnvProvider, Provider, SecretData};
use secret_chain::settings::Settings;
use secret_chain::{ErrorKind, ExposeSecret, SecretsManager, Version};

use crate::support::aws_proxy::{AwsProxy, Mode, xml_field};
use crate::support::{self, seed_client};

const ROLE: &str = "arn:aws:iam::123456789012:role/x";
const GET: &str = "secretsmanager.GetSecretValue";
/// The base secret key: moto accepts any, so it can be a canary.
const BASE_SECRET: &str = "base-s3cr3t-key-canary";
const EXTERNAL_ID: &str = "ext-id-s3cr3t-canary";

fn vars(sm: &str, sts: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    support::aws_vars(
        &[
            ("SECRETS_PROVIDERS", "aws"),
            ("SECRETS_AWS_ENDPOINT", sm),
            ("SECRETS_AWS_STS_ENDPOINT", sts),
            ("SECRETS_AWS_ROLE_ARN", ROLE),
            ("SECRETS_AWS_TIMEOUT_MS", "5000"),
        ],
        &[&[("AWS_SECRET_ACCESS_KEY", BASE_SECRET)][..], extra].concat(),
    )
}

fn provider(sm: &str, sts: &str, extra: &[(&str, &str)]) -> AwsProvider {
    AwsProvider::from_settings(&Settings::from_vars(vars(sm, sts, extra))).unwrap()
}

async fn create(client: &Client, id: &str, value: &str) {
    client
        .create_secret()
        .name(id)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "seeding {id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        });
}

async fn read(p: &AwsProvider, id: &str) -> String {
    match p.fetch(id, &Version::Current).await.unwrap().data() {
        SecretData::Text(s) => s.expose_secret().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// STS, and Secrets Manager, each behind a recording proxy to moto;
/// `sts_rewrite` edits the `AssumeRole` request on its way.
async fn proxies(sts_rewrite: Option<(&str, &str)>) -> (AwsProxy, AwsProxy) {
    let moto = support::aws_endpoint();
    let sts = AwsProxy::start(Mode::Forward {
        upstream: moto.clone(),
        rewrite: sts_rewrite.map(|(a, b)| (a.to_owned(), b.to_owned())),
    })
    .await;
    let sm = AwsProxy::start(Mode::Forward {
        upstream: moto,
        rewrite: None,
    })
    .await;
    (sts, sm)
}

/// Seconds from now to an STS `Expiration` (`2026-12-02T16:00:39.076006Z`).
fn expires_in(expiration: &str) -> i64 {
    let at = aws_smithy_types::DateTime::from_str(
        expiration,
        aws_smithy_types::date_time::Format::DateTime,
    )
    .unwrap_or_else(|e| panic!("{expiration}: {e}"));
    let now = aws_smithy_types::DateTime::from(SystemTime::now());
    at.secs() - now.secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assumed_roles_credentials_sign_the_secrets_manager_calls() {
    let id = support::unique_name("role-read");
    create(&seed_client(&support::aws_endpoint()), &id, "v-assumed-1").await;
    let (sts, sm) = proxies(None).await;
    let p = provider(
        &sm.endpoint,
        &sts.endpoint,
        &[
            ("SECRETS_AWS_ROLE_DURATION_SECS", "900"),
            ("SECRETS_AWS_EXTERNAL_ID", EXTERNAL_ID),
        ],
    );
    assert_eq!(read(&p, &id).await, "v-assumed-1");
    assert_eq!(read(&p, &id).await, "v-assumed-1");

    let assumed = sts.of("AssumeRole");
    assert_eq!(
        assumed.len(),
        1,
        "one session serves both reads: {assumed:?}"
    );
    let call = &assumed[0];
    assert_eq!(call.access_key_id, support::AWS_TEST_ACCESS_KEY_ID);
    let external = format!("ExternalId={EXTERNAL_ID}");
    for param in [
        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fx",
        "RoleSessionName=secret-chain",
        "DurationSeconds=900",
        external.as_str(),
    ] {
        assert!(
            call.request_body.contains(param),
            "{param} in {}",
            call.request_body
        );
    }
    assert_eq!(sts.seen().len(), 1, "STS's endpoint gets nothing else");
    // moto honours DurationSeconds: a 15-minute session.
    let expiration = xml_field(&call.response_body, "Expiration").unwrap();
    let left = expires_in(&expiration);
    assert!((880..=900).contains(&left), "expires in {left} s");

    let key_id = xml_field(&call.response_body, "AccessKeyId").unwrap();
    let token = xml_field(&call.response_body, "SessionToken").unwrap();
    assert_ne!(key_id, support::AWS_TEST_ACCESS_KEY_ID);
    let gets = sm.of(GET);
    assert_eq!(gets.len(), 2);
    for get in &gets {
        assert_eq!(get.access_key_id, key_id, "signed with the assumed key");
        assert_eq!(get.session_token, token, "with the assumed session");
    }
    assert!(
        sm.of("AssumeRole").is_empty(),
        "STS is not called on Secrets Manager's endpoint"
    );
}

/// STS (and so `SECRETS_AWS_ROLE_DURATION_SECS`) grants 900 s at least,
/// and a session is replaced 30 to 60 s before it expires: waiting for
/// that would take 14 minutes. moto honours any `DurationSeconds`, so
/// the proxy asks for `020` instead of `900` (the same length; moto does
/// not check signatures) and moto issues credentials that expire in 20 s,
/// inside the refresh window from the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_near_their_expiry_are_assumed_again_before_it() {
    let id = support::unique_name("role-refresh");
    create(&seed_client(&support::aws_endpoint()), &id, "v-refresh").await;
    let (sts, sm) = proxies(Some(("DurationSeconds=900", "DurationSeconds=020"))).await;
    let p = provider(
        &sm.endpoint,
        &sts.endpoint,
        &[("SECRETS_AWS_ROLE_DURATION_SECS", "900")],
    );
    assert_eq!(read(&p, &id).await, "v-refresh");
    assert_eq!(read(&p, &id).await, "v-refresh");

    let assumed = sts.of("AssumeRole");
    assert_eq!(assumed.len(), 2, "the second read assumed the role again");
    let left = expires_in(&xml_field(&assumed[0].response_body, "Expiration").unwrap());
    assert!(
        (1..=20).contains(&left),
        "the first session had not expired yet: {left} s left"
    );
    let keys: Vec<String> = assumed
        .iter()
        .map(|a| xml_field(&a.response_body, "AccessKeyId").unwrap())
        .collect();
    assert_ne!(keys[0], keys[1], "moto issues a new key each time");
    let signed: Vec<String> = sm.of(GET).into_iter().map(|g| g.access_key_id).collect();
    assert_eq!(
        signed, keys,
        "each read signed with the session current then"
    );
}

const ACCESS_DENIED: &str = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:iam::123456789012:user/app is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/x</Message>
  </Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_role_is_access_denied_naming_the_role_and_falls_through() {
    let refusing = AwsProxy::start(Mode::Answer {
        status: "403 Forbidden".into(),
        body: ACCESS_DENIED.into(),
    })
    .await;
    let (_, sm) = proxies(None).await;
    let p = provider(&sm.endpoint, &refusing.endpoint, &[]);
    let e = p.fetch("db", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    let shown = e.to_string();
    assert!(shown.contains(&format!("assuming role {ROLE}")), "{shown}");
    assert!(
        shown.contains("AccessDenied") && shown.contains("(secret id db)"),
        "{shown}"
    );
    assert_eq!(e.code(), Some("AccessDenied"));
    assert_eq!(e.http_status(), Some(403));
    assert!(
        sm.seen().is_empty(),
        "no Secrets Manager call without the role"
    );

    let manager = SecretsManager::builder()
        .provider(provider(&sm.endpoint, &refusing.endpoint, &[]))
        .provider(EnvProvider::from_vars([("DB", "from-env")]))
        .build()
        .unwrap();
    assert_eq!(
        manager.get_secret("db").await.unwrap().expose_secret(),
        "from-env"
    );
    let e = manager.get_secret("other").await.unwrap_err();
    let outcome = &e.outcomes()[0];
    assert_eq!(
        (outcome.provider.as_str(), outcome.kind),
        ("aws", ErrorKind::AccessDenied)
    );
    assert!(outcome.detail.contains(ROLE), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sts_is_unavailable_naming_its_endpoint() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (_, sm) = proxies(None).await;
    let p = provider(&sm.endpoint, &format!("http://127.0.0.1:{closed}"), &[]);
    let e = p.fetch("db", &Version::Current).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("cannot connect to AWS STS at 127.0.0.1:{closed} (assuming role {ROLE}): connection refused")),
        "{shown}"
    );
    assert!(
        !shown.contains(&sm.endpoint[7..]),
        "not Secrets Manager's endpoint: {shown}"
    );
}

/// No secret key, session token or external id in any log line (the
/// SDK's at TRACE included), error or `Debug`.
#[test]
fn no_log_line_or_error_holds_a_key_a_session_token_or_the_external_id() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let id = support::unique_name("role-leak");
    let (sts, sm) = rt.block_on(async {
        create(&seed_client(&support::aws_endpoint()), &id, "v-leak").await;
        proxies(None).await
    });
    let refusing = rt.block_on(AwsProxy::start(Mode::Answer {
        status: "403 Forbidden".into(),
        body: ACCESS_DENIED.into(),
    }));
    let extra = [("SECRETS_AWS_EXTERNAL_ID", EXTERNAL_ID)];
    let (captured, guard) = support::capture::capture_thread_logs();
    let shown = rt.block_on(async {
        let p = provider(&sm.endpoint, &sts.endpoint, &extra);
        assert_eq!(read(&p, &id).await, "v-leak");
        let denied = provider(&sm.endpoint, &refusing.endpoint, &extra);
        let e = denied.fetch(&id, &Version::Current).await.unwrap_err();
        format!("{e} {e:?} {p:?} {denied:?}")
    });
    drop(guard);
    let logs = captured.text();
    assert!(
        logs.contains("AssumeRole"),
        "the SDK's events were not captured:\n{logs}"
    );
    let response = &sts.of("AssumeRole")[0].response_body;
    let assumed_secret = xml_field(response, "SecretAccessKey").unwrap();
    let assumed_token = xml_field(response, "SessionToken").unwrap();
    for (what, secret) in [
        ("the base secret key", BASE_SECRET),
        ("the external id", EXTERNAL_ID),
        ("the assumed secret key", assumed_secret.as_str()),
        ("the session token", assumed_token.as_str()),
    ] {
        assert!(!logs.contains(secret), "a log line holds {what}");
        assert!(
            !shown.contains(secret),
            "an error or Debug holds {what}: {shown}"
        );
    }
    assert!(shown.contains("external_id_set: true"), "{shown}");
}

/// The `ssm` provider reads the role from the same settings, through the
/// same client code.
#[cfg(feature = "ssm")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ssm_provider_reads_with_the_assumed_role_too() {
    use aws_sdk_ssm::types::ParameterType;
    use secret_chain::providers::ssm::SsmProvider;

    let name = format!("/{}/db", support::unique_name("role-ssm"));
    support::ssm_seed_client(&support::aws_endpoint())
        .put_parameter()
        .name(&name)
        .value("v-ssm-role")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let (sts, ssm) = proxies(None).await;
    let mut vars = vars("http://127.0.0.1:1", &sts.endpoint, &[]);
    vars.insert("SECRETS_SSM_ENDPOINT".into(), ssm.endpoint.clone());
    let p = SsmProvider::from_settings(&Settings::from_vars(vars)).unwrap();
    let value = p.fetch(&name, &Version::Current).await.unwrap();
    match value.data() {
        SecretData::Text(s) => assert_eq!(s.expose_secret(), "v-ssm-role"),
        other => panic!("expected text, got {other:?}"),
    }
    let assumed = sts.of("AssumeRole");
    assert_eq!(assumed.len(), 1);
    let key_id = xml_field(&assumed[0].response_body, "AccessKeyId").unwrap();
    let gets = ssm.of("AmazonSSM.GetParameter");
    assert_eq!(gets.len(), 1, "{:?}", ssm.seen());
    assert_eq!(gets[0].access_key_id, key_id);
}
