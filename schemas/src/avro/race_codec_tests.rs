//! The direct reader of accesses, update spans and batches of inputs (`race_read.rs`) held to
//! the schema-driven decoder (`binary.rs` then `access.rs` / `race_inputs.rs`): the same model
//! value for every valid record, and the same verdict on every truncated or corrupted one.

use apache_avro::types::Value;
use uuid::Uuid;

use super::clocks::{ClockVersion, NamesCache};
use super::{
    access, binary, common, encode_access, encode_race_input_batches, encode_race_member,
    encode_update_span, race_inputs, race_read, unframe, verdicts, RaceInput, RaceInputDecoder,
    RaceRecord, ACCESS, RACE_INPUT_BATCH, UPDATE_SPAN,
};
use crate::access::{Access, HeldLock};
use crate::compact_clock::CompactClock;
use crate::error::SchemaError;
use crate::framing::RACE_INPUT_BATCH_SCHEMA_ID;
use crate::lock_order::{LockAcquisition, LockOrderEdge};
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
pub(super) fn accesses() -> [Access; 2] {
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
pub(super) fn spans() -> [UpdateSpan; 2] {
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

pub(super) fn lock_edge() -> LockOrderEdge {
    let acquisition = |n: u128, lock_id: &str| LockAcquisition {
        event_id: Uuid::from_u128(n),
        lock_id: lock_id.into(),
        mode: LockMode::Exclusive,
        location: format!("locks.rs:{n}"),
        timestamp_ns: 10 + n as i64,
        clock: vec![("t1".into(), n as u64), ("t2".into(), 1)],
        lock_type: "Mutex".into(),
    };
    let [access, _] = accesses();
    LockOrderEdge {
        trace_id: access.trace_id,
        environment: access.environment.to_string(),
        actor: crate::ActorId::clone(&access.actor),
        held: acquisition(1, "ledger"),
        acquired: acquisition(2, "accounts"),
        start_clock: vec![("t1".into(), 0)],
        guards: locks(),
        trusted_clock: false,
        trace_start_ns: 1,
        trace_end_ns: 40,
    }
}

/// Every kind of member, each with its own event count.
fn batch_members() -> Vec<RaceRecord> {
    let [full, bare] = accesses();
    let [span, bare_span] = spans();
    let inputs = [
        RaceInput::Access(full),
        RaceInput::Update(span),
        RaceInput::LockEdge(lock_edge()),
        RaceInput::Access(bare),
        RaceInput::Update(bare_span),
    ];
    let counts = 20..;
    inputs
        .into_iter()
        .zip(counts)
        .map(|(input, trace_events)| RaceRecord {
            input,
            trace_events,
        })
        .collect()
}

fn encoded_members(members: &[RaceRecord]) -> Vec<super::EncodedRaceMember> {
    members
        .iter()
        .map(|m| encode_race_member(m.input.borrowed(), m.trace_events).unwrap())
        .collect()
}

fn reference_batch(datum: &[u8]) -> Result<Vec<RaceRecord>, SchemaError> {
    let loaded = &*RACE_INPUT_BATCH;
    let value = binary::decode(datum, loaded.schema, &loaded.names, race_read::BATCH_SCHEMA)?;
    let Value::Record(mut fields) = value else {
        panic!("not a record: {value:?}")
    };
    let Some((_, Value::Array(members))) = fields.pop() else {
        panic!("no members")
    };
    let mut names = NamesCache::default();
    let mut decoded = Vec::new();
    for (i, member) in members.into_iter().enumerate() {
        let Value::Union(branch, value) = member else {
            panic!("not a union: {member:?}")
        };
        let (input, trace_events) = match branch {
            0 => access::access_from_value(*value, ClockVersion::Indexed, &mut names)
                .map(|(a, n)| (RaceInput::Access(a), n)),
            1 => race_inputs::update_span_from_value(*value, ClockVersion::Indexed, &mut names)
                .map(|(s, n)| (RaceInput::Update(s), n)),
            _ => race_inputs::lock_order_edge_from_value(*value)
                .map(|(e, n)| (RaceInput::LockEdge(e), n)),
        }
        .map_err(|e| e.within(&format!("members[{i}]")))?;
        decoded.push(RaceRecord {
            input,
            trace_events,
        });
    }
    Ok(decoded)
}

fn direct_batch(datum: &[u8]) -> Result<Vec<RaceRecord>, SchemaError> {
    race_read::batch(datum, &mut NamesCache::default())
}

fn same_batch_verdict(datum: &[u8]) {
    verdicts::assert_same_verdict(datum, direct_batch, reference_batch);
}

/// One record holding every member of [`batch_members`].
fn one_batch_record() -> Vec<u8> {
    let records = encode_race_input_batches(encoded_members(&batch_members()), usize::MAX);
    assert_eq!(records.len(), 1);
    records.into_iter().next().unwrap()
}

#[test]
fn a_batch_record_gives_its_members_back_in_order() {
    let record = one_batch_record();
    assert_eq!(unframe(&record).unwrap().0, RACE_INPUT_BATCH_SCHEMA_ID);
    let decoded = RaceInputDecoder::default().decode_all(&record).unwrap();
    assert_eq!(decoded, batch_members());
    same_batch_verdict(&datum(&record));
}

#[test]
fn batches_split_by_size_keep_every_member_in_order() {
    let members = encoded_members(&batch_members());
    let largest = members.iter().map(|m| m.len()).max().unwrap();
    // Room for any one member, and for the two bare ones (the last two) together: several
    // records, none over the limit (16 bytes of header, count and end).
    let max_bytes = largest.max(members[3].len() + members[4].len()) + 16;
    let records = encode_race_input_batches(members, max_bytes);
    assert!(records.len() > 1 && records.len() < batch_members().len());
    let mut decoder = RaceInputDecoder::default();
    let mut decoded = Vec::new();
    for record in &records {
        assert!(record.len() <= max_bytes, "{} > {max_bytes}", record.len());
        decoded.extend(decoder.decode_all(record).unwrap());
    }
    assert_eq!(decoded, batch_members());
    // A member larger than the limit travels alone.
    let alone = encode_race_input_batches(encoded_members(&batch_members()), 1);
    assert_eq!(alone.len(), batch_members().len());
    assert!(encode_race_input_batches(Vec::new(), 100).is_empty());
}

#[test]
fn decode_takes_a_batch_of_exactly_one_member() {
    let mut members = batch_members();
    members.truncate(1);
    let one = encode_race_input_batches(encoded_members(&members), usize::MAX);
    let mut decoder = RaceInputDecoder::default();
    assert_eq!(decoder.decode(&one[0]).unwrap(), members[0]);
    let err = decoder.decode(&one_batch_record()).unwrap_err();
    assert!(
        err.to_string().contains("5 inputs where one was expected"),
        "{err}"
    );
}

#[test]
fn direct_batch_reading_refuses_truncations_and_corruptions_like_the_schema_driven_one() {
    let bytes = datum(&one_batch_record());
    verdicts::truncations(&bytes, same_batch_verdict);
    verdicts::corruptions(&bytes, same_batch_verdict);
}
