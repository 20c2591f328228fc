//! Quartz on AWS as infrastructure, generated from the same code that runs locally:
//!
//! - [`state_machine`]: the factory's workflow as an Amazon States Language definition;
//! - [`template`]: the CloudFormation template that `quartz synth` prints;
//! - [`cost`]: the monthly cost model behind `quartz cost`;
//! - [`deploy`]: `quartz deploy`, the handlers to S3 and the template to CloudFormation.

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cost;
pub mod deploy;
mod error;
pub mod state_machine;
pub mod template;
mod zip;

pub use error::StackError;
