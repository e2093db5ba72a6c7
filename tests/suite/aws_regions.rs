//! Replicated secrets across regions (`SECRETS_AWS_REGIONS`) against two
//! private moto servers, one per region (`SECRETS_AWS_ENDPOINT` as
//! `REGION=URL,...`). The replicas hold different values here so that
//! each read shows which region answered.
//!
//! Run with `scripts/test aws_regions`.

#![cfg(feature = "aws")]

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use secret_chain::providers::aws::AwsProvider;
use secret_chain::providers::{Provider, SecretData};
use secret_chain::settings::Settings;
use secret_chain::{ErrorKind, ExposeSecret, Version};

use crate::support::aws_proxy::{AwsProxy, Mode};
use crate::support::{self, ServerGuard};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

/// A client for seeding `endpoint` in `region` (moto keeps each region's
/// secrets apart, by the region a request is signed for).
fn seed(endpoint: &str, region: &str) -> Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .build();
    Client::from_conf(conf)
}

/// Creates `id` with `value`; its ARN.
async fn create(client: &Client, id: &str, value: &str) -> String {
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
        })
        .arn
        .expect("moto returns the ARN")
}

fn vars(east: &str, west: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let endpoints = format!("{EAST}={east},{WEST}={west}");
    let mut v = support::aws_vars(
        &[
            ("SECRETS_PROVIDERS", "aws"),
            ("SECRETS_AWS_REGIONS", "us-east-1,us-west-2"),
        ],
        extra,
    );
    v.insert("SECRETS_AWS_ENDPOINT".into(), endpoints);
    v
}

fn provider(east: &str, west: &str, extra: &[(&str, &str)]) -> AwsProvider {
    AwsProvider::from_settings(&Settings::from_vars(vars(east, west, extra))).unwrap()
}

async fn read(p: &AwsProvider, id: &str) -> Result<String, secret_chain::Error> {
    let v = p.fetch(id, &Version::Current).await?;
    match v.data() {
        SecretData::Text(s) => Ok(s.expose_secret().to_owned()),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Two private moto servers, the first for us-east-1, the second for
/// us-west-2.
fn two_regions() -> (ServerGuard, ServerGuard) {
    (support::spawn_moto(), support::spawn_moto())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_moves_to_the_next_region_only_when_one_is_unavailable() {
    let (mut east, west) = two_regions();
    let id = support::unique_name("regions-db");
    create(&seed(east.endpoint(), EAST), &id, "v-east").await;
    create(&seed(west.endpoint(), WEST), &id, "v-west").await;
    let only_west = support::unique_name("regions-west-only");
    create(&seed(west.endpoint(), WEST), &only_west, "v-west-only").await;

    let p = provider(east.endpoint(), west.endpoint(), &[]);
    assert_eq!(read(&p, &id).await.unwrap(), "v-east");

    // Not found in the first region is the answer: the replicas hold the
    // same secrets.
    let e = read(&p, &only_west).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(
        e.to_string()
            .starts_with("us-east-1: not found (secret id "),
        "{e}"
    );

    east.stop();
    assert_eq!(read(&p, &id).await.unwrap(), "v-west");
    assert_eq!(read(&p, &only_west).await.unwrap(), "v-west-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arn_is_read_in_its_own_region_only() {
    let (east, mut west) = two_regions();
    let id = support::unique_name("regions-arn");
    create(&seed(east.endpoint(), EAST), &id, "v-east").await;
    let arn = create(&seed(west.endpoint(), WEST), &id, "v-west").await;
    assert!(
        arn.starts_with("arn:aws:secretsmanager:us-west-2:"),
        "{arn}"
    );

    let p = provider(east.endpoint(), west.endpoint(), &[]);
    assert_eq!(read(&p, &arn).await.unwrap(), "v-west");

    west.stop();
    let e = read(&p, &arn).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        e.to_string()
            .starts_with("us-west-2: cannot connect to AWS Secrets Manager at "),
        "{e}"
    );
    assert_eq!(
        read(&p, &id).await.unwrap(),
        "v-east",
        "a name still reads in us-east-1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_that_keeps_failing_is_skipped_and_all_down_names_each() {
    let (mut east, mut west) = two_regions();
    let id = support::unique_name("regions-breaker");
    create(&seed(west.endpoint(), WEST), &id, "v-west").await;
    let east_proxy = AwsProxy::start(Mode::Forward {
        upstream: east.endpoint().to_owned(),
        rewrite: None,
    })
    .await;
    east.stop();
    let p = provider(
        &east_proxy.endpoint,
        west.endpoint(),
        &[
            ("SECRETS_BREAKER_THRESHOLD", "2"),
            ("SECRETS_BREAKER_COOLDOWN", "60"),
        ],
    );
    for _ in 0..4 {
        assert_eq!(read(&p, &id).await.unwrap(), "v-west");
    }
    assert_eq!(
        east_proxy.received(),
        2,
        "us-east-1 skipped once its breaker opened"
    );

    west.stop();
    let e = read(&p, &id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with("every region is unavailable (secret id "),
        "{shown}"
    );
    assert!(
        shown.contains("us-east-1: skipped (circuit open after 2 failures"),
        "{shown}"
    );
    assert!(
        shown.contains("us-west-2: cannot connect to AWS Secrets Manager at "),
        "{shown}"
    );
}

#[test]
fn endpoint_maps_and_region_lists_are_checked_naming_the_variable() {
    let build = |pairs: &[(&str, &str)]| {
        AwsProvider::from_settings(&Settings::from_vars(pairs.iter().copied()))
    };
    let e = build(&[("SECRETS_AWS_ENDPOINT", "us-east-1=http://127.0.0.1:1")]).unwrap_err();
    assert!(e.to_string().contains("needs SECRETS_AWS_REGIONS"), "{e}");
    let e = build(&[
        ("SECRETS_AWS_REGIONS", "us-east-1"),
        ("SECRETS_AWS_ENDPOINT", "eu-west-1=http://127.0.0.1:1"),
    ])
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("eu-west-1, which is not in SECRETS_AWS_REGIONS"),
        "{e}"
    );
    let e = build(&[
        ("DEPLOYMENT_ENV", "production"),
        ("SECRETS_AWS_REGIONS", "us-east-1"),
        ("SECRETS_AWS_ENDPOINT", "us-east-1=http://sm.internal:1"),
    ])
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("SECRETS_AWS_ENDPOINT (us-east-1) is plain http://"),
        "{e}"
    );
    let e = build(&[("SECRETS_AWS_REGIONS", "us-east-1,https://x")]).unwrap_err();
    assert!(e.to_string().starts_with("SECRETS_AWS_REGIONS "), "{e}");
    assert!(
        build(&[
            ("SECRETS_AWS_REGIONS", "us-east-1,us-west-2"),
            ("SECRETS_AWS_ENDPOINT", "https://vpce.example"),
        ])
        .is_ok()
    );
}
