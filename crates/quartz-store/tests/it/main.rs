//! Store tests on real SQLite files: migrations, durability across reopen, readers beside a writer.

// A failed unwrap in a test is a failed assertion.
#![allow(clippy::unwrap_used)]

use quartz_core::registry::{PerformerUpdate, ReleaseOutcome};
use quartz_core::{FunctionName, OperatorSet};
use quartz_store::{Store, StoreError, WriteCondition};

fn set(id: u32) -> OperatorSet {
    OperatorSet::parse("0x8e14db002737f89745bc98f987caeb18d0d47635", &id.to_string()).unwrap()
}

fn update(set: &OperatorSet, release: u64) -> PerformerUpdate {
    PerformerUpdate {
        function_name: FunctionName::for_operator_set(set),
        function_arn: None,
        release_id: Some(release),
        function_version: Some(release.to_string()),
        image_uri: None,
        artifact_digest: None,
        status: Default::default(),
    }
}

#[tokio::test]
async fn reopening_keeps_everything_and_does_not_migrate_twice() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_in(dir.path()).unwrap();
        for id in 0..5 {
            store
                .put_performer(
                    set(id),
                    update(&set(id), 1),
                    WriteCondition::None,
                    ReleaseOutcome::Deployed,
                )
                .await
                .unwrap();
        }
    }
    let store = Store::open_in(dir.path()).unwrap();
    let page = store.list_performers(None, None, 100).await.unwrap();
    assert_eq!(page.performers.len(), 5);
    assert_eq!(store.release_history(set(3), 10).await.unwrap().len(), 1);
    let version: u32 = rusqlite::Connection::open(store.path())
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert!(version >= 1);
    let mode: String = rusqlite::Connection::open(store.path())
        .unwrap()
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_store_from_a_newer_quartz_is_refused_not_guessed_at() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quartz.db");
    Store::open(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 9999)
        .unwrap();
    match Store::open(&path) {
        Err(err @ StoreError::SchemaTooNew { found: 9999, .. }) => assert!(err.to_string().contains("upgrade quartz")),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

#[tokio::test]
async fn a_failed_write_transaction_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    store
        .put_performer(
            set(1),
            update(&set(1), 1),
            WriteCondition::None,
            ReleaseOutcome::Deployed,
        )
        .await
        .unwrap();
    // The history row and the entry are written in one transaction: a refused condition writes neither.
    let refused = store
        .put_performer(
            set(1),
            update(&set(1), 2),
            WriteCondition::Revision(7),
            ReleaseOutcome::Deployed,
        )
        .await;
    assert!(matches!(
        refused,
        Err(StoreError::RevisionMismatch {
            expected: 7,
            found: Some(1)
        })
    ));
    assert_eq!(store.get_performer(set(1)).await.unwrap().unwrap().release_id, Some(1));
    assert_eq!(store.release_history(set(1), 10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_see_whole_transactions_while_a_writer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for release in 1..=200u64 {
                store
                    .put_performer(
                        set(2),
                        update(&set(2), release),
                        WriteCondition::None,
                        ReleaseOutcome::Deployed,
                    )
                    .await
                    .unwrap();
            }
        })
    };
    let mut last = 0;
    while !writer.is_finished() {
        let Some(performer) = store.get_performer(set(2)).await.unwrap() else {
            continue;
        };
        let history = store.release_history(set(2), 1).await.unwrap();
        // Never a torn state: the revision equals the release, and both only move forward.
        assert_eq!(performer.revision, performer.release_id.unwrap());
        assert!(performer.revision >= last);
        assert!(history[0].release_id >= performer.release_id.unwrap());
        last = performer.revision;
    }
    writer.await.unwrap();
    assert_eq!(store.get_performer(set(2)).await.unwrap().unwrap().revision, 200);
}
