//! quartz-adapter integration tests: the adapter in-process in front of the real local runtime
//! running the example performer, driven over HTTP (reqwest) and gRPC (Python grpcio).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

mod gateway;
mod grpc;
mod harness;
mod http;
mod local_runtime;
mod routing;
mod shutdown;
