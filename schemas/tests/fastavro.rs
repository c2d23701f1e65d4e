//! Cross-check against a second Avro implementation, Python's fastavro (tests/fastavro_check.py):
//! it must read our bytes with `kind` as the union branch of the right record, and we must read
//! its bytes. Fails (never skips) when python3 or fastavro is missing: `pip install fastavro`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use raceway_schemas::avro::*;
use raceway_schemas::framing::*;
use raceway_schemas::*;

fn read_framed(dir: &Path, name: &str, schema_id: u32) -> Vec<u8> {
    let datum = std::fs::read(dir.join(name))
        .unwrap_or_else(|e| panic!("{name} not written by fastavro_check.py: {e}"));
    frame(schema_id, &datum)
}

#[test]
fn fastavro_reads_our_records_and_we_read_its_records() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let batch = all_kinds_batch();
    let access = access(
        Some("100"),
        vec![HeldLock {
            lock_id: "accounts".into(),
            mode: LockMode::Shared,
        }],
    );
    let batch_bytes = encode_event_batch(&batch).unwrap();
    let access_bytes = encode_access(&access, 0).unwrap();
    std::fs::write(
        work.path().join("batch.bin"),
        unframe(&batch_bytes).unwrap().1,
    )
    .unwrap();
    std::fs::write(
        work.path().join("access.bin"),
        unframe(&access_bytes).unwrap().1,
    )
    .unwrap();
    let kinds: Vec<String> = batch
        .events
        .iter()
        .map(|e| format!("raceway.{}", e.kind.name()))
        .collect();
    std::fs::write(work.path().join("expected_kinds.txt"), kinds.join("\n")).unwrap();

    let output = Command::new("python3")
        .arg(manifest.join("tests/fastavro_check.py"))
        .arg(manifest.join("avro"))
        .arg(work.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): install Python 3, then `pip install fastavro`")
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {}
        Some(3) => panic!("fastavro is missing: run `pip install fastavro`\n{stderr}"),
        _ => panic!("fastavro_check.py failed ({}):\n{stderr}", output.status),
    }

    // fastavro's re-encoding of our records decodes to the same model.
    let batch_file = |name| read_framed(work.path(), name, EVENT_BATCH_SCHEMA_ID);
    let back = decode_event_batch(&batch_file("batch_roundtrip.bin")).unwrap();
    assert_eq!(back, batch);
    let back = read_framed(work.path(), "access_roundtrip.bin", ACCESS_SCHEMA_ID);
    assert_eq!(decode_access(&back).unwrap(), access);

    // A batch built in Python.
    let python = decode_event_batch(&batch_file("python_batch.bin")).unwrap();
    let names: Vec<&str> = python.events.iter().map(|e| e.kind.name()).collect();
    let expected: Vec<&str> = all_kinds().iter().map(EventKind::name).collect();
    assert_eq!(names, expected);
    let e = &python.events;
    assert_eq!(e[0].parent_id, None);
    assert_eq!(e[1].parent_id, Some(e[0].id));
    assert_eq!(e[0].timestamp_ns, 1_704_110_400_000_000_001);
    assert_eq!(
        e[3].state_change().unwrap().access_type,
        AccessType::AtomicWrite
    );
    assert_eq!(e[3].state_change().unwrap().old_value, None);
    let EventKind::LockRelease(release) = &e[5].kind else {
        panic!("{:?}", e[5].kind)
    };
    assert_eq!(
        (release.mode, release.lock_type.as_str()),
        (LockMode::Shared, "RWLock-Read")
    );
    assert_eq!(e[5].lock_set, ["L"]);
    let EventKind::MessageReceive(received) = &e[13].kind else {
        panic!()
    };
    assert_eq!((received.partition, received.offset), (None, Some(99)));
    assert_eq!(
        e[7].kind,
        EventKind::HttpRequest(HttpRequest {
            method: "GET".into(),
            url: "/x".into(),
            headers: vec![("Accept".into(), "*/*".into())],
            body: None,
        })
    );
    assert_eq!(e[1].metadata.process_id, 4_000_000_000);
    assert_eq!(
        (e[1].metadata.duration_ns, e[2].metadata.duration_ns),
        (Some(10), None)
    );
    assert_eq!(e[4].metadata.tags["n"], "4");
    assert_eq!(e[4].causality_vector, [("py-svc#py-1".to_string(), 5)]);

    let python = decode_access(&read_framed(
        work.path(),
        "python_access.bin",
        ACCESS_SCHEMA_ID,
    ))
    .unwrap();
    assert_eq!(
        *python.locks,
        [HeldLock {
            lock_id: "L".into(),
            mode: LockMode::Shared
        }]
    );
    assert_eq!(
        (python.access_type, python.trusted_clock),
        (AccessType::AtomicWrite, false)
    );
    // Listed out of index order by Python: read sorted.
    assert_eq!(
        python.clock.to_pairs(),
        [
            ("py-svc#py-1".to_string(), 4),
            ("py-svc#py-2".to_string(), 2)
        ]
    );
}
