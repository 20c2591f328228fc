use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// A sha256 content digest, as OCI uses to address manifests and blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn hex(&self) -> String {
        alloy_primitives::hex::encode(self.0)
    }
}

impl FromStr for Sha256Digest {
    type Err = DomainError;

    /// Accepts `sha256:<hex>` (OCI) and `0x<hex>` (a bytes32 from the chain).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = || DomainError::Digest {
            value: value.to_string(),
        };
        let hex = value
            .strip_prefix("sha256:")
            .or_else(|| value.strip_prefix("0x"))
            .ok_or_else(err)?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(err());
        }
        let mut bytes = [0u8; 32];
        alloy_primitives::hex::decode_to_slice(hex, &mut bytes).map_err(|_| err())?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Where an image lives: a registry host (with optional port) and a repository path, as in
/// `ghcr.io/org/performer`. Parsed strictly because on-chain `registryUrl`s are untrusted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRepository {
    pub registry: String,
    pub path: String,
}

const DEFAULT_REGISTRY: &str = "docker.io";
const MAX_REFERENCE_LEN: usize = 255;

impl FromStr for ImageRepository {
    type Err = DomainError;

    /// Accepts `host[:port]/path`, with an optional `https://` or `oci://` prefix and an optional
    /// `:tag` (ignored: Quartz always pins by digest). A first component without `.` or `:` that
    /// is not `localhost` means Docker Hub, as in every OCI client.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| DomainError::Repository {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if value.len() > MAX_REFERENCE_LEN {
            return Err(err("longer than 255 characters"));
        }
        let trimmed = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("oci://"))
            .unwrap_or(value);
        if trimmed.contains("://") {
            return Err(err("only https:// or oci:// prefixes are allowed"));
        }
        if trimmed.contains('@') {
            return Err(err("must not contain '@'; the digest comes from the release"));
        }
        let (first, rest) = trimmed
            .split_once('/')
            .ok_or_else(|| err("expected <registry>/<repository>"))?;
        let (registry, path) = if first.contains('.') || first.contains(':') || first == "localhost" {
            (first.to_string(), rest.to_string())
        } else {
            (DEFAULT_REGISTRY.to_string(), trimmed.to_string())
        };
        validate_registry_host(&registry).map_err(|r| err(&r))?;
        let path = strip_tag(&path);
        validate_repository_path(path).map_err(|r| err(&r))?;
        Ok(Self {
            registry,
            path: path.to_string(),
        })
    }
}

fn strip_tag(path: &str) -> &str {
    let last_slash = path.rfind('/').map_or(0, |i| i + 1);
    match path[last_slash..].find(':') {
        Some(colon) => &path[..last_slash + colon],
        None => path,
    }
}

fn validate_registry_host(registry: &str) -> Result<(), String> {
    let (host, port) = match registry.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || registry.starts_with('[') => (h, Some(p)),
        _ => (registry, None),
    };
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("registry port {port:?} is not a port number"));
    }
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let bracketed_ipv6 =
        host.starts_with('[') && host.ends_with(']') && host[1..host.len() - 1].parse::<std::net::Ipv6Addr>().is_ok();
    if host_ok || bracketed_ipv6 {
        Ok(())
    } else {
        Err(format!("registry host {host:?} is not a valid host name"))
    }
}

/// The OCI distribution grammar: components of `[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*` joined by `/`.
fn validate_repository_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("repository path is empty".into());
    }
    for component in path.split('/') {
        let bytes = component.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let ok = !bytes.is_empty()
            && bytes.first().is_some_and(alnum)
            && bytes.last().is_some_and(alnum)
            && bytes.iter().all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
            && !component.contains("..")
            && !component.contains("___");
        if !ok {
            return Err(format!(
                "repository component {component:?} must be lowercase letters and digits separated by '.', '_' or '-'"
            ));
        }
    }
    Ok(())
}

impl fmt::Display for ImageRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

/// An image pinned by digest: `registry/path@sha256:<hex>`. The only form Quartz deploys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PinnedImage {
    pub repository: ImageRepository,
    pub digest: Sha256Digest,
}

impl PinnedImage {
    pub fn new(repository: ImageRepository, digest: Sha256Digest) -> Self {
        Self { repository, digest }
    }
}

impl FromStr for PinnedImage {
    type Err = DomainError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (repo, digest) = value.split_once('@').ok_or_else(|| DomainError::PinnedImage {
            value: value.to_string(),
        })?;
        Ok(Self {
            repository: repo.parse()?,
            digest: digest.parse()?,
        })
    }
}

impl fmt::Display for PinnedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.repository, self.digest)
    }
}

impl Serialize for PinnedImage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PinnedImage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "1f3770694bb5bf52025c03d3ac4fefc34da07711fd515d2635d52639ba73794e";

    #[test]
    fn digest_accepts_oci_and_bytes32_forms() {
        let a: Sha256Digest = format!("sha256:{HEX}").parse().unwrap();
        let b: Sha256Digest = format!("0x{HEX}").parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), format!("sha256:{HEX}"));
        for bad in [
            HEX.to_string(),
            format!("sha256:{}", &HEX[1..]),
            format!("sha256:{}", HEX.to_uppercase()),
            "sha512:00".into(),
        ] {
            assert!(bad.parse::<Sha256Digest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn repositories_parse_like_oci_clients() {
        let r: ImageRepository = "ghcr.io/bdchatham/hgctl-integ".parse().unwrap();
        assert_eq!(
            (r.registry.as_str(), r.path.as_str()),
            ("ghcr.io", "bdchatham/hgctl-integ")
        );
        let r: ImageRepository = "127.0.0.1:5000/perf:v1".parse().unwrap();
        assert_eq!((r.registry.as_str(), r.path.as_str()), ("127.0.0.1:5000", "perf"));
        let r: ImageRepository = "library/nginx".parse().unwrap();
        assert_eq!(r.registry, "docker.io");
        let r: ImageRepository = "localhost:5000/a/b".parse().unwrap();
        assert_eq!(r.to_string(), "localhost:5000/a/b");
    }

    #[test]
    fn hostile_repositories_are_refused() {
        for bad in [
            "http://evil.example/x",
            "file:///etc/passwd",
            "ghcr.io/../../etc",
            "ghcr.io/UPPER",
            "ghcr.io/",
            "ghcr.io:99999/x",
            "ghcr.io/x@sha256:00",
            "a b/c",
            "nohost",
        ] {
            assert!(bad.parse::<ImageRepository>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn pinned_image_round_trips() {
        let s = format!("ghcr.io/bdchatham/hgctl-integ@sha256:{HEX}");
        let p: PinnedImage = s.parse().unwrap();
        assert_eq!(p.to_string(), s);
        assert!("ghcr.io/x:latest".parse::<PinnedImage>().is_err());
    }
}
