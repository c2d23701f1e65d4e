#!/usr/bin/env python3
"""Generates the labeled race scenarios of this folder (DataRaceBench style).

Each pattern is one small program, written once below as steps of actors in the order they ran,
and emitted twice: with clocks from our SDK (trusted: every event tagged raceway.clock=actor-v1,
one component "{service}#{instance}/{actor}" per actor, joined at every synchronisation the SDK
sees) and without (derived: empty vectors or one counter per service instance, as the existing
SDKs send, with parent_id chains and span ids as they record them). Every pattern has a racy
(-yes) and a safely synchronised (-no) variant. The labels (`expected`) are written by hand here,
from the race semantics of DESIGN.md, never computed by the analysis under test.

Run from the repository root: python3 tests/scenarios/generate.py  (rewrites NNN-*.json); with
`--out DIR` it writes to DIR instead (deploy/test-all.sh does, and fails when the checked-in files
differ from what this script writes).
"""

import argparse
import glob
import json
import os
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
NS = uuid.UUID("6d2b1c1e-3b9a-4f0e-9a7c-2f1e8d5b4a30")
BASE_NS = 1_704_110_400_000_000_000  # 2024-01-01T12:00:00Z
MS = 1_000_000
REL = {"Release", "AcqRel", "SeqCst"}
ACQ = {"Acquire", "AcqRel", "SeqCst"}


def rfc3339(ns):
    secs, frac = divmod(ns, 1_000_000_000)
    days, rem = divmod(secs - 1_704_110_400 + 12 * 3600, 86400)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    return f"2024-01-{1 + days:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{frac:09d}Z"


def join(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = max(out.get(k, 0), v)
    return out


class Actor:
    def __init__(self, prog, service, thread, trace, instance="1"):
        self.prog, self.service, self.thread, self.trace = prog, service, thread, trace
        self.instance = instance
        self.clock = {}
        # The existing SDKs' context clock: one component per service instance, started from the
        # caller's clock and merged with the callee's on a response.
        self.sdk_clock = {}
        self.last = None  # id of the actor's previous event
        self.first_parent = None  # parent of the actor's first event (its spawn)
        self.span = uuid.uuid5(NS, f"{prog.name}/{service}/{thread}/{trace}").hex[:16]
        self.upstream = None

    @property
    def component(self):
        return f"{self.service}#{self.instance}/{self.thread}-{self.trace}"


class Prog:
    def __init__(self, name):
        self.name = name
        self.time = 0
        self.events = []  # (actor, kind, payload, clock, parent, tags)
        self.locks = {}  # lock -> (exclusive release clock, joined shared release clocks)
        self.stores = {}  # (variable, value) -> release clock or None
        self.fences = {}  # actor -> clock at its latest release fence
        self.pending = {}  # actor -> clocks read by relaxed loads, for the next acquire fence
        self.instance_counters = {}
        self.merged_clocks = False  # derived vectors: the SDK context clocks (see Actor)

    def actor(self, service, thread, trace="t1"):
        return Actor(self, service, thread, trace)

    def gap(self, seconds):
        self.time += int(seconds * 1_000_000_000)

    def stamp(self, eid, ms):
        """Moves event `eid`'s timestamp by `ms` (an SDK whose clock misorders close steps);
        its place in program order, parent chain and counters stay as recorded."""
        for e in self.events:
            if e["id"] == eid:
                e["time"] += int(ms * MS)

    def emit(self, a, kind, payload, parent=None, tags=None, pre_join=None, sdk_join=None):
        self.time += MS
        if pre_join:
            a.clock = join(a.clock, pre_join)
        a.clock[a.component] = a.clock.get(a.component, 0) + 1
        if sdk_join:
            a.sdk_clock = join(a.sdk_clock, sdk_join)
        own = f"{a.service}#{a.instance}"
        a.sdk_clock[own] = a.sdk_clock.get(own, 0) + 1
        eid = str(uuid.uuid5(NS, f"{self.name}/{len(self.events)}"))
        if parent is None:
            parent = a.last if a.last is not None else a.first_parent
        key = f"{a.service}#{a.instance}"
        self.instance_counters[key] = self.instance_counters.get(key, 0) + 1
        self.events.append(dict(
            id=eid, actor=a, kind=kind, payload=payload, clock=dict(a.clock), parent=parent,
            tags=tags or {}, time=self.time, instance_count=self.instance_counters[key],
            sdk_clock=dict(a.sdk_clock),
            upstream=a.upstream))
        a.last = eid
        return eid

    # --- steps ---------------------------------------------------------------------------
    def call(self, a, fn="handle"):
        return self.emit(a, "FunctionCall", {"function_name": fn, "module": "app", "args": {},
                                             "file": "app.py", "line": 1})

    def spawn(self, parent, child):
        eid = self.emit(parent, "AsyncSpawn", {"task_id": child.thread, "spawned_by": parent.thread,
                                              "task_name": child.thread, "spawned_at": "app.py:5"})
        child.clock = dict(parent.clock)
        child.first_parent = eid

    def join_task(self, parent, child):
        # Derived: the await names the awaited task's last event as its parent.
        self.emit(parent, "AsyncAwait", {"future_id": child.thread, "awaited_at": "app.py:9"},
                  parent=child.last, pre_join=child.clock)

    def access(self, a, var, loc, access_type, value, old=None, ordering=None):
        tags = {"raceway.ordering": ordering} if ordering else {}
        is_load = access_type in ("AtomicRead", "AtomicRMW")
        read_value = old if access_type == "AtomicRMW" else value
        joined = None
        rf = self.stores.get((var, read_value)) if is_load else None
        if rf is not None:
            if (ordering or "SeqCst") in ACQ:
                joined = rf
            else:
                self.pending.setdefault(a, []).append(rf)
        self.emit(a, "StateChange", {"variable": var, "old_value": old, "new_value": value,
                                     "location": loc, "access_type": access_type},
                  tags=tags, pre_join=joined)
        if access_type in ("Write", "AtomicWrite", "AtomicRMW"):
            release = None
            if access_type != "Write":
                if (ordering or "SeqCst") in REL:
                    release = dict(a.clock)
                elif a in self.fences:
                    release = self.fences[a]
                if access_type == "AtomicRMW" and rf is not None:
                    release = join(release or {}, rf)
            self.stores[(var, value)] = release

    def read(self, a, var, loc, value=1):
        self.access(a, var, loc, "Read", value)

    def write(self, a, var, loc, value=2, old=1):
        self.access(a, var, loc, "Write", value, old)

    def fence(self, a, ordering, loc="app.py:30"):
        joined = {}
        if ordering in ACQ:
            for c in self.pending.pop(a, []):
                joined = join(joined, c)
        self.emit(a, "MemoryFence", {"ordering": ordering, "location": loc}, pre_join=joined)
        if ordering in REL:
            self.fences[a] = dict(a.clock)

    def acquire(self, a, lock, loc, lock_type="Mutex"):
        excl, shared = self.locks.get(lock, ({}, {}))
        exclusive = not lock_type.endswith("Read")
        joined = join(excl, shared) if exclusive else excl
        if lock_type == "Semaphore":
            joined = None  # permits are not recorded: an acquire need not wait for a release
        self.emit(a, "LockAcquire", {"lock_id": lock, "lock_type": lock_type, "location": loc},
                  pre_join=joined)

    def release(self, a, lock, loc, lock_type="Mutex"):
        self.emit(a, "LockRelease", {"lock_id": lock, "lock_type": lock_type, "location": loc})
        if lock_type == "Semaphore":
            return
        excl, shared = self.locks.get(lock, ({}, {}))
        if lock_type.endswith("Read"):
            self.locks[lock] = (excl, join(shared, a.clock))
        else:
            self.locks[lock] = (dict(a.clock), {})

    def http_request(self, caller, callee, url="/ledger"):
        self.emit(caller, "HttpRequest", {"method": "POST", "url": url, "headers": {}, "body": None})
        callee.upstream = caller.span
        self.emit(callee, "HttpRequest", {"method": "POST", "url": url, "headers": {}, "body": None},
                  pre_join=caller.clock, sdk_join=caller.sdk_clock)

    def http_response(self, callee, caller, parent_is_callee=True):
        # Derived: the caller records the response with the callee's last event as parent, or
        # (`parent_is_callee=False`, the TypeScript SDK's chain) its own previous event; either
        # way the SDK merges the callee's clock into the caller's.
        self.emit(caller, "HttpResponse", {"status": 200, "headers": {}, "body": None,
                                           "duration_ms": 1},
                  parent=callee.last if parent_is_callee else None,
                  pre_join=callee.clock, sdk_join=callee.sdk_clock)

    def send(self, producer, consumer, topic="orders"):
        self.emit(producer, "MessageSend", {"topic": topic, "partition": 0, "offset": 7,
                                            "key": None, "location": "producer.py:3"})
        consumer.upstream = producer.span
        self.emit(consumer, "MessageReceive", {"topic": topic, "partition": 0, "offset": 7,
                                               "key": None, "location": "consumer.py:3"},
                  pre_join=producer.clock)

    # --- output ----------------------------------------------------------------------------
    def json_events(self, trusted, per_instance):
        traces = {}
        out = []
        for e in self.events:
            a = e["actor"]
            trace = traces.setdefault(a.trace, str(uuid.uuid5(NS, f"{self.name}/trace/{a.trace}")))
            tags = dict(e["tags"])
            if trusted:
                tags["raceway.clock"] = "actor-v1"
                vector = sorted([k, v] for k, v in e["clock"].items())
            elif self.merged_clocks:
                vector = sorted([k, v] for k, v in e["sdk_clock"].items())
            elif per_instance:
                vector = [[f"{a.service}#{a.instance}", e["instance_count"]]]
            else:
                vector = []
            out.append({
                "id": e["id"], "trace_id": trace, "parent_id": e["parent"],
                "timestamp": rfc3339(BASE_NS + e["time"]),
                "kind": {e["kind"]: e["payload"]},
                "metadata": {
                    "thread_id": f"{a.thread}-{a.trace}", "process_id": 1,
                    "service_name": a.service, "environment": "scenarios", "tags": tags,
                    "duration_ns": None, "instance_id": a.instance,
                    "distributed_span_id": a.span, "upstream_span_id": a.upstream,
                },
                "causality_vector": vector, "lock_set": [],
            })
        return out


PATTERNS = []


def pattern(name):
    def register(fn):
        PATTERNS.append((name, fn))
        return fn
    return register


def workers(p, *names, trace="t1", service="web"):
    main = p.actor(service, "main", trace)
    p.call(main)
    ws = [p.actor(service, n, trace) for n in names]
    for w in ws:
        p.spawn(main, w)
    return main, ws


def race(var, a, b):
    return {"kind": "data_race", "variable": var, "locations": sorted([a, b])}


def lost(var, a, b):
    return {"kind": "lost_update", "variable": var, "locations": sorted([a, b])}


def inversion(lock_a, lock_b, a, b):
    pair = " <-> ".join(sorted([lock_a, lock_b]))
    return {"kind": "lock_order_inversion", "variable": pair, "locations": sorted([a, b])}


def first_spawned(p, first, second):
    """A main actor and two more of service web; main has started and spawned only the first."""
    main = p.actor("web", "main")
    t1, t2 = p.actor("web", first), p.actor("web", second)
    p.call(main)
    p.spawn(main, t1)
    return main, t1, t2


def conflicting_pair(p, racy, file, names, accesses, lock_lines):
    """Two workers access `x` (`accesses`: the Prog methods, at lines 10 and 20 of `file`); when
    not racy, each inside lock `m` taken and released at its `lock_lines`."""
    _, workers_ = workers(p, *names)
    for t, access, line, (acquire, release) in zip(workers_, accesses, (10, 20), lock_lines):
        if not racy:
            p.acquire(t, "m", f"{file}:{acquire}")
        access(p, t, "x", f"{file}:{line}")
        if not racy:
            p.release(t, "m", f"{file}:{release}")
    return [race("x", f"{file}:10", f"{file}:20")] if racy else []


@pattern("write-write")
def _(p, racy):
    return conflicting_pair(p, racy, "ww.py", ("w1", "w2"), (Prog.write, Prog.write),
                            ((9, 11), (9, 11)))


@pattern("read-write")
def _(p, racy):
    return conflicting_pair(p, racy, "rw.py", ("r", "w"), (Prog.read, Prog.write),
                            ((9, 11), (19, 21)))


@pattern("lock-released-early")
def _(p, racy):
    _, (t1, t2) = workers(p, "w1", "w2")
    p.acquire(t1, "m", "early.py:9"); p.write(t1, "x", "early.py:10")
    if not racy:
        p.write(t1, "x", "early.py:12")
    p.release(t1, "m", "early.py:13")
    if racy:
        p.acquire(t2, "m", "early.py:19"); p.write(t2, "x", "early.py:20")
        p.write(t1, "x", "early.py:12")
        p.release(t2, "m", "early.py:21")
        return [race("x", "early.py:12", "early.py:20")]
    p.acquire(t2, "m", "early.py:19"); p.write(t2, "x", "early.py:20"); p.release(t2, "m", "early.py:21")
    return []


@pattern("different-locks")
def _(p, racy):
    _, (t1, t2) = workers(p, "w1", "w2")
    p.acquire(t1, "m1", "locks.py:9")
    if not racy:
        p.acquire(t1, "m2", "locks.py:10")
    p.write(t1, "x", "locks.py:11")
    if not racy:
        p.release(t1, "m2", "locks.py:12")
    p.release(t1, "m1", "locks.py:13")
    p.acquire(t2, "m2", "locks.py:19"); p.write(t2, "x", "locks.py:20"); p.release(t2, "m2", "locks.py:21")
    return [race("x", "locks.py:11", "locks.py:20")] if racy else []


@pattern("rwlock-modes")
def _(p, racy):
    _, (t1, t2) = workers(p, "w1", "w2")
    if racy:
        # Both write under the read lock: a read lock does not keep writers apart.
        for t, loc in ((t1, "rwl.py:10"), (t2, "rwl.py:20")):
            p.acquire(t, "rw", "rwl.py:9", "RwLock::Read"); p.write(t, "x", loc)
            p.release(t, "rw", "rwl.py:11", "RwLock::Read")
        return [race("x", "rwl.py:10", "rwl.py:20")]
    p.acquire(t1, "rw", "rwl.py:9", "RWLock-Write"); p.write(t1, "x", "rwl.py:10")
    p.release(t1, "rw", "rwl.py:11", "RWLock-Write")
    p.acquire(t2, "rw", "rwl.py:19", "RWLock-Read"); p.read(t2, "x", "rwl.py:20")
    p.release(t2, "rw", "rwl.py:21", "RWLock-Read")
    return []


@pattern("atomic-vs-plain")
def _(p, racy):
    _, (t1, t2) = workers(p, "w1", "w2")
    p.access(t1, "n", "atom.py:10", "AtomicWrite", 5, 0)
    if racy:
        p.write(t2, "n", "atom.py:20", 6, 5)
        return [race("n", "atom.py:10", "atom.py:20")]
    p.access(t2, "n", "atom.py:20", "AtomicRMW", 6, 5)
    return []


def message_passing(p, file, publish, consume, flag_seen=1, fences=(None, None)):
    """A producer writes `data`, then sets the atomic `ready` flag; a consumer reads the flag,
    then `data` (line 10 the data write, 20 the flag load). `publish` and `consume` are the
    (line, ordering) of the flag store and the data read: the ordering decides the race."""
    _, (t1, t2) = workers(p, "producer", "consumer")
    p.write(t1, "data", f"{file}:10", 42, 0)
    if fences[0]:
        p.fence(t1, fences[0])
    (store_line, store), (read_line, load) = publish, consume
    p.access(t1, "ready", f"{file}:{store_line}", "AtomicWrite", 1, 0, store)
    p.access(t2, "ready", f"{file}:20", "AtomicRead", flag_seen, None, load)
    if fences[1]:
        p.fence(t2, fences[1])
    p.read(t2, "data", f"{file}:{read_line}", 42)
    return race("data", f"{file}:10", f"{file}:{read_line}")


@pattern("release-acquire")
def _(p, racy):
    store, load = ("Relaxed", "Relaxed") if racy else ("Release", "Acquire")
    found = message_passing(p, "mp.py", (11, store), (21, load))
    return [found] if racy else []


@pattern("seqcst-default")
def _(p, racy):
    # Untagged atomics are SeqCst; the racy consumer saw the old flag, not the store.
    found = message_passing(p, "sc.py", (11, None), (21, None), flag_seen=0 if racy else 1)
    return [found] if racy else []


@pattern("fences")
def _(p, racy):
    fences = (None if racy else "Release", "Acquire")
    found = message_passing(p, "fence.py", (12, "Relaxed"), (22, "Relaxed"), fences=fences)
    return [found] if racy else []


@pattern("fork-join")
def _(p, racy):
    main = p.actor("web", "main")
    child = p.actor("web", "child")
    p.call(main)
    if not racy:
        p.write(main, "x", "fj.py:5")
    p.spawn(main, child)
    if racy:
        p.write(main, "x", "fj.py:7")
    p.call(child, "work"); p.write(child, "x", "fj.py:20")
    p.join_task(main, child)
    p.read(main, "x", "fj.py:9")
    return [race("x", "fj.py:7", "fj.py:20")] if racy else []


@pattern("await-before-spawn")
def _(p, racy):
    main, t1, t2 = first_spawned(p, "task1", "task2")
    if not racy:
        p.call(t1, "work"); p.write(t1, "x", "aw.py:10"); p.join_task(main, t1)
    p.spawn(main, t2)
    if racy:
        p.call(t1, "work"); p.write(t1, "x", "aw.py:10")
    p.call(t2, "work"); p.write(t2, "x", "aw.py:20")
    p.join_task(main, t2)
    if racy:
        p.join_task(main, t1)
        return [race("x", "aw.py:10", "aw.py:20")]
    return []


@pattern("http-request")
def _(p, racy):
    api, ledger = p.actor("api", "req"), p.actor("ledger", "handler")
    p.call(api)
    if not racy:
        p.write(api, "order:7.status", "api.py:10", "\"paid\"", "\"new\"")
    p.http_request(api, ledger)
    if racy:
        p.write(api, "order:7.status", "api.py:10", "\"paid\"", "\"new\"")
    p.read(ledger, "order:7.status", "ledger.py:20", "\"paid\"")
    return [race("order:7.status", "api.py:10", "ledger.py:20")] if racy else []


@pattern("http-response")
def _(p, racy):
    api, ledger = p.actor("api", "req"), p.actor("ledger", "handler")
    p.call(api)
    p.http_request(api, ledger)
    if racy:
        p.read(api, "order:7.total", "api.py:12", 0)
    p.write(ledger, "order:7.total", "ledger.py:20", 30, 0)
    p.http_response(ledger, api)
    if not racy:
        p.read(api, "order:7.total", "api.py:12", 30)
    return [race("order:7.total", "api.py:12", "ledger.py:20")] if racy else []


@pattern("kafka")
def _(p, racy):
    orders, billing = p.actor("orders", "producer"), p.actor("billing", "consumer")
    p.call(orders)
    if not racy:
        p.write(orders, "invoice:9", "orders.py:10", 1, 0)
    p.send(orders, billing)
    if racy:
        p.write(orders, "invoice:9", "orders.py:10", 1, 0)
    p.write(billing, "invoice:9", "billing.py:20", 2, 1)
    return [race("invoice:9", "billing.py:20", "orders.py:10")] if racy else []


def bank_rmw(p, t, lock=None, split=False):
    """Steps of one read-modify-write of the balance, as a list of callables."""
    steps = []
    if lock and not split:
        steps.append(lambda: (p.acquire(t, lock, "bank.py:9"), p.read(t, "balance", "bank.py:10", 100)))
        steps.append(lambda: (p.write(t, "balance", "bank.py:12", 150, 100), p.release(t, lock, "bank.py:13")))
    elif lock:
        steps.append(lambda: (p.acquire(t, lock, "bank.py:9"), p.read(t, "balance", "bank.py:10", 100),
                              p.release(t, lock, "bank.py:11")))
        steps.append(lambda: (p.acquire(t, lock, "bank.py:9"), p.write(t, "balance", "bank.py:12", 150, 100),
                              p.release(t, lock, "bank.py:13")))
    else:
        steps.append(lambda: p.read(t, "balance", "bank.py:10", 100))
        steps.append(lambda: p.write(t, "balance", "bank.py:12", 150, 100))
    return steps


BANK_ALL = [race("balance", "bank.py:12", "bank.py:12"), race("balance", "bank.py:10", "bank.py:12"),
            lost("balance", "bank.py:12", "bank.py:12")]


@pattern("lost-update")
def _(p, racy):
    _, (a, b) = workers(p, "alice", "bob")
    sa, sb = bank_rmw(p, a, None if racy else "acct"), bank_rmw(p, b, None if racy else "acct")
    order = [sa[0], sb[0], sa[1], sb[1]] if racy else [sa[0], sa[1], sb[0], sb[1]]
    for step in order:
        step()
    return BANK_ALL if racy else []


@pattern("lost-update-locked-separately")
def _(p, racy):
    _, (a, b) = workers(p, "alice", "bob")
    sa, sb = bank_rmw(p, a, "acct", split=True), bank_rmw(p, b, "acct", split=True)
    order = [sa[0], sb[0], sa[1], sb[1]] if racy else [sa[0], sa[1], sb[0], sb[1]]
    for step in order:
        step()
    return [lost("balance", "bank.py:12", "bank.py:12")] if racy else []


def two_requests(p, apart):
    a = p.actor("bank", "req", "t1")
    b = p.actor("bank", "req", "t2")
    p.call(a, "transfer")
    if apart:
        p.gap(10)
    p.call(b, "transfer")
    return a, b


@pattern("cross-trace-lost-update")
def _(p, racy):
    a, b = two_requests(p, apart=not racy)
    sa, sb = bank_rmw(p, a), bank_rmw(p, b)
    order = [sa[0], sb[0], sa[1], sb[1]] if racy else [sb[0], sb[1]]
    if not racy:
        # Trace 1 did its update 10 s before trace 2 even started.
        p.time -= 10 * 1_000_000_000
        sa[0](); sa[1]()
        p.time += 10 * 1_000_000_000
    for step in order:
        step()
    return BANK_ALL if racy else []


@pattern("cross-trace-locked-separately")
def _(p, racy):
    a, b = two_requests(p, apart=False)
    sa = bank_rmw(p, a, "account:alice", split=racy)
    sb = bank_rmw(p, b, "account:alice", split=racy)
    for step in ([sa[0], sb[0], sa[1], sb[1]] if racy else [sa[0], sa[1], sb[0], sb[1]]):
        step()
    return [lost("balance", "bank.py:12", "bank.py:12")] if racy else []


@pattern("cross-trace-write-write")
def _(p, racy):
    a, b = two_requests(p, apart=not racy)
    if not racy:
        p.time -= 10 * 1_000_000_000
    p.write(a, "config:limit", "admin.py:10", 5, 1)
    if not racy:
        p.time += 10 * 1_000_000_000
    p.write(b, "config:limit", "admin.py:20", 7, 1)
    return [race("config:limit", "admin.py:10", "admin.py:20")] if racy else []


def nested(p, t, first, second, site, guard=None, lock_type="Mutex"):
    if guard:
        p.acquire(t, guard, f"{site}:8", lock_type)
    p.acquire(t, first, f"{site}:9", lock_type); p.acquire(t, second, f"{site}:10", lock_type)
    p.release(t, second, f"{site}:11", lock_type); p.release(t, first, f"{site}:12", lock_type)
    if guard:
        p.release(t, guard, f"{site}:13", lock_type)


@pattern("lock-order")
def _(p, racy):
    _, (t1, t2) = workers(p, "t1", "t2")
    p.call(t1, "transfer"); p.call(t2, "refund")
    guard = None if racy else "g"
    nested(p, t1, "a", "b", "transfer.py", guard)
    nested(p, t2, "b", "a", "refund.py", guard)
    return [inversion("a", "b", "transfer.py:10", "refund.py:10")] if racy else []


@pattern("lock-order-joined")
def _(p, racy):
    main, t1, t2 = first_spawned(p, "t1", "t2")
    if racy:
        p.spawn(main, t2)
    p.call(t1, "transfer"); nested(p, t1, "a", "b", "transfer.py")
    p.join_task(main, t1)
    if not racy:
        p.spawn(main, t2)
    p.call(t2, "refund"); nested(p, t2, "b", "a", "refund.py")
    p.join_task(main, t2)
    return [inversion("a", "b", "transfer.py:10", "refund.py:10")] if racy else []


@pattern("cross-trace-lock-order")
def _(p, racy):
    a, b = two_requests(p, apart=not racy)
    if not racy:
        p.time -= 10 * 1_000_000_000
    nested(p, a, "a", "b", "transfer.py")
    if not racy:
        p.time += 10 * 1_000_000_000
    nested(p, b, "b", "a", "refund.py")
    return [inversion("a", "b", "transfer.py:10", "refund.py:10")] if racy else []


def cycle(locks, locations):
    """A lock-order cycle finding: the locks in cycle order from the smallest, back to it; the
    two earliest inner acquisitions' locations."""
    start = locks.index(min(locks))
    order = locks[start:] + locks[:start]
    return {"kind": "lock_order_inversion", "variable": " -> ".join(order + [order[0]]),
            "locations": sorted(locations)}


@pattern("lock-cycle-three")
def _(p, racy):
    _, (t1, t2, t3) = workers(p, "t1", "t2", "t3")
    p.call(t1, "transfer"); p.call(t2, "refund"); p.call(t3, "audit")
    guard = None if racy else "gate"
    nested(p, t1, "a", "b", "transfer.py", guard)
    nested(p, t2, "b", "c", "refund.py", guard)
    nested(p, t3, "c", "a", "audit.py", guard)
    return [cycle(["a", "b", "c"], ["transfer.py:10", "refund.py:10"])] if racy else []


@pattern("semaphore")
def _(p, racy):
    # A semaphore lets several holders in (its permits are not recorded): it protects nothing.
    _, (t1, t2) = workers(p, "w1", "w2")
    for t, line in ((t1, 10), (t2, 20)):
        p.acquire(t, "pool", f"sem.py:{line - 2}", "Semaphore")
        if not racy:
            p.acquire(t, "m", f"sem.py:{line - 1}")
        p.write(t, "x", f"sem.py:{line}")
        if not racy:
            p.release(t, "m", f"sem.py:{line + 1}")
        p.release(t, "pool", f"sem.py:{line + 2}", "Semaphore")
    return [race("x", "sem.py:10", "sem.py:20")] if racy else []


@pattern("semaphore-lock-order")
def _(p, racy):
    # Racy: both take the semaphore around opposite orders of a and b; a semaphore is no guard.
    # Safe: the only cycle passes through the semaphore, which cannot deadlock for certain.
    _, (t1, t2) = workers(p, "t1", "t2")
    p.call(t1, "transfer"); p.call(t2, "refund")
    if racy:
        for t, (first, second), site in ((t1, ("a", "b"), "transfer.py"),
                                         (t2, ("b", "a"), "refund.py")):
            p.acquire(t, "pool", f"{site}:8", "Semaphore")
            nested(p, t, first, second, site)
            p.release(t, "pool", f"{site}:13", "Semaphore")
        return [inversion("a", "b", "transfer.py:10", "refund.py:10")]
    p.acquire(t1, "pool", "transfer.py:9", "Semaphore"); p.acquire(t1, "a", "transfer.py:10")
    p.release(t1, "a", "transfer.py:11"); p.release(t1, "pool", "transfer.py:12", "Semaphore")
    p.acquire(t2, "a", "refund.py:9"); p.acquire(t2, "pool", "refund.py:10", "Semaphore")
    p.release(t2, "pool", "refund.py:11", "Semaphore"); p.release(t2, "a", "refund.py:12")
    return []


@pattern("sdk-order")
def _(p, racy):
    # The SDK stamps close steps of one actor out of order (as the TypeScript SDK does); its
    # parent chain and counters state the real order, which decides.
    main = p.actor("web", "main")
    child = p.actor("web", "child")
    p.call(main)
    if racy:
        p.spawn(main, child)
        write = p.emit(main, "StateChange", {"variable": "x", "old_value": 1, "new_value": 2,
                                             "location": "order.ts:7", "access_type": "Write"})
        p.stamp(write, -1.5)  # stamped before the spawn that ran first
    else:
        write = p.emit(main, "StateChange", {"variable": "x", "old_value": 1, "new_value": 2,
                                             "location": "order.ts:5", "access_type": "Write"})
        p.stamp(write, 1.5)  # stamped after the spawn that ran after it
        p.spawn(main, child)
    p.call(child, "work"); p.write(child, "x", "order.ts:20")
    return [race("x", "order.ts:7", "order.ts:20")] if racy else []


@pattern("unknown-lock-type")
def _(p, racy):
    # Lock types the analysis does not know are assumed exclusive: opposite orders invert (and
    # the finding names the assumed types), a gate of such a type guards.
    _, (t1, t2) = workers(p, "t1", "t2")
    p.call(t1, "transfer"); p.call(t2, "refund")
    guard = None if racy else "gate"
    nested(p, t1, "a", "b", "transfer.py", guard, lock_type="Latch")
    nested(p, t2, "b", "a", "refund.py", guard, lock_type="Latch")
    return [inversion("a", "b", "transfer.py:10", "refund.py:10")] if racy else []


@pattern("response-clock")
def _(p, racy):
    # A synchronous call as the existing SDKs record it: the response is a child of the caller's
    # request (not of the callee's step) and merges the callee's clock into the caller's. That
    # merge orders the caller's steps after the response behind the callee's; a step before the
    # response stays concurrent with the callee.
    p.merged_clocks = True
    api, ledger = p.actor("api", "req"), p.actor("ledger", "handler")
    p.call(api)
    p.http_request(api, ledger)
    p.write(ledger, "order:7.status", "ledger.py:20", "\"paid\"", "\"new\"")
    if racy:
        p.read(api, "order:7.status", "api.py:15", "\"new\"")
    p.http_response(ledger, api, parent_is_callee=False)
    if not racy:
        p.read(api, "order:7.status", "api.py:30", "\"paid\"")
    return [race("order:7.status", "api.py:15", "ledger.py:20")] if racy else []


def main():
    parser = argparse.ArgumentParser(description="Writes the labeled race scenarios.")
    parser.add_argument("--out", default=HERE, help="folder to write to (default: this one)")
    out = parser.parse_args().out
    for old in glob.glob(os.path.join(out, "[0-9][0-9][0-9]-*.json")):
        os.remove(old)
    n = 0
    for index, (name, build) in enumerate(PATTERNS):
        for trusted in (True, False):
            for racy in (True, False):
                n += 1
                regime = "trusted" if trusted else "derived"
                label = f"{n:03d}-{name}-{regime}-{'yes' if racy else 'no'}"
                p = Prog(label)
                expected = build(p, racy)
                doc = {
                    "description": f"{name}, {'racy' if racy else 'safely synchronised'}, "
                                   f"{regime} clocks",
                    "events": p.json_events(trusted, per_instance=index % 2 == 1),
                    "expected": expected,
                }
                with open(os.path.join(out, label + ".json"), "w") as f:
                    json.dump(doc, f, indent=1)
                    f.write("\n")
    print(f"{n} scenarios")


if __name__ == "__main__":
    main()
