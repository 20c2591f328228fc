//! Function definitions in the store (`runtime_functions`, schema version 3).

use quartz_store::{Store, StoreError, now_rfc3339};
use rusqlite::params;

use crate::functions::FunctionRecord;

fn corrupt(reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        column: "runtime_functions.document",
        reason: reason.to_string(),
    }
}

pub async fn load_all(store: &Store) -> Result<Vec<FunctionRecord>, StoreError> {
    store
        .read(|tx| {
            let mut stmt = tx.prepare("SELECT document FROM runtime_functions ORDER BY name")?;
            let docs = stmt
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            docs.iter()
                .map(|doc| serde_json::from_str(doc).map_err(corrupt))
                .collect()
        })
        .await
}

pub async fn save(store: &Store, record: &FunctionRecord) -> Result<(), StoreError> {
    let document = serde_json::to_string(record).map_err(corrupt)?;
    let name = record.name.clone();
    store
        .write(move |tx| {
            tx.execute(
                "INSERT INTO runtime_functions (name, document, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
                params![name, document, now_rfc3339()],
            )?;
            Ok(())
        })
        .await
}

pub async fn delete(store: &Store, name: &str) -> Result<(), StoreError> {
    let name = name.to_string();
    store
        .write(move |tx| {
            tx.execute("DELETE FROM runtime_functions WHERE name = ?1", params![name])?;
            Ok(())
        })
        .await
}
