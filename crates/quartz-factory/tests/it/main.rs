//! quartz-factory integration tests: the factory against the in-process local runtime (through
//! the official aws-sdk-lambda client), a real local docker-registry and the example performer.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

mod api;
mod crash;
mod deploy;
mod failures;
mod harness;
mod ordering;
mod traffic;
mod ui;
