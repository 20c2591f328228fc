//! The release monitor: reads `ReleasePublished` logs from EigenLayer's ReleaseManager, resolves
//! the operator set each belongs to (topic1 is only a hash), and writes each release into the
//! outbox exactly once — through provider range limits, restarts, reorgs and RPC outages — for
//! the factory to consume. It also reconciles known operator sets against `getLatestRelease`.
//!
//! Entry points: [`run`] for the long-running task, [`Outbox`] for the factory, [`status()`] for
//! `quartz status`.

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod chunk;
pub mod config;
pub mod contract;
mod db;
mod error;
mod monitor;
mod outbox;
pub mod probe;
mod progress;
pub mod publish;
mod reconcile;
pub mod resolve;
pub mod rpc;
mod status;
pub mod telemetry;

use std::time::{Duration, Instant};

use quartz_store::Store;
use tokio_util::sync::CancellationToken;

pub use config::{Confirmations, Discover, MonitorConfig, WatchedSet};
pub use db::{Checkpoint, UnresolvedLog};
pub use error::MonitorError;
pub use outbox::{Completion, LogLocation, Outbox, OutboxEntry, OutboxKey, ReleaseStatus, ResolvedBy};
pub use reconcile::{Reconciled, latest_release};
pub use status::{ChainStatus, MonitorStatus, status};

use monitor::{Monitor, TARGET, sleep_or_cancel};
use rpc::Backoff;

/// Runs the monitor until `shutdown` fires. Returns early only for errors that retrying cannot
/// fix (invalid settings, wrong chain); RPC outages and reorgs are retried with backoff.
pub async fn run(config: MonitorConfig, store: Store, shutdown: CancellationToken) -> Result<(), MonitorError> {
    config.validate()?;
    let Some(mut monitor) = Monitor::connect(config, store, &shutdown).await? else {
        return Ok(());
    };
    let mut backoff = Backoff::new(monitor.config.max_backoff());
    // Reconciliation first runs once the scan has caught up, so that releases found in logs
    // enter the outbox in chain order before the latest ones are filled in.
    let mut next_reconcile = Instant::now();
    loop {
        let polled = tokio::select! {
            _ = shutdown.cancelled() => break,
            polled = monitor.poll(&shutdown) => polled,
        };
        let delay = match polled {
            Ok(polled) => {
                backoff.reset();
                if polled.caught_up && Instant::now() >= next_reconcile {
                    let reconciled = tokio::select! {
                        _ = shutdown.cancelled() => break,
                        r = monitor.reconcile() => r,
                    };
                    next_reconcile = match reconciled {
                        Ok(_) => Instant::now() + monitor.config.reconcile_interval(),
                        Err(e) => {
                            report(&e);
                            if !e.is_transient() {
                                return Err(e);
                            }
                            Instant::now() + backoff.delay(None)
                        }
                    };
                }
                if polled.caught_up {
                    monitor.config.poll_interval()
                } else {
                    Duration::ZERO
                }
            }
            Err(e) if e.is_transient() => {
                report(&e);
                if matches!(e, MonitorError::ChainMoved { .. }) {
                    // The next poll detects the reorg and rewinds; no need to wait.
                    Duration::from_millis(50)
                } else {
                    backoff.delay(None)
                }
            }
            Err(e) => {
                report(&e);
                return Err(e);
            }
        };
        if !sleep_or_cancel(delay, &shutdown).await {
            break;
        }
    }
    tracing::info!(target: TARGET, "monitor stopped");
    Ok(())
}

fn report(error: &MonitorError) {
    metrics::counter!(telemetry::ERRORS, "kind" => error.metric_kind()).increment(1);
    if error.is_transient() {
        tracing::warn!(target: TARGET, kind = error.metric_kind(), %error, "poll failed; retrying");
    } else {
        tracing::error!(target: TARGET, %error, "monitor stopped by an error");
    }
}
