//! The notices the stages send live readers on the findings topic ([`Notice`]): the notices of
//! one step (a completion batch, a poll's findings) as one record per partition of the topic,
//! as the gateway sends events.
//!
//! The rule: a notice travels in a record that lands in its own trace's partition
//! ([`partition_for`](raceway_bus::partition_for) of the trace id, with the topic's partition count from the bus's
//! metadata; the record is keyed by its first notice's trace, which the partitioner places
//! there), so one trace's notices stay in one partition, in the order sent. Grouping them per
//! partition is what makes them cheap: the broker's cost is per record, and one record per
//! notice was a third of what the trace stage produced on short traces. Were the partition
//! count wrong, a trace's notices could be spread over two partitions and a reader could see a
//! re-completion before the completion it replaces; live readers read every partition, so
//! nothing is lost either way.

use raceway_bus::{PartitionGroups, Record};
use raceway_schemas::notice::{encode_notice_batches, Notice};

use super::StageIo;
use crate::retry::ShutdownDuringRetry;

/// Most bytes of one notice record: under the broker's 1 MB message limit, as for events.
const MAX_NOTICE_RECORD_BYTES: usize = 900 * 1024;

/// Publishes `notices` on the findings topic, one record per partition (split past
/// [`MAX_NOTICE_RECORD_BYTES`]), retrying until durable.
pub(super) async fn publish_notices(
    io: &StageIo,
    operation: &'static str,
    notices: Vec<Notice>,
) -> Result<(), ShutdownDuringRetry> {
    if notices.is_empty() {
        return Ok(());
    }
    let topic = io.topics.findings.clone();
    let partitions = io.partitions_retrying(operation, &topic).await?;
    let records = notice_records(notices, partitions, MAX_NOTICE_RECORD_BYTES);
    io.produce_retrying(operation, topic, records).await
}

/// The records of `notices` on a topic of `partitions` partitions: per partition, its notices in
/// the order given, in records of at most `max_bytes` (a larger notice alone).
fn notice_records(notices: Vec<Notice>, partitions: i32, max_bytes: usize) -> Vec<Record> {
    let mut by_partition = PartitionGroups::new(partitions);
    for notice in notices {
        by_partition.push(&notice.trace_id(), notice);
    }
    by_partition
        .into_groups()
        .flat_map(|(key, notices)| {
            encode_notice_batches(&notices, max_bytes)
                .into_iter()
                .map(move |value| Record::new(key.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use raceway_bus::partition_for;
    use raceway_schemas::notice::decode_notices;
    use std::collections::BTreeMap;
    use uuid::Uuid;

    fn completed(n: u128) -> Notice {
        Notice::TraceCompleted {
            trace_id: Uuid::from_u128(n * 7919),
            event_count: n as u64,
            services: vec!["web".into()],
            environments: vec!["prod".into()],
        }
    }

    /// Every notice once, in a record of its own trace's partition, in the order given per
    /// partition; at most one record per partition unless the bound splits it.
    #[test]
    fn notices_travel_in_their_traces_partition_in_order() {
        let notices: Vec<Notice> = (0..500).map(completed).collect();
        let partitions = 8;
        for (max_bytes, most_records) in [(1 << 20, 8), (2_000, 500)] {
            let records = notice_records(notices.clone(), partitions, max_bytes);
            assert!(records.len() <= most_records, "{} records", records.len());
            let mut read: BTreeMap<i32, Vec<Notice>> = BTreeMap::new();
            for record in &records {
                let partition = partition_for(&record.key, partitions);
                for notice in decode_notices(&record.value).unwrap() {
                    assert_eq!(
                        partition_for(notice.trace_id().as_bytes(), partitions),
                        partition
                    );
                    read.entry(partition).or_default().push(notice);
                }
            }
            for (partition, got) in read {
                let sent: Vec<&Notice> = notices
                    .iter()
                    .filter(|n| partition_for(n.trace_id().as_bytes(), partitions) == partition)
                    .collect();
                assert_eq!(
                    got.iter().collect::<Vec<_>>(),
                    sent,
                    "partition {partition}"
                );
            }
            let count: usize = records
                .iter()
                .map(|r| decode_notices(&r.value).unwrap().len())
                .sum();
            assert_eq!(count, notices.len());
        }
    }
}
