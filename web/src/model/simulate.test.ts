import { describe, expect, it } from "vitest";
import type { Simulation } from "@/api/types";
import { calledServices, emptyForm, movedEvents, pathChange, specOf } from "./simulate";

describe("specOf", () => {
  it("turns delays, failures and the SLA into the API's spec", () => {
    const form = emptyForm(["b", "c"]);
    form.services[0].delayMs = "500";
    form.services[1].failure = "timeout";
    form.services[1].timeoutMs = "2000";
    form.slaMs = "200";
    expect(specOf(form)).toEqual({
      spec: {
        delays: [{ service: "b", ms: 500 }],
        failures: [{ service: "c", mode: "timeout", timeout_ms: 2000 }],
        sla_ms: { default: 200, services: {} },
      },
    });
  });

  it("names the bad value, and asks for something to simulate", () => {
    const form = emptyForm(["b"]);
    expect(specOf(form)).toEqual({ error: "Set a delay or a failure on at least one service." });
    form.services[0].delayMs = "fast";
    expect(specOf(form)).toEqual({ error: "The delay of b must be a whole number of ms." });
    form.services[0].delayMs = "";
    form.services[0].failure = "timeout";
    expect(specOf(form)).toEqual({ error: "The timeout of b needs a whole number of ms." });
  });
});

const simulation = (events: Simulation["events"], delta = 500): Simulation => ({
  trace_id: "t",
  critical_path: { before_ms: 100, after_ms: 100 + delta, delta_ms: delta, before: [], after: [] },
  services: [],
  affected_services: [],
  over_sla: [],
  events,
});

const event = (id: string, start: [number, number | null], duration: [number, number | null]) => ({
  event_id: id, service: "a", kind: "FunctionCall", location: "a.rs:1",
  before_start_ms: start[0], after_start_ms: start[1], before_duration_ms: duration[0], after_duration_ms: duration[1],
});

describe("results", () => {
  it("says how the critical path changed", () => {
    expect(pathChange(simulation([]))).toBe("100.0 ms → 600.0 ms (+500.0 ms)");
    expect(pathChange(simulation([], -80))).toBe("100.0 ms → 20.0 ms (−80.0 ms)");
  });

  it("lists the moved events, skipped first, then by the largest shift", () => {
    const moved = movedEvents(simulation([
      event("same", [0, 0], [10, 10]),
      event("small", [10, 12], [5, 5]),
      event("big", [0, 0], [100, 600]),
      event("skipped", [20, null], [5, null]),
    ]));
    expect(moved.map((m) => [m.event.event_id, m.shiftMs])).toEqual([["skipped", null], ["big", 500], ["small", 2]]);
  });

  it("offers the trace's callees as the services to change", () => {
    const edge = (caller: string, callee: string) =>
      ({ caller, callee, kind: "http", calls: 1, errors: 0, p50_ms: 1, p95_ms: 1, p99_ms: 1 });
    expect(calledServices([edge("a", "c"), edge("a", "b"), edge("b", "c")])).toEqual(["b", "c"]);
  });
});
