//! The performer registry in SQLite.

use quartz_core::registry::{Performer, PerformerStatus, PerformerUpdate, ReleaseOutcome, ReleaseRecord};
use quartz_core::{AvsAddress, OperatorSet};
use rusqlite::{OptionalExtension, Row, Transaction, params};

use crate::{Store, StoreError, now_rfc3339};

/// A precondition on a registry write, like DynamoDB's condition expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteCondition {
    #[default]
    None,
    /// The entry must exist with exactly this revision.
    Revision(u64),
}

/// One page of a listing, in (avs, operator set id) order.
#[derive(Debug, Clone)]
pub struct PerformerPage {
    pub performers: Vec<Performer>,
    /// The key to continue after, when more entries follow.
    pub next_after: Option<OperatorSet>,
}

const PERFORMER_COLUMNS: &str = "avs_address, operator_set_id, function_name, function_arn, release_id, \
     function_version, image_uri, artifact_digest, status, revision, created_at, updated_at";

impl Store {
    /// Creates or replaces the entry for `set`. When the release changes, the new release is
    /// appended to the history with `outcome`, in the same transaction. Returns the entry and
    /// whether it was created.
    pub async fn put_performer(
        &self,
        set: OperatorSet,
        update: PerformerUpdate,
        condition: WriteCondition,
        outcome: ReleaseOutcome,
    ) -> Result<(Performer, bool), StoreError> {
        self.write(move |tx| put_performer_tx(tx, set, &update, condition, outcome))
            .await
    }

    pub async fn get_performer(&self, set: OperatorSet) -> Result<Option<Performer>, StoreError> {
        self.read(move |tx| get_performer_tx(tx, set)).await
    }

    /// Lists entries after the key `after` (exclusive), optionally for one AVS only.
    pub async fn list_performers(
        &self,
        after: Option<(AvsAddress, u64)>,
        avs: Option<AvsAddress>,
        limit: usize,
    ) -> Result<PerformerPage, StoreError> {
        self.read(move |tx| {
            let (after_avs, after_id) = match after {
                Some((avs, id)) => (avs.to_string(), i64::try_from(id).unwrap_or(i64::MAX)),
                None => (String::new(), -1),
            };
            let avs_filter = avs.map(|a| a.to_string());
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {PERFORMER_COLUMNS} FROM performers
                 WHERE (avs_address, operator_set_id) > (?1, ?2) AND (?3 IS NULL OR avs_address = ?3)
                 ORDER BY avs_address, operator_set_id LIMIT ?4"
            ))?;
            let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
            let mut performers = stmt
                .query_map(params![after_avs, after_id, avs_filter, fetch], |row| {
                    Ok(performer_from_row(row))
                })?
                .collect::<Result<Result<Vec<_>, _>, _>>()??;
            let next_after = if performers.len() > limit {
                performers.truncate(limit);
                performers
                    .last()
                    .map(|p| OperatorSet::new(p.avs_address, p.operator_set_id))
            } else {
                None
            };
            Ok(PerformerPage { performers, next_after })
        })
        .await
    }

    /// Removes the entry and returns it; its release history is kept for audit.
    pub async fn delete_performer(
        &self,
        set: OperatorSet,
        condition: WriteCondition,
    ) -> Result<Option<Performer>, StoreError> {
        self.write(move |tx| {
            // Deleting what is not there is "not found", whatever the condition said.
            let Some(existing) = get_performer_tx(tx, set)? else {
                return Ok(None);
            };
            check_condition(condition, Some(existing.revision))?;
            tx.execute(
                "DELETE FROM performers WHERE avs_address = ?1 AND operator_set_id = ?2",
                params![set.avs.to_string(), set.id],
            )?;
            Ok(Some(existing))
        })
        .await
    }

    /// Appends to an operator set's release history without touching its entry (failures).
    pub async fn append_release_record(&self, set: OperatorSet, record: ReleaseRecord) -> Result<(), StoreError> {
        self.write(move |tx| insert_history(tx, set, &record)).await
    }

    /// The release history of an operator set, newest first.
    pub async fn release_history(&self, set: OperatorSet, limit: usize) -> Result<Vec<ReleaseRecord>, StoreError> {
        self.read(move |tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT release_id, artifact_digest, image_uri, function_version, deployed_at, outcome, detail
                 FROM release_history WHERE avs_address = ?1 AND operator_set_id = ?2
                 ORDER BY seq DESC LIMIT ?3",
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            stmt.query_map(params![set.avs.to_string(), set.id, limit], |row| {
                Ok(release_from_row(row))
            })?
            .collect::<Result<Result<Vec<_>, _>, _>>()?
        })
        .await
    }
}

fn put_performer_tx(
    tx: &Transaction<'_>,
    set: OperatorSet,
    update: &PerformerUpdate,
    condition: WriteCondition,
    outcome: ReleaseOutcome,
) -> Result<(Performer, bool), StoreError> {
    let existing = get_performer_tx(tx, set)?;
    check_condition(condition, existing.as_ref().map(|p| p.revision))?;
    let now = now_rfc3339();
    let created_at = existing.as_ref().map_or_else(|| now.clone(), |p| p.created_at.clone());
    let revision = existing.as_ref().map_or(1, |p| p.revision + 1);
    let release_changed = update.release_id.is_some()
        && existing
            .as_ref()
            .is_none_or(|p| p.release_id != update.release_id || p.artifact_digest != update.artifact_digest);
    let performer = Performer {
        avs_address: set.avs,
        operator_set_id: set.id,
        function_name: update.function_name.clone(),
        function_arn: update.function_arn.clone(),
        release_id: update.release_id,
        function_version: update.function_version.clone(),
        image_uri: update.image_uri.clone(),
        artifact_digest: update.artifact_digest,
        status: update.status,
        revision,
        created_at,
        updated_at: now.clone(),
    };
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO performers ({PERFORMER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        params![
            set.avs.to_string(),
            set.id,
            performer.function_name.as_str(),
            performer.function_arn,
            performer.release_id.map(to_sql_u64).transpose()?,
            performer.function_version,
            performer.image_uri.as_ref().map(|i| i.to_string()),
            performer.artifact_digest.map(|d| d.to_string()),
            performer.status.as_str(),
            to_sql_u64(revision)?,
            performer.created_at,
            performer.updated_at,
        ],
    )?;
    if let (true, Some(release_id)) = (release_changed, update.release_id) {
        let record = ReleaseRecord {
            release_id,
            artifact_digest: update.artifact_digest,
            image_uri: update.image_uri.clone(),
            function_version: update.function_version.clone(),
            deployed_at: now,
            outcome,
            detail: None,
        };
        insert_history(tx, set, &record)?;
    }
    Ok((performer, existing.is_none()))
}

fn check_condition(condition: WriteCondition, found: Option<u64>) -> Result<(), StoreError> {
    match condition {
        WriteCondition::Revision(expected) if found != Some(expected) => {
            Err(StoreError::RevisionMismatch { expected, found })
        }
        _ => Ok(()),
    }
}

fn get_performer_tx(tx: &Transaction<'_>, set: OperatorSet) -> Result<Option<Performer>, StoreError> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {PERFORMER_COLUMNS} FROM performers WHERE avs_address = ?1 AND operator_set_id = ?2"
    ))?;
    stmt.query_row(params![set.avs.to_string(), set.id], |row| Ok(performer_from_row(row)))
        .optional()?
        .transpose()
}

fn insert_history(tx: &Transaction<'_>, set: OperatorSet, record: &ReleaseRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO release_history (avs_address, operator_set_id, release_id, artifact_digest, image_uri,
             function_version, deployed_at, outcome, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            set.avs.to_string(),
            set.id,
            to_sql_u64(record.release_id)?,
            record.artifact_digest.map(|d| d.to_string()),
            record.image_uri.as_ref().map(|i| i.to_string()),
            record.function_version,
            record.deployed_at,
            record.outcome.as_str(),
            record.detail,
        ],
    )?;
    Ok(())
}

fn to_sql_u64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt {
        column: "integer",
        reason: format!("{value} exceeds i64"),
    })
}

fn corrupt(column: &'static str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        column,
        reason: reason.to_string(),
    }
}

fn parse_opt<T: std::str::FromStr>(column: &'static str, value: Option<String>) -> Result<Option<T>, StoreError>
where
    T::Err: ToString,
{
    value
        .map(|v| v.parse::<T>().map_err(|e| corrupt(column, e)))
        .transpose()
}

fn performer_from_row(row: &Row<'_>) -> Result<Performer, StoreError> {
    let avs: String = row.get(0)?;
    let release_id: Option<i64> = row.get(4)?;
    let status: String = row.get(8)?;
    let revision: i64 = row.get(9)?;
    Ok(Performer {
        avs_address: avs.parse().map_err(|e| corrupt("avs_address", e))?,
        operator_set_id: row.get(1)?,
        function_name: row
            .get::<_, String>(2)?
            .parse()
            .map_err(|e| corrupt("function_name", e))?,
        function_arn: row.get(3)?,
        release_id: release_id
            .map(|r| u64::try_from(r).map_err(|e| corrupt("release_id", e)))
            .transpose()?,
        function_version: row.get(5)?,
        image_uri: parse_opt("image_uri", row.get(6)?)?,
        artifact_digest: parse_opt("artifact_digest", row.get(7)?)?,
        status: PerformerStatus::parse(&status).ok_or_else(|| corrupt("status", status))?,
        revision: u64::try_from(revision).map_err(|e| corrupt("revision", e))?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

fn release_from_row(row: &Row<'_>) -> Result<ReleaseRecord, StoreError> {
    let release_id: i64 = row.get(0)?;
    let outcome: String = row.get(5)?;
    Ok(ReleaseRecord {
        release_id: u64::try_from(release_id).map_err(|e| corrupt("release_id", e))?,
        artifact_digest: parse_opt("artifact_digest", row.get(1)?)?,
        image_uri: parse_opt("image_uri", row.get(2)?)?,
        function_version: row.get(3)?,
        deployed_at: row.get(4)?,
        outcome: ReleaseOutcome::parse(&outcome).ok_or_else(|| corrupt("outcome", outcome))?,
        detail: row.get(6)?,
    })
}
