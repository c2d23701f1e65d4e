//! The traces the trace stage is assembling, with their events held in memory.
//!
//! Rule: a trace's events stay in memory from its first consumed event until it completes, so
//! that completion analyses them without reading the store back; the store is read only for a
//! trace whose memory may be incomplete. That is the case for a trace whose events were dropped
//! to keep the events held over all open traces under the bound (the trace holding the most
//! goes first, and holds nothing more until it completes), and for a trace some of whose events
//! may have been consumed elsewhere or earlier: a late event re-opening a completed trace, or a
//! trace first seen in a partition taken over from another instance (its [`Origin`], decided
//! when the trace opens: see `trace_origins`).
//!
//! An event is noted when it is consumed ([`OpenTraces::note`]: the trace's last activity, its
//! records, its count against the bound) and held once the event writer hands it back after
//! writing it ([`OpenTraces::hold`]): one copy of each event, first the writer's, then the
//! trace's. A trace completes only once its events are written, so by then it holds them all.
//!
//! Why: reading every trace back at completion (decoding every stored payload a second time)
//! was the trace stage's bottleneck. What breaks otherwise: without the bound, memory grows with
//! the open traces; without the read-back, a re-opened trace would be analysed with its late
//! events only; holding a copy of each event beside the writer's cost a deep copy (a dozen
//! allocations) per event; taking a trace before the writer handed its events back would
//! analyse it without them.

use std::collections::HashMap;

use super::trace_origins::{Origin, TraceOrigins};
use raceway_schemas::Event;
use tokio::time::{Duration, Instant};
use uuid::Uuid;

/// A record position: (topic, partition, offset).
pub type Position = (String, i32, i64);

/// A trace still assembling.
struct OpenTrace {
    opened: Instant,
    last_seen: Instant,
    /// Events consumed, held or not (duplicates included).
    consumed: usize,
    /// Events counted against the bound: consumed since it opened, unless evicted.
    counted: usize,
    /// Its events as the writer handed them back; `None` once evicted.
    held: Option<Vec<Event>>,
    /// The records it needs re-read after a crash.
    records: Vec<Position>,
    /// The event writer's submission holding its latest event.
    write_seq: u64,
    /// Whether events of it may have been consumed elsewhere or earlier.
    origin: Origin,
}

/// A completed trace taken out of [`OpenTraces`].
pub struct TakenTrace {
    /// Its events ordered by (timestamp, id) and deduplicated by id, as the store returns
    /// them; `None` when they were evicted and must be read back.
    pub events: Option<Vec<Event>>,
    /// The records it held, to release.
    pub records: Vec<Position>,
    /// Whether the store may hold events of it that memory does not.
    pub origin: Origin,
}

/// When an open trace is complete.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    pub idle_timeout: Duration,
    pub max_age: Duration,
    pub max_events: usize,
}

/// The open traces and the count of events they hold, kept at most `max_held`.
pub struct OpenTraces {
    traces: HashMap<Uuid, OpenTrace>,
    held: usize,
    max_held: usize,
}

impl OpenTraces {
    /// No open trace; at most `max_held` events held over all of them.
    pub fn new(max_held: usize) -> Self {
        OpenTraces {
            traces: HashMap::new(),
            held: 0,
            max_held,
        }
    }

    /// Adds a consumed event read from the record at `position` and submitted to the event
    /// writer as `write_seq`: [`OpenTraces::note`] then [`OpenTraces::hold`].
    #[cfg(test)]
    pub fn add(
        &mut self,
        event: Event,
        position: &Position,
        write_seq: u64,
        now: Instant,
        origins: &TraceOrigins,
    ) -> bool {
        let new_record = self.note(event.trace_id, position, write_seq, now, origins);
        self.hold(event);
        new_record
    }

    /// Notes an event of `trace_id` consumed at `now` from the record at `position` and
    /// submitted to the event writer as `write_seq` (its event itself comes later, through
    /// [`OpenTraces::hold`], once written); a trace it opens takes its origin from `origins`.
    /// Returns true when the trace did not hold that record yet (the caller holds its offset).
    pub fn note(
        &mut self,
        trace_id: Uuid,
        position: &Position,
        write_seq: u64,
        now: Instant,
        origins: &TraceOrigins,
    ) -> bool {
        let trace = self.traces.entry(trace_id).or_insert_with(|| OpenTrace {
            opened: now,
            last_seen: now,
            consumed: 0,
            counted: 0,
            held: Some(Vec::new()),
            records: Vec::new(),
            write_seq,
            origin: origins.origin(trace_id, &position.0, position.1, now),
        });
        trace.last_seen = now;
        trace.write_seq = trace.write_seq.max(write_seq);
        trace.consumed += 1;
        if trace.held.is_some() {
            trace.counted += 1;
            self.held += 1;
        }
        let new_record = trace.records.last() != Some(position);
        if new_record {
            trace.records.push(position.clone());
        }
        new_record
    }

    /// Keeps a noted event (handed back by the event writer once written) with its trace; an
    /// event of a trace evicted meanwhile is dropped, as it would have been.
    pub fn hold(&mut self, event: Event) {
        if let Some(held) = self
            .traces
            .get_mut(&event.trace_id)
            .and_then(|t| t.held.as_mut())
        {
            held.push(event);
        }
    }

    /// Evicts the traces holding the most events until at most `max_held` are held; returns how
    /// many traces were evicted.
    pub fn enforce_bound(&mut self) -> usize {
        let mut evicted = 0;
        while self.held > self.max_held {
            let largest = self
                .traces
                .values_mut()
                .filter(|t| t.held.is_some())
                .max_by_key(|t| t.counted);
            let Some(trace) = largest else { break };
            trace.held = None;
            self.held -= std::mem::take(&mut trace.counted);
            evicted += 1;
        }
        evicted
    }

    /// The traces that are complete at `now`, sorted.
    pub fn due(&self, now: Instant, completion: Completion) -> Vec<Uuid> {
        let mut due: Vec<Uuid> = self
            .traces
            .iter()
            .filter(|(_, t)| {
                now.duration_since(t.last_seen) >= completion.idle_timeout
                    || now.duration_since(t.opened) >= completion.max_age
                    || t.consumed >= completion.max_events
            })
            .map(|(id, _)| *id)
            .collect();
        due.sort();
        due
    }

    /// The earliest instant at which an open trace falls due by idle time or age (`None` with no
    /// trace open): the stage waits for records no longer than that, so that a trace completes
    /// as soon as it has been idle `idle_timeout`, not at the end of the next wait.
    pub fn next_due(&self, completion: Completion) -> Option<Instant> {
        self.traces
            .values()
            .map(|t| (t.last_seen + completion.idle_timeout).min(t.opened + completion.max_age))
            .min()
    }

    /// The event writer's submission that holds the latest event of any of `ids`: once it is
    /// written, so are all their events.
    pub fn write_seq(&self, ids: &[Uuid]) -> u64 {
        ids.iter()
            .filter_map(|id| self.traces.get(id))
            .map(|t| t.write_seq)
            .max()
            .unwrap_or(0)
    }

    /// Takes trace `id` out, its events in store order.
    pub fn take(&mut self, id: Uuid) -> Option<TakenTrace> {
        let trace = self.traces.remove(&id)?;
        self.held -= trace.counted;
        let events = trace.held.map(|mut events| {
            events.sort_by_key(|e| (e.timestamp_ns, e.id));
            events.dedup_by_key(|e| e.id);
            events
        });
        Some(TakenTrace {
            events,
            records: trace.records,
            origin: trace.origin,
        })
    }

    /// When the latest event of trace `id` was consumed (`None` when it is not open).
    pub fn last_seen(&self, id: Uuid) -> Option<Instant> {
        self.traces.get(&id).map(|t| t.last_seen)
    }

    /// Events consumed of trace `id` so far (0 when it is not open).
    pub fn consumed(&self, id: Uuid) -> usize {
        self.traces.get(&id).map_or(0, |t| t.consumed)
    }

    /// Number of open traces.
    pub fn len(&self) -> usize {
        self.traces.len()
    }

    /// Events held over all open traces.
    pub fn held_events(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raceway_schemas::Metadata;

    /// Nothing read before: every trace is [`Origin::Here`].
    fn origins() -> TraceOrigins {
        TraceOrigins::new(Duration::from_secs(60), 10)
    }

    fn event(trace: Uuid, at: i64) -> Event {
        Event {
            id: Uuid::new_v4(),
            trace_id: trace,
            parent_id: None,
            timestamp_ns: at,
            kind: raceway_schemas::EventKind::Custom(Default::default()),
            metadata: Metadata::default(),
            causality_vector: Vec::new(),
            lock_set: Vec::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn held_events_come_out_ordered_and_deduplicated() {
        let mut open = OpenTraces::new(100);
        let trace = Uuid::new_v4();
        let (late, early) = (event(trace, 20), event(trace, 10));
        let position: Position = ("events".into(), 0, 7);
        let now = Instant::now();
        assert!(
            open.add(late.clone(), &position, 1, now, &origins()),
            "a new record"
        );
        assert!(
            !open.add(early.clone(), &position, 1, now, &origins()),
            "the same record"
        );
        assert!(open.add(late.clone(), &("events".into(), 0, 9), 1, now, &origins()));
        assert_eq!(open.held_events(), 3);
        let taken = open.take(trace).expect("open");
        assert_eq!(taken.events, Some(vec![early, late]));
        assert_eq!(taken.records.len(), 2);
        assert_eq!(open.held_events(), 0);
        assert_eq!(open.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_bound_evicts_the_largest_traces_which_then_hold_nothing() {
        let mut open = OpenTraces::new(5);
        let (big, small) = (Uuid::new_v4(), Uuid::new_v4());
        let position: Position = ("events".into(), 0, 1);
        let now = Instant::now();
        for at in 0..4 {
            open.add(event(big, at), &position, 1, now, &origins());
        }
        for at in 0..2 {
            open.add(event(small, at), &position, 1, now, &origins());
        }
        assert_eq!(open.enforce_bound(), 1);
        assert_eq!(open.held_events(), 2);
        open.add(event(big, 9), &position, 1, now, &origins());
        assert_eq!(open.held_events(), 2, "an evicted trace holds nothing more");
        assert_eq!(
            open.consumed(big),
            5,
            "consumed counts the evicted events too"
        );
        assert_eq!(open.take(big).expect("open").events, None);
        assert_eq!(
            open.take(small).expect("open").events.map(|e| e.len()),
            Some(2)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn events_held_after_they_were_noted_count_once_and_an_evicted_trace_drops_them() {
        let (kept, evicted) = (Uuid::new_v4(), Uuid::new_v4());
        // The evicted trace is the larger one: eviction takes the trace holding the most.
        let written: Vec<Event> = [
            (kept, 2),
            (evicted, 1),
            (evicted, 2),
            (evicted, 3),
            (kept, 1),
        ]
        .into_iter()
        .map(|(trace, at)| event(trace, at))
        .collect();
        let mut open = OpenTraces::new(4);
        for e in &written {
            let position: Position = ("events".into(), 0, 1);
            open.note(e.trace_id, &position, 1, Instant::now(), &origins());
        }
        assert_eq!(
            open.held_events(),
            5,
            "counted when noted, before the writer hands back"
        );
        assert_eq!(open.enforce_bound(), 1);
        assert_eq!(open.held_events(), 2);
        for e in written.iter().cloned() {
            open.hold(e);
        }
        assert_eq!(open.held_events(), 2, "holding counts nothing twice");
        open.hold(event(Uuid::new_v4(), 0));
        assert_eq!(open.len(), 2, "an event of no open trace opens nothing");
        let taken = open.take(kept).expect("open").events.expect("held");
        assert_eq!(taken, vec![written[4].clone(), written[0].clone()]);
        assert_eq!(open.take(evicted).expect("open").events, None);
        assert_eq!(open.held_events(), 0);
    }

    /// Traces complete once idle a second, `max_age` old or `max_events` large.
    fn idle_a_second(max_age: Duration, max_events: usize) -> Completion {
        Completion {
            idle_timeout: Duration::from_secs(1),
            max_age,
            max_events,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn traces_are_due_when_idle_old_or_large() {
        let mut open = OpenTraces::new(100);
        let completion = idle_a_second(Duration::from_secs(10), 3);
        let (idle, large) = (Uuid::new_v4(), Uuid::new_v4());
        let position: Position = ("events".into(), 0, 1);
        open.add(event(idle, 0), &position, 1, Instant::now(), &origins());
        assert!(open.due(Instant::now(), completion).is_empty());
        tokio::time::advance(Duration::from_secs(1)).await;
        for at in 0..3 {
            open.add(event(large, at), &position, 1, Instant::now(), &origins());
        }
        assert_eq!(open.due(Instant::now(), completion), {
            let mut both = vec![idle, large];
            both.sort();
            both
        });
    }

    /// The next due instant is the earliest idle or age deadline, never one before a trace
    /// has been idle the whole timeout: at that instant the trace is due, a moment before it
    /// is not.
    #[tokio::test(start_paused = true)]
    async fn the_next_due_instant_is_the_earliest_idle_or_age_deadline() {
        let mut open = OpenTraces::new(100);
        let completion = idle_a_second(Duration::from_millis(2500), 100);
        assert_eq!(open.next_due(completion), None, "nothing open");
        let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
        let position: Position = ("events".into(), 0, 1);
        let opened = Instant::now();
        open.add(event(first, 0), &position, 1, opened, &origins());
        tokio::time::advance(Duration::from_millis(400)).await;
        open.add(event(second, 0), &position, 1, Instant::now(), &origins());
        assert_eq!(
            open.next_due(completion),
            Some(opened + Duration::from_secs(1)),
            "the trace idle the longest"
        );
        // Both kept busy: the first trace's age limit comes before either's idle deadline.
        for _ in 0..4 {
            tokio::time::advance(Duration::from_millis(500)).await;
            open.add(event(first, 1), &position, 1, Instant::now(), &origins());
            open.add(event(second, 1), &position, 1, Instant::now(), &origins());
        }
        let next = open.next_due(completion).expect("open");
        assert_eq!(next, opened + Duration::from_millis(2500), "the age limit");
        tokio::time::advance(next - Instant::now() - Duration::from_millis(1)).await;
        assert!(open.due(Instant::now(), completion).is_empty());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(open.due(Instant::now(), completion), vec![first]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_trace_waits_for_the_write_of_its_latest_event() {
        let mut open = OpenTraces::new(100);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        for (trace, write_seq) in [(a, 1), (b, 2), (a, 3)] {
            let position: Position = ("events".into(), 0, write_seq as i64);
            open.add(
                event(trace, 0),
                &position,
                write_seq,
                Instant::now(),
                &origins(),
            );
        }
        assert_eq!(open.write_seq(&[a]), 3);
        assert_eq!(open.write_seq(&[b]), 2);
        assert_eq!(open.write_seq(&[b, a]), 3);
        assert_eq!(
            open.write_seq(&[Uuid::new_v4()]),
            0,
            "not open: nothing to wait for"
        );
    }
}
