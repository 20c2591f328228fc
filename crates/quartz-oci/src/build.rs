//! Building minimal images without Docker and pushing them: what `quartz package` does.
//!
//! Output is deterministic (zero timestamps and owners, fixed gzip header), so packaging the same
//! binary twice yields the same digest, which lets a Lambda `PublishVersion` deduplicate.

use std::io::Write;

use oci_client::Reference;
use quartz_core::{ImageRepository, PinnedImage, Sha256Digest};

use crate::blobs::sha256;
use crate::manifest::{
    ConfigFile, ContainerConfig, Descriptor, ImageManifest, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, RootFs,
};
use crate::pull::client_for;
use crate::{OciError, RegistryPolicy};

/// Where `quartz package` puts the binary: the custom-runtime location Lambda's own images use.
pub const BOOTSTRAP_PATH: &str = "/var/runtime/bootstrap";
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An image assembled in memory, ready to push.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub manifest: Vec<u8>,
    pub digest: Sha256Digest,
    pub config: Vec<u8>,
    /// gzip-compressed tar layers, bottom first.
    pub layers: Vec<Vec<u8>>,
}

/// A tar layer with zeroed metadata, built entry by entry.
pub struct LayerBuilder {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerBuilder {
    pub fn new() -> Self {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Deterministic);
        Self { builder }
    }

    pub fn dir(&mut self, path: &str, mode: u32) -> std::io::Result<&mut Self> {
        let mut header = header(tar::EntryType::Directory, mode, 0);
        self.builder.append_data(&mut header, path, std::io::empty())?;
        Ok(self)
    }

    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> std::io::Result<&mut Self> {
        let mut header = header(tar::EntryType::Regular, mode, data.len() as u64);
        self.builder.append_data(&mut header, path, data)?;
        Ok(self)
    }

    /// Appends an entry whose name is written verbatim, bypassing the tar crate's path checks:
    /// for building hostile layers in tests of the unpacker.
    pub fn raw_file(&mut self, name: &str, data: &[u8]) -> std::io::Result<&mut Self> {
        let mut header = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        let field = &mut header.as_old_mut().name;
        let bytes = name.as_bytes();
        if bytes.len() > field.len() {
            return Err(std::io::Error::other("name too long for a raw entry"));
        }
        field[..bytes.len()].copy_from_slice(bytes);
        header.set_cksum();
        self.builder.append(&header, data)?;
        Ok(self)
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> std::io::Result<&mut Self> {
        let mut header = header(tar::EntryType::Symlink, 0o777, 0);
        self.builder.append_link(&mut header, path, target)?;
        Ok(self)
    }

    /// The uncompressed tar.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        self.builder.into_inner()
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// The image `quartz package` builds: the static binary as `/var/runtime/bootstrap` (the
/// entrypoint), an empty `/var/task` working directory, `/tmp`, and `env` (`KEY=VALUE`) in the config.
pub fn binary_image(binary: &[u8], env: &[String]) -> Result<BuiltImage, OciError> {
    let io = |source| OciError::Io {
        action: "build layer",
        path: BOOTSTRAP_PATH.into(),
        source,
    };
    let mut layer = LayerBuilder::new();
    layer.dir("tmp", 0o1777).map_err(io)?;
    layer.dir("var", 0o755).map_err(io)?;
    layer.dir("var/task", 0o755).map_err(io)?;
    layer.dir("var/runtime", 0o755).map_err(io)?;
    layer
        .file(BOOTSTRAP_PATH.trim_start_matches('/'), 0o755, binary)
        .map_err(io)?;
    let mut full_env = vec![DEFAULT_PATH.to_string()];
    full_env.extend(env.iter().cloned());
    let config = ContainerConfig {
        entrypoint: Some(vec![BOOTSTRAP_PATH.to_string()]),
        env: Some(full_env),
        working_dir: Some("/var/task".into()),
        ..ContainerConfig::default()
    };
    build_image(vec![layer.finish().map_err(io)?], config)
}

/// Assembles an OCI image from uncompressed tar layers and a container config.
pub fn build_image(tars: Vec<Vec<u8>>, config: ContainerConfig) -> Result<BuiltImage, OciError> {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for tar in tars {
        diff_ids.push(sha256(&tar).to_string());
        let mut encoder = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
        let io = |source| OciError::Io {
            action: "compress layer",
            path: "layer".into(),
            source,
        };
        encoder.write_all(&tar).map_err(io)?;
        layers.push(encoder.finish().map_err(io)?);
    }
    let config_file = ConfigFile {
        architecture: "amd64".into(),
        os: "linux".into(),
        config,
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids,
        },
    };
    let encode = |e: serde_json::Error| OciError::InvalidManifest {
        what: "built image",
        reason: e.to_string(),
    };
    let config = serde_json::to_vec(&config_file).map_err(encode)?;
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.into(),
        config: descriptor(OCI_CONFIG, &config),
        layers: layers.iter().map(|l| descriptor(OCI_LAYER_GZIP, l)).collect(),
    };
    let manifest = serde_json::to_vec(&manifest).map_err(encode)?;
    Ok(BuiltImage {
        digest: sha256(&manifest),
        manifest,
        config,
        layers,
    })
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest: sha256(bytes).to_string(),
        size: bytes.len() as u64,
        platform: None,
    }
}

/// Pushes `image` to `target` (`registry/path[:tag]`, tag defaults to `latest`) and returns it
/// pinned by digest. `insecure` speaks plain HTTP to that registry.
pub async fn push(image: &BuiltImage, target: &str, insecure: bool) -> Result<PinnedImage, OciError> {
    let repository: ImageRepository = target
        .parse()
        .map_err(|e: quartz_core::DomainError| OciError::Reference {
            reference: target.into(),
            reason: e.to_string(),
        })?;
    let tag = tag_of(target).unwrap_or("latest");
    let policy = RegistryPolicy {
        allowed_registries: vec![repository.registry.clone()],
        insecure_registries: if insecure {
            vec![repository.registry.clone()]
        } else {
            Vec::new()
        },
    };
    let client = client_for(&policy);
    let reference = Reference::with_tag(repository.registry.clone(), repository.path.clone(), tag.to_string());
    let pinned = PinnedImage::new(repository.clone(), image.digest);
    let registry_err = |e: oci_client::errors::OciDistributionError| crate::pull::registry_error(&pinned, e);
    for blob in image.layers.iter().chain(std::iter::once(&image.config)) {
        let digest = sha256(blob).to_string();
        if !client.blob_exists(&reference, &digest).await.unwrap_or(false) {
            client
                .push_blob(&reference, blob.clone(), &digest)
                .await
                .map_err(registry_err)?;
        }
    }
    let content_type = http::HeaderValue::from_static(OCI_MANIFEST);
    client
        .push_manifest_raw(&reference, image.manifest.clone(), content_type)
        .await
        .map_err(registry_err)?;
    Ok(pinned)
}

fn tag_of(target: &str) -> Option<&str> {
    let last = target.rsplit('/').next()?;
    let (_, tag) = last.split_once(':')?;
    (!tag.is_empty()).then_some(tag)
}
