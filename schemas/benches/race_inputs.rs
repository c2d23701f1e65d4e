//! Decoding the records of topic `raceway.accesses` as the race stage does, with one
//! [`RaceInputDecoder`] per poll of 5,000 inputs. The race stage keeps one decoder for its life,
//! so in a running stage most names of a poll (environments, variables, locations, actors, lock
//! sets) are already in the decoder's shared names; a fresh decoder per poll is the costlier
//! case, and the one the earlier rounds measured. The inputs: 5,000 of 40 traces, accesses and update spans with
//! 16-component clocks over their trace's table, as single records (`decode-5000`, what the
//! trace stage wrote before batches) and as 40 batch records of 125 members
//! (`decode-5000-in-batches`, what it writes now: one record per partition per completion).
//!
//! Encoding them as the trace stage does at completion: the same 5,000 inputs as batch members
//! (`encode-5000-members`).
//!
//! `cargo bench -p raceway-schemas --bench race_inputs`; instruction counts with
//! `valgrind --tool=callgrind --toggle-collect='*race_inputs*decode_poll*' target/release/deps/race_inputs-* --bench --profile-time 1`
//! (`*race_inputs*encode_members*` for the encoding).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use raceway_schemas::avro::{
    encode_access, encode_lock_order_edge, encode_race_input_batches, encode_race_member,
    encode_update_span, RaceInput, RaceInputDecoder,
};
use raceway_schemas::*;
use uuid::Uuid;

const THREADS: u64 = 16;

fn access(n: u64) -> Access {
    let trace = n / 125;
    let clock: Vec<(String, u64)> = (0..THREADS)
        .map(|t| (format!("{trace:08x}/worker-{t}"), n % 97 + t))
        .collect();
    Access {
        event_id: Uuid::from_u128(u128::from(n) + 1),
        trace_id: Uuid::from_u128(u128::from(trace) << 64),
        timestamp_ns: 1_700_000_000_000_000_000 + n as i64 * 1000,
        environment: "prod".into(),
        variable: format!("account:{}.balance", n % 64).into(),
        access_type: if n.is_multiple_of(2) {
            AccessType::Read
        } else {
            AccessType::Write
        },
        location: "src/bank.rs:30".into(),
        value: (n * 3).to_string(),
        old_value: Some((n * 3 + 1).to_string()),
        actor: ActorId {
            service: "bank".into(),
            instance: "bank-1".into(),
            thread: format!("worker-{}", n % THREADS),
        }
        .into(),
        clock: CompactClock::from_pairs(clock),
        trusted_clock: false,
        locks: vec![HeldLock {
            lock_id: "accounts".into(),
            mode: LockMode::Exclusive,
        }]
        .into(),
        trace_start_ns: 1_700_000_000_000_000_000,
        trace_end_ns: 1_700_000_000_100_000_000,
    }
}

/// Every fifth input an update span (its read's clock over the write's names), else an access.
fn inputs() -> Vec<RaceInput> {
    (0..5000u64)
        .map(|n| {
            let write = access(n);
            if !n.is_multiple_of(5) {
                return RaceInput::Access(write);
            }
            RaceInput::Update(UpdateSpan {
                read: UpdateRead {
                    event_id: Uuid::from_u128(u128::from(n) + 1_000_000),
                    timestamp_ns: write.timestamp_ns - 10,
                    location: "src/bank.rs:28".into(),
                    value: "85".into(),
                    clock: write.clock.clone(),
                },
                write,
                held_throughout: Vec::new(),
            })
        })
        .collect()
}

/// One record per input.
fn records() -> Vec<Vec<u8>> {
    let encode = |input: &RaceInput| match input {
        RaceInput::Access(access) => encode_access(access, 125),
        RaceInput::Update(span) => encode_update_span(span, 125),
        RaceInput::LockEdge(edge) => encode_lock_order_edge(edge, 125),
    };
    inputs()
        .iter()
        .map(|i| encode(i).expect("encode"))
        .collect()
}

/// Batch records of 125 members each.
fn batch_records() -> Vec<Vec<u8>> {
    let inputs = inputs();
    inputs
        .chunks(125)
        .flat_map(|chunk| {
            let members = chunk
                .iter()
                .map(|input| encode_race_member(input.borrowed(), 125).expect("encode"));
            encode_race_input_batches(members.collect(), usize::MAX)
        })
        .collect()
}

/// One poll's records decoded as the race stage does (`decode_all`, single records or batches).
#[inline(never)]
fn decode_poll(records: &[Vec<u8>]) -> usize {
    let mut decoder = RaceInputDecoder::default();
    records
        .iter()
        .flat_map(|record| decoder.decode_all(record).unwrap_or_default())
        .map(|r| r.trace_events as usize)
        .sum()
}

/// Every input encoded as a batch member, as the trace stage encodes a completion batch's.
#[inline(never)]
fn encode_members(inputs: &[RaceInput]) -> usize {
    inputs
        .iter()
        .map(|input| {
            encode_race_member(input.borrowed(), 125)
                .expect("encode")
                .len()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    c.bench_function("race_inputs/encode-5000-members", |b| {
        b.iter(|| black_box(encode_members(black_box(&inputs))))
    });
    let records = records();
    c.bench_function("race_inputs/decode-5000", |b| {
        b.iter(|| black_box(decode_poll(black_box(&records))))
    });
    let batches = batch_records();
    assert_eq!(
        decode_poll(&batches),
        decode_poll(&records),
        "the same inputs"
    );
    c.bench_function("race_inputs/decode-5000-in-batches", |b| {
        b.iter(|| black_box(decode_poll(black_box(&batches))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
