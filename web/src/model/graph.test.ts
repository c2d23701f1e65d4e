import { describe, expect, it } from "vitest";
import type { CausalGraph, Finding } from "@/api/types";
import { buildGraph, causalPath, COLLAPSE_AT, sizeFor } from "./graph";

function node(id: string, thread: string, duration = 0) {
  return { id, kind: "StateChange", service: "web", thread, location: `${id}.rs:1`, timestamp_ns: 0, duration_ns: duration, clock: [] as [string, number][] };
}

const graph: CausalGraph = {
  trace_id: "t",
  trusted_clocks: true,
  nodes: [node("a", "main"), node("b", "worker-1", 5), node("c", "worker-2", 10)],
  edges: [{ from: "a", to: "b", kind: "spawn" }, { from: "a", to: "c", kind: "spawn" }],
};

const race = {
  id: "f", kind: "data_race", environment: "test", variable: "balance", severity: "critical", count: 1, explanation: "",
  first: { event_id: "b" }, second: { event_id: "c" }, detected_at_ns: 0,
} as unknown as Finding;

describe("buildGraph", () => {
  it("places one column per actor and draws race pairs as red edges", () => {
    const model = buildGraph(graph, { kinds: null, colorBy: "service", findings: [race], criticalIds: new Set(["a", "b"]) });
    const nodes = model.elements.filter((e) => e.group === "nodes");
    expect(new Set(nodes.map((n) => n.position?.y)).size).toBe(3);
    expect(nodes.filter((n) => n.classes === "lane").map((n) => n.data.label)).toEqual(["web/main", "web/worker-1", "web/worker-2"]);
    const raceEdges = model.elements.filter((e) => e.group === "edges" && e.classes === "race");
    expect(raceEdges.map((e) => [e.data.source, e.data.target])).toEqual([["b", "c"]]);
    expect(model.elements.find((e) => e.data.id === "a")?.classes).toContain("critical");
    expect(model.collapsed).toBe(false);
  });

  it("drops the edges of filtered-out kinds", () => {
    const model = buildGraph(graph, { kinds: new Set(["FunctionCall"]), colorBy: "thread", findings: [], criticalIds: new Set() });
    expect(model.elements).toEqual([]);
  });

  it("collapses by actor above the threshold", () => {
    const big: CausalGraph = {
      ...graph,
      nodes: Array.from({ length: COLLAPSE_AT + 1 }, (_, i) => node(`n${i}`, `t${i % 4}`)),
      edges: [{ from: "n0", to: "n1", kind: "happens_before" }],
    };
    const model = buildGraph(big, { kinds: null, colorBy: "service", findings: [], criticalIds: new Set() });
    expect(model.collapsed).toBe(true);
    expect(model.elements.filter((e) => e.group === "nodes")).toHaveLength(4);
    expect(model.elements.filter((e) => e.group === "edges")[0].data.label).toBe("1");
  });
});

describe("causalPath", () => {
  it("follows edges either way round and reports concurrent events", () => {
    expect(causalPath(graph, "b", "a")).toEqual(["a", "b"]);
    expect(causalPath(graph, "b", "c")).toBeNull();
  });
});

it("sizes nodes by duration", () => {
  expect(sizeFor(0, 10)).toBe(20);
  expect(sizeFor(10, 10)).toBe(60);
});
