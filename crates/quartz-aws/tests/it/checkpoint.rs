use alloy_primitives::B256;
use aws_sdk_ssm::types::ParameterType;
use quartz_aws::{BlockRef, Checkpoint, CheckpointError};
use quartz_testkit::Moto;

use crate::sdk;
use quartz_testkit::unique_name;

fn block(number: u64, byte: u8) -> BlockRef {
    BlockRef {
        number,
        hash: B256::repeat_byte(byte),
    }
}

async fn checkpoint() -> (Checkpoint, aws_sdk_ssm::Client, String) {
    let sdk = sdk(Moto::shared()).await;
    // A unique parameter per test: they share one moto.
    let parameter = format!("/quartz/{}/last-processed-block", unique_name("t"));
    let checkpoint = Checkpoint::new(&sdk, unique_name("monitor"), parameter.clone(), "11155111/0xabc");
    checkpoint.create_table().await.unwrap();
    (checkpoint, aws_sdk_ssm::Client::new(&sdk), parameter)
}

#[tokio::test]
async fn a_fresh_checkpoint_is_written_to_the_item_and_the_seed_parameter() {
    let (checkpoint, ssm, parameter) = checkpoint().await;
    assert_eq!(checkpoint.load().await.unwrap(), None);
    assert_eq!(checkpoint.parameter().await.unwrap(), None);
    checkpoint.advance(block(100, 1)).await.unwrap();
    assert_eq!(checkpoint.load().await.unwrap(), Some(block(100, 1)));
    // The seed reads a String parameter holding the block number.
    let stored = ssm.get_parameter().name(&parameter).send().await.unwrap();
    let stored = stored.parameter().unwrap();
    assert_eq!(stored.value(), Some("100"));
    assert_eq!(stored.r#type(), Some(&ParameterType::String));
}

#[tokio::test]
async fn the_checkpoint_only_moves_forward() {
    let (checkpoint, _, _) = checkpoint().await;
    checkpoint.advance(block(100, 1)).await.unwrap();
    checkpoint.advance(block(120, 2)).await.unwrap();

    let back = checkpoint.advance(block(110, 3)).await.unwrap_err();
    assert!(
        matches!(back, CheckpointError::NotForward { current, attempted } if current == block(120, 2) && attempted == block(110, 3)),
        "{back:?}"
    );
    // The same height with another hash is a fork, not progress.
    let fork = checkpoint.advance(block(120, 9)).await.unwrap_err();
    assert!(matches!(fork, CheckpointError::NotForward { .. }), "{fork:?}");
    // Repeating the last advance is accepted (it repairs a failed parameter write).
    checkpoint.advance(block(120, 2)).await.unwrap();
    assert_eq!(checkpoint.load().await.unwrap(), Some(block(120, 2)));
    assert_eq!(checkpoint.parameter().await.unwrap(), Some(120));
}

#[tokio::test]
async fn a_reorg_rewinds_only_from_where_this_monitor_left_it() {
    let (checkpoint, _, _) = checkpoint().await;
    checkpoint.advance(block(200, 1)).await.unwrap();
    checkpoint.rewind(block(200, 1), block(190, 4)).await.unwrap();
    assert_eq!(checkpoint.load().await.unwrap(), Some(block(190, 4)));
    assert_eq!(checkpoint.parameter().await.unwrap(), Some(190));

    // Another monitor advanced meanwhile: a rewind based on a stale view is refused.
    checkpoint.advance(block(210, 5)).await.unwrap();
    let stale = checkpoint.rewind(block(190, 4), block(180, 6)).await.unwrap_err();
    assert!(
        matches!(stale, CheckpointError::Moved { expected, found: Some(found) } if expected == block(190, 4) && found == block(210, 5)),
        "{stale:?}"
    );
    let not_back = checkpoint.rewind(block(210, 5), block(210, 7)).await.unwrap_err();
    assert!(
        matches!(not_back, CheckpointError::NotBackward { current: 210, to: 210 }),
        "{not_back:?}"
    );
    assert_eq!(checkpoint.load().await.unwrap(), Some(block(210, 5)));
    assert_eq!(checkpoint.parameter().await.unwrap(), Some(210));
}

#[tokio::test]
async fn a_parameter_that_is_not_a_number_is_reported() {
    let (checkpoint, ssm, parameter) = checkpoint().await;
    ssm.put_parameter()
        .name(&parameter)
        .value("latest")
        .r#type(ParameterType::String)
        .send()
        .await
        .unwrap();
    let error = checkpoint.parameter().await.unwrap_err();
    assert!(
        matches!(
            error,
            CheckpointError::Corrupt {
                attribute: "parameter",
                ..
            }
        ),
        "{error:?}"
    );
}
