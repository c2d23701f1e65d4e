import { describe, expect, it } from "vitest";
import type { Finding, StateComparison, StepRow, TraceState } from "@/api/types";
import {
  comparePoint,
  differenceViews,
  racesAtStep,
  stepAfterKey,
  stepFromParam,
  stepOfEvent,
  stepOfTarget,
  threadViews,
  variableViews,
} from "./timeTravel";

const worker = (thread: string) => ({ service: "web", instance: "web-1", thread_id: thread });

// The fixture trace after its second write (step 2): worker-2 wrote 20 over worker-1's 15.
const state: TraceState = {
  trace_id: "t",
  step: 2,
  total_steps: 3,
  event: {} as TraceState["event"],
  variables: {
    balance: { value: 20, last_writer: { event_id: "dddd", ...worker("worker-2") }, written_at_step: 2 },
    audit: { value: "seen", last_writer: null, written_at_step: null },
    count: { value: 1, last_writer: { event_id: "cccc", ...worker("worker-1") }, written_at_step: 1 },
  },
  threads: [
    { ...worker("worker-1"), last_event_id: "cccc", last_step: 1, locks_held: [{ lock_id: "m", mode: "shared" }] },
    { ...worker("worker-2"), last_event_id: "dddd", last_step: 2, locks_held: [{ lock_id: "accounts", mode: "exclusive" }] },
  ],
  races_at_step: ["f1", "f-unknown"],
};

const steps = ["bbbb", "cccc-1", "dddd-2"].map((event_id, step) => ({ step, event_id }) as StepRow);

describe("time travel", () => {
  it("reads the step from the URL, kept in range", () => {
    expect(stepFromParam("2", 3)).toBe(2);
    expect(stepFromParam("9", 3)).toBe(2);
    expect(stepFromParam("-1", 3)).toBe(0);
    expect(stepFromParam("abc", 3)).toBe(0);
    expect(stepFromParam(null, 3)).toBe(0);
    expect(stepFromParam("1", 0)).toBe(0);
  });

  it("steps with the arrow keys, Home and End, never past either end", () => {
    expect(stepAfterKey(1, "ArrowRight", 3)).toBe(2);
    expect(stepAfterKey(2, "ArrowRight", 3)).toBe(2);
    expect(stepAfterKey(0, "ArrowLeft", 3)).toBe(0);
    expect(stepAfterKey(2, "Home", 3)).toBe(0);
    expect(stepAfterKey(0, "End", 3)).toBe(2);
    expect(stepAfterKey(0, "a", 3)).toBeUndefined();
  });

  it("finds a step by event id or prefix", () => {
    expect(stepOfEvent(steps, "dddd-2")).toBe(2);
    expect(stepOfEvent(steps, "cccc")).toBe(1);
    expect(stepOfEvent(steps, "ccc")).toBeUndefined();
    expect(stepOfEvent(steps, "eeee")).toBeUndefined();
  });

  it("reads a typed target as a step index or an event id", () => {
    expect(stepOfTarget(steps, " 2 ")).toBe(2);
    expect(stepOfTarget(steps, "3")).toBeUndefined();
    expect(stepOfTarget(steps, "cccc")).toBe(1);
    expect(stepOfTarget(steps, "")).toBeUndefined();
  });

  it("lists variables with their writer, marking the ones this step wrote", () => {
    expect(variableViews(state)).toEqual([
      { name: "audit", value: "seen", writer: null, writtenAt: null, changed: false },
      { name: "balance", value: "20", writer: "web#web-1/worker-2", writtenAt: 2, changed: true },
      { name: "count", value: "1", writer: "web#web-1/worker-1", writtenAt: 1, changed: false },
    ]);
  });

  it("lists threads with their locks and marks the one that took the step", () => {
    expect(threadViews(state)).toEqual([
      { actor: "web#web-1/worker-1", lastStep: 1, locks: ["m (shared)"], current: false },
      { actor: "web#web-1/worker-2", lastStep: 2, locks: ["accounts"], current: true },
    ]);
  });

  it("joins the step's race ids to the trace's findings", () => {
    const finding = { id: "f1", variable: "balance" } as Finding;
    expect(racesAtStep(state, [finding])).toEqual([{ id: "f1", finding }, { id: "f-unknown", finding: undefined }]);
    expect(racesAtStep(state, undefined).map((r) => r.id)).toEqual(["f1", "f-unknown"]);
  });

  it("names comparison points and shows both sides of each difference", () => {
    expect(comparePoint(" t ", 3)).toBe("t@3");
    const comparison: StateComparison = {
      left: { trace_id: "t", step: 1 },
      right: { trace_id: "t", step: 2 },
      differences: [
        { variable: "new", left: null, right: { value: "x", last_writer: null, written_at_step: null } },
        {
          variable: "balance",
          left: { value: 15, last_writer: { event_id: "c", ...worker("worker-1") }, written_at_step: 1 },
          right: { value: 20, last_writer: { event_id: "d", ...worker("worker-2") }, written_at_step: 2 },
        },
      ],
    };
    expect(differenceViews(comparison)).toEqual([
      { variable: "balance", left: "15", leftWriter: "web#web-1/worker-1", right: "20", rightWriter: "web#web-1/worker-2" },
      { variable: "new", left: "(not yet seen)", leftWriter: null, right: "x", rightWriter: null },
    ]);
  });
});
