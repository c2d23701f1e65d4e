"""Cross-check of our Avro encoding with a second implementation, Python's fastavro.

Run by tests/fastavro.rs as: python3 fastavro_check.py AVRO_DIR WORK_DIR
WORK_DIR holds batch.bin and access.bin (unframed datums written by the Rust encoder) and
expected_kinds.txt (the full record name of each event's kind, one a line). The script:
  1. decodes batch.bin and checks that each `kind` is the union branch of the expected record
     (return_record_name=True gives (name, record) tuples), and that nothing is left over;
  2. writes it back with fastavro to batch_roundtrip.bin (the Rust test decodes and compares);
  3. writes python_batch.bin, a batch built here with one event of every kind, and
     python_access.bin, for the Rust decoder to read.
Exit status 3 means fastavro is missing.
"""

import io
import json
import os
import sys
import uuid

try:
    import fastavro
except ImportError:
    print("fastavro is not installed for this python3: run `pip install fastavro`", file=sys.stderr)
    sys.exit(3)


def load(avro_dir):
    named = {}
    event = fastavro.parse_schema(json.load(open(os.path.join(avro_dir, "event.avsc"))), named_schemas=named)
    batch = fastavro.parse_schema(json.load(open(os.path.join(avro_dir, "event_batch.avsc"))), named_schemas=named)
    # access.avsc is self-contained and defines its own raceway.AccessType etc.: own namespace table.
    access = fastavro.parse_schema(json.load(open(os.path.join(avro_dir, "access.avsc"))), named_schemas={})
    return event, batch, access


def read(schema, path):
    with open(path, "rb") as f:
        value = fastavro.schemaless_reader(f, schema, None, return_record_name=True)
        rest = f.read()
    if rest:
        sys.exit(f"{path}: {len(rest)} bytes left after the datum")
    return value


def write(schema, value, path):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, value)
    with open(path, "wb") as f:
        f.write(out.getvalue())


def check_ours(batch_schema, access_schema, work):
    batch = read(batch_schema, os.path.join(work, "batch.bin"))
    expected = open(os.path.join(work, "expected_kinds.txt")).read().split()
    kinds = [e["kind"] for e in batch["events"]]
    got = [k[0] if isinstance(k, tuple) else f"<not a named union branch: {k!r}>" for k in kinds]
    if got != expected:
        sys.exit(f"kind branches differ:\n got      {got}\n expected {expected}")
    for e in batch["events"]:
        if e["trace_id"] != batch["trace_id"] or not isinstance(e["id"], uuid.UUID):
            sys.exit(f"uuid fields not read as UUIDs: {e['id']!r} {e['trace_id']!r}")
    by_name = dict(kinds)
    if by_name["raceway.StateChange"]["access_type"] != "AtomicRMW":
        sys.exit(f"StateChange read wrong: {by_name['raceway.StateChange']}")
    if by_name["raceway.LockAcquire"]["mode"] != "Shared" or by_name["raceway.LockRelease"]["mode"] != "Exclusive":
        sys.exit("lock modes read wrong")
    write(batch_schema, batch, os.path.join(work, "batch_roundtrip.bin"))
    access = read(access_schema, os.path.join(work, "access.bin"))
    if access["clock_components"] != ["a", "b"] or access["clock"] != [
        {"component": 0, "counter": 1},
        {"component": 1, "counter": 2**32},
    ]:
        sys.exit(f"access clock read wrong: {access['clock_components']} {access['clock']}")
    write(access_schema, access, os.path.join(work, "access_roundtrip.bin"))


KINDS = [
    ("FunctionCall", {"function_name": "py_f", "module": "m", "args": "[1,2]", "file": "f.py", "line": 7}),
    ("AsyncSpawn", {"task_id": "t1", "spawned_by": "main", "task_name": None, "spawned_at": "f.py:1"}),
    ("AsyncAwait", {"future_id": "t1", "awaited_at": "f.py:2"}),
    ("StateChange", {"variable": "balance", "old_value": None, "new_value": "20", "location": "f.py:3", "access_type": "AtomicWrite"}),
    ("LockAcquire", {"lock_id": "L", "mode": "Exclusive", "lock_type": "Mutex", "location": "f.py:4"}),
    ("LockRelease", {"lock_id": "L", "mode": "Shared", "lock_type": "RWLock-Read", "location": "f.py:5"}),
    ("MemoryFence", {"ordering": "Release", "location": "f.py:6"}),
    ("HttpRequest", {"method": "GET", "url": "/x", "headers": [{"name": "Accept", "value": "*/*"}], "body": None}),
    ("HttpResponse", {"status": 201, "headers": [], "body": "{\"ok\":true}", "duration_ms": 9}),
    ("DatabaseQuery", {"query": "SELECT 1", "database": "db", "duration_ms": 2}),
    ("DatabaseResult", {"rows_affected": 3}),
    ("Error", {"error_type": "ValueError", "message": "bad", "stack_trace": ["a", "b"]}),
    ("MessageSend", {"topic": "t", "partition": 0, "offset": None, "key": "k", "location": "f.py:8"}),
    ("MessageReceive", {"topic": "t", "partition": None, "offset": 99, "key": None, "location": "f.py:9"}),
    ("Custom", {"name": "py", "data": "{}"}),
]


def python_batch(batch_schema, access_schema, work):
    trace = uuid.UUID("aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa")
    events = []
    for i, (name, record) in enumerate(KINDS):
        events.append({
            "id": uuid.UUID(int=0x5000 + i),
            "trace_id": trace,
            "parent_id": None if i == 0 else uuid.UUID(int=0x5000),
            "timestamp": 1_704_110_400_000_000_001 + i,
            # Tuple notation picks the branch by name: LockRelease has the same fields as
            # LockAcquire, so only the name tells them apart.
            "kind": (f"raceway.{name}", record),
            "metadata": {
                "thread_id": f"py-{i % 2}", "process_id": 4000000000, "service_name": "py-svc",
                "environment": "test", "tags": {"sdk_language": "python", "n": str(i)},
                "duration_ns": i * 10 if i % 2 else None, "instance_id": "py-1",
                "distributed_span_id": None, "upstream_span_id": None,
            },
            "causality_vector": [{"component": "py-svc#py-1", "counter": i + 1}],
            "lock_set": ["L"] if i == 5 else [],
        })
    write(batch_schema, {"trace_id": trace, "events": events}, os.path.join(work, "python_batch.bin"))
    access = {
        "event_id": uuid.UUID(int=0x5003), "trace_id": trace, "timestamp_ns": 5, "environment": "test",
        "variable": "balance", "access_type": "AtomicWrite", "location": "f.py:3", "value": "20",
        "old_value": None, "actor": {"service": "py-svc", "instance": "py-1", "thread": "py-1"},
        "clock_components": ["py-svc#py-1", "py-svc#py-2"],
        "clock": [{"component": 1, "counter": 2}, {"component": 0, "counter": 4}], "trusted_clock": False,
        "locks": [{"lock_id": "L", "mode": "Shared"}], "trace_start_ns": 1, "trace_end_ns": 20,
    }
    write(access_schema, access, os.path.join(work, "python_access.bin"))


def main():
    avro_dir, work = sys.argv[1], sys.argv[2]
    _, batch_schema, access_schema = load(avro_dir)
    check_ours(batch_schema, access_schema, work)
    python_batch(batch_schema, access_schema, work)
    print("fastavro", fastavro.__version__, "agrees")


if __name__ == "__main__":
    main()
