//! Replicated secrets across regions (`SECRETS_AWS_REGIONS`): the same
//! secrets in several regions (Secrets Manager's replication), read from
//! the first region in the list that answers. A region that is
//! unavailable (unreachable, timing out, throttling, 5xx) hands the read
//! to the next; one that answers (the value, "not found", "access
//! denied") ends it, since the replicas hold the same data: a secret
//! missing in the first region is missing. Each region has its own client
//! and its own circuit breaker (the chain's, `breaker.rs`, with the
//! chain's `SECRETS_BREAKER_THRESHOLD` and `SECRETS_BREAKER_COOLDOWN`), so
//! that a region that keeps failing is skipped for a while instead of
//! costing each read its timeout. An ARN
//! (`arn:aws:secretsmanager:us-west-2:...`) is read in its own region
//! only. `SECRETS_AWS_ENDPOINT` may give each region its endpoint
//! (`us-east-1=https://...,us-west-2=https://...`). Errors start with the
//! region (`us-west-2: not found (secret id db)`).
//!
//! Different data in different regions belongs in named instances
//! (`east=aws,west=aws`), not here.

use std::fmt;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use tokio::sync::OnceCell;

use crate::breaker::{Breaker, BreakerPolicy, DEFAULT_BREAKER_COOLDOWN, DEFAULT_BREAKER_THRESHOLD};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind};
use crate::providers::BoxFuture;
use crate::providers::aws_common::{ClientSettings, check_endpoint};
use crate::settings::Settings;

/// The replica regions of one provider, in the order they are read.
pub(crate) struct Replicas {
    regions: Vec<Replica>,
    policy: ReplicaPolicy,
    clock: Clock,
}

struct Replica {
    region: String,
    settings: ClientSettings,
    client: OnceCell<Client>,
    breaker: Breaker,
}

#[derive(Debug, Clone, Copy)]
struct ReplicaPolicy {
    threshold: u32,
    cooldown: Duration,
}

impl BreakerPolicy for ReplicaPolicy {
    fn threshold(&self) -> u32 {
        self.threshold
    }
    fn cooldown(&self) -> Duration {
        self.cooldown
    }
}

impl fmt::Debug for Replicas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let regions: Vec<(&str, &Option<String>)> = self
            .regions
            .iter()
            .map(|r| (r.region.as_str(), &r.settings.endpoint))
            .collect();
        f.debug_struct("Replicas")
            .field("regions", &regions)
            .field("policy", &self.policy)
            .finish()
    }
}

impl Replicas {
    /// The replicas `SECRETS_AWS_REGIONS` names, each with `base`'s
    /// settings, its region, and its endpoint: its own from `endpoints`
    /// (`SECRETS_AWS_ENDPOINT=REGION=URL,...`, read from `read`), else
    /// `base`'s. `None` without `SECRETS_AWS_REGIONS`.
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable when the list is not
    /// valid, when the endpoint map names a region that is not in it (or
    /// is given without it), when one of its URLs fails the endpoint
    /// checks, or when a breaker setting is not a number.
    pub(crate) fn from_settings(
        config: &Settings,
        base: &ClientSettings,
        endpoints: Option<(Vec<(String, String)>, String)>,
    ) -> Result<Option<Replicas>, Error> {
        let Some(Regions(names)) = Regions::from_settings(config)? else {
            if let Some((_, read)) = endpoints {
                return Err(Error::config(format!(
                    "{read} gives endpoints per region (REGION=URL), which needs SECRETS_AWS_REGIONS"
                )));
            }
            return Ok(None);
        };
        let mut checked: Vec<(String, String, String)> = Vec::new();
        if let Some((map, read)) = &endpoints {
            for (region, url) in map {
                if !names.contains(region) {
                    return Err(Error::config(format!(
                        "{read} names {region}, which is not in SECRETS_AWS_REGIONS"
                    )));
                }
                let endpoint = check_endpoint(url, &format!("{read} ({region})"), config)?;
                checked.push((region.clone(), url.clone(), endpoint.authority()));
            }
        }
        let regions = names
            .into_iter()
            .map(|region| {
                let mut settings = base.clone();
                settings.region = Some(region.clone());
                if let Some((_, url, authority)) = checked.iter().find(|(r, _, _)| *r == region) {
                    settings.endpoint = Some(url.clone());
                    settings.endpoint_authority = Some(authority.clone());
                }
                Replica {
                    region,
                    settings,
                    client: OnceCell::new(),
                    breaker: Breaker::new(),
                }
            })
            .collect();
        Ok(Some(Replicas {
            regions,
            policy: ReplicaPolicy {
                threshold: config
                    .u32("SECRETS_BREAKER_THRESHOLD", DEFAULT_BREAKER_THRESHOLD)?
                    .max(1),
                cooldown: config.seconds("SECRETS_BREAKER_COOLDOWN", DEFAULT_BREAKER_COOLDOWN)?,
            },
            clock: Clock::system(),
        }))
    }

    /// `call` in the region of `arn_region` only when it is given, else in
    /// each region in turn until one answers. Each region's error starts
    /// with its name; when every region is unavailable the error lists
    /// each. `what` (`secret id db`) is only built for an error.
    pub(crate) async fn call<'a, T>(
        &'a self,
        arn_region: Option<&str>,
        what: &(dyn Fn() -> String + Sync),
        call: impl Fn(&'a Client, &'a ClientSettings) -> BoxFuture<'a, Result<T, Error>>,
    ) -> Result<T, Error> {
        if let Some(region) = arn_region {
            let Some(replica) = self.regions.iter().find(|r| r.region == region) else {
                return Err(Error::not_found(format!(
                    "not found ({}: its region {region} is not in SECRETS_AWS_REGIONS)",
                    what()
                )));
            };
            return self.call_one(replica, &call).await;
        }
        let mut failures: Vec<Error> = Vec::new();
        for replica in &self.regions {
            if let Err(refused) = replica.breaker.allow(self.clock.now(), &self.policy) {
                failures.push(Error::unavailable(format!(
                    "{}: skipped (circuit open after {} failures; next probe in {} s)",
                    replica.region,
                    refused.failures,
                    refused.retry_in.as_secs()
                )));
                continue;
            }
            match self.call_one(replica, &call).await {
                Err(e) if e.kind() == ErrorKind::Unavailable => failures.push(e),
                answer => return answer,
            }
        }
        let listed: Vec<String> = failures.iter().map(ToString::to_string).collect();
        let last = failures.last().cloned();
        let e = Error::unavailable(format!(
            "every region is unavailable ({}): {}",
            what(),
            listed.join("; ")
        ));
        Err(match last {
            Some(last) => e.with_backend_answer_of(&last),
            None => e,
        })
    }

    /// The first region's client and settings: where operator writes go.
    pub(crate) async fn primary(&self) -> Result<(&Client, &ClientSettings), Error> {
        let replica = self
            .regions
            .first()
            .ok_or_else(|| Error::config("SECRETS_AWS_REGIONS names no region"))?;
        let client = replica
            .client
            .get_or_try_init(|| async {
                Ok::<_, Error>(Client::new(&replica.settings.load("aws").await?))
            })
            .await?;
        Ok((client, &replica.settings))
    }

    /// One region's call, with its breaker's bookkeeping; the error
    /// starts with the region.
    async fn call_one<'a, T>(
        &'a self,
        replica: &'a Replica,
        call: &impl Fn(&'a Client, &'a ClientSettings) -> BoxFuture<'a, Result<T, Error>>,
    ) -> Result<T, Error> {
        let in_region = |e: Error| {
            Error::new(e.kind(), format!("{}: {e}", replica.region)).with_backend_answer_of(&e)
        };
        let client = replica
            .client
            .get_or_try_init(|| async {
                Ok::<_, Error>(Client::new(&replica.settings.load("aws").await?))
            })
            .await
            .map_err(in_region)?;
        let result = call(client, &replica.settings).await;
        match &result {
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                replica.breaker.on_failure(self.clock.now(), &self.policy);
            }
            _ => replica.breaker.on_answer(),
        }
        result.map_err(in_region)
    }
}

/// The regions secrets are replicated to, in the order they are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Regions(pub(crate) Vec<String>);

impl Regions {
    /// `SECRETS_AWS_REGIONS` (`us-east-1,us-west-2`); `None` when unset.
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable when an entry is empty,
    /// not a region name, or repeated.
    pub(crate) fn from_settings(config: &Settings) -> Result<Option<Regions>, Error> {
        let Some((list, read)) = config.first(&["SECRETS_AWS_REGIONS"]) else {
            return Ok(None);
        };
        let mut regions: Vec<String> = Vec::new();
        for region in list.split(',').map(str::trim) {
            if !is_region_name(region) {
                return Err(Error::config(format!(
                    "{read} must be region names separated by commas (us-east-1,us-west-2); entry {} is not one",
                    regions.len() + 1
                )));
            }
            if regions.iter().any(|r| r == region) {
                return Err(Error::config(format!("{read} names {region} twice")));
            }
            regions.push(region.to_owned());
        }
        Ok(Some(Regions(regions)))
    }
}

/// Lower-case letters, digits and `-`, starting with a letter
/// (`us-east-1`, `eu-central-2`, `us-gov-west-1`): a region name, and
/// nothing that could be a URL or a secret typed in the wrong variable.
fn is_region_name(s: &str) -> bool {
    s.len() <= 32
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.contains('-')
}

/// `SECRETS_AWS_ENDPOINT` as `REGION=URL,...`: one endpoint per region.
/// `None` when the value is a plain URL (every region uses it).
///
/// # Errors
///
/// A configuration error naming `read` when an entry has no `=`, names a
/// region twice, or is not a region name (the URLs are checked by the
/// caller, as any endpoint is).
pub(crate) fn per_region_endpoints(
    value: &str,
    read: &str,
) -> Result<Option<Vec<(String, String)>>, Error> {
    // A URL has `://` before any `=` of a query; a map starts with a
    // region name and `=`.
    let Some((first, _)) = value.split_once('=') else {
        return Ok(None);
    };
    if first.contains("://") {
        return Ok(None);
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, entry) in value.split(',').map(str::trim).enumerate() {
        let Some((region, url)) = entry.split_once('=') else {
            return Err(Error::config(format!(
                "{read}: entry {} is not REGION=URL",
                n + 1
            )));
        };
        let region = region.trim();
        if !is_region_name(region) {
            return Err(Error::config(format!(
                "{read}: entry {} does not start with a region name (REGION=URL)",
                n + 1
            )));
        }
        if out.iter().any(|(r, _)| r == region) {
            return Err(Error::config(format!("{read} names {region} twice")));
        }
        out.push((region.to_owned(), url.trim().to_owned()));
    }
    Ok(Some(out))
}

/// The region of a Secrets Manager ARN
/// (`arn:aws:secretsmanager:us-west-2:123456789012:secret:db-AbCdEf`):
/// such a secret is read in that region only.
pub(crate) fn arn_region(id: &str) -> Option<&str> {
    let mut parts = id.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("secretsmanager"), Some(region)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    is_region_name(region).then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn regions(value: &str) -> Result<Option<Regions>, Error> {
        Regions::from_settings(&Settings::from_vars([("SECRETS_AWS_REGIONS", value)]))
    }

    #[test]
    fn regions_are_read_in_order_and_bad_lists_name_the_variable() {
        assert_eq!(
            regions(" us-east-1 , us-west-2 ").unwrap(),
            Some(Regions(vec!["us-east-1".into(), "us-west-2".into()]))
        );
        assert_eq!(Regions::from_settings(&Settings::default()).unwrap(), None);
        for bad in [
            "us-east-1,",
            "us-east-1,,us-west-2",
            "https://x",
            "US-EAST-1",
            "us-east-1,us-east-1",
        ] {
            let e = regions(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
            assert!(e.to_string().starts_with("SECRETS_AWS_REGIONS "), "{e}");
        }
        let s = Settings::from_vars([("SECRETS_DR_AWS_REGIONS", "eu-west-1,eu-central-1")]);
        let dr = Regions::from_settings(&s.for_instance("dr", "aws")).unwrap();
        assert_eq!(dr.unwrap().0, ["eu-west-1", "eu-central-1"]);
    }

    #[test]
    fn an_endpoint_map_gives_each_region_its_url_and_a_plain_url_is_for_all() {
        assert_eq!(
            per_region_endpoints("http://127.0.0.1:4566", "V").unwrap(),
            None
        );
        assert_eq!(
            per_region_endpoints("https://vpce.example/?a=b", "V").unwrap(),
            None
        );
        assert_eq!(
            per_region_endpoints(
                "us-east-1=http://127.0.0.1:1, us-west-2=http://127.0.0.1:2",
                "V"
            )
            .unwrap(),
            Some(vec![
                ("us-east-1".into(), "http://127.0.0.1:1".into()),
                ("us-west-2".into(), "http://127.0.0.1:2".into()),
            ])
        );
        for bad in [
            "us-east-1=http://127.0.0.1:1,http://127.0.0.1:2",
            "us-east-1=http://a,us-east-1=http://b",
        ] {
            let e = per_region_endpoints(bad, "SECRETS_AWS_ENDPOINT").unwrap_err();
            assert!(e.to_string().starts_with("SECRETS_AWS_ENDPOINT"), "{e}");
        }
    }

    #[test]
    fn an_arn_names_its_region_and_a_name_does_not() {
        assert_eq!(
            arn_region("arn:aws:secretsmanager:us-west-2:123456789012:secret:db-AbCdEf"),
            Some("us-west-2")
        );
        assert_eq!(
            arn_region("arn:aws-us-gov:secretsmanager:us-gov-west-1:1:secret:x"),
            Some("us-gov-west-1")
        );
        assert_eq!(arn_region("/app/db"), None);
        assert_eq!(arn_region("arn:aws:ssm:us-west-2:1:parameter/x"), None);
        assert_eq!(arn_region("arn:aws:secretsmanager::1:secret:x"), None);
    }
}
