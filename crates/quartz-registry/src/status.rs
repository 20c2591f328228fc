//! `functionStatus` lookups, cached briefly so that a busy GET route does not turn into one
//! GetFunction call per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use quartz_lambda_client::{Client, LambdaError, function_status};

use crate::FunctionStatusView;

const TTL: Duration = Duration::from_secs(2);
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct StatusCache {
    entries: Mutex<HashMap<String, (Instant, FunctionStatusView)>>,
}

impl StatusCache {
    pub async fn get(&self, client: &Client, function: &str) -> FunctionStatusView {
        if let Some(view) = self.fresh(function) {
            return view;
        }
        let view = lookup(client, function).await;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (at, _)| at.elapsed() < TTL);
            }
            entries.insert(function.to_string(), (Instant::now(), view.clone()));
        }
        view
    }

    /// Forgets a function after a write, so the next read shows the change.
    pub fn invalidate(&self, function: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(function);
        }
    }

    fn fresh(&self, function: &str) -> Option<FunctionStatusView> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(function)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, view)| view.clone())
    }
}

async fn lookup(client: &Client, function: &str) -> FunctionStatusView {
    match function_status(client, function).await {
        Ok(Some(status)) => FunctionStatusView {
            state: status.state,
            last_modified: status.last_modified,
            code_size: status.code_size,
            error: None,
        },
        Ok(None) => FunctionStatusView {
            state: "NotFound".into(),
            last_modified: None,
            code_size: None,
            error: None,
        },
        Err(err @ (LambdaError::Unreachable(_) | LambdaError::Api { .. })) => FunctionStatusView {
            state: "Unknown".into(),
            last_modified: None,
            code_size: None,
            error: Some(err.to_string()),
        },
    }
}
