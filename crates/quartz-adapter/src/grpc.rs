//! The Hourglass `PerformerService` and `grpc.health.v1.Health/Check`.
//!
//! In multi-AVS mode a call names its performer with request metadata: [`AVS_KEY`] (required)
//! and [`OPERATOR_SET_KEY`] (when the AVS has several performers). In single-performer mode
//! both are optional and, when present, must match the configured operator set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::TaskError;
use crate::adapter::{Adapter, Protocol, Task};
use crate::event::{MAX_SYNC_PAYLOAD, payload_from_bytes, result_bytes, task_id_from_bytes, too_large};
use crate::proto::health::health_check_response::ServingStatus;
use crate::proto::health::health_server::Health;
use crate::proto::health::{HealthCheckRequest as GrpcHealthRequest, HealthCheckResponse as GrpcHealthResponse};
use crate::proto::performer::performer_service_server::PerformerService;
use crate::proto::performer::{
    HealthCheckRequest, HealthCheckResponse, PerformerStatus, StartSyncRequest, StartSyncResponse, TaskRequest,
    TaskResponse,
};
use crate::routing::Selector;

/// Request metadata naming the AVS (0x-hex) in multi-AVS mode.
pub const AVS_KEY: &str = "x-quartz-avs-address";
/// Request metadata naming the operator set id (decimal).
pub const OPERATOR_SET_KEY: &str = "x-quartz-operator-set-id";
/// Status metadata carrying the function's `errorType` on function errors.
pub const ERROR_TYPE_KEY: &str = "x-quartz-error-type";
/// The fully qualified name of the performer service, for `grpc.health.v1`.
pub const PERFORMER_SERVICE: &str = "eigenlayer.hourglass.v1.performer.PerformerService";

#[derive(Clone)]
pub struct PerformerGrpc {
    pub adapter: Arc<Adapter>,
}

fn metadata_str<'a>(metadata: &'a MetadataMap, key: &str) -> Result<Option<&'a str>, TaskError> {
    metadata
        .get(key)
        .map(|v| {
            v.to_str()
                .map(str::trim)
                .map_err(|_| TaskError::BadRequest(format!("metadata {key} is not ASCII text")))
        })
        .transpose()
}

/// The performer a call names through its metadata.
pub fn selector(metadata: &MetadataMap) -> Result<Selector, TaskError> {
    let avs = metadata_str(metadata, AVS_KEY)?
        .map(|v| {
            v.parse()
                .map_err(|e: quartz_core::DomainError| TaskError::BadRequest(format!("metadata {AVS_KEY}: {e}")))
        })
        .transpose()?;
    let operator_set_id = metadata_str(metadata, OPERATOR_SET_KEY)?
        .map(|v| {
            quartz_core::parse_operator_set_id(v).map_err(|_| {
                TaskError::BadRequest(format!(
                    "metadata {OPERATOR_SET_KEY} must be an integer from 0 to 4294967295, got {v:?}"
                ))
            })
        })
        .transpose()?;
    Ok(Selector { avs, operator_set_id })
}

/// The caller's deadline from `grpc-timeout` (`<up to 8 digits><H|M|S|m|u|n>`), if any.
pub fn deadline(metadata: &MetadataMap) -> Result<Option<Instant>, TaskError> {
    let Some(value) = metadata.get("grpc-timeout") else {
        return Ok(None);
    };
    let bad = || TaskError::BadRequest("malformed grpc-timeout header".into());
    let text = value.to_str().map_err(|_| bad())?;
    if text.len() < 2 || text.len() > 9 {
        return Err(bad());
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let amount: u64 = digits.parse().map_err(|_| bad())?;
    let duration = match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return Err(bad()),
    };
    Ok(Instant::now().checked_add(duration))
}

#[tonic::async_trait]
impl PerformerService for PerformerGrpc {
    async fn health_check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let selector = selector(request.metadata())?;
        let ready = self.adapter.reachable(selector).await?;
        let status = if ready {
            PerformerStatus::ReadyForTask
        } else {
            PerformerStatus::ReadyForSync
        };
        Ok(Response::new(HealthCheckResponse { status: status.into() }))
    }

    async fn start_sync(&self, _request: Request<StartSyncRequest>) -> Result<Response<StartSyncResponse>, Status> {
        Ok(Response::new(StartSyncResponse {}))
    }

    async fn execute_task(&self, request: Request<TaskRequest>) -> Result<Response<TaskResponse>, Status> {
        let (task, task_id) = task_of(request).inspect_err(|err| Adapter::rejected(Protocol::Grpc, err))?;
        let value = self.adapter.run(Protocol::Grpc, task).await?;
        let result = result_bytes(&value)?;
        Ok(Response::new(TaskResponse { task_id, result }))
    }
}

/// The task an ExecuteTask call asks for, checked before anything is invoked.
fn task_of(request: Request<TaskRequest>) -> Result<(Task, Vec<u8>), TaskError> {
    let selector = selector(request.metadata())?;
    let deadline = deadline(request.metadata())?;
    let TaskRequest { task_id, payload } = request.into_inner();
    if payload.len() > MAX_SYNC_PAYLOAD {
        return Err(too_large("the payload", payload.len()));
    }
    if task_id.is_empty() {
        return Err(TaskError::BadRequest("task_id must not be empty".into()));
    }
    let (payload, encoding) = payload_from_bytes(&payload);
    let task = Task {
        selector,
        task_id: task_id_from_bytes(&task_id),
        payload,
        encoding: Some(encoding),
        deadline,
    };
    Ok((task, task_id))
}

#[tonic::async_trait]
impl Health for PerformerGrpc {
    async fn check(&self, request: Request<GrpcHealthRequest>) -> Result<Response<GrpcHealthResponse>, Status> {
        let service = request.get_ref().service.as_str();
        if !service.is_empty() && service != PERFORMER_SERVICE {
            return Err(Status::not_found(format!("unknown service {service:?}")));
        }
        let ready = self.adapter.reachable(selector(request.metadata())?).await?;
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        Ok(Response::new(GrpcHealthResponse { status: status.into() }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with(key: &'static str, value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(key, value.parse().unwrap());
        metadata
    }

    #[test]
    fn grpc_timeout_is_parsed() {
        let before = Instant::now();
        let at = deadline(&with("grpc-timeout", "1500m")).unwrap().unwrap();
        assert!(at >= before + Duration::from_millis(1500));
        assert!(deadline(&MetadataMap::new()).unwrap().is_none());
        for bad in ["", "5", "5x", "123456789S", "-1S"] {
            assert!(deadline(&with("grpc-timeout", bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn selector_errors_name_the_key() {
        let err = selector(&with(AVS_KEY, "nope")).unwrap_err().to_string();
        assert!(err.contains(AVS_KEY), "{err}");
        let err = selector(&with(OPERATOR_SET_KEY, "x")).unwrap_err().to_string();
        assert!(err.contains(OPERATOR_SET_KEY), "{err}");
        assert_eq!(selector(&with(OPERATOR_SET_KEY, "2")).unwrap().operator_set_id, Some(2));
    }
}
