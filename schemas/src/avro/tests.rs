//! Unit tests of the strict binary codec and of the schema wiring.

use apache_avro::types::Value;
use apache_avro::Schema;

use super::binary::{decode, encode, Names};
use super::event::KIND_RECORDS;
use super::*;

fn plain(schema: &str) -> (&'static Schema, Names) {
    let loaded = Loaded::parse(&serde_json::from_str(schema).unwrap(), "test schema");
    (loaded.schema, loaded.names)
}

fn roundtrip(schema: &str, value: Value) -> Vec<u8> {
    let (schema, names) = plain(schema);
    let mut out = Vec::new();
    encode(&value, schema, &names, &None, &mut out).unwrap();
    assert_eq!(decode(&out, schema, &names, "test").unwrap(), value);
    // apache-avro reads the same bytes as the same value.
    assert_eq!(
        apache_avro::from_avro_datum(schema, &mut &out[..], None).unwrap(),
        value
    );
    out
}

fn decode_err(schema: &str, bytes: &[u8]) -> String {
    let (schema, names) = plain(schema);
    decode(bytes, schema, &names, "test")
        .unwrap_err()
        .to_string()
}

#[test]
fn longs_use_zigzag_varints_like_the_spec() {
    assert_eq!(roundtrip("\"long\"", Value::Long(0)), [0]);
    assert_eq!(roundtrip("\"long\"", Value::Long(-1)), [1]);
    assert_eq!(roundtrip("\"long\"", Value::Long(1)), [2]);
    assert_eq!(roundtrip("\"long\"", Value::Long(-64)), [0x7f]);
    assert_eq!(roundtrip("\"long\"", Value::Long(64)), [0x80, 0x01]);
    for n in [i64::MIN, i64::MAX, i64::from(i32::MIN), 1 << 40] {
        roundtrip("\"long\"", Value::Long(n));
    }
    roundtrip("\"int\"", Value::Int(i32::MIN));
}

#[test]
fn overlong_and_overflowing_varints_are_errors() {
    let eleven = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00,
    ];
    assert!(decode_err("\"long\"", &eleven).contains("longer than 10 bytes"));
    let overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
    assert!(decode_err("\"long\"", &overflow).contains("overflows 64 bits"));
    assert!(
        decode_err("\"int\"", &[0x80, 0x80, 0x80, 0x80, 0x10]).contains("does not fit an Avro int")
    );
    assert!(decode_err("\"long\"", &[0x80]).contains("unexpected end of data"));
}

#[test]
fn strict_about_booleans_strings_enums_and_unions() {
    assert_eq!(
        decode_err("\"boolean\"", &[2]),
        "malformed test datum at byte 0 (after the frame header): invalid boolean byte 0x02"
    );
    assert!(decode_err("\"boolean\"", &[]).contains("unexpected end"));
    assert!(decode_err("\"string\"", &[6, b'a', b'b'])
        .contains("string length 3 exceeds the 2 bytes left"));
    assert!(decode_err("\"string\"", &[4, 0xc3, 0x28]).contains("not valid UTF-8"));
    assert!(decode_err("\"string\"", &[1]).contains("string length -1"));
    let uuid = r#"{"type":"string","logicalType":"uuid"}"#;
    assert!(decode_err(uuid, &[6, b'a', b'b', b'c']).contains("invalid UUID \"abc\""));
    let color = r#"{"type":"enum","name":"Color","symbols":["Red","Green"]}"#;
    assert!(decode_err(color, &[4]).contains("enum index 2 out of range for Color (2 symbols)"));
    assert!(decode_err(color, &[1]).contains("enum index -1"));
    assert!(
        decode_err(r#"["null","long"]"#, &[4]).contains("union index 2 out of range (2 branches)")
    );
    assert!(decode_err(r#"["null","long"]"#, &[]).contains("unexpected end"));
}

#[test]
fn arrays_and_maps_with_negative_block_counts_are_read() {
    let array = r#"{"type":"array","items":"long"}"#;
    // Block of -2 items (size 2 bytes follows), items 1 and 2, end.
    let (schema, names) = plain(array);
    assert_eq!(
        decode(&[3, 4, 2, 4, 0], schema, &names, "t").unwrap(),
        Value::Array(vec![Value::Long(1), Value::Long(2)])
    );
    assert!(decode_err(array, &[3, 200, 1, 2, 4, 0]).contains("block of 2 items exceeds"));
    let map = r#"{"type":"map","values":"string"}"#;
    let value = Value::Map(
        [
            ("b".into(), Value::String("2".into())),
            ("a".into(), Value::String("1".into())),
        ]
        .into(),
    );
    // Written sorted by key, so equal maps always give equal bytes.
    assert_eq!(
        roundtrip(map, value),
        [4, 2, b'a', 2, b'1', 2, b'b', 2, b'2', 0]
    );
}

#[test]
fn kind_union_order_matches_the_model_and_lock_records_are_distinct() {
    let Schema::Record(event) = event_schema() else {
        panic!("not a record")
    };
    let kind = event.fields.iter().find(|f| f.name == "kind").unwrap();
    let Schema::Union(union) = &kind.schema else {
        panic!("kind is not a union")
    };
    let names: Vec<String> = union
        .variants()
        .iter()
        .map(|v| match v {
            Schema::Record(r) => r.name.name.clone(),
            other => panic!("branch {other:?} is not a record"),
        })
        .collect();
    assert_eq!(names, KIND_RECORDS);
}

#[test]
fn encoding_a_value_that_does_not_match_is_an_error_naming_the_field() {
    let (schema, names) =
        plain(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#);
    let mut out = Vec::new();
    let bad = Value::Record(vec![("a".into(), Value::String("x".into()))]);
    let err = encode(&bad, schema, &names, &None, &mut out)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("field `a`: String(\"x\") does not match schema Long"),
        "{err}"
    );
    let missing = Value::Record(vec![]);
    let err = encode(&missing, schema, &names, &None, &mut out)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "field `a`: missing in the encoded value");
}
