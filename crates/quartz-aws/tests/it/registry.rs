use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use quartz_aws::{DynamoRegistry, RegistryError, RegistryTables};
use quartz_core::registry::{PerformerStatus, PerformerUpdate, ReleaseOutcome, ReleaseRecord};
use quartz_core::{AvsAddress, FunctionName, OperatorSet, Sha256Digest};
use quartz_store::WriteCondition;
use quartz_testkit::Moto;

use crate::sdk;
use quartz_testkit::unique_name;

const AVS_A: &str = "0x8e14db002737f89745bc98f987caeb18d0d47635";
const AVS_B: &str = "0xa1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

fn set(avs: &str, id: u32) -> OperatorSet {
    OperatorSet::new(avs.parse::<AvsAddress>().unwrap(), id)
}

fn digest(byte: u8) -> Sha256Digest {
    Sha256Digest::from_bytes([byte; 32])
}

fn update(set: &OperatorSet, release: Option<u64>) -> PerformerUpdate {
    PerformerUpdate {
        function_name: FunctionName::for_operator_set(set),
        function_arn: Some(format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{}",
            FunctionName::for_operator_set(set).as_str()
        )),
        release_id: release,
        function_version: release.map(|r| r.to_string()),
        image_uri: release.map(|r| {
            format!("registry.example/performer@{}", digest(r as u8))
                .parse()
                .unwrap()
        }),
        artifact_digest: release.map(|r| digest(r as u8)),
        status: PerformerStatus::Active,
    }
}

async fn registry() -> (DynamoRegistry, aws_sdk_dynamodb::Client) {
    let sdk = sdk(Moto::shared()).await;
    let tables = RegistryTables {
        performers: unique_name("performers"),
        history: unique_name("history"),
    };
    let registry = DynamoRegistry::new(&sdk, tables);
    registry.create_tables().await.unwrap();
    // Creating existing tables again is fine (a second process starting).
    registry.create_tables().await.unwrap();
    (registry, aws_sdk_dynamodb::Client::new(&sdk))
}

#[tokio::test]
async fn writes_count_revisions_and_record_each_release_once() {
    let (registry, _) = registry().await;
    let s = set(AVS_A, 1);
    let (first, created) = registry
        .put_performer(s, update(&s, Some(1)), WriteCondition::None, ReleaseOutcome::Deployed)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(first.revision, 1);
    assert_eq!(registry.get_performer(s).await.unwrap(), Some(first.clone()));

    // The same release written again (a register step retried after a crash): a new revision,
    // no second history line.
    let (again, created) = registry
        .put_performer(s, update(&s, Some(1)), WriteCondition::None, ReleaseOutcome::Deployed)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.revision, 2);
    assert_eq!(again.created_at, first.created_at);
    assert_eq!(registry.release_history(s, 10).await.unwrap().len(), 1);

    let (second, _) = registry
        .put_performer(s, update(&s, Some(2)), WriteCondition::None, ReleaseOutcome::Deployed)
        .await
        .unwrap();
    assert_eq!(second.revision, 3);
    assert_eq!(second.release_id, Some(2));
    let history = registry.release_history(s, 10).await.unwrap();
    let releases: Vec<u64> = history.iter().map(|r| r.release_id).collect();
    assert_eq!(releases, vec![2, 1], "newest first");
    assert_eq!(history[0].artifact_digest, Some(digest(2)));
    assert_eq!(history[0].outcome, ReleaseOutcome::Deployed);
    assert_eq!(registry.release_history(s, 1).await.unwrap().len(), 1);

    // An entry without a release (registered by hand) adds no history.
    let other = set(AVS_A, 2);
    registry
        .put_performer(
            other,
            update(&other, None),
            WriteCondition::None,
            ReleaseOutcome::Registered,
        )
        .await
        .unwrap();
    assert!(registry.release_history(other, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_stale_revision_is_refused_and_changes_nothing() {
    let (registry, _) = registry().await;
    let s = set(AVS_A, 7);
    registry
        .put_performer(s, update(&s, Some(1)), WriteCondition::None, ReleaseOutcome::Registered)
        .await
        .unwrap();
    let (current, _) = registry
        .put_performer(
            s,
            update(&s, Some(2)),
            WriteCondition::Revision(1),
            ReleaseOutcome::Registered,
        )
        .await
        .unwrap();
    assert_eq!(current.revision, 2);

    let stale = registry
        .put_performer(
            s,
            update(&s, Some(3)),
            WriteCondition::Revision(1),
            ReleaseOutcome::Registered,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            RegistryError::RevisionMismatch {
                expected: 1,
                found: Some(2)
            }
        ),
        "{stale:?}"
    );
    assert_eq!(registry.get_performer(s).await.unwrap(), Some(current.clone()));
    assert_eq!(registry.release_history(s, 10).await.unwrap().len(), 2);

    // A condition on an entry that does not exist fails and creates nothing.
    let absent = set(AVS_A, 8);
    let missing = registry
        .put_performer(
            absent,
            update(&absent, Some(1)),
            WriteCondition::Revision(5),
            ReleaseOutcome::Registered,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            missing,
            RegistryError::RevisionMismatch {
                expected: 5,
                found: None
            }
        ),
        "{missing:?}"
    );
    assert_eq!(registry.get_performer(absent).await.unwrap(), None);
    assert!(registry.release_history(absent, 10).await.unwrap().is_empty());

    // Deletes obey the same condition, return what they deleted, and keep the history.
    let refused = registry
        .delete_performer(s, WriteCondition::Revision(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            RegistryError::RevisionMismatch {
                expected: 1,
                found: Some(2)
            }
        ),
        "{refused:?}"
    );
    assert_eq!(registry.get_performer(s).await.unwrap(), Some(current.clone()));
    let deleted = registry.delete_performer(s, WriteCondition::Revision(2)).await.unwrap();
    assert_eq!(deleted, Some(current));
    assert_eq!(registry.get_performer(s).await.unwrap(), None);
    assert_eq!(
        registry.delete_performer(s, WriteCondition::Revision(2)).await.unwrap(),
        None
    );
    assert_eq!(registry.delete_performer(s, WriteCondition::None).await.unwrap(), None);
    assert_eq!(registry.release_history(s, 10).await.unwrap().len(), 2);
}

// No concurrent-writers test here: moto's DynamoDB has no locking and serves requests on
// several threads, so two conditional writes on one revision can both pass there (seen: 6
// successful writes, revision 5). The guarantee comes from DynamoDB's conditional writes, which
// `a_stale_revision_is_refused_and_changes_nothing` exercises one at a time.

#[tokio::test]
async fn listing_pages_through_every_entry_in_key_order() {
    let (registry, _) = registry().await;
    // Ids 2 and 10 check numeric, not textual, order.
    let keys = [(AVS_B, 10), (AVS_A, 2), (AVS_B, 1), (AVS_A, 10), (AVS_A, 1)];
    for (avs, id) in keys {
        let s = set(avs, id);
        registry
            .put_performer(s, update(&s, None), WriteCondition::None, ReleaseOutcome::Registered)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = registry.list_performers(after, None, 2).await.unwrap();
        assert!(page.performers.len() <= 2);
        seen.extend(
            page.performers
                .iter()
                .map(|p| (p.avs_address.to_string(), p.operator_set_id)),
        );
        match page.next_after {
            Some(next) => after = Some((next.avs, u64::from(next.id))),
            None => break,
        }
    }
    let expected = vec![
        (AVS_A.to_string(), 1),
        (AVS_A.to_string(), 2),
        (AVS_A.to_string(), 10),
        (AVS_B.to_string(), 1),
        (AVS_B.to_string(), 10),
    ];
    assert_eq!(seen, expected);

    let only_b = registry
        .list_performers(None, Some(AVS_B.parse().unwrap()), 10)
        .await
        .unwrap();
    let ids: Vec<u32> = only_b.performers.iter().map(|p| p.operator_set_id).collect();
    assert_eq!(ids, vec![1, 10]);
    assert_eq!(only_b.next_after, None);
    let rest = registry
        .list_performers(Some((AVS_A.parse().unwrap(), 2)), Some(AVS_A.parse().unwrap()), 10)
        .await
        .unwrap();
    assert_eq!(rest.performers.len(), 1);
    assert_eq!(rest.performers[0].operator_set_id, 10);
}

#[tokio::test]
async fn items_carry_the_api_field_names_and_are_found_by_function_name() {
    let (registry, client) = registry().await;
    let s = set(AVS_A, 4);
    let (performer, _) = registry
        .put_performer(s, update(&s, Some(9)), WriteCondition::None, ReleaseOutcome::Deployed)
        .await
        .unwrap();
    let item = client
        .get_item()
        .table_name(&registry.tables().performers)
        .key("avsAddress", AttributeValue::S(AVS_A.into()))
        .key("operatorSetId", AttributeValue::N("4".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let names: BTreeSet<&str> = item.keys().map(String::as_str).collect();
    let api: serde_json::Value = serde_json::to_value(&performer).unwrap();
    let api_names: BTreeSet<&str> = api.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names, api_names);
    assert_eq!(item["releaseId"], AttributeValue::N("9".into()));

    let described = client
        .describe_table()
        .table_name(&registry.tables().performers)
        .send()
        .await
        .unwrap();
    let table = described.table().unwrap();
    let index = &table.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some("functionNameIndex"));
    assert_eq!(index.key_schema()[0].attribute_name(), "functionName");

    let found = registry
        .find_by_function(&FunctionName::for_operator_set(&s))
        .await
        .unwrap();
    assert_eq!(found, Some(performer));
    let other = set(AVS_A, 5);
    assert_eq!(
        registry
            .find_by_function(&FunctionName::for_operator_set(&other))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_corrupt_item_is_reported_not_served() {
    let (registry, client) = registry().await;
    client
        .put_item()
        .table_name(&registry.tables().performers)
        .item("avsAddress", AttributeValue::S(AVS_B.into()))
        .item("operatorSetId", AttributeValue::N("1".into()))
        .item("functionName", AttributeValue::S("f".into()))
        .item("status", AttributeValue::S("sleeping".into()))
        .item("revision", AttributeValue::N("1".into()))
        .item("createdAt", AttributeValue::S("x".into()))
        .item("updatedAt", AttributeValue::S("x".into()))
        .send()
        .await
        .unwrap();
    let error = registry.get_performer(set(AVS_B, 1)).await.unwrap_err();
    assert!(
        matches!(
            error,
            RegistryError::Corrupt {
                attribute: "status",
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn failures_are_recorded_without_an_entry() {
    let (registry, _) = registry().await;
    let s = set(AVS_B, 9);
    let record = ReleaseRecord {
        release_id: 4,
        artifact_digest: Some(digest(4)),
        image_uri: None,
        function_version: None,
        deployed_at: quartz_store::now_rfc3339(),
        outcome: ReleaseOutcome::Failed,
        detail: Some("smoke-check: Runtime.ExitError".into()),
    };
    registry.append_release_record(s, record.clone()).await.unwrap();
    assert_eq!(registry.get_performer(s).await.unwrap(), None);
    assert_eq!(registry.release_history(s, 10).await.unwrap(), vec![record]);
}
