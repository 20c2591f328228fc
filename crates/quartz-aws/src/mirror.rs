//! Copying an image by digest into ECR (or any OCI registry): the source is pulled and verified
//! by quartz-oci's [`Puller`], then the platform manifest's exact bytes, its config and layers
//! are pushed with the OCI distribution protocol. Nothing is re-serialised, so the destination
//! names the manifest by the digest the release pinned (or, for an index, by the linux/amd64
//! manifest's digest that resolve chose), and the push is checked to say so.

use async_trait::async_trait;
use aws_sdk_ecr::operation::create_repository::CreateRepositoryError;
use aws_sdk_ecr::types::ImageScanningConfiguration;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::stream;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use quartz_core::{ImageRepository, OperatorSet, PinnedImage};
use quartz_factory::{MakeAvailable, ResolvedImage, StepError};
use quartz_oci::manifest::{AnyManifest, OCI_MANIFEST};
use quartz_oci::{OciError, Puller};
use tokio::io::AsyncReadExt;

use crate::{AwsError, MirrorError};

/// The repository every performer image is mirrored into.
pub const ECR_REPOSITORY: &str = "quartz-performer";
/// Layers are streamed from disk in pieces of this size, one upload PATCH each.
const CHUNK: usize = 8 * 1024 * 1024;

/// The tag a release's image carries in the mirror: `avs-<hex>-opset-<id>-r<releaseId>`.
pub fn release_tag(set: OperatorSet, release_id: u64) -> String {
    format!("avs-{}-opset-{}-r{release_id}", set.avs.bare_hex(), set.id)
}

/// Where images are copied to.
#[derive(Clone)]
pub struct Destination {
    /// `host[:port]`.
    pub registry: String,
    pub repository: String,
    auth: RegistryAuth,
    insecure: bool,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination")
            .field("registry", &self.registry)
            .field("repository", &self.repository)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// A registry that takes anonymous pushes; `insecure` speaks plain HTTP to it.
    pub fn anonymous(registry: impl Into<String>, repository: impl Into<String>, insecure: bool) -> Self {
        Self {
            registry: registry.into(),
            repository: repository.into(),
            auth: RegistryAuth::Anonymous,
            insecure,
        }
    }

    /// ECR: makes sure `repository` exists (scan on push; an existing one is kept as it is) and
    /// takes push credentials from GetAuthorizationToken. They last 12 hours, so get a fresh
    /// destination per mirroring rather than keeping one.
    pub async fn ecr(ecr: &aws_sdk_ecr::Client, repository: &str) -> Result<Self, MirrorError> {
        let created = ecr
            .create_repository()
            .repository_name(repository)
            .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
            .send()
            .await;
        match created {
            Ok(_) => tracing::info!(target: "quartz::aws", repository, "created the ECR repository"),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateRepositoryError::RepositoryAlreadyExistsException(_))
                ) => {}
            Err(e) => return Err(AwsError::from_sdk("CreateRepository", &e).into()),
        }
        let token = ecr
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetAuthorizationToken", &e))?;
        let data = token
            .authorization_data()
            .first()
            .ok_or_else(|| MirrorError::Authorization("GetAuthorizationToken returned no authorization data".into()))?;
        let (user, password) = decode_token(data.authorization_token().unwrap_or_default())?;
        let endpoint = data
            .proxy_endpoint()
            .ok_or_else(|| MirrorError::Authorization("GetAuthorizationToken returned no proxyEndpoint".into()))?;
        let registry = endpoint
            .strip_prefix("https://")
            .unwrap_or(endpoint)
            .trim_end_matches('/')
            .to_string();
        Ok(Self {
            registry,
            repository: repository.to_string(),
            auth: RegistryAuth::Basic(user, password),
            insecure: false,
        })
    }

    /// The user name the destination authenticates as, if any (`AWS` for ECR).
    pub fn user(&self) -> Option<&str> {
        match &self.auth {
            RegistryAuth::Basic(user, _) => Some(user),
            _ => None,
        }
    }

    fn client(&self) -> Client {
        let protocol = if self.insecure {
            ClientProtocol::HttpsExcept(vec![self.registry.clone()])
        } else {
            ClientProtocol::Https
        };
        Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            read_timeout: Some(std::time::Duration::from_secs(60)),
            ..ClientConfig::default()
        })
    }
}

/// ECR's token is base64 of `user:password`.
fn decode_token(token: &str) -> Result<(String, String), MirrorError> {
    let decoded = STANDARD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| MirrorError::Authorization("the authorization token is not base64 text".into()))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| MirrorError::Authorization("the authorization token is not user:password".into()))?;
    Ok((user.to_string(), password.to_string()))
}

/// An image as copied: pinned at the destination, and the tag it carries there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredImage {
    pub image: PinnedImage,
    pub tag: String,
}

#[derive(Clone)]
pub struct Mirror {
    puller: Puller,
}

impl Mirror {
    /// `puller` fetches and verifies the source; giving it the factory's blob store means the
    /// bytes resolve already verified are not downloaded again.
    pub fn new(puller: Puller) -> Self {
        Self { puller }
    }

    /// Copies `source` (an image manifest, or the linux/amd64 entry of an index) to
    /// `destination` under `tag`. Blobs the destination has are not sent again, so repeating a
    /// mirroring is cheap and changes nothing.
    pub async fn mirror(
        &self,
        source: &PinnedImage,
        destination: &Destination,
        tag: &str,
    ) -> Result<MirroredImage, MirrorError> {
        let pulled = self.puller.pull(source).await?;
        let blobs = self.puller.blobs();
        let manifest = blobs.read(&pulled.manifest).await?;
        // The puller parsed these bytes already; parsing again cannot fail unless the store did.
        let parsed: AnyManifest = serde_json::from_slice(&manifest).map_err(|e| OciError::InvalidManifest {
            what: "manifest",
            reason: e.to_string(),
        })?;
        let media_type = parsed.media_type.unwrap_or_else(|| OCI_MANIFEST.to_string());
        let client = destination.client();
        let push_error = |e: OciDistributionError| MirrorError::Push {
            registry: destination.registry.clone(),
            message: e.to_string(),
        };
        let tagged = Reference::with_tag(
            destination.registry.clone(),
            destination.repository.clone(),
            tag.to_string(),
        );
        client
            .auth(&tagged, &destination.auth, RegistryOperation::Push)
            .await
            .map_err(push_error)?;
        for desc in parsed.layers.iter().flatten().chain(parsed.config.as_ref()) {
            if client.blob_exists(&tagged, &desc.digest).await.unwrap_or(false) {
                continue;
            }
            let digest = quartz_oci::blobs::parse_digest(&desc.digest)?;
            let file = tokio::fs::File::open(blobs.path(&digest))
                .await
                .map_err(|source| MirrorError::Io {
                    path: blobs.path(&digest),
                    source,
                })?;
            client
                .push_blob_stream(&tagged, chunks(file), &desc.digest, Some(desc.size))
                .await
                .map_err(push_error)?;
        }
        let content_type = http::HeaderValue::from_str(&media_type).map_err(|_| MirrorError::Push {
            registry: destination.registry.clone(),
            message: format!("manifest media type {media_type:?} is not a header value"),
        })?;
        client
            .push_manifest_raw(&tagged, manifest, content_type)
            .await
            .map_err(push_error)?;
        // What the destination calls the tag must be the digest we pushed: a registry that
        // re-serialised the manifest would name it differently, and the function would run
        // bytes nobody verified.
        let stored = client
            .fetch_manifest_digest(&tagged, &destination.auth)
            .await
            .map_err(push_error)?;
        if stored != pulled.manifest.to_string() {
            return Err(MirrorError::DigestChanged {
                expected: pulled.manifest,
                found: stored,
            });
        }
        tracing::info!(
            target: "quartz::aws", %source, registry = %destination.registry,
            repository = %destination.repository, tag, digest = %pulled.manifest, "image mirrored"
        );
        Ok(MirroredImage {
            image: PinnedImage::new(
                ImageRepository {
                    registry: destination.registry.clone(),
                    path: destination.repository.clone(),
                },
                pulled.manifest,
            ),
            tag: tag.to_string(),
        })
    }
}

/// A file as a stream of large pieces (the client sends each piece as one PATCH).
fn chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, OciDistributionError>> + Send + 'static {
    stream::try_unfold(file, |mut file| async move {
        let mut buffer = Vec::with_capacity(CHUNK);
        while buffer.len() < CHUNK {
            let read = (&mut file)
                .take((CHUNK - buffer.len()) as u64)
                .read_to_end(&mut buffer)
                .await?;
            if read == 0 {
                break;
            }
        }
        Ok((!buffer.is_empty()).then(|| (bytes::Bytes::from(buffer), file)))
    })
}

/// The factory's make-available step on AWS: mirror into ECR, deploy from ECR by digest.
pub struct MirrorAvailability {
    mirror: Mirror,
    target: Target,
}

enum Target {
    Ecr {
        client: aws_sdk_ecr::Client,
        repository: String,
    },
    Registry(Destination),
}

impl MirrorAvailability {
    /// Into ECR's `repository` (normally [`ECR_REPOSITORY`]), with fresh credentials each time.
    pub fn ecr(sdk: &aws_config::SdkConfig, puller: Puller, repository: impl Into<String>) -> Self {
        Self {
            mirror: Mirror::new(puller),
            target: Target::Ecr {
                client: aws_sdk_ecr::Client::new(sdk),
                repository: repository.into(),
            },
        }
    }

    /// Into any OCI registry (a private registry; a local one in tests, since moto's ECR does
    /// not serve the registry protocol).
    pub fn registry(puller: Puller, destination: Destination) -> Self {
        Self {
            mirror: Mirror::new(puller),
            target: Target::Registry(destination),
        }
    }
}

#[async_trait]
impl MakeAvailable for MirrorAvailability {
    async fn make_available(&self, image: &ResolvedImage) -> Result<String, StepError> {
        let destination = match &self.target {
            Target::Ecr { client, repository } => Destination::ecr(client, repository).await.map_err(classify)?,
            Target::Registry(destination) => destination.clone(),
        };
        let tag = release_tag(image.operator_set, image.release_id);
        let mirrored = self
            .mirror
            .mirror(&image.pinned, &destination, &tag)
            .await
            .map_err(classify)?;
        if mirrored.image.digest != image.manifest {
            return Err(StepError::fatal(
                "Mirror.DigestChanged",
                format!(
                    "mirrored {} but resolve chose {}",
                    mirrored.image.digest, image.manifest
                ),
            ));
        }
        Ok(mirrored.image.to_string())
    }
}

/// Wrong content stays wrong (final); networks, registries and AWS throttling recover (retried).
fn classify(error: MirrorError) -> StepError {
    let message = error.to_string();
    match &error {
        MirrorError::Source(OciError::Registry { .. } | OciError::Resolve { .. } | OciError::Io { .. })
        | MirrorError::Push { .. }
        | MirrorError::Aws(AwsError::Unreachable { .. }) => StepError::retryable("Mirror.Unavailable", message),
        MirrorError::Aws(AwsError::Api { code, .. })
            if code.contains("Throttl") || code == "ServerException" || code == "ServiceUnavailableException" =>
        {
            StepError::retryable("Mirror.Unavailable", message)
        }
        MirrorError::DigestChanged { .. } => StepError::fatal("Mirror.DigestChanged", message),
        _ => StepError::fatal("Mirror.Failed", message),
    }
}
