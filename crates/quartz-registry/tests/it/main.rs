//! Registry integration tests over real HTTP, with moto as the Lambda API.

// A failed unwrap in a test is a failed assertion.
#![allow(clippy::unwrap_used)]

mod auth;
mod concurrency;
mod crud;
mod harness;
mod paging;
mod ui;
mod validation;
