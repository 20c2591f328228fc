use std::path::PathBuf;

use quartz_core::Sha256Digest;

/// Why an image could not be pulled, stored, unpacked or pushed. Messages are shown to users as
/// the function's `StateReason`, so each says what was refused and, where one exists, what to change.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(
        "registry {registry} resolves to a {kind} address ({addr}); list it in runtime.allowed_registries to allow it"
    )]
    RegistryNotAllowed {
        registry: String,
        kind: &'static str,
        addr: std::net::IpAddr,
    },
    #[error("cannot resolve registry host {registry}: {source}")]
    Resolve { registry: String, source: std::io::Error },
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    #[error("{what} {expected} does not match its content (sha256 of the bytes received is {actual})")]
    DigestMismatch {
        what: &'static str,
        expected: String,
        actual: Sha256Digest,
    },
    #[error("unsupported digest {0:?}: only sha256 is supported")]
    UnsupportedDigest(String),
    #[error("invalid {what}: {reason}")]
    InvalidManifest { what: &'static str, reason: String },
    #[error("the image index has no linux/amd64 manifest")]
    NoPlatform,
    #[error("unsupported layer media type {0:?}")]
    UnsupportedLayer(String),
    #[error("layer {layer}: entry {entry:?} is refused: {reason}")]
    UnsafeEntry {
        layer: String,
        entry: String,
        reason: &'static str,
    },
    #[error("layer {layer}: {source}")]
    Layer { layer: String, source: std::io::Error },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("image is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("invalid image reference {reference:?}: {reason}")]
    Reference { reference: String, reason: String },
}

impl OciError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { action, path, source }
    }
}
