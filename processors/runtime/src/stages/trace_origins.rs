//! Which traces may have stored events the trace stage did not consume itself.
//!
//! Rule: a completed trace is analysed from the events the stage holds, and the store is asked
//! about it only when some of its events may have been consumed elsewhere or earlier:
//! - [`Origin::Reopened`]: the stage completed the trace itself recently and a late event opens
//!   it again. The ids of recent completions are remembered; such a trace is read back whole.
//! - [`Origin::TakenOver`]: the trace was first seen in a partition the stage took over
//!   recently: the first record read from it was not the partition's first (offset 0), or the
//!   offsets jumped or went back (a restart or a rebalance re-reads from the committed offset).
//!   An earlier owner may have consumed, and completed, part of the trace, so its stored events
//!   are counted at completion and it is read back if the store holds more than memory.
//! - [`Origin::Here`]: otherwise. Memory holds every event, so nothing is asked.
//!
//! A taken-over partition stays "recent" for as long as completions are remembered
//! (`horizon`): past that, whatever an earlier owner completed is older than anything the stage
//! remembers of its own completions, so both cases have the same reach. A late event re-opening
//! a trace completed longer ago than that (or more than `max_remembered` completions ago) is
//! analysed with the events held; every event stays stored and queryable either way.
//!
//! Why: asking the store for the event counts of every completing trace was a serial round trip
//! per completion batch, a third of what the stage waited on. What breaks otherwise: without
//! [`Origin::Reopened`] and [`Origin::TakenOver`], a re-opened trace's analysis and race inputs
//! would be replaced by those of its late events alone.

use std::collections::{HashMap, HashSet, VecDeque};

use tokio::time::{Duration, Instant};
use uuid::Uuid;

/// What the stage knows about a trace's events when it first sees the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Every event of the trace is consumed here: memory holds them all.
    Here,
    /// Completed here recently: the store holds events memory no longer does.
    Reopened,
    /// First seen in a partition taken over recently: the store may hold more.
    TakenOver,
}

/// Where the stage reads a partition: the next offset it expects, and since when it reads there
/// without a break (`None`: from the partition's first offset, so nobody read it before).
struct PartitionRead {
    next: i64,
    taken_over: Option<Instant>,
}

/// The partitions read and the traces completed recently.
pub struct TraceOrigins {
    partitions: HashMap<(String, i32), PartitionRead>,
    completed: HashSet<Uuid>,
    completed_order: VecDeque<(Instant, Uuid)>,
    horizon: Duration,
    max_remembered: usize,
}

impl TraceOrigins {
    /// Completions remembered for `horizon`, at most `max_remembered` of them.
    pub fn new(horizon: Duration, max_remembered: usize) -> Self {
        TraceOrigins {
            partitions: HashMap::new(),
            completed: HashSet::new(),
            completed_order: VecDeque::new(),
            horizon,
            max_remembered,
        }
    }

    /// Notes that the record at `offset` of `topic`/`partition` was read at `now`.
    pub fn read(&mut self, topic: &str, partition: i32, offset: i64, now: Instant) {
        let key = (topic.to_string(), partition);
        match self.partitions.get_mut(&key) {
            Some(read) => {
                if offset != read.next {
                    read.taken_over = Some(now);
                }
                read.next = offset + 1;
            }
            None => {
                let taken_over = (offset != 0).then_some(now);
                self.partitions.insert(
                    key,
                    PartitionRead {
                        next: offset + 1,
                        taken_over,
                    },
                );
            }
        }
    }

    /// The origin of trace `id`, first seen at `now` in `topic`/`partition` (already
    /// [`read`](Self::read)).
    pub fn origin(&self, id: Uuid, topic: &str, partition: i32, now: Instant) -> Origin {
        if self.completed.contains(&id) {
            return Origin::Reopened;
        }
        let taken_over = self
            .partitions
            .get(&(topic.to_string(), partition))
            .and_then(|read| read.taken_over);
        match taken_over {
            Some(at) if now.duration_since(at) < self.horizon => Origin::TakenOver,
            _ => Origin::Here,
        }
    }

    /// Remembers that the traces `ids` completed at `now`; forgets what left the horizon.
    pub fn completed(&mut self, ids: &[Uuid], now: Instant) {
        for id in ids {
            if self.completed.insert(*id) {
                self.completed_order.push_back((now, *id));
            }
        }
        while let Some(&(at, id)) = self.completed_order.front() {
            let expired = now.duration_since(at) >= self.horizon;
            if !expired && self.completed_order.len() <= self.max_remembered {
                break;
            }
            self.completed_order.pop_front();
            self.completed.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HORIZON: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn a_partition_read_from_its_start_has_no_earlier_owner() {
        let mut origins = TraceOrigins::new(HORIZON, 10);
        let now = Instant::now();
        origins.read("events", 0, 0, now);
        origins.read("events", 0, 1, now);
        assert_eq!(
            origins.origin(Uuid::new_v4(), "events", 0, now),
            Origin::Here
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_partition_taken_over_or_re_read_is_recent_for_the_horizon() {
        let mut origins = TraceOrigins::new(HORIZON, 10);
        let trace = Uuid::new_v4();
        let mut origin_after_reading = |offset| {
            origins.read("events", 1, offset, Instant::now());
            origins.origin(trace, "events", 1, Instant::now())
        };
        let started_at_a_committed_offset = origin_after_reading(40);
        assert_eq!(started_at_a_committed_offset, Origin::TakenOver);
        tokio::time::advance(HORIZON).await;
        assert_eq!(origin_after_reading(41), Origin::Here, "past the horizon");
        let re_read = origin_after_reading(30);
        assert_eq!(re_read, Origin::TakenOver);
        tokio::time::advance(HORIZON).await;
        let read_elsewhere_meanwhile = origin_after_reading(90);
        assert_eq!(read_elsewhere_meanwhile, Origin::TakenOver);
    }

    #[tokio::test(start_paused = true)]
    async fn completions_are_remembered_within_the_horizon_and_the_bound() {
        let mut origins = TraceOrigins::new(HORIZON, 2);
        origins.read("events", 0, 0, Instant::now());
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let origin = |origins: &TraceOrigins, id| origins.origin(id, "events", 0, Instant::now());
        origins.completed(&ids[..1], Instant::now());
        assert_eq!(origin(&origins, ids[0]), Origin::Reopened);
        origins.completed(&ids[1..], Instant::now());
        assert_eq!(origin(&origins, ids[0]), Origin::Here, "over the bound");
        assert_eq!(origin(&origins, ids[2]), Origin::Reopened);
        tokio::time::advance(HORIZON).await;
        origins.completed(&[], Instant::now());
        assert_eq!(origin(&origins, ids[2]), Origin::Here, "past the horizon");
    }
}
