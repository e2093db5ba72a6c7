//! Checks on a backend's address, shared by the HTTP providers (AWS and
//! Vault): an endpoint URL is parsed up front ([`parse_url`]), and a plain
//! `http://` address is refused outside local deployments unless its host
//! is the loopback interface.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An endpoint URL checked up front: its scheme, host and port.
///
/// The SDKs take an endpoint as text and fail late and obscurely on a bad
/// one (`:99999` connected to port 80; a space in it produced an error
/// quoting the whole request), so it is parsed here, before any client is
/// built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// Whether the scheme is `https`.
    pub(crate) https: bool,
    /// The host as written (an IPv6 address in brackets).
    pub(crate) host: String,
    /// The port given, or the scheme's default (443, 80).
    pub(crate) port: u16,
}

impl Endpoint {
    /// `host:port`, what errors name (the port is always shown, since a
    /// wrong one is a common mistake). Vault names its address as given.
    #[cfg(any(feature = "aws", feature = "ssm", feature = "gcp", test))]
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Parses an `http://` or `https://` endpoint URL. The error says what is
/// wrong in words, never quoting the text: a misplaced value (a key pasted
/// into the wrong variable) must not end up in a log.
///
/// Refused: spaces and control characters, characters that are not ASCII,
/// another scheme, credentials (`user:pw@`), a missing or malformed host,
/// a port that is not a number from 1 to 65535, a query or a fragment. A
/// path is allowed (some proxies serve the API under one).
#[cfg_attr(
    not(any(feature = "aws", feature = "ssm", feature = "gcp")),
    allow(dead_code)
)]
pub(crate) fn parse_url(url: &str) -> Result<Endpoint, &'static str> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains a space or a control character");
    }
    if !url.is_ascii() {
        return Err(
            "it contains a character that is not ASCII (write an international host name in its xn-- form)",
        );
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("it must start with http:// or https://");
    };
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return Err("it must start with http:// or https://"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if rest.contains(['?', '#']) {
        return Err("it must not have a query (?) or a fragment (#)");
    }
    if authority.contains('@') {
        return Err("it must not contain credentials (user:password@)");
    }
    if authority.is_empty() {
        return Err("it has no host");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err("its IPv6 address has no closing ']'");
        };
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err("its host is not a valid IPv6 address");
        }
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err("it has characters after the IPv6 address"),
            },
        };
        (&authority[..addr.len() + 2], port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if !host.starts_with('[') {
        check_host_name(host)?;
    }
    let port = match port {
        None => {
            if https {
                443
            } else {
                80
            }
        }
        Some("") => return Err("it has a ':' but no port after it"),
        Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => {
            return Err("its port is not a number");
        }
        // Longer than five digits cannot be in range, and must not overflow.
        Some(p) => match p.parse::<u32>() {
            Ok(n @ 1..=65535) if p.len() <= 5 => n as u16,
            _ => return Err("its port must be between 1 and 65535"),
        },
    };
    Ok(Endpoint {
        https,
        host: host.to_owned(),
        port,
    })
}

/// A DNS name (letters, digits, `-`, `_`, dots between labels) or a dotted
/// IPv4 address.
fn check_host_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() {
        return Err("it has no host");
    }
    let name_chars = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !name_chars {
        return Err("its host is not a valid host name or IP address");
    }
    let labels_ok = host
        .trim_end_matches('.')
        .split('.')
        .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if !labels_ok {
        return Err("its host is not a valid host name or IP address");
    }
    // All digits and dots: it is meant as an IPv4 address, so it must be one
    // (`999.1.1.1` would otherwise go to DNS and fail much later).
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') && host.parse::<Ipv4Addr>().is_err() {
        return Err("its host is not a valid IPv4 address");
    }
    Ok(())
}

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
    fn good_endpoints_parse_with_the_schemes_default_port() {
        let e = parse_url("http://127.0.0.1:4566").unwrap();
        assert_eq!((e.https, e.authority().as_str()), (false, "127.0.0.1:4566"));
        let e = parse_url("https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com").unwrap();
        assert_eq!(e.port, 443);
        assert_eq!(parse_url("HTTP://localhost/").unwrap().port, 80);
        assert_eq!(
            parse_url("http://[::1]:4566/prefix").unwrap().authority(),
            "[::1]:4566"
        );
        assert_eq!(parse_url("http://moto_server:5000").unwrap().port, 5000);
        assert_eq!(parse_url("https://host:65535").unwrap().port, 65535);
    }

    #[test]
    fn bad_endpoints_say_why_without_quoting_the_text() {
        for (url, why) in [
            ("http://127.0.0.1:99999", "between 1 and 65535"),
            ("http://127.0.0.1:0", "between 1 and 65535"),
            ("http://127.0.0.1:0000080", "between 1 and 65535"),
            ("http://127.0.0.1:4294967297", "between 1 and 65535"),
            ("http://127.0.0.1:80a", "not a number"),
            ("http://127.0.0.1:-1", "not a number"),
            ("http://127.0.0.1:", "no port"),
            ("http://local host:4566", "space"),
            ("http://localhost:4566 ", "space"),
            ("http://localhost\t:4566", "space"),
            ("http://h\u{1b}[31m:1", "control"),
            ("http://héllo:1", "not ASCII"),
            ("localhost:4566", "http:// or https://"),
            ("ftp://localhost", "http:// or https://"),
            ("http://", "no host"),
            ("http:///path", "no host"),
            ("http://:4566", "no host"),
            ("http://user:s3cr3t@127.0.0.1:4566", "credentials"),
            ("http://localhost:4566/?x=1", "query"),
            ("http://localhost:4566#frag", "fragment"),
            ("http://[::1:4566", "closing"),
            ("http://[zz::1]:4566", "IPv6"),
            ("http://[::1]x", "after the IPv6"),
            ("http://999.1.1.1", "IPv4"),
            ("http://a..b", "host name"),
            ("http://-a.example", "host name"),
            ("http://a:b:c", "not a number"),
            ("http://a%41b", "host name"),
        ] {
            let e = parse_url(url).unwrap_err();
            assert!(e.contains(why), "{url:?}: {e}");
            assert!(
                !e.contains("s3cr3t") && !e.contains("127.0.0.1"),
                "{url:?}: {e}"
            );
        }
    }

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
