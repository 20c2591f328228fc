//! The adapter's core, shared by HTTP and gRPC: resolve the target, build the event, invoke
//! `live`, record metrics.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use quartz_core::FunctionName;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::event::{PayloadEncoding, TaskEvent};
use crate::invoke::Invoker;
use crate::routing::{Routing, Selector, Target};
use crate::{Settings, TaskError};

/// Which front end a task came through: the `protocol` metrics label.
#[derive(Debug, Clone, Copy)]
pub enum Protocol {
    Http,
    Grpc,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Grpc => "grpc",
        }
    }
}

/// One task as both front ends hand it over.
pub struct Task {
    pub selector: Selector,
    pub task_id: String,
    pub payload: Value,
    pub encoding: Option<PayloadEncoding>,
    /// The caller's deadline, if it sent one; capped by the adapter's own.
    pub deadline: Option<Instant>,
}

pub struct Adapter {
    routing: Routing,
    invoker: Invoker,
    read_timeout: Duration,
    health_cache: Duration,
    probes: Mutex<HashMap<Option<FunctionName>, (Instant, bool)>>,
}

impl Adapter {
    pub fn new(settings: &Settings, routing: Routing, invoker: Invoker) -> Self {
        Self {
            routing,
            invoker,
            read_timeout: settings.read_timeout(),
            health_cache: settings.health_cache,
            probes: Mutex::new(HashMap::new()),
        }
    }

    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    pub fn is_single(&self) -> bool {
        self.routing.is_single()
    }

    /// Runs one task and records it in the metrics.
    pub async fn run(&self, protocol: Protocol, task: Task) -> Result<Value, TaskError> {
        let started = Instant::now();
        let result = self.run_inner(task, started).await;
        let labels = [("protocol", protocol.as_str())];
        metrics::histogram!("quartz_adapter_task_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => {
                metrics::counter!("quartz_adapter_tasks_total", "protocol" => protocol.as_str(), "outcome" => "ok")
                    .increment(1);
            }
            Err(err) => Self::count_failure(protocol, err),
        }
        result
    }

    /// Counts a task refused before it could run (unreadable, malformed, too large), so that
    /// the task metrics include every request.
    pub fn rejected(protocol: Protocol, err: &TaskError) {
        Self::count_failure(protocol, err);
    }

    fn count_failure(protocol: Protocol, err: &TaskError) {
        metrics::counter!("quartz_adapter_errors_total", "protocol" => protocol.as_str(), "kind" => err.kind())
            .increment(1);
        metrics::counter!("quartz_adapter_tasks_total", "protocol" => protocol.as_str(), "outcome" => err.kind())
            .increment(1);
    }

    async fn run_inner(&self, task: Task, started: Instant) -> Result<Value, TaskError> {
        let own_deadline = started + self.read_timeout;
        let deadline = task.deadline.map_or(own_deadline, |d| d.min(own_deadline));
        let Target { set, function } = self.routing.resolve(task.selector).await?;
        let event: Bytes = TaskEvent::new(set, &task.task_id, &task.payload, task.encoding).to_bytes()?;
        let result = self.invoker.invoke(&function, event, deadline).await;
        match &result {
            Ok(_) => tracing::debug!(target: "quartz::adapter", task_id = %task.task_id, %function,
                elapsed_ms = started.elapsed().as_millis() as u64, "task done"),
            Err(err) => tracing::info!(target: "quartz::adapter", task_id = %task.task_id, %function,
                kind = err.kind(), error = %err, "task failed"),
        }
        result
    }

    /// Whether the function for `selector` (or, in multi-AVS mode without one, the platform)
    /// is reachable. Probes are cached for the configured time.
    pub async fn reachable(&self, selector: Selector) -> Result<bool, TaskError> {
        let function = if self.routing.is_single() || selector.avs.is_some() {
            Some(self.routing.resolve(selector).await?.function)
        } else {
            None
        };
        if let Some((at, ok)) = self.probes.lock().await.get(&function)
            && at.elapsed() < self.health_cache
        {
            return Ok(*ok);
        }
        let ok = self.invoker.reachable(function.as_ref()).await;
        self.probes.lock().await.insert(function, (Instant::now(), ok));
        Ok(ok)
    }
}
