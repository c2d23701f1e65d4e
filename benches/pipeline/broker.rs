//! The broker's own ceiling: the gateway's records, encoded beforehand, produced at full rate
//! through the bus's Kafka producer (no HTTP, no JSON, no Avro in the timed part), so the
//! gateway's rate can be set against what the broker takes. Each variant produces every
//! request's records to a fresh topic from [`CLIENTS`] concurrent tasks, each awaiting its
//! request's acknowledgements before the next request, as the gateway's handlers do.
//!
//! Shapes: `per partition` is what the gateway produces (one record per partition of a request,
//! holding its traces of that partition); `per trace` is one record per trace of a request, the
//! gateway's earlier shape, to set the broker's cost per record against its cost per byte. The broker's CPU seconds (from `/proc`, the process named `tansu` whose
//! command line says `broker`) are load-independent beside the rates.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use raceway_bus::{Bus, KafkaBus, Record};
use raceway_gateway::{batch_records, DEFAULT_MAX_RECORD_BYTES};
use raceway_schemas::avro::encode_event_batch_split;
use raceway_schemas::{Event, EventBatch};

use crate::common::{kafka, unique_name};
use crate::cpu::Process;
use crate::http::{CHUNK, CLIENTS};
use crate::table::{load_average, Figures};

/// Partitions of each variant's topic, as the pipeline parts use.
const PARTITIONS: i32 = 8;

/// One request's records and how many events they carry.
struct Request {
    records: Vec<Record>,
    events: usize,
}

/// Producer settings of one variant over the bus's own; the first is the gateway's.
const SETTINGS: &[(&str, &[(&str, &str)])] = &[
    ("the bus's settings", &[]),
    ("compression.type=lz4", &[("compression.type", "lz4")]),
];

pub fn ceiling(events: &[Event], figures: &mut Figures) {
    let per_partition: Vec<Request> = events
        .chunks(CHUNK)
        .map(|chunk| Request {
            records: batch_records(chunk.to_vec(), DEFAULT_MAX_RECORD_BYTES, PARTITIONS)
                .expect("records"),
            events: chunk.len(),
        })
        .collect();
    let per_trace: Vec<Request> = events
        .chunks(CHUNK)
        .map(|chunk| Request {
            records: one_record_per_trace(chunk),
            events: chunk.len(),
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for (label, settings) in SETTINGS {
        for (shape, requests) in [("per partition", &per_partition), ("per trace", &per_trace)] {
            let bus = KafkaBus::with_producer_settings(&kafka(), settings).expect("bus");
            let rate = runtime.block_on(produce_all(&bus, requests, CLIENTS));
            let line = format!("{shape}, {label}: {rate}");
            println!("broker ceiling, {line} (load {})", load_average());
            if shape == "per partition" && settings.is_empty() {
                figures.report("broker", line);
            }
        }
    }
}

/// The events of a request in one record per trace, keyed by its id.
fn one_record_per_trace(events: &[Event]) -> Vec<Record> {
    let mut per_trace: BTreeMap<uuid::Uuid, Vec<Event>> = BTreeMap::new();
    for event in events {
        per_trace
            .entry(event.trace_id)
            .or_default()
            .push(event.clone());
    }
    per_trace
        .into_iter()
        .flat_map(|(trace_id, events)| {
            let key = trace_id.to_string().into_bytes();
            encode_event_batch_split(EventBatch { trace_id, events }, DEFAULT_MAX_RECORD_BYTES)
                .expect("records")
                .into_iter()
                .map(move |value| Record::new(key.clone(), value))
        })
        .collect()
}

/// Produces every request to a fresh topic from `clients` tasks; the rates, the load average and
/// the broker's CPU seconds.
async fn produce_all(bus: &KafkaBus, requests: &[Request], clients: usize) -> String {
    let topic = unique_name("broker-ceiling");
    bus.create_topics(std::slice::from_ref(&topic), PARTITIONS)
        .await
        .expect("topic");
    let records: usize = requests.iter().map(|r| r.records.len()).sum();
    let bytes: usize = requests
        .iter()
        .flat_map(|r| &r.records)
        .map(|r| r.key.len() + r.value.len())
        .sum();
    let events: usize = requests.iter().map(|r| r.events).sum();
    let next = Arc::new(AtomicUsize::new(0));
    let broker_cpu = Process::Broker.cpu_seconds();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (bus, topic, next) = (bus.clone(), topic.clone(), next.clone());
            let batches: Vec<Vec<Record>> = requests.iter().map(|r| r.records.clone()).collect();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(records) = batches.get(i) else {
                        return;
                    };
                    bus.produce(&topic, records.clone()).await.expect("produce");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("producer task");
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = Process::Broker
        .cpu_seconds()
        .zip(broker_cpu)
        .map(|(end, start)| end - start);
    format!(
        "{:.0} events/s, {:.0} records/s, {:.1} MB/s ({records} records of {:.0} bytes on \
         average, {} requests, {clients} clients){}",
        events as f64 / seconds,
        records as f64 / seconds,
        bytes as f64 / seconds / 1e6,
        bytes as f64 / records as f64,
        requests.len(),
        cpu.map(|cpu| format!(
            "; broker CPU {cpu:.1} s, {:.0} µs per record",
            cpu * 1e6 / records as f64
        ))
        .unwrap_or_default(),
    )
}
