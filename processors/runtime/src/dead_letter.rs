//! Dead letters: records that can never be decoded go to the dead-letter topic with the reason
//! and their source position, so one bad record never stalls its partition.

use serde_json::json;

use raceway_bus::{ConsumedRecord, Record};

/// Builds the dead-letter record for `source`, explaining `reason`.
pub fn dead_letter_record(source: &ConsumedRecord, reason: &str) -> Record {
    let value = json!({
        "reason": reason,
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
        "payload_hex": hex(&source.value),
    });
    Record {
        key: source.key.clone().unwrap_or_default(),
        value: value.to_string().into_bytes(),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_names_reason_and_source() {
        let source = ConsumedRecord {
            topic: "raceway.events".into(),
            partition: 2,
            offset: 17,
            key: Some(b"k".to_vec()),
            value: vec![0xde, 0xad],
            produced_ms: None,
        };
        let record = dead_letter_record(&source, "bad magic byte");
        let value: serde_json::Value = serde_json::from_slice(&record.value).unwrap();
        assert_eq!(value["reason"], "bad magic byte");
        assert_eq!(value["source_partition"], 2);
        assert_eq!(value["source_offset"], 17);
        assert_eq!(value["payload_hex"], "dead");
        assert_eq!(record.key, b"k");
    }
}
