//! Quartz's data plane on AWS, behind the same semantics as the embedded SQLite store:
//!
//! - [`DynamoRegistry`]: the performer registry in the DynamoDB table `quartz-performer-registry`
//!   (conditional writes with a revision counter) and its release history;
//! - [`Checkpoint`]: the monitor's checkpoint as a DynamoDB item (block number and hash) that only
//!   moves forward unless a reorg rewinds it explicitly, mirrored to the SSM parameter
//!   `/quartz/last-processed-block` that the seed's tooling reads;
//! - [`Mirror`]: copies an image by digest into ECR (`quartz-performer`), byte for byte, so the
//!   function runs exactly the digest the release pinned.
//!
//! Every AWS call goes through the official SDK clients built by [`AwsConfig::load`], which an
//! endpoint override points at moto in tests.

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod checkpoint;
mod config;
mod error;
mod mirror;
mod registry;

pub use checkpoint::{BlockRef, CHECKPOINT_PARAMETER, Checkpoint, MONITOR_TABLE};
pub use config::AwsConfig;
pub use error::{AwsError, CheckpointError, MirrorError, RegistryError};
pub use mirror::{Destination, ECR_REPOSITORY, Mirror, MirrorAvailability, MirroredImage, release_tag};
pub use registry::{DynamoRegistry, FUNCTION_NAME_INDEX, HISTORY_TABLE, REGISTRY_TABLE, RegistryTables};
