//! Instances per function: a concurrency limit (a semaphore per function), warm instances kept
//! per version revision, and reaping of idle ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::instance::Instance;

/// Which instances can serve an invocation: same function, version and revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub function: String,
    pub version: String,
    pub revision_id: String,
}

struct Idle {
    key: PoolKey,
    instance: Instance,
    since: Instant,
}

struct FunctionPool {
    limit: u32,
    slots: Arc<Semaphore>,
    idle: Vec<Idle>,
}

#[derive(Clone, Default)]
pub struct Pools {
    inner: Arc<Mutex<HashMap<String, FunctionPool>>>,
}

/// The right to run one invocation, and a warm instance if one was available.
pub struct Lease {
    pub permit: OwnedSemaphorePermit,
    pub warm: Option<Instance>,
}

impl Pools {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, FunctionPool>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `wait` for a free slot of `key.function`, whose limit is `limit`.
    pub async fn acquire(&self, key: &PoolKey, limit: u32, wait: Duration) -> Option<Lease> {
        let slots = {
            let mut pools = self.lock();
            let pool = pools.entry(key.function.clone()).or_insert_with(|| FunctionPool {
                limit,
                slots: Arc::new(Semaphore::new(limit as usize)),
                idle: Vec::new(),
            });
            if pool.limit != limit {
                // Invocations holding slots of the old semaphore finish under the old limit.
                pool.limit = limit;
                pool.slots = Arc::new(Semaphore::new(limit as usize));
            }
            pool.slots.clone()
        };
        let permit = tokio::time::timeout(wait, slots.acquire_owned()).await.ok()?.ok()?;
        let warm = {
            let mut pools = self.lock();
            pools.get_mut(&key.function).and_then(|pool| {
                // Most recently used first: it is the warmest, and the others age out.
                let index = pool.idle.iter().rposition(|i| i.key == *key && i.instance.alive())?;
                Some(pool.idle.remove(index).instance)
            })
        };
        Some(Lease { permit, warm })
    }

    /// Returns a healthy instance for reuse. Must happen before the lease's permit is dropped,
    /// so that the next invocation finds it instead of starting one more instance.
    pub fn release(&self, key: PoolKey, instance: Instance) {
        if !instance.alive() {
            return;
        }
        let mut pools = self.lock();
        if let Some(pool) = pools.get_mut(&key.function) {
            pool.idle.push(Idle {
                key,
                instance,
                since: Instant::now(),
            });
        }
    }

    /// Stops idle instances of `function` that `keep` rejects (after an update or delete).
    pub fn retire(&self, function: &str, keep: impl Fn(&PoolKey) -> bool) {
        let retired: Vec<Idle> = {
            let mut pools = self.lock();
            let Some(pool) = pools.get_mut(function) else { return };
            let (kept, retired) = std::mem::take(&mut pool.idle).into_iter().partition(|i| keep(&i.key));
            pool.idle = kept;
            retired
        };
        drop(retired);
    }

    pub fn forget(&self, function: &str) {
        let removed = self.lock().remove(function);
        drop(removed);
    }

    /// Stops instances idle for longer than `max_idle`; returns how many.
    pub fn reap(&self, max_idle: Duration) -> usize {
        let reaped: Vec<Idle> = {
            let mut pools = self.lock();
            let mut reaped = Vec::new();
            for pool in pools.values_mut() {
                let (kept, old) = std::mem::take(&mut pool.idle)
                    .into_iter()
                    .partition(|i| i.since.elapsed() < max_idle && i.instance.alive());
                pool.idle = kept;
                reaped.extend(old);
            }
            reaped
        };
        reaped.len()
    }

    /// Stops every instance (runtime shutdown).
    pub fn clear(&self) {
        let all = std::mem::take(&mut *self.lock());
        drop(all);
    }
}
