import { describe, expect, it } from "vitest";
import type { TraceEvent, WireEvent } from "@/api/types";
import { formatCount } from "@/lib/format";
import { timestampNs } from "./events";
import { appendLive, LIVE_LIMIT, liveSummary, messageKind, passes, type ShownMessage } from "./live";
import { lockHolds } from "./locks";
import { readFilters, traceQuery, writeFilters } from "./traceFilters";
import { expandableIds, visibleRows } from "./tree";

function lockEvent(kind: string, thread: string, at: string): TraceEvent {
  return {
    id: `${kind}${thread}${at}`, trace_id: "t", parent_id: null, timestamp: at,
    kind: { [kind]: { lock_id: "accounts", lock_type: "Mutex", location: "a.rs:1", mode: "exclusive" } } as unknown as TraceEvent["kind"],
    metadata: { thread_id: thread, service_name: "bank", environment: "e", process_id: 1, tags: {} }, causality_vector: [], lock_set: [], final_clock: [],
  };
}

describe("locks", () => {
  it("pairs holds and finds hand-overs", () => {
    const [lock] = lockHolds([
      lockEvent("LockAcquire", "a", "2024-01-01T00:00:00.000Z"),
      lockEvent("LockRelease", "a", "2024-01-01T00:00:00.002Z"),
      lockEvent("LockAcquire", "b", "2024-01-01T00:00:00.003Z"),
      lockEvent("LockRelease", "b", "2024-01-01T00:00:00.004Z"),
    ]);
    expect(lock.holds).toHaveLength(2);
    // Nanoseconds since the epoch exceed a double's exact range: compare to the microsecond.
    const us = (ns: number) => Math.round(ns / 1000);
    expect(us(lock.totalHeldNs)).toBe(3000);
    expect(us(lock.longestNs)).toBe(2000);
    expect(lock.handOvers.map((h) => [h.from, h.to, us(h.gapNs)])).toEqual([["bank/a", "bank/b", 1000]]);
  });
});

describe("trace filters", () => {
  it("round-trip through the URL and become the API query", () => {
    const filters = readFilters(new URLSearchParams("service=web&has_races=true&sort=races&page=2"));
    expect(writeFilters(filters).toString()).toBe("service=web&has_races=true&sort=races&page=2");
    expect(traceQuery(filters)).toMatchObject({ service: "web", has_races: true, sort: "races", offset: 50 });
    expect(traceQuery(readFilters(new URLSearchParams()))).toMatchObject({ sort: undefined, offset: 0, has_races: undefined });
  });
});

describe("live", () => {
  it("filters by trace, service and kind, and keeps a bounded list", () => {
    const wire = { kind: { StateChange: { variable: "balance" } } } as unknown as WireEvent;
    const event: ShownMessage = { type: "event", trace_id: "abc-1", service: "web", environment: "test", kind: "StateChange", event: wire };
    expect(passes(event, { service: "web", traceId: "abc", kind: "StateChange" })).toBe(true);
    expect(passes(event, { service: "api", traceId: "", kind: "" })).toBe(false);
    expect(passes(event, { service: "", traceId: "", kind: "LockAcquire" })).toBe(false);
    expect(liveSummary(event)).toBe("balance");
    const finding = { type: "finding", trace_id: "abc-1", trace_ids: ["abc-1", "def-2"], finding: { kind: "data_race", variable: "balance", first: { service: "web" }, second: { service: "api" } } } as unknown as ShownMessage;
    expect(passes(finding, { service: "api", traceId: "def", kind: "StateChange" })).toBe(true);
    expect(messageKind(finding)).toBe("data_race");
    let list: ShownMessage[] = [event];
    for (let i = 0; i < LIVE_LIMIT + 5; i++) list = appendLive(list, event);
    expect(list).toHaveLength(LIVE_LIMIT);
  });
});

describe("tree", () => {
  const leaf = (id: string) => ({ id, kind: "k", service: "s", location: "", thread: "t", start: "", start_ns: 0, duration_ns: 0, self_time_ns: 0, duration_measured: true, placeholder: false, error: false, children: [] });
  const roots = [{ ...leaf("r"), children: [leaf("a"), { ...leaf("b"), children: [leaf("c")] }] }];
  it("shows children of expanded nodes only and marks the critical path", () => {
    expect(visibleRows(roots, new Set(), new Set()).map((r) => r.node.id)).toEqual(["r"]);
    const rows = visibleRows(roots, expandableIds(roots), new Set(["b"]));
    expect(rows.map((r) => [r.node.id, r.depth])).toEqual([["r", 0], ["a", 1], ["b", 1], ["c", 2]]);
    expect(rows.filter((r) => r.critical).map((r) => r.node.id)).toEqual(["b"]);
  });
});

it("keeps sub-millisecond digits of timestamps", () => {
  const delta = timestampNs("2024-01-01T00:00:00.000001500Z") - timestampNs("2024-01-01T00:00:00Z");
  expect(Math.abs(delta - 1500)).toBeLessThan(512);
});

describe("format", () => {
  it("counts with the noun's plural unless there is one", () => {
    expect(formatCount(1, "call")).toBe("1 call");
    expect(formatCount(0, "call")).toBe("0 calls");
    expect(formatCount(3, "call")).toBe("3 calls");
  });
});
