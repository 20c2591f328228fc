//! Releases scattered over a long range of mined blocks, some on 500-block range edges and a
//! cluster of 25 that no 500-block window can return under a 20-log limit.

use alloy::primitives::Address;

use crate::chain::{Chain, Published, set};

pub struct Scattered {
    pub start: u64,
    pub end: u64,
    pub releases: Vec<Published>,
}

pub const SPAN: u64 = 20_000;

pub async fn scatter(chain: &Chain) -> Scattered {
    let avs: Vec<Address> = [
        "0x00000000000000000000000000000000000c0de1",
        "0x00000000000000000000000000000000000c0de2",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    for a in &avs {
        chain.new_avs(*a, &[0, 1]).await;
    }
    let sets = [set(avs[0], 0), set(avs[0], 1), set(avs[1], 0), set(avs[1], 1)];
    let start = chain.head().await + 1;
    let mut offsets = vec![0, 1, 499, 500, 501, 999, 1_000, 1_001, 4_999];
    offsets.extend(5_000..5_025);
    offsets.extend([9_999, 10_000, 12_345, 15_000, 19_998, 19_999]);
    let mut releases = Vec::new();
    for (i, offset) in offsets.into_iter().enumerate() {
        let block = start + offset;
        chain.mine_to(block - 1).await;
        let published = chain.publish(&sets[i % sets.len()], i as u8, 1 + i % 2).await;
        assert_eq!(published.block, block, "each publish mines exactly one block");
        releases.push(published);
    }
    let end = start + SPAN - 1;
    chain.mine_to(end).await;
    Scattered { start, end, releases }
}
