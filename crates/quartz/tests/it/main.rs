//! End-to-end tests of the real `quartz` binary (`CARGO_BIN_EXE_quartz`).

mod cli;
mod harness;
mod registry;
