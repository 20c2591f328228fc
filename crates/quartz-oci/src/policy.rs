//! Which registries may be contacted, and over which protocol.
//!
//! Image references come from untrusted chain data, so a registry whose host resolves to a
//! loopback, private, link-local (cloud metadata) or otherwise non-public address is refused
//! unless the operator listed it. Plain HTTP is used only for registries marked insecure.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::OciError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryPolicy {
    /// Registries (`host` or `host:port`) reachable even though they resolve to a non-public address.
    pub allowed_registries: Vec<String>,
    /// Registries (`host` or `host:port`) spoken to over plain HTTP instead of HTTPS.
    pub insecure_registries: Vec<String>,
}

impl RegistryPolicy {
    pub fn is_insecure(&self, registry: &str) -> bool {
        listed(&self.insecure_registries, registry)
    }

    /// Refuses `registry` when it resolves to a non-public address and is not allowed explicitly.
    ///
    /// The check resolves the name once; the HTTP client resolves it again when it connects, so a
    /// hostile DNS server could still answer differently then (rebinding). Allow-listing by IP
    /// literal is therefore the robust way to reach private registries.
    pub async fn check(&self, registry: &str) -> Result<(), OciError> {
        if listed(&self.allowed_registries, registry) {
            return Ok(());
        }
        let (host, port) = split_host_port(registry);
        let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((host, port.unwrap_or(443)))
                .await
                .map_err(|source| OciError::Resolve {
                    registry: registry.to_string(),
                    source,
                })?
                .map(|a| a.ip())
                .collect(),
        };
        for addr in addrs {
            if let Some(kind) = non_public_kind(addr) {
                return Err(OciError::RegistryNotAllowed {
                    registry: registry.to_string(),
                    kind,
                    addr,
                });
            }
        }
        Ok(())
    }
}

fn listed(list: &[String], registry: &str) -> bool {
    let (host, _) = split_host_port(registry);
    list.iter()
        .any(|entry| entry.eq_ignore_ascii_case(registry) || entry.eq_ignore_ascii_case(host))
}

/// Splits `host[:port]`, keeping IPv6 literals (`[::1]:5000`) intact and unbracketed.
pub(crate) fn split_host_port(registry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = registry.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match registry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (registry, None),
    }
}

/// Names the kind of a non-public address, or `None` for a globally routable one.
pub fn non_public_kind(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_kind(v4);
            }
            v6_kind(v6)
        }
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
    {
        Some("reserved")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if (first & 0xfe00) == 0xfc00 {
        Some("private")
    } else if (first & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("reserved")
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for (addr, kind) in [
            ("127.0.0.1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("192.168.0.1", Some("private")),
            ("172.16.0.1", Some("private")),
            ("100.64.0.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("0.0.0.0", Some("reserved")),
            ("::1", Some("loopback")),
            ("fd00::1", Some("private")),
            ("fe80::1", Some("link-local")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("8.8.8.8", None),
            ("2606:4700::1111", None),
        ] {
            assert_eq!(non_public_kind(addr.parse().unwrap()), kind, "{addr}");
        }
    }

    #[tokio::test]
    async fn private_registries_need_the_allow_list() {
        let policy = RegistryPolicy::default();
        let err = policy.check("127.0.0.1:5000").await.unwrap_err().to_string();
        assert!(err.contains("loopback") && err.contains("allowed_registries"), "{err}");
        assert!(policy.check("[fe80::1]:5000").await.is_err());
        let allowed = RegistryPolicy {
            allowed_registries: vec!["127.0.0.1:5000".into()],
            ..Default::default()
        };
        allowed.check("127.0.0.1:5000").await.unwrap();
        assert!(
            allowed.check("127.0.0.1:5001").await.is_err(),
            "the port is part of the entry"
        );
        assert!(policy.check("8.8.8.8").await.is_ok());
    }

    #[test]
    fn splits_host_and_port() {
        assert_eq!(split_host_port("ghcr.io"), ("ghcr.io", None));
        assert_eq!(split_host_port("127.0.0.1:5000"), ("127.0.0.1", Some(5000)));
        assert_eq!(split_host_port("[::1]:5000"), ("::1", Some(5000)));
    }
}
