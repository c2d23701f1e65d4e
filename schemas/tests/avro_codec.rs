//! Avro codec: round trips, cross-checks with apache-avro's own codec, and bad input.

mod common;

use apache_avro::types::Value;
use common::*;
use raceway_schemas::avro::*;
use raceway_schemas::framing::*;
use raceway_schemas::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[test]
fn every_kind_round_trips_through_an_event_batch() {
    let batch = all_kinds_batch();
    let bytes = encode_event_batch(&batch).unwrap();
    assert_eq!(
        &bytes[..5],
        &[0, 0, 0, 0x03, 0xe9],
        "magic byte + schema id 1001"
    );
    assert_eq!(decode_event_batch(&bytes).unwrap(), batch);
    let empty = EventBatch {
        trace_id: trace_id(),
        events: vec![],
    };
    assert_eq!(
        decode_event_batch(&encode_event_batch(&empty).unwrap()).unwrap(),
        empty
    );
}

#[test]
fn encoding_is_deterministic_despite_hash_maps() {
    // Tags go through Value::Map (a HashMap); our writer sorts them.
    let batch = all_kinds_batch();
    let first = encode_event_batch(&batch).unwrap();
    for _ in 0..20 {
        assert_eq!(encode_event_batch(&batch).unwrap(), first);
    }
}

#[test]
fn access_round_trips() {
    let locks = vec![
        HeldLock {
            lock_id: "accounts".into(),
            mode: LockMode::Shared,
        },
        HeldLock {
            lock_id: "ledger".into(),
            mode: LockMode::Exclusive,
        },
    ];
    for access in [access(Some("100"), locks), access(None, vec![])] {
        let bytes = encode_access(&access, 0).unwrap();
        assert_eq!(unframe(&bytes).unwrap().0, ACCESS_SCHEMA_ID);
        assert_eq!(decode_access(&bytes).unwrap(), access);
    }
}

#[test]
fn kind_is_a_true_union_of_records_named_after_the_kinds() {
    let Value::Union(index, record) = apache_datum(&all_kinds_batch()).events_kind(3) else {
        panic!("kind is not a union");
    };
    assert_eq!(index, 3, "StateChange is branch 3");
    assert!(matches!(*record, Value::Record(_)));
    let apache_avro::Schema::Record(event) = event_schema() else {
        panic!("Event is not a record")
    };
    let kind = event.fields.iter().find(|f| f.name == "kind").unwrap();
    let apache_avro::Schema::Union(union) = &kind.schema else {
        panic!("kind is not a union")
    };
    let names: Vec<String> = union
        .variants()
        .iter()
        .map(|v| match v {
            apache_avro::Schema::Record(r) => r.name.fullname(None),
            other => panic!("branch {other:?} is not a record"),
        })
        .collect();
    let expected: Vec<String> = all_kinds()
        .iter()
        .map(|k| format!("raceway.{}", k.name()))
        .collect();
    assert_eq!(names, expected);
}

/// Our datum, decoded by apache-avro's decoder.
struct ApacheDatum(Value);

impl ApacheDatum {
    fn events_kind(&self, i: usize) -> Value {
        let Value::Record(fields) = &self.0 else {
            panic!()
        };
        let Value::Array(events) = &fields[1].1 else {
            panic!()
        };
        let Value::Record(event) = &events[i] else {
            panic!()
        };
        event.iter().find(|(n, _)| n == "kind").unwrap().1.clone()
    }
}

fn apache_datum(batch: &EventBatch) -> ApacheDatum {
    let bytes = encode_event_batch(batch).unwrap();
    let (_, mut datum) = unframe(&bytes).unwrap();
    let value = apache_avro::from_avro_datum(event_batch_schema(), &mut datum, None).unwrap();
    assert!(datum.is_empty(), "apache-avro left bytes unread");
    ApacheDatum(value)
}

#[test]
fn apache_avro_reads_our_bytes_and_we_read_its_bytes() {
    let batch = all_kinds_batch();
    let value = apache_datum(&batch).0;
    let theirs = apache_avro::to_avro_datum(event_batch_schema(), value).unwrap();
    assert_eq!(
        decode_event_batch(&frame(EVENT_BATCH_SCHEMA_ID, &theirs)).unwrap(),
        batch
    );

    let access = access(
        Some("1"),
        vec![HeldLock {
            lock_id: "l".into(),
            mode: LockMode::Shared,
        }],
    );
    let bytes = encode_access(&access, 0).unwrap();
    let value =
        apache_avro::from_avro_datum(access_schema(), &mut unframe(&bytes).unwrap().1, None)
            .unwrap();
    let theirs = apache_avro::to_avro_datum(access_schema(), value).unwrap();
    assert_eq!(
        decode_access(&frame(ACCESS_SCHEMA_ID, &theirs)).unwrap(),
        access
    );
}

#[test]
fn schema_files_are_the_source_of_truth() {
    for (text, name) in [
        (EVENT_AVSC, "raceway.Event"),
        (EVENT_BATCH_AVSC, "raceway.EventBatch"),
        (ACCESS_AVSC, "raceway.Access"),
    ] {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            format!(
                "{}.{}",
                json["namespace"].as_str().unwrap(),
                json["name"].as_str().unwrap()
            ),
            name
        );
    }
    // The batch schema is complete on its own: its canonical form carries every kind record.
    let canonical = event_batch_schema().canonical_form();
    assert!(canonical.contains("\"raceway.LockRelease\""), "{canonical}");
}

#[test]
fn wrong_schema_id_and_unframed_input_are_clear_errors() {
    let access_bytes = encode_access(&access(None, vec![]), 0).unwrap();
    let err = decode_event_batch(&access_bytes).unwrap_err();
    assert_eq!(err.to_string(), "unknown schema id 1006 (expected 1001)");
    let err = decode_access(&encode_event_batch(&all_kinds_batch()).unwrap()).unwrap_err();
    assert_eq!(err.to_string(), "unknown schema id 1001 (expected 1006)");
    assert!(matches!(
        decode_event_batch(b"{\"events\":[]}"),
        Err(SchemaError::BadMagic { found: b'{' })
    ));
    assert!(matches!(
        decode_access(&[0, 0]),
        Err(SchemaError::TooShort { len: 2 })
    ));
}

#[test]
fn every_truncation_of_a_record_is_an_error() {
    // apache-avro's own decoder reads a cut-off string or union as null; ours must not.
    let bytes = encode_event_batch(&all_kinds_batch()).unwrap();
    assert_every_prefix_fails(&bytes, decode_event_batch);
    let bytes = encode_access(&access(Some("1"), vec![]), 0).unwrap();
    assert_every_prefix_fails(&bytes, decode_access);
}

#[test]
fn trailing_bytes_are_an_error() {
    let mut bytes = encode_event_batch(&all_kinds_batch()).unwrap();
    bytes.push(0);
    let err = decode_event_batch(&bytes).unwrap_err().to_string();
    assert!(err.contains("1 unexpected bytes after the end"), "{err}");
}

/// `len` seeded random bytes.
fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rng.fill(&mut bytes[..]);
    bytes
}

#[test]
fn garbage_gives_errors_not_panics() {
    let mut rng = StdRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let len = rng.gen_range(0..200);
        let body = random_bytes(&mut rng, len);
        // Raw garbage, and garbage behind a valid header so that the Avro decoder sees it.
        assert!(decode_event_batch(&body).is_err() || body.starts_with(&[0, 0, 0, 3, 0xe9]));
        assert!(
            decode_event_batch(&frame(EVENT_BATCH_SCHEMA_ID, &body)).is_err(),
            "round {round}"
        );
        assert!(
            decode_access(&frame(ACCESS_SCHEMA_ID, &body)).is_err(),
            "round {round}"
        );
    }
    // Huge lengths and counts right at the start must be refused, not allocated.
    for datum in [
        vec![0x48, 0xff, 0xff, 0xff, 0xff, 0x0f],
        vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        vec![0xff; 11],
    ] {
        let err = decode_event_batch(&frame(EVENT_BATCH_SCHEMA_ID, &datum)).unwrap_err();
        assert!(matches!(err, SchemaError::Malformed { .. }), "{err}");
    }
}

#[test]
fn corrupted_records_never_panic() {
    let mut rng = StdRng::seed_from_u64(42);
    let valid = encode_event_batch(&all_kinds_batch()).unwrap();
    for _ in 0..5000 {
        let mut bytes = valid.clone();
        for _ in 0..rng.gen_range(1..=4) {
            let at = rng.gen_range(5..bytes.len());
            bytes[at] = rng.gen();
        }
        // Some corruptions still decode (a changed letter in a string); none may panic.
        let _ = decode_event_batch(&bytes);
    }
}

#[test]
fn huge_array_count_is_refused_with_an_offset() {
    // trace_id: a 36-character UUID, then an array announcing 2^40 events (zigzag: 0x40 << 35 = 2^41).
    let mut datum = vec![72];
    datum.extend_from_slice(TRACE.as_bytes());
    datum.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
    let err = decode_event_batch(&frame(EVENT_BATCH_SCHEMA_ID, &datum)).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("malformed raceway.EventBatch datum at byte 37"),
        "{message}"
    );
    assert!(
        message.contains("item count 1099511627776 exceeds the 0 bytes left"),
        "{message}"
    );
}

#[test]
fn values_the_model_cannot_hold_name_the_field() {
    let mut batch = all_kinds_batch();
    batch.events[2].causality_vector = vec![("a".into(), 1), ("b".into(), u64::MAX)];
    let err = encode_event_batch(&batch).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `events[2].causality_vector[1].counter`: 18446744073709551615 does not fit an Avro long"
    );

    let mut batch = all_kinds_batch();
    batch.events[1].trace_id = uuid::Uuid::nil();
    let err = encode_event_batch(&batch).unwrap_err().to_string();
    assert!(
        err.starts_with("field `events[1].trace_id`: event belongs to trace 00000000"),
        "{err}"
    );

    // A negative counter written by another producer.
    let mut value = apache_datum(&all_kinds_batch()).0;
    set_first_counter(&mut value, -1);
    let datum = apache_avro::to_avro_datum(event_batch_schema(), value).unwrap();
    let err = decode_event_batch(&frame(EVENT_BATCH_SCHEMA_ID, &datum)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `events[0].causality_vector[0].counter`: -1 is out of range for u64"
    );
}

fn set_first_counter(batch: &mut Value, counter: i64) {
    let Value::Record(fields) = batch else {
        panic!()
    };
    let Value::Array(events) = &mut fields[1].1 else {
        panic!()
    };
    let Value::Record(event) = &mut events[0] else {
        panic!()
    };
    let (_, Value::Array(clock)) = event
        .iter_mut()
        .find(|(n, _)| n == "causality_vector")
        .unwrap()
    else {
        panic!()
    };
    let Value::Record(entry) = &mut clock[0] else {
        panic!()
    };
    entry[1].1 = Value::Long(counter);
}
