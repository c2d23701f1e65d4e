//! The direct writer of accesses, update spans and lock-order edges (`race_write.rs`) held to the
//! schema-driven encoder it replaced (`access.rs` and `race_inputs.rs` build the value tree,
//! `binary.rs` encodes it): the same bytes for every input, and the same error on a value Avro
//! cannot carry.

use super::race_codec_tests::{accesses, lock_edge, spans};
use super::{
    access, binary, race_inputs, race_write, Loaded, ACCESS, LOCK_ORDER_EDGE, UPDATE_SPAN,
};
use crate::access::Access;
use crate::compact_clock::CompactClock;
use crate::error::SchemaError;
use crate::lock_order::LockOrderEdge;
use crate::update::UpdateSpan;

fn reference(
    value: Result<apache_avro::types::Value, SchemaError>,
    loaded: &Loaded,
) -> Result<Vec<u8>, SchemaError> {
    let mut out = Vec::new();
    binary::encode(&value?, loaded.schema, &loaded.names, &None, &mut out)?;
    Ok(out)
}

fn written(
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), SchemaError>,
) -> Result<Vec<u8>, SchemaError> {
    let mut out = Vec::new();
    write(&mut out)?;
    Ok(out)
}

/// The direct writer's bytes (or error) equal the reference's for `input`.
fn assert_same(
    direct: Result<Vec<u8>, SchemaError>,
    reference: Result<Vec<u8>, SchemaError>,
    input: &dyn std::fmt::Debug,
) {
    assert_eq!(direct, reference, "{input:?}");
}

fn assert_same_access(a: &Access, n: u64) {
    let direct = written(|out| race_write::access(a, n, out));
    assert_same(direct, reference(access::access_to_value(a, n), &ACCESS), a);
}

fn assert_same_span(span: &UpdateSpan, n: u64) {
    let direct = written(|out| race_write::update_span(span, n, out));
    let value = race_inputs::update_span_to_value(span, n);
    assert_same(direct, reference(value, &UPDATE_SPAN), span);
}

fn assert_same_edge(edge: &LockOrderEdge, n: u64) {
    let direct = written(|out| race_write::lock_order_edge(edge, n, out));
    let value = race_inputs::lock_order_edge_to_value(edge, n);
    assert_same(direct, reference(value, &LOCK_ORDER_EDGE), edge);
}

#[test]
fn inputs_are_written_with_the_schema_driven_bytes() {
    for access in accesses() {
        for trace_events in [0, 1, 300, i64::MAX as u64] {
            assert_same_access(&access, trace_events);
        }
    }
    for span in spans() {
        assert_same_span(&span, 12);
    }
    // A read clock over names the write's clock lacks, before, between and after its own.
    let [full, _] = accesses();
    for read in [
        CompactClock::from_pairs([("0", 1)]),
        CompactClock::from_pairs([("a", 3), ("ab", 1), ("z", 2)]),
        CompactClock::from_pairs([("b", 7)]),
    ] {
        let mut span = spans()[0].clone();
        span.write = full.clone();
        span.read.clock = read;
        assert_same_span(&span, 5);
    }
    let edge = lock_edge();
    assert_same_edge(&edge, 9);
    let mut bare = edge;
    bare.start_clock.clear();
    bare.guards.clear();
    bare.held.clock.clear();
    bare.trusted_clock = true;
    assert_same_edge(&bare, 0);
}

#[test]
fn values_avro_cannot_carry_are_refused_naming_the_same_field() {
    let too_large = u64::MAX;
    let [access, _] = accesses();
    assert_same_access(&access, too_large);
    let mut large_clock = access.clone();
    large_clock.clock = CompactClock::from_pairs([("a", 1), ("b", too_large)]);
    assert_same_access(&large_clock, 1);
    let mut span = spans()[0].clone();
    span.read.clock = CompactClock::from_pairs([("c", too_large)]);
    assert_same_span(&span, 1);
    assert_same_span(&spans()[0], too_large);
    let mut edge = lock_edge();
    edge.acquired.clock[1].1 = too_large;
    assert_same_edge(&edge, 1);
    let mut edge = lock_edge();
    edge.start_clock[0].1 = too_large;
    assert_same_edge(&edge, 1);
    assert_same_edge(&lock_edge(), too_large);
    let refused = written(|out| race_write::access(&large_clock, 1, out));
    assert!(refused.is_err(), "{refused:?}");
}
