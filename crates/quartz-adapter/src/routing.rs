//! Which function serves a request: the configured one, or an active performer from the
//! registry. Only ever a function named by configuration or by the registry; never a name taken
//! from a request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quartz_core::registry::{Performer, PerformerStatus};
use quartz_core::{AvsAddress, FunctionName, OperatorSet};
use quartz_store::Store;
use tokio::sync::{Mutex, RwLock};

use crate::TaskError;

/// After a miss, the registry is reloaded at most this often, so unknown AVSes cannot turn
/// every request into a full read of the store.
const MISS_RELOAD_MIN_AGE: Duration = Duration::from_millis(250);
const PAGE: usize = 500;

/// What a request asks for: an AVS and maybe an operator set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selector {
    pub avs: Option<AvsAddress>,
    pub operator_set_id: Option<u32>,
}

/// The function to invoke (at its `live` alias) for an operator set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub set: OperatorSet,
    pub function: FunctionName,
}

pub enum Routing {
    Single(Target),
    Registry(RegistryCache),
}

impl Routing {
    pub async fn resolve(&self, selector: Selector) -> Result<Target, TaskError> {
        match self {
            Self::Single(target) => single(target, selector),
            Self::Registry(cache) => cache.resolve(selector).await,
        }
    }

    pub fn is_single(&self) -> bool {
        matches!(self, Self::Single(_))
    }
}

fn single(target: &Target, selector: Selector) -> Result<Target, TaskError> {
    if let Some(avs) = selector.avs
        && avs != target.set.avs
    {
        return Err(TaskError::NotFound(format!(
            "this adapter serves AVS {} only, not {avs}",
            target.set.avs
        )));
    }
    if let Some(id) = selector.operator_set_id
        && id != target.set.id
    {
        return Err(TaskError::NotFound(format!(
            "this adapter serves operator set {} only, not {id}",
            target.set
        )));
    }
    Ok(target.clone())
}

struct Snapshot {
    by_avs: HashMap<AvsAddress, Vec<Performer>>,
    loaded: Instant,
}

/// The registry, read through a snapshot reloaded every `refresh` and after a miss.
pub struct RegistryCache {
    store: Store,
    refresh: Duration,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    reloading: Mutex<()>,
}

impl RegistryCache {
    pub fn new(store: Store, refresh: Duration) -> Self {
        Self {
            store,
            refresh,
            snapshot: RwLock::new(None),
            reloading: Mutex::new(()),
        }
    }

    async fn resolve(&self, selector: Selector) -> Result<Target, TaskError> {
        let avs = selector.avs.ok_or_else(|| {
            TaskError::BadRequest(format!(
                "multi-AVS mode needs the AVS: avsAddress over HTTP, the {} metadata key over gRPC",
                crate::grpc::AVS_KEY
            ))
        })?;
        let snapshot = self.current(self.refresh).await?;
        match pick(&snapshot, avs, selector.operator_set_id) {
            Err(TaskError::NotFound(_)) if snapshot.loaded.elapsed() >= MISS_RELOAD_MIN_AGE => {
                let snapshot = self.current(MISS_RELOAD_MIN_AGE).await?;
                pick(&snapshot, avs, selector.operator_set_id)
            }
            other => other,
        }
    }

    /// The snapshot, reloaded first when it is older than `max_age`. One reload at a time.
    async fn current(&self, max_age: Duration) -> Result<Arc<Snapshot>, TaskError> {
        if let Some(snapshot) = self.snapshot.read().await.as_ref()
            && snapshot.loaded.elapsed() < max_age
        {
            return Ok(snapshot.clone());
        }
        let _reloading = self.reloading.lock().await;
        if let Some(snapshot) = self.snapshot.read().await.as_ref()
            && snapshot.loaded.elapsed() < max_age
        {
            return Ok(snapshot.clone());
        }
        let snapshot = Arc::new(self.load().await?);
        *self.snapshot.write().await = Some(snapshot.clone());
        Ok(snapshot)
    }

    async fn load(&self) -> Result<Snapshot, TaskError> {
        let mut by_avs: HashMap<AvsAddress, Vec<Performer>> = HashMap::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .list_performers(after, None, PAGE)
                .await
                .map_err(|e| TaskError::Unavailable(format!("cannot read the registry: {e}")))?;
            for performer in page.performers {
                by_avs.entry(performer.avs_address).or_default().push(performer);
            }
            match page.next_after {
                Some(next) => after = Some((next.avs, u64::from(next.id))),
                None => break,
            }
        }
        tracing::debug!(target: "quartz::adapter", avs_count = by_avs.len(), "registry snapshot loaded");
        Ok(Snapshot {
            by_avs,
            loaded: Instant::now(),
        })
    }
}

fn pick(snapshot: &Snapshot, avs: AvsAddress, id: Option<u32>) -> Result<Target, TaskError> {
    let performers = snapshot
        .by_avs
        .get(&avs)
        .ok_or_else(|| TaskError::NotFound(format!("no performer is registered for AVS {avs}")))?;
    let performer = match id {
        Some(id) => performers
            .iter()
            .find(|p| p.operator_set_id == id)
            .ok_or_else(|| TaskError::NotFound(format!("no performer is registered for operator set {avs}/{id}")))?,
        None => {
            let active: Vec<&Performer> = performers
                .iter()
                .filter(|p| p.status == PerformerStatus::Active)
                .collect();
            match active.as_slice() {
                [] => {
                    return Err(TaskError::NotFound(format!("AVS {avs} has no active performer")));
                }
                [one] => *one,
                several => {
                    let ids: Vec<String> = several.iter().map(|p| p.operator_set_id.to_string()).collect();
                    return Err(TaskError::Ambiguous(format!(
                        "AVS {avs} has performers for operator sets {}: say which with operatorSetId \
                         (HTTP) or the {} metadata key (gRPC)",
                        ids.join(", "),
                        crate::grpc::OPERATOR_SET_KEY
                    )));
                }
            }
        }
    };
    if performer.status != PerformerStatus::Active {
        return Err(TaskError::NotFound(format!(
            "the performer for operator set {avs}/{} is inactive",
            performer.operator_set_id
        )));
    }
    Ok(Target {
        set: OperatorSet::new(performer.avs_address, performer.operator_set_id),
        function: performer.function_name.clone(),
    })
}
