//! The clocks of access and update-span records: component names once per record, then indices
//! (schema ids 1006, 1007); records of the first versions (1002, 1003: name and counter pairs),
//! still on the bus after an upgrade, decode to the same values; decoded tables are shared.

mod common;

use std::sync::Arc;

use apache_avro::types::Value;
use apache_avro::Schema;
use common::*;
use raceway_schemas::avro::*;
use raceway_schemas::framing::*;
use raceway_schemas::*;
use uuid::Uuid;

fn span(read_clock: CompactClock) -> UpdateSpan {
    UpdateSpan {
        read: UpdateRead {
            event_id: Uuid::from_u128(77),
            timestamp_ns: 3,
            location: "bank.rs:40".into(),
            value: "100".into(),
            clock: read_clock,
        },
        write: access(Some("100"), Vec::new()),
        held_throughout: Vec::new(),
    }
}

/// The value of `bytes` (framed with `id`, read with `schema`) rewritten to the first schema
/// version: each record's `clock_components` dropped and the clocks under it given as names.
fn as_first_version(bytes: &[u8], schema: &Schema) -> Value {
    let (_, mut datum) = unframe(bytes).unwrap();
    let mut value = apache_avro::from_avro_datum(schema, &mut datum, None).unwrap();
    to_pairs(&mut value, &[]);
    value
}

fn to_pairs(value: &mut Value, names: &[String]) {
    let Value::Record(fields) = value else { return };
    let mut names = names.to_vec();
    // A span's read clock indexes into its write's names.
    if let Some((_, Value::Record(write))) = fields.iter().find(|(n, _)| n == "write") {
        if let Some((_, Value::Array(list))) = write.iter().find(|(n, _)| n == "clock_components") {
            names = list
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => panic!("a string, got {other:?}"),
                })
                .collect();
        }
    }
    if let Some(at) = fields.iter().position(|(n, _)| n == "clock_components") {
        let (_, Value::Array(list)) = fields.remove(at) else {
            panic!("an array")
        };
        names = list
            .into_iter()
            .map(|v| match v {
                Value::String(s) => s,
                other => panic!("a string, got {other:?}"),
            })
            .collect();
    }
    for (name, field) in fields.iter_mut() {
        match (name.as_str(), field) {
            ("clock", Value::Array(entries)) => {
                for entry in entries {
                    let Value::Record(parts) = entry else {
                        panic!("a record")
                    };
                    let Value::Int(index) = parts[0].1 else {
                        panic!("an index")
                    };
                    parts[0].1 = Value::String(names[index as usize].clone());
                }
            }
            (_, inner @ Value::Record(_)) => to_pairs(inner, &names),
            _ => {}
        }
    }
}

#[test]
fn first_version_accesses_and_spans_still_decode_to_the_same_values() {
    let access = access(None, Vec::new());
    let v1 = Schema::parse_str(ACCESS_V1_AVSC).unwrap();
    let old = as_first_version(&encode_access(&access, 4).unwrap(), access_schema());
    let old = frame(
        ACCESS_V1_SCHEMA_ID,
        &apache_avro::to_avro_datum(&v1, old).unwrap(),
    );
    let record = decode_race_input(&old).unwrap();
    assert_eq!(record.input, RaceInput::Access(access.clone()));
    assert_eq!(record.trace_events, 4);
    assert_eq!(decode_access(&old).unwrap(), access);

    // The read's clock names a component the write's does not: one table for both.
    let span = span(CompactClock::from_pairs([("a", 1), ("r", 9)]));
    let schemas = Schema::parse_list([ACCESS_V1_AVSC, UPDATE_SPAN_V1_AVSC]).unwrap();
    let old = as_first_version(&encode_update_span(&span, 5).unwrap(), update_span_schema());
    let datum = apache_avro::to_avro_datum_schemata(&schemas[1], schemas.iter().collect(), old);
    let old = frame(UPDATE_SPAN_V1_SCHEMA_ID, &datum.unwrap());
    let record = decode_race_input(&old).unwrap();
    assert_eq!(record.input, RaceInput::Update(span));
    assert_eq!(record.trace_events, 5);
}

#[test]
fn a_span_lists_the_names_of_both_clocks_once() {
    let span = span(CompactClock::from_pairs([("a", 1), ("r", 9)]));
    let bytes = encode_update_span(&span, 1).unwrap();
    let (_, mut datum) = unframe(&bytes).unwrap();
    let value = apache_avro::from_avro_datum(update_span_schema(), &mut datum, None).unwrap();
    let Value::Record(fields) = value else {
        panic!("a record")
    };
    let Value::Record(write) = &fields[0].1 else {
        panic!("the write")
    };
    let names = write.iter().find(|(n, _)| n == "clock_components");
    let strings =
        |list: &[&str]| Value::Array(list.iter().map(|s| Value::String(s.to_string())).collect());
    assert_eq!(names.unwrap().1, strings(&["a", "b", "r"]));
    let RaceInput::Update(back) = decode_race_input(&bytes).unwrap().input else {
        panic!("a span")
    };
    assert!(Arc::ptr_eq(
        back.read.clock.names(),
        back.write.clock.names()
    ));
    assert_eq!(back, span);
}

#[test]
fn a_decoder_shares_the_table_of_records_listing_the_same_names() {
    let first = access(None, Vec::new());
    let mut second = first.clone();
    second.event_id = Uuid::from_u128(8);
    second.clock = CompactClock::from_pairs([("a", 2), ("b", 1)]);
    let mut other = first.clone();
    other.clock = CompactClock::from_pairs([("c", 1)]);
    let mut decoder = RaceInputDecoder::default();
    let clock = |access: &Access, decoder: &mut RaceInputDecoder| match decoder
        .decode(&encode_access(access, 0).unwrap())
        .unwrap()
        .input
    {
        RaceInput::Access(decoded) => {
            assert_eq!(&decoded, access);
            decoded.clock
        }
        _ => panic!("an access"),
    };
    let (a, b) = (clock(&first, &mut decoder), clock(&second, &mut decoder));
    assert!(Arc::ptr_eq(a.names(), b.names()));
    let c = clock(&other, &mut decoder);
    assert!(!Arc::ptr_eq(b.names(), c.names()));
}

#[test]
fn indices_outside_the_names_are_errors() {
    let bytes = encode_access(&access(None, Vec::new()), 0).unwrap();
    let (_, mut datum) = unframe(&bytes).unwrap();
    let mut value = apache_avro::from_avro_datum(access_schema(), &mut datum, None).unwrap();
    if let Value::Record(fields) = &mut value {
        for (name, field) in fields.iter_mut() {
            if let ("clock", Value::Array(entries)) = (name.as_str(), field) {
                if let Value::Record(entry) = &mut entries[0] {
                    entry[0].1 = Value::Int(2);
                }
            }
        }
    }
    let theirs = apache_avro::to_avro_datum(access_schema(), value).unwrap();
    let err = decode_race_input(&frame(ACCESS_SCHEMA_ID, &theirs)).unwrap_err();
    assert!(
        err.to_string().contains("outside clock_components"),
        "{err}"
    );
}
