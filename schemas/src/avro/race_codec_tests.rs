//! The direct reader of accesses and update spans (`race_read.rs`) held to the schema-driven
//! decoder (`binary.rs` then `access.rs` / `race_inputs.rs`): the same model value for every
//! valid record, and the same verdict on every truncated or corrupted one.

use uuid::Uuid;

use super::clocks::{ClockVersion, NamesCache};
use super::{
    access, binary, common, encode_access, encode_update_span, race_inputs, race_read, unframe,
    verdicts, ACCESS, UPDATE_SPAN,
};
use crate::access::{Access, HeldLock};
use crate::compact_clock::CompactClock;
use crate::error::SchemaError;
use crate::model::{AccessType, LockMode};
use crate::update::{UpdateRead, UpdateSpan};

fn locks() -> Vec<HeldLock> {
    [
        ("accounts", LockMode::Shared),
        ("ledger", LockMode::Exclusive),
    ]
    .map(|(lock_id, mode)| HeldLock {
        lock_id: lock_id.into(),
        mode,
    })
    .into()
}

/// One access with every optional part set, one with none.
fn accesses() -> [Access; 2] {
    let full = common::access(Some("100"), locks());
    let mut bare = common::access(None, Vec::new());
    bare.clock = CompactClock::default();
    bare.access_type = AccessType::AtomicRMW;
    bare.trusted_clock = false;
    [full, bare]
}

fn span(write: Access, read_clock: CompactClock) -> UpdateSpan {
    let read = UpdateRead {
        clock: read_clock,
        value: "100".into(),
        location: "bank.rs:40".into(),
        timestamp_ns: 3,
        event_id: Uuid::from_u128(77),
    };
    UpdateSpan {
        held_throughout: locks(),
        write,
        read,
    }
}

/// Spans whose read clock uses names the write's does not, and one with empty clocks.
fn spans() -> [UpdateSpan; 2] {
    let [full, bare] = accesses();
    [
        span(
            full,
            CompactClock::from_pairs([("0", 9), ("b", 2), ("c", 1)]),
        ),
        span(bare, CompactClock::default()),
    ]
}

fn datum(framed: &[u8]) -> Vec<u8> {
    unframe(framed).unwrap().1.to_vec()
}

fn reference_access(datum: &[u8]) -> Result<(Access, u64), SchemaError> {
    let value = binary::decode(datum, ACCESS.schema, &ACCESS.names, "raceway.Access")?;
    access::access_from_value(value, ClockVersion::Indexed, &mut NamesCache::default())
}

fn direct_access(datum: &[u8]) -> Result<(Access, u64), SchemaError> {
    race_read::access(datum, &mut NamesCache::default())
}

fn reference_span(datum: &[u8]) -> Result<(UpdateSpan, u64), SchemaError> {
    let value = binary::decode(
        datum,
        UPDATE_SPAN.schema,
        &UPDATE_SPAN.names,
        "raceway.UpdateSpan",
    )?;
    race_inputs::update_span_from_value(value, ClockVersion::Indexed, &mut NamesCache::default())
}

fn direct_span(datum: &[u8]) -> Result<(UpdateSpan, u64), SchemaError> {
    race_read::update_span(datum, &mut NamesCache::default())
}

fn same_access_verdict(datum: &[u8]) {
    verdicts::assert_same_verdict(datum, direct_access, reference_access);
}

fn same_span_verdict(datum: &[u8]) {
    verdicts::assert_same_verdict(datum, direct_span, reference_span);
}

#[test]
fn direct_reading_gives_the_encoded_inputs_back() {
    for (n, access) in accesses().into_iter().enumerate() {
        let bytes = datum(&encode_access(&access, 40 + n as u64).unwrap());
        assert_eq!(direct_access(&bytes).unwrap(), (access, 40 + n as u64));
        same_access_verdict(&bytes);
    }
    for span in spans() {
        let bytes = datum(&encode_update_span(&span, 12).unwrap());
        assert_eq!(direct_span(&bytes).unwrap(), (span, 12));
        same_span_verdict(&bytes);
    }
}

#[test]
fn successive_records_listing_the_same_names_share_one_table() {
    let [access, _] = accesses();
    let bytes = datum(&encode_access(&access, 1).unwrap());
    let mut names = NamesCache::default();
    let (first, _) = race_read::access(&bytes, &mut names).unwrap();
    let (second, _) = race_read::access(&bytes, &mut names).unwrap();
    assert!(std::sync::Arc::ptr_eq(
        first.clock.names(),
        second.clock.names()
    ));
}

#[test]
fn direct_reading_refuses_truncations_like_the_schema_driven_one() {
    let [access, bare] = accesses();
    for access in [access, bare] {
        let bytes = datum(&encode_access(&access, 3).unwrap());
        verdicts::truncations(&bytes, same_access_verdict);
    }
    for span in spans() {
        let bytes = datum(&encode_update_span(&span, 3).unwrap());
        verdicts::truncations(&bytes, same_span_verdict);
    }
}

#[test]
fn direct_reading_gives_the_schema_driven_verdict_on_corrupt_records() {
    let [access, _] = accesses();
    verdicts::corruptions(
        &datum(&encode_access(&access, 3).unwrap()),
        same_access_verdict,
    );
    let [span, _] = spans();
    verdicts::corruptions(
        &datum(&encode_update_span(&span, 3).unwrap()),
        same_span_verdict,
    );
}
