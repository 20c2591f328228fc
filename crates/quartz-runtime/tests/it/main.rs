//! quartz-runtime integration tests: the official `aws-sdk-lambda` client against the runtime,
//! with the real example performer image served by a real local registry.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

mod concurrency;
mod errors;
mod harness;
mod lifecycle;
mod sandbox;
