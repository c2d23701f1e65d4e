//! Notices on the findings topic (`raceway.findings`): what the pipeline tells live readers
//! (the query API's live stream) besides the events themselves.
//!
//! The race stage sends [`Notice::Finding`] for each new or updated finding after storing it;
//! the trace stage sends [`Notice::TraceCompleted`] after storing a completed trace's analyses
//! (a late event re-opens a trace, so one trace can complete more than once). Both are sent
//! after the store write, so a reader that follows a notice to the query API finds the data.
//!
//! # Records: one batch per partition
//!
//! A stage sends the notices of one step (a completion batch, a poll's findings) as one record
//! per partition of the topic: a [`NoticeBatch`] of every notice whose trace the partitioner
//! places there, keyed by its first notice's trace, so each trace's notices stay in one
//! partition and in order. The broker's cost is per record (tansu stores each with its own
//! SQLite insert), and one notice per record was a third of everything the trace stage
//! produced on short traces. A record is split past a size bound
//! ([`encode_notice_batches`]); [`decode_notices`] also reads the single-notice records written
//! before batches, so an upgrade loses nothing in flight.
//!
//! # Why JSON
//!
//! The only readers are live readers that send each notice on as JSON anyway (a finding's shape
//! is the API's), notices are few (one per trace or finding, not per event), the cost that
//! matters is the broker's per record, not the bytes, and the records written before batches
//! are JSON: a binary format would add a schema for [`RaceFinding`] and save nothing measurable.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::packing::pack_under;
use crate::RaceFinding;

/// One notice on the findings topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    /// A finding was stored (new, or a new version of it).
    Finding {
        /// The finding as stored.
        finding: Box<RaceFinding>,
    },
    /// A trace was completed and analysed.
    TraceCompleted {
        /// The trace.
        trace_id: Uuid,
        /// Its events at completion.
        event_count: u64,
        /// Its services, sorted.
        services: Vec<String>,
        /// Its events' environments, sorted (live readers confine tenants by them; empty in
        /// notices written before they were recorded).
        #[serde(default)]
        environments: Vec<String>,
    },
}

impl Notice {
    /// The trace the notice concerns (a finding's first side): it decides the partition.
    pub fn trace_id(&self) -> String {
        match self {
            Notice::Finding { finding } => finding.first.trace_id.clone(),
            Notice::TraceCompleted { trace_id, .. } => trace_id.to_string(),
        }
    }

    /// The notice alone as JSON (the payload of a record written before batches).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The payload of one record: `{"type": "batch", "notices": [...]}`, in the order sent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NoticeBatch {
    /// Always `"batch"`: checked when read, never used after.
    #[serde(rename = "type")]
    _tag: BatchTag,
    /// The notices, in the order sent.
    pub notices: Vec<Notice>,
}

/// The batch's `type`: only `"batch"`, so a single notice never reads as a batch.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
enum BatchTag {
    #[serde(rename = "batch")]
    Batch,
}

/// A batch of notices already encoded one by one, as written.
#[derive(Serialize)]
struct EncodedBatch<'a> {
    #[serde(rename = "type")]
    tag: &'static str,
    notices: &'a [Box<RawValue>],
}

/// The notices of one record of the findings topic, in order: a [`NoticeBatch`], or a single
/// notice (records written before batches).
pub fn decode_notices(value: &[u8]) -> Result<Vec<Notice>, serde_json::Error> {
    match serde_json::from_slice::<NoticeBatch>(value) {
        Ok(batch) => Ok(batch.notices),
        Err(not_a_batch) => serde_json::from_slice::<Notice>(value)
            .map(|notice| vec![notice])
            .map_err(|_| not_a_batch),
    }
}

/// `notices` as batch records of at most `max_bytes` each, in order: a record takes notices
/// until the next would pass the bound (a notice larger than the bound alone is a record of
/// its own). Empty for no notices.
pub fn encode_notice_batches(notices: &[Notice], max_bytes: usize) -> Vec<Vec<u8>> {
    // `{"type":"batch","notices":[` and `]}`, and a comma between notices.
    const FRAME_BYTES: usize = 29;
    // Serialising plain data with string keys cannot fail.
    let members = notices
        .iter()
        .filter_map(|notice| serde_json::value::to_raw_value(notice).ok());
    // A notice adds its JSON and a comma.
    pack_under(members, FRAME_BYTES, max_bytes, |json| json.get().len() + 1)
        .iter()
        .map(|part| encode_batch(part))
        .collect()
}

fn encode_batch(members: &[Box<RawValue>]) -> Vec<u8> {
    let batch = EncodedBatch {
        tag: "batch",
        notices: members,
    };
    serde_json::to_vec(&batch).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(n: u128, environment: &str) -> Notice {
        Notice::TraceCompleted {
            trace_id: Uuid::from_u128(n),
            event_count: 7,
            services: vec!["web".into()],
            environments: vec![environment.into()],
        }
    }

    #[test]
    fn a_batch_reads_back_in_order_and_single_notices_still_read() {
        let notices: Vec<Notice> = (1..=3).map(|n| completed(n, "prod")).collect();
        let records = encode_notice_batches(&notices, 1 << 20);
        assert_eq!(records.len(), 1);
        let text = String::from_utf8(records[0].clone()).unwrap();
        assert!(text.starts_with(r#"{"type":"batch","notices":[{"type":"trace_completed""#));
        assert_eq!(decode_notices(&records[0]).unwrap(), notices);
        // A record written before batches: one notice alone.
        let single = completed(9, "dev");
        assert_eq!(decode_notices(&single.to_json()).unwrap(), vec![single]);
        assert!(decode_notices(b"not json").is_err());
        assert!(decode_notices(br#"{"type":"batches","notices":[]}"#).is_err());
        assert!(encode_notice_batches(&[], 100).is_empty());
    }

    #[test]
    fn records_are_split_at_the_bound_keeping_order() {
        let notices: Vec<Notice> = (1..=40).map(|n| completed(n, "prod")).collect();
        let one = completed(1, "prod").to_json().len();
        for max_bytes in [1, one, one + 40, 3 * one, 10 * one, 1 << 20] {
            let records = encode_notice_batches(&notices, max_bytes);
            let mut read = Vec::new();
            for record in &records {
                let members = decode_notices(record).unwrap();
                assert!(
                    record.len() <= max_bytes || members.len() == 1,
                    "a {}-byte record of {} notices over {max_bytes}",
                    record.len(),
                    members.len()
                );
                read.extend(members);
            }
            assert_eq!(read, notices, "max_bytes {max_bytes}");
            if max_bytes >= 3 * one {
                assert!(records.len() < notices.len(), "max_bytes {max_bytes}");
            }
        }
    }
}
