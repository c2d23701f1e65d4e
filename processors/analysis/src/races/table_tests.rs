//! Differential test of the compact clocks: the detector gives the same observations whether
//! the clocks of random traces share their trace's table of component names (as the trace stage
//! builds them), each have a table of their own (as records of the first schema version decode),
//! or went through the Avro records and one decoder per batch (as the race stage reads them).

use raceway_schemas::avro::{encode_access, encode_update_span, RaceInput, RaceInputDecoder};
use raceway_schemas::{
    AccessType, ActorId, CompactClock, Event, LockMode, SharedNames, UpdateSpan,
};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::*;
use crate::inputs::race_inputs;
use crate::testing::{access_kind, acquire, event_in, id, release};

/// One input of the detector, in arrival order.
#[derive(Clone)]
enum Input {
    Access(Access),
    Update(UpdateSpan),
}

/// A random trace: `threads` threads taking two locks around reads and writes of three
/// variables, or touching them unlocked.
fn random_trace(rng: &mut Xoshiro256PlusPlus, trace: u128, events: usize) -> Vec<Event> {
    let threads = rng.gen_range(2..6);
    let mut out = Vec::new();
    let mut held: Vec<Option<usize>> = vec![None; threads];
    for n in 0..events {
        let thread = rng.gen_range(0..threads);
        let name = format!("t{thread}");
        let variable = format!("v{}", rng.gen_range(0..3));
        let access_type = [AccessType::Read, AccessType::Write][rng.gen_range(0..2)];
        let kind = match (held[thread], rng.gen_range(0..4)) {
            (None, 0) => {
                let lock = rng.gen_range(0..2);
                held[thread] = Some(lock);
                acquire(&format!("l{lock}"), LockMode::Exclusive)
            }
            (Some(lock), 0) => {
                held[thread] = None;
                release(&format!("l{lock}"), LockMode::Exclusive)
            }
            _ => access_kind(&variable, &format!("a.rs:{n}"), access_type),
        };
        let n = trace * 1_000 + n as u128;
        out.push(event_in(id(trace), n, &name, n as i64, kind));
    }
    out
}

/// The inputs of several random traces, interleaved at random.
fn random_inputs(seed: u64) -> Vec<Input> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut queues: Vec<Vec<Input>> = (1..=4)
        .map(|trace| {
            let inputs = race_inputs(&random_trace(&mut rng, trace, 60));
            let mut queue: Vec<Input> = inputs.accesses.into_iter().map(Input::Access).collect();
            queue.extend(inputs.updates.into_iter().map(Input::Update));
            queue.reverse();
            queue
        })
        .collect();
    let mut out = Vec::new();
    while queues.iter().any(|q| !q.is_empty()) {
        let pick = rng.gen_range(0..queues.len());
        out.extend(queues[pick].pop());
    }
    out
}

fn own_table(clock: &CompactClock) -> CompactClock {
    CompactClock::from_pairs(clock.to_pairs())
}

/// The clocks of `input` with tables of their own.
fn with_own_tables(input: &Input) -> Input {
    match input.clone() {
        Input::Access(mut a) => {
            a.clock = own_table(&a.clock);
            Input::Access(a)
        }
        Input::Update(mut span) => {
            span.write.clock = own_table(&span.write.clock);
            span.read.clock = own_table(&span.read.clock);
            Input::Update(span)
        }
    }
}

/// `input` encoded as a record and decoded by `decoder`.
fn through_records(input: &Input, decoder: &mut RaceInputDecoder) -> Input {
    let bytes = match input {
        Input::Access(a) => encode_access(a, 1),
        Input::Update(span) => encode_update_span(span, 1),
    };
    match decoder
        .decode(&bytes.expect("encodes"))
        .expect("decodes")
        .input
    {
        RaceInput::Access(a) => Input::Access(a),
        RaceInput::Update(span) => Input::Update(span),
        RaceInput::LockEdge(_) => unreachable!("no edges were encoded"),
    }
}

fn observe_all(inputs: impl IntoIterator<Item = Input>) -> (Vec<Observation>, u64) {
    let mut detector = RaceDetector::new(RaceConfig {
        max_accesses_per_variable: 8,
        ..RaceConfig::default()
    });
    let observations = inputs
        .into_iter()
        .map(|input| match input {
            Input::Access(a) => detector.observe(a),
            Input::Update(span) => detector.observe_update(span),
        })
        .collect();
    (observations, detector.fast_path_hits())
}

#[test]
fn shared_own_and_decoded_tables_give_the_same_observations() {
    let mut found = 0;
    for seed in 0..24 {
        let inputs = random_inputs(seed);
        let shared = observe_all(inputs.clone());
        let own = observe_all(inputs.iter().map(with_own_tables));
        assert!(shared == own, "seed {seed}: own tables differ");
        // One decoder per batch of 16 records, as the race stage decodes a poll.
        let decoded: Vec<Input> = inputs
            .chunks(16)
            .flat_map(|batch| {
                let mut decoder = RaceInputDecoder::default();
                batch
                    .iter()
                    .map(|input| through_records(input, &mut decoder))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(
            shared == observe_all(decoded),
            "seed {seed}: decoded differ"
        );
        found += shared.0.iter().map(|o| o.pairs.len()).sum::<usize>();
    }
    assert!(found > 0, "the random traces race");
}

/// `access` with every name in an allocation of its own, as owned strings were.
fn own_names(access: &mut Access) {
    access.environment = Arc::from(&*access.environment);
    access.variable = Arc::from(&*access.variable);
    access.location = Arc::from(&*access.location);
    access.actor = Arc::new(ActorId::clone(&access.actor));
    access.locks = Arc::from(access.locks.to_vec());
}

/// `input` with every name in an allocation of its own.
fn with_own_names(input: &Input) -> Input {
    match input.clone() {
        Input::Access(mut a) => {
            own_names(&mut a);
            Input::Access(a)
        }
        Input::Update(mut span) => {
            own_names(&mut span.write);
            Input::Update(span)
        }
    }
}

/// The detector finds an arriving name by its allocation first and by its content only for an
/// allocation it has not seen: names shared by one table for the whole stream (the race stage's
/// decoder), by a table per trace (the trace stage's inputs) or each in an allocation of its
/// own give the same pairs, the same evictions (domination included) and the same fast path.
#[test]
fn shared_names_give_the_observations_owned_names_give() {
    let (mut found, mut dominated) = (0, 0);
    for seed in 0..24 {
        // One location per variable, so that a thread's repeated accesses dominate each other.
        let mut names = SharedNames::default();
        let inputs: Vec<Input> = random_inputs(seed)
            .into_iter()
            .map(|mut input| {
                let access = match &mut input {
                    Input::Access(a) => a,
                    Input::Update(span) => &mut span.write,
                };
                access.location = names.name(&format!("{}.rs:1", access.variable));
                input
            })
            .collect();
        let per_trace = observe_all(inputs.clone());
        let own = observe_all(inputs.iter().map(with_own_names));
        assert!(per_trace == own, "seed {seed}: own names differ");
        let mut decoder = RaceInputDecoder::default();
        let stream: Vec<Input> = inputs
            .iter()
            .map(|input| through_records(input, &mut decoder))
            .collect();
        assert!(
            per_trace == observe_all(stream),
            "seed {seed}: one decoder for the stream differs"
        );
        found += per_trace.0.iter().map(|o| o.pairs.len()).sum::<usize>();
        dominated += per_trace.0.iter().flat_map(|o| &o.evicted).count();
    }
    assert!(
        found > 0 && dominated > 0,
        "the random traces race and dominate"
    );
}

/// The race inputs take each span's write from the trace's accesses instead of building it
/// again: the same spans as built anew, on random traces in random order.
#[test]
fn spans_reusing_the_accesses_equal_spans_built_anew() {
    use crate::accesses::accesses_with;
    use crate::causality::trace_causality;
    use crate::updates::{update_spans_reusing, update_spans_with};
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let mut spans = 0;
    for trace in 0..50 {
        let mut events = random_trace(&mut rng, trace, 80);
        crate::scenarios::shuffle(&mut events, trace as u64);
        let causality = trace_causality(&events);
        let reused = update_spans_reusing(&events, &causality, &accesses_with(&events, &causality));
        assert_eq!(reused, update_spans_with(&events, &causality));
        spans += reused.len();
    }
    assert!(spans > 100, "the traces have read-modify-writes: {spans}");
}
