//! Registry integration tests over real HTTP, with moto as the Lambda API.

mod auth;
mod concurrency;
mod crud;
mod harness;
mod paging;
mod validation;
