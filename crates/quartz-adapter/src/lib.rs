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
