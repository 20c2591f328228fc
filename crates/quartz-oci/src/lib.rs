//! OCI images for the local runtime.
//!
//! Images come from untrusted release data, so nothing here trusts a registry or an archive:
//! registries are checked against [`RegistryPolicy`], every manifest and blob is verified against
//! its sha256 before use ([`Puller`]), and layers are unpacked without letting any entry escape
//! the rootfs ([`unpack`]). [`build`] makes the minimal images `quartz package` pushes.

pub mod blobs;
pub mod build;
mod error;
mod image_store;
pub mod manifest;
mod policy;
mod pull;
pub mod unpack;

pub use blobs::BlobStore;
pub use build::{BOOTSTRAP_PATH, BuiltImage, LayerBuilder, binary_image, build_image, push};
pub use error::OciError;
pub use image_store::{ImageStore, Limits, PreparedImage};
pub use manifest::ContainerConfig;
pub use policy::{RegistryPolicy, non_public_kind};
pub use pull::{PulledImage, Puller};
