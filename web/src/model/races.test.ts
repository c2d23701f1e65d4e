import { describe, expect, it } from "vitest";
import type { Finding } from "@/api/types";
import { findingsCsv, groupByVariable } from "./races";

function finding(id: string, variable: string, severity: Finding["severity"] = "warning"): Finding {
  const side = { event_id: id, trace_id: "t", thread_id: "w", service: "s", instance: "i", location: "a.rs:1", access_type: "Write", timestamp_ns: 0, clock: [] };
  return { id, kind: "data_race", environment: "e", variable, severity, count: 1, explanation: 'said "hi", then left', first: side, second: side, detected_at_ns: 0 };
}

describe("races", () => {
  it("groups by variable, most findings first", () => {
    const groups = groupByVariable([finding("1", "x"), finding("2", "y", "critical"), finding("3", "y")]);
    expect(groups.map((g) => [g.variable, g.findings.length, g.critical])).toEqual([["y", 2, 1], ["x", 1, 0]]);
  });

  it("exports CSV with quoting", () => {
    const csv = findingsCsv([finding("1", "x")]);
    const [header, row] = csv.split("\r\n");
    expect(header.split(",")[0]).toBe("id");
    expect(row.endsWith('"said ""hi"", then left"')).toBe(true);
  });
});
