//! The adaptive `eth_getLogs` range: halves when a provider refuses a range or result size,
//! grows again after successes, so a backfill settles near each provider's limit.

#[derive(Debug, Clone)]
pub struct ChunkSizer {
    size: u64,
    max: u64,
    successes: u32,
}

/// Consecutive successes before the range grows.
const GROW_AFTER: u32 = 2;

impl ChunkSizer {
    pub fn new(initial: u64, max: u64) -> Self {
        Self {
            size: initial.clamp(1, max.max(1)),
            max: max.max(1),
            successes: 0,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The inclusive range to ask for next, starting at `from` and not beyond `target`.
    pub fn next_range(&self, from: u64, target: u64) -> (u64, u64) {
        (from, from.saturating_add(self.size - 1).min(target))
    }

    /// The range `[from, to]` was refused. Returns false when it was a single block, which
    /// cannot be split: the caller must retry later rather than skip it.
    pub fn refused(&mut self, from: u64, to: u64) -> bool {
        let span = to - from + 1;
        self.successes = 0;
        if span <= 1 {
            return false;
        }
        self.size = (span / 2).max(1);
        true
    }

    pub fn succeeded(&mut self) {
        self.successes += 1;
        if self.successes >= GROW_AFTER {
            self.successes = 0;
            // Grow by half rather than double: doubling right back into a refused size
            // would make every other request fail at a provider's limit.
            self.size = (self.size + self.size.div_ceil(2)).min(self.max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans [1, target] against a provider refusing spans over `limit`; returns the ranges asked.
    fn scan(limit: u64, target: u64) -> Vec<(u64, u64)> {
        let mut sizer = ChunkSizer::new(2_000, 10_000);
        let mut covered = Vec::new();
        let mut from = 1;
        while from <= target {
            let (a, b) = sizer.next_range(from, target);
            if b - a + 1 > limit {
                assert!(sizer.refused(a, b));
                continue;
            }
            covered.push((a, b));
            sizer.succeeded();
            from = b + 1;
        }
        covered
    }

    #[test]
    fn covers_every_block_once_under_a_limit() {
        let ranges = scan(500, 20_000);
        assert_eq!(ranges.first().unwrap().0, 1);
        assert_eq!(ranges.last().unwrap().1, 20_000);
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].1 + 1, pair[1].0, "gap or overlap between {pair:?}");
        }
        assert!(ranges.iter().all(|(a, b)| b - a < 500));
    }

    #[test]
    fn grows_back_after_successes_up_to_the_max() {
        let mut sizer = ChunkSizer::new(100, 1_000);
        for _ in 0..20 {
            sizer.succeeded();
        }
        assert_eq!(sizer.size(), 1_000);
    }

    #[test]
    fn a_single_block_cannot_be_split() {
        let mut sizer = ChunkSizer::new(1, 10);
        assert!(!sizer.refused(5, 5));
        assert_eq!(sizer.size(), 1);
    }
}
