//! Checks on a backend's address, shared by the HTTP providers (AWS and
//! Vault): a plain `http://` address is refused outside local deployments
//! unless its host is the loopback interface.

/// Whether the host of `authority` (`host`, `host:port`, `[v6]` or
/// `[v6]:port`) names the loopback interface: `127.0.0.0/8`, `::1`,
/// `localhost` or a name under `.localhost`.
pub(crate) fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let h = host.trim_end_matches('.').to_ascii_lowercase();
            h == "localhost" || h.ends_with(".localhost")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses_are_recognised_with_or_without_port() {
        for a in [
            "127.0.0.1",
            "127.1.2.3:8200",
            "[::1]",
            "[::1]:4566",
            "localhost",
            "LOCALHOST.:80",
            "moto.localhost",
        ] {
            assert!(is_loopback(a), "{a}");
        }
        for a in [
            "10.0.0.1",
            "vault.example:8200",
            "[2001:db8::1]:80",
            "localhost.example",
            "notlocalhost",
            "",
        ] {
            assert!(!is_loopback(a), "{a}");
        }
    }
}
