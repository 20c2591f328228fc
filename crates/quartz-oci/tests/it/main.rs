//! quartz-oci integration tests: hostile layers against the unpacker, and pulls/pushes against a
//! real registry (Debian's `docker-registry`).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

mod registry;
mod unpack;
