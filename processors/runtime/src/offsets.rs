//! Which offsets are safe to commit.
//!
//! DESIGN.md: offsets are committed only up to the oldest record still needed by window-bounded
//! state (open traces, retained accesses). A stage marks each consumed record as held while its
//! state needs it and releases it when done; the commit position of a partition is then the
//! oldest held offset, or one past the last consumed record when nothing is held. After a crash,
//! the new owner re-reads from there and rebuilds the same state.

use std::collections::{BTreeMap, HashMap};

/// A (topic, partition) pair.
pub type TopicPartition = (String, i32);

#[derive(Debug, Default)]
struct PartitionOffsets {
    /// Offset -> number of holders.
    held: BTreeMap<i64, u32>,
    /// One past the last consumed offset.
    next: i64,
    /// The position last committed, to skip commits that would change nothing.
    committed: Option<i64>,
}

/// Tracks held and consumed offsets per partition.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: HashMap<TopicPartition, PartitionOffsets>,
}

impl OffsetTracker {
    /// Records that `offset` was consumed (whether or not anything holds it).
    pub fn consumed(&mut self, topic: &str, partition: i32, offset: i64) {
        let entry = self.entry(topic, partition);
        entry.next = entry.next.max(offset + 1);
    }

    /// Holds `offset`: it must be re-read after a crash until released.
    pub fn hold(&mut self, topic: &str, partition: i32, offset: i64) {
        *self.entry(topic, partition).held.entry(offset).or_insert(0) += 1;
    }

    /// Releases one hold of `offset`.
    pub fn release(&mut self, topic: &str, partition: i32, offset: i64) {
        let entry = self.entry(topic, partition);
        if let Some(count) = entry.held.get_mut(&offset) {
            *count -= 1;
            if *count == 0 {
                entry.held.remove(&offset);
            }
        }
    }

    /// Number of offsets held over all partitions.
    pub fn held_len(&self) -> usize {
        self.partitions.values().map(|p| p.held.len()).sum()
    }

    /// Positions (next offset to read) that changed since the last call, to commit now.
    pub fn positions_to_commit(&mut self) -> Vec<(String, i32, i64)> {
        let mut out = Vec::new();
        for ((topic, partition), offsets) in &mut self.partitions {
            let position = offsets.held.keys().next().copied().unwrap_or(offsets.next);
            if offsets.committed != Some(position) {
                offsets.committed = Some(position);
                out.push((topic.clone(), *partition, position));
            }
        }
        out.sort();
        out
    }

    /// Forgets positions that were handed out but could not be committed, so they are retried.
    pub fn commit_failed(&mut self, positions: &[(String, i32, i64)]) {
        for (topic, partition, _) in positions {
            if let Some(offsets) = self.partitions.get_mut(&(topic.clone(), *partition)) {
                offsets.committed = None;
            }
        }
    }

    fn entry(&mut self, topic: &str, partition: i32) -> &mut PartitionOffsets {
        self.partitions
            .entry((topic.to_string(), partition))
            .or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_past_everything_consumed_when_nothing_is_held() {
        let mut tracker = OffsetTracker::default();
        tracker.consumed("t", 0, 0);
        tracker.consumed("t", 0, 1);
        assert_eq!(tracker.positions_to_commit(), vec![("t".into(), 0, 2)]);
        assert!(
            tracker.positions_to_commit().is_empty(),
            "no change, no commit"
        );
    }

    #[test]
    fn commits_stop_at_the_oldest_held_record() {
        let mut tracker = OffsetTracker::default();
        for offset in 0..5 {
            tracker.consumed("t", 3, offset);
        }
        tracker.hold("t", 3, 1);
        tracker.hold("t", 3, 3);
        tracker.hold("t", 3, 3);
        assert_eq!(tracker.positions_to_commit(), vec![("t".into(), 3, 1)]);
        tracker.release("t", 3, 1);
        assert_eq!(tracker.positions_to_commit(), vec![("t".into(), 3, 3)]);
        tracker.release("t", 3, 3);
        assert!(tracker.positions_to_commit().is_empty(), "still held once");
        tracker.release("t", 3, 3);
        assert_eq!(tracker.positions_to_commit(), vec![("t".into(), 3, 5)]);
        assert_eq!(tracker.held_len(), 0);
    }

    #[test]
    fn failed_commits_are_offered_again() {
        let mut tracker = OffsetTracker::default();
        tracker.consumed("t", 0, 7);
        let positions = tracker.positions_to_commit();
        tracker.commit_failed(&positions);
        assert_eq!(tracker.positions_to_commit(), positions);
    }
}
