//! Domain types shared by every part of Quartz.
//!
//! Everything that arrives from outside (chain logs, HTTP bodies, CLI flags) is parsed into these
//! types once, at the edge; past that point an `OperatorSet` or a `PinnedImage` is known-valid.

mod address;
mod error;
mod function_name;
mod image;
pub mod registry;
mod release;

pub use address::{AvsAddress, OperatorSet, parse_operator_set_id};
pub use error::DomainError;
pub use function_name::{FunctionName, LAMBDA_NAME_MAX};
pub use image::{ImageRepository, PinnedImage, Sha256Digest};
pub use release::{Artifact, Release};
