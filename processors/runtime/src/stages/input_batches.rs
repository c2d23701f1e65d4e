//! The records of topic `raceway.accesses` for a completion batch: one `raceway.RaceInputBatch`
//! record per partition, holding every input of the batch's traces that its key places there.
//!
//! The rule: an input travels in the partition of its own key (`partition_key`: the variable
//! for accesses and update spans, the environment's lock order for lock-order edges), so the
//! race stage instance owning that partition sees every input of the variables it owns. A record
//! is keyed by its first member's key and holds only members of the same partition, by
//! construction. Grouping per partition instead of one record per input is what spares the
//! broker: its cost is per record (on tansu a SQLite row each way, about 230-460 µs of its CPU
//! to store, about 110 µs to fetch), and traces of ~7 events gave about one record per 3 events.
//! The partition count comes from the bus's metadata for the topic; with a wrong count an
//! input would land in another partition than its key's, and the inputs of one variable could be
//! split between two race stage instances, which would each miss the races between them.

use raceway_analysis::RaceInputs;
use raceway_bus::{PartitionGroups, Record};
use raceway_schemas::avro::{
    encode_race_input_batches, encode_race_member, EncodedRaceMember, RaceInputRef,
};
use uuid::Uuid;

/// Largest record produced, in bytes: under the broker's default 1 MB message limit (the
/// gateway's default for event records too). A larger batch is split into several records.
pub(super) const MAX_RECORD_BYTES: usize = 900 * 1024;

/// The encoded inputs of a completion batch, grouped by partition of `raceway.accesses`.
pub(super) struct InputBatches {
    members: PartitionGroups<EncodedRaceMember>,
    inputs: u64,
}

impl InputBatches {
    /// An empty batch for a topic of `partitions` partitions.
    pub(super) fn new(partitions: i32) -> InputBatches {
        InputBatches {
            members: PartitionGroups::new(partitions),
            inputs: 0,
        }
    }

    /// Adds one trace's inputs, each stamped with the trace's event count so that the race stage
    /// can tell a re-analysis from a redelivery. An input that cannot be encoded (a counter above
    /// `i64::MAX`) is logged and skipped: it cannot be analysed, the rest can.
    pub(super) fn add_trace(
        &mut self,
        trace_id: Uuid,
        inputs: &RaceInputs,
        trace_events: u64,
        clock_entries: &prometheus::Histogram,
    ) {
        for access in &inputs.accesses {
            clock_entries.observe(access.clock.len() as f64);
        }
        let members = (inputs.accesses.iter().map(RaceInputRef::Access))
            .chain(inputs.updates.iter().map(RaceInputRef::Update))
            .chain(inputs.lock_edges.iter().map(RaceInputRef::LockEdge));
        for input in members {
            let (key, event_id) = match input {
                RaceInputRef::Access(a) => (a.partition_key(), a.event_id),
                RaceInputRef::Update(s) => (s.partition_key(), s.write.event_id),
                RaceInputRef::LockEdge(e) => (e.partition_key(), e.acquired.event_id),
            };
            match encode_race_member(input, trace_events) {
                Ok(member) => {
                    self.members.push(&key, member);
                    self.inputs += 1;
                }
                Err(err) => tracing::error!(%trace_id, %event_id, error = %err,
                    "cannot encode a race-stage input; it is not analysed"),
            }
        }
    }

    /// How many inputs were added (and encoded).
    pub(super) fn inputs(&self) -> u64 {
        self.inputs
    }

    /// The records: one per partition, or more where a partition's members exceed
    /// `max_bytes`; each keyed by its partition's first member's key.
    pub(super) fn into_records(self, max_bytes: usize) -> Vec<Record> {
        let mut records = Vec::new();
        for (key, members) in self.members.into_groups() {
            for value in encode_race_input_batches(members, max_bytes) {
                records.push(Record {
                    key: key.clone().into_bytes(),
                    value,
                });
            }
        }
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raceway_bus::partition_for;
    use raceway_schemas::avro::{RaceInput, RaceInputDecoder};
    use raceway_schemas::{AccessType, ActorId, CompactClock};

    fn access(n: u128, variable: &str) -> raceway_schemas::Access {
        raceway_schemas::Access {
            event_id: Uuid::from_u128(n),
            trace_id: Uuid::from_u128(1),
            timestamp_ns: n as i64,
            environment: "prod".into(),
            variable: variable.into(),
            access_type: AccessType::Write,
            location: "bank.rs:1".into(),
            value: "1".into(),
            old_value: None,
            actor: ActorId {
                service: "bank".into(),
                instance: "bank-1".into(),
                thread: format!("t{n}"),
            }
            .into(),
            clock: CompactClock::from_pairs([(format!("t{n}"), 1)]),
            trusted_clock: true,
            locks: Vec::new().into(),
            trace_start_ns: 0,
            trace_end_ns: 10,
        }
    }

    #[test]
    fn every_member_travels_in_its_own_keys_partition_in_order() {
        let partitions = 4;
        let accesses: Vec<_> = (0..40).map(|n| access(n, &format!("v{}", n % 9))).collect();
        let inputs = RaceInputs {
            accesses: accesses.clone(),
            updates: Vec::new(),
            lock_edges: Vec::new(),
        };
        let histogram = prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("h", "h"))
            .expect("histogram");
        let mut batches = InputBatches::new(partitions);
        batches.add_trace(Uuid::from_u128(1), &inputs, 40, &histogram);
        assert_eq!(batches.inputs(), 40);
        let records = batches.into_records(MAX_RECORD_BYTES);
        assert!(records.len() <= partitions as usize, "{}", records.len());
        let mut decoder = RaceInputDecoder::default();
        let mut seen = Vec::new();
        for record in records {
            let partition = partition_for(&record.key, partitions);
            for member in decoder.decode_all(&record.value).expect("decodes") {
                assert_eq!(member.trace_events, 40);
                let RaceInput::Access(access) = member.input else {
                    panic!("an access")
                };
                let key = access.partition_key();
                assert_eq!(
                    partition_for(key.as_bytes(), partitions),
                    partition,
                    "{key}"
                );
                seen.push(access);
            }
        }
        // Per variable, the order of the trace is kept.
        for variable in 0..9 {
            let name = format!("v{variable}");
            let of = |list: &[raceway_schemas::Access]| -> Vec<Uuid> {
                list.iter()
                    .filter(|a| *a.variable == *name)
                    .map(|a| a.event_id)
                    .collect()
            };
            assert_eq!(of(&seen), of(&accesses));
        }
        assert_eq!(seen.len(), 40);
    }
}
