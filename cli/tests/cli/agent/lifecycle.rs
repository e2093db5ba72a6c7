//! Start and stop: SIGTERM lets in-flight requests finish and exits 0;
//! SIGHUP drops the cache.

use std::time::{Duration, Instant};

use super::harness::{Agent, HEADER, Setup, TOKEN, create_secret, put_value};
use crate::support::{self, aws_proxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_then_exits_zero() {
    let name = support::unique_name("agent-term");
    create_secret(&name, "agent-term-value-5Gh").await;
    let proxy = aws_proxy::AwsProxy::start(aws_proxy::Mode::Forward {
        upstream: support::aws_endpoint(),
        rewrite: None,
    })
    .await;
    let mut agent = Agent::start(Setup::new("validate_credentials = false").aws(&proxy.endpoint));
    proxy.set_delay(Duration::from_millis(1500));
    let (base, path) = (agent.base(), format!("/v1/{name}"));
    let in_flight = tokio::task::spawn_blocking(move || {
        support::http_request("GET", &base, &path, &[(HEADER, TOKEN)], None)
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let start = Instant::now();
    agent.signal(rustix::process::Signal::TERM);
    let r = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("agent-term-value-5Gh"));
    let status = agent.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0));
    assert!(start.elapsed() < Duration::from_secs(12), "bounded");
    assert!(!support::port_accepts(agent.port), "no longer listening");
    let logs = agent.logs();
    assert!(
        logs.contains("stopping") && logs.contains("stopped"),
        "{logs}"
    );
    agent.assert_logs_hold_none_of(&["agent-term-value-5Gh"]);
}

#[tokio::test]
async fn sighup_drops_the_cache() {
    let name = support::unique_name("agent-hup");
    create_secret(&name, "agent-hup-value-one").await;
    let agent = Agent::start(Setup::new("ttl_seconds = 3600"));
    let path = format!("/v1/{name}");
    assert_eq!(agent.json(&path)["SecretString"], "agent-hup-value-one");
    put_value(&support::aws_endpoint(), &name, "agent-hup-value-two").await;
    assert_eq!(agent.json(&path)["SecretString"], "agent-hup-value-one");
    agent.signal(rustix::process::Signal::HUP);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(agent.json(&path)["SecretString"], "agent-hup-value-two");
    assert!(agent.logs().contains("SIGHUP"));
}
