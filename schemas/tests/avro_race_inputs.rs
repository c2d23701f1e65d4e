//! Avro codec of the race-stage inputs that travel next to the accesses: update spans and
//! lock-order edges. Round trips, cross-checks with apache-avro, dispatch by schema id, bad input.

mod common;

use apache_avro::Schema;
use common::*;
use raceway_schemas::avro::*;
use raceway_schemas::framing::*;
use raceway_schemas::*;
use uuid::Uuid;

fn span() -> UpdateSpan {
    UpdateSpan {
        read: UpdateRead {
            event_id: Uuid::from_u128(77),
            timestamp_ns: 1_700_000_000_000_000_000,
            location: "bank.rs:40".into(),
            value: "100".into(),
            clock: CompactClock::from_pairs([("t/a", 3), ("t/b", 1 << 40)]),
        },
        write: access(
            Some("100"),
            vec![HeldLock {
                lock_id: "accounts".into(),
                mode: LockMode::Shared,
            }],
        ),
        held_throughout: vec![HeldLock {
            lock_id: "accounts".into(),
            mode: LockMode::Shared,
        }],
    }
}

fn acquisition(event: u128, lock_id: &str, mode: LockMode) -> LockAcquisition {
    LockAcquisition {
        event_id: Uuid::from_u128(event),
        lock_id: lock_id.into(),
        mode,
        location: format!("locks.rs:{event}"),
        timestamp_ns: 5 + event as i64,
        clock: vec![("w1".into(), event as u64)],
        lock_type: "RwLock::Write".into(),
    }
}

fn edge() -> LockOrderEdge {
    LockOrderEdge {
        trace_id: trace_id(),
        environment: "prod".into(),
        actor: ActorId {
            service: "ledger".into(),
            instance: "ledger-1".into(),
            thread: "worker-1".into(),
        },
        held: acquisition(1, "b", LockMode::Exclusive),
        acquired: acquisition(2, "a", LockMode::Shared),
        start_clock: vec![("w1".into(), 0), ("w2".into(), 4)],
        guards: vec![HeldLock {
            lock_id: "guard".into(),
            mode: LockMode::Exclusive,
        }],
        trusted_clock: true,
        trace_start_ns: 1,
        trace_end_ns: 99,
    }
}

/// apache-avro decodes our datum completely and its own encoding of that value decodes to the
/// same model value with our decoder.
fn cross_check(bytes: &[u8], schema: &Schema, id: u32) -> Vec<u8> {
    let (found, mut datum) = unframe(bytes).unwrap();
    assert_eq!(found, id);
    let value = apache_avro::from_avro_datum(schema, &mut datum, None).unwrap();
    assert!(datum.is_empty(), "apache-avro left bytes unread");
    frame(id, &apache_avro::to_avro_datum(schema, value).unwrap())
}

/// Our encoding (`ours`) and apache-avro's re-encoding (`theirs`) both decode to `input`.
fn assert_both_decode_to(ours: &[u8], theirs: &[u8], input: RaceInput, trace_events: u64) {
    let expected = RaceRecord {
        input,
        trace_events,
    };
    assert_eq!(decode_race_input(ours).unwrap(), expected);
    assert_eq!(decode_race_input(theirs).unwrap(), expected);
}

#[test]
fn update_spans_round_trip_and_agree_with_apache_avro() {
    let bytes = encode_update_span(&span(), 17).unwrap();
    let theirs = cross_check(&bytes, update_span_schema(), UPDATE_SPAN_SCHEMA_ID);
    assert_both_decode_to(&bytes, &theirs, RaceInput::Update(span()), 17);
}

#[test]
fn lock_order_edges_round_trip_and_agree_with_apache_avro() {
    let bytes = encode_lock_order_edge(&edge(), 3).unwrap();
    let theirs = cross_check(&bytes, lock_order_edge_schema(), LOCK_ORDER_EDGE_SCHEMA_ID);
    assert_both_decode_to(&bytes, &theirs, RaceInput::LockEdge(edge()), 3);
}

#[test]
fn batches_of_inputs_agree_with_apache_avro() {
    let (span, edge, access) = (span(), edge(), access(None, vec![]));
    let members = [
        (RaceInputRef::Update(&span), 17),
        (RaceInputRef::LockEdge(&edge), 3),
        (RaceInputRef::Access(&access), 9),
    ]
    .map(|(input, n)| encode_race_member(input, n).unwrap());
    let records = encode_race_input_batches(members.into(), usize::MAX);
    let theirs = cross_check(
        &records[0],
        race_input_batch_schema(),
        RACE_INPUT_BATCH_SCHEMA_ID,
    );
    let expected = vec![
        RaceRecord {
            input: RaceInput::Update(span),
            trace_events: 17,
        },
        RaceRecord {
            input: RaceInput::LockEdge(edge),
            trace_events: 3,
        },
        RaceRecord {
            input: RaceInput::Access(access),
            trace_events: 9,
        },
    ];
    let mut decoder = RaceInputDecoder::default();
    assert_eq!(decoder.decode_all(&records[0]).unwrap(), expected);
    assert_eq!(decoder.decode_all(&theirs).unwrap(), expected);
    // A single record decodes as a list of one.
    let single = encode_lock_order_edge(&self::edge(), 3).unwrap();
    assert_eq!(
        decoder.decode_all(&single).unwrap(),
        vec![expected[1].clone()]
    );
}

#[test]
fn first_version_lock_order_edges_still_decode_without_lock_types() {
    // A record of the first schema version: the same value without the acquisitions' types,
    // written by apache-avro with the first version's schema.
    let bytes = encode_lock_order_edge(&edge(), 3).unwrap();
    let (_, mut datum) = unframe(&bytes).unwrap();
    let value = apache_avro::from_avro_datum(lock_order_edge_schema(), &mut datum, None).unwrap();
    let apache_avro::types::Value::Record(mut fields) = value else {
        panic!("a record")
    };
    for (name, field) in &mut fields {
        if let ("held" | "acquired", apache_avro::types::Value::Record(inner)) =
            (name.as_str(), field)
        {
            inner.retain(|(n, _)| n != "lock_type");
        }
    }
    let v1 = Schema::parse_str(LOCK_ORDER_EDGE_V1_AVSC).unwrap();
    let old = apache_avro::to_avro_datum(&v1, apache_avro::types::Value::Record(fields)).unwrap();
    let record = decode_race_input(&frame(LOCK_ORDER_EDGE_V1_SCHEMA_ID, &old)).unwrap();
    let mut expected = edge();
    expected.held.lock_type.clear();
    expected.acquired.lock_type.clear();
    assert_eq!(record.input, RaceInput::LockEdge(expected));
    assert_eq!(record.trace_events, 3);
}

#[test]
fn accesses_decode_as_race_inputs_too() {
    let access = access(None, vec![]);
    let bytes = encode_access(&access, 9).unwrap();
    assert_eq!(
        decode_race_input(&bytes).unwrap(),
        RaceRecord {
            input: RaceInput::Access(access.clone()),
            trace_events: 9,
        }
    );
    assert_eq!(decode_access(&bytes).unwrap(), access);
}

#[test]
fn other_schema_ids_and_truncations_are_errors() {
    let batch = encode_event_batch(&all_kinds_batch()).unwrap();
    let err = decode_race_input(&batch).unwrap_err();
    assert!(matches!(err, SchemaError::NotARaceInput { found: 1001 }));
    assert!(err.to_string().contains("1003 UpdateSpan"), "{err}");
    for bytes in [
        encode_update_span(&span(), 1).unwrap(),
        encode_lock_order_edge(&edge(), 1).unwrap(),
    ] {
        assert_every_prefix_fails(&bytes, decode_race_input);
    }
}

#[test]
fn negative_counters_in_a_span_name_the_field() {
    let bytes = encode_update_span(&span(), 1).unwrap();
    let (_, mut datum) = unframe(&bytes).unwrap();
    let mut value = apache_avro::from_avro_datum(update_span_schema(), &mut datum, None).unwrap();
    // read.clock[0].counter := -1
    if let apache_avro::types::Value::Record(fields) = &mut value {
        if let apache_avro::types::Value::Record(read) = &mut fields[1].1 {
            if let apache_avro::types::Value::Array(clock) = &mut read[4].1 {
                if let apache_avro::types::Value::Record(entry) = &mut clock[0] {
                    entry[1].1 = apache_avro::types::Value::Long(-1);
                }
            }
        }
    }
    let theirs = apache_avro::to_avro_datum(update_span_schema(), value).unwrap();
    let err = decode_race_input(&frame(UPDATE_SPAN_SCHEMA_ID, &theirs)).unwrap_err();
    assert!(err.to_string().contains("read.clock[0].counter"), "{err}");
}
