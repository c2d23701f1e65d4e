import { describe, expect, it } from "vitest";
import type { Finding } from "@/api/types";
import { axisTime, bucketTitle, overTime, overTimeAxis } from "./dashboard";

const NOON_NS = Date.parse("2026-12-06T12:00:00.000Z") * 1e6;
const SECOND_NS = 1e9;

function findingAt(ns: number): Finding {
  const side = { event_id: "e", trace_id: "t", thread_id: "w", service: "s", instance: "i", location: "a.rs:1", access_type: "Write", timestamp_ns: ns, clock: [] };
  return { id: String(ns), kind: "data_race", environment: "e", variable: "x", severity: "warning", count: 1, explanation: "", first: side, second: side, detected_at_ns: 0 };
}

describe("dashboard over time", () => {
  it("puts findings and anomalies into buckets that tile the span", () => {
    const buckets = overTime([findingAt(NOON_NS), findingAt(NOON_NS + 60 * SECOND_NS)], [NOON_NS + 30 * SECOND_NS], 4);
    expect(buckets).toHaveLength(4);
    expect(buckets.map((b) => [b.races, b.anomalies])).toEqual([[1, 0], [0, 0], [0, 1], [1, 0]]);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].start).toBe(buckets[i - 1].end);
  });

  it("labels the axis for the chart's span", () => {
    expect(axisTime(NOON_NS, 60 * SECOND_NS)).toBe("12:00:00");
    expect(axisTime(NOON_NS, 5 * 3_600 * SECOND_NS)).toBe("12:00");
    expect(axisTime(NOON_NS, 7 * 86_400 * SECOND_NS)).toBe("2026-12-06 12:00");
    const axis = overTimeAxis(overTime([findingAt(NOON_NS), findingAt(NOON_NS + 120 * SECOND_NS)], [], 4));
    expect(axis?.start).toBe("12:00:00");
    expect(axis?.middle).toBe("12:01:00");
    expect(axis?.end).toBe("12:02:00");
    expect(overTimeAxis([])).toBeUndefined();
  });

  it("says what a bar counts and when", () => {
    const [bucket] = overTime([findingAt(NOON_NS)], [NOON_NS, NOON_NS], 1);
    expect(bucketTitle({ ...bucket, end: NOON_NS + 10 * SECOND_NS })).toBe("12:00:00–12:00:10 UTC: 1 finding, 2 anomalies");
  });
});
