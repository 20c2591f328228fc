//! The adapter: what the EigenLayer Executor talks to.
//!
//! One listener serves the Hourglass gRPC `PerformerService` (plus `grpc.health.v1.Health/Check`)
//! and the seed's HTTP API (`POST /perform`, `GET /health`, `GET /metrics`); requests with
//! `content-type: application/grpc` reach the gRPC services. Every task is sent to the `live`
//! alias of the function configured ([`AdapterConfig::avs_address`] +
//! [`AdapterConfig::operator_set_id`]) or registered for the request's AVS, through the Lambda
//! API or API Gateway, and its result or error is mapped back (DESIGN.md, "Contracts").
//!
//! Over gRPC in multi-AVS mode, the metadata keys [`grpc::AVS_KEY`] (`x-quartz-avs-address`) and
//! [`grpc::OPERATOR_SET_KEY`] (`x-quartz-operator-set-id`) pick the performer.
//!
//! | outcome | HTTP `/perform` | gRPC `ExecuteTask` |
//! | --- | --- | --- |
//! | result | 200 `{"success":true,"result"}` | OK, `result` = `resultBase64`'s bytes or the JSON |
//! | malformed request, ambiguous AVS | 400 | INVALID_ARGUMENT |
//! | no such performer | 404 | NOT_FOUND |
//! | payload over 6 MB (never invoked) | 413 | RESOURCE_EXHAUSTED |
//! | function error | 502, `error` = errorMessage, `errorType` | INTERNAL, `x-quartz-error-type` |
//! | function or task deadline timeout | 504 | DEADLINE_EXCEEDED |
//! | throttled past the deadline, platform unreachable | 503 | UNAVAILABLE |
//!
//! A gRPC `task_id` reaches the function as its text when it is printable ASCII, else as
//! `0x`-hex; a payload as its JSON when it is UTF-8 JSON (`"payloadEncoding":"json"`), else as
//! base64 (`"payloadEncoding":"base64"`).

mod adapter;
mod config;
mod error;
pub mod event;
pub mod grpc;
mod http;
mod invoke;
mod routing;
mod server;

/// Code generated from `proto/` by `build.rs`.
pub mod proto {
    pub mod performer {
        #![allow(clippy::all, clippy::unwrap_used, missing_docs)]
        tonic::include_proto!("eigenlayer.hourglass.v1.performer");
    }
    pub mod health {
        #![allow(clippy::all, clippy::unwrap_used, missing_docs)]
        tonic::include_proto!("grpc.health.v1");
    }
}

pub use config::{AdapterConfig, Backend, LIVE_ALIAS, Mode, Settings};
pub use error::{AdapterError, TaskError};
pub use server::{AdapterDeps, serve};
