//! End-to-end tests of the real `quartz` binary (`CARGO_BIN_EXE_quartz`).

// A failed unwrap in a test is a failed assertion.
#![allow(clippy::unwrap_used)]

mod aws;
mod cli;
mod harness;
mod operator;
mod registry;
mod runtime;
mod up;
