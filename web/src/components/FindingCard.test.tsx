// @vitest-environment jsdom
import { render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { expect, it } from "vitest";
import type { Finding } from "@/api/types";
import { FindingCard, valueChange } from "./FindingCard";

const side = (thread: string, location: string, old_value: number, new_value: number) => ({
  event_id: thread, trace_id: "aaaa", thread_id: thread, service: "web", instance: "web-1", location,
  access_type: "Write", timestamp_ns: 0, clock: [["web#web-1", 1]] as [string, number][], old_value, new_value,
});

it("shows both sides of a finding with locations, values and clocks", () => {
  const finding: Finding = {
    id: "f", kind: "data_race", environment: "test", variable: "balance", severity: "critical", count: 2,
    explanation: "unordered writes", first: side("worker-1", "balance.rs:12", 10, 15),
    second: side("worker-2", "balance.rs:45", 15, 20), detected_at_ns: 0,
  };
  render(<MemoryRouter><FindingCard finding={finding} currentTrace="aaaa" /></MemoryRouter>);
  expect(screen.getAllByTestId("finding-location").map((e) => e.textContent)).toEqual(["balance.rs:12", "balance.rs:45"]);
  expect(screen.getByText("worker-1")).toBeTruthy();
  expect(screen.getByText("10 → 15")).toBeTruthy();
  expect(screen.getByRole("link", { name: "balance" }).getAttribute("href")).toBe("/variables/balance");
  expect(screen.getByText("critical")).toBeTruthy();
  expect(screen.queryByText("trace")).toBeNull();
});

it("shows a side's value change, the value alone without a previous one, nothing when unrecorded", () => {
  expect(valueChange({ old_value: 10, new_value: 15 })).toBe("10 → 15");
  expect(valueChange({ old_value: null, new_value: { a: 1 } })).toBe('{"a":1}');
  expect(valueChange({ old_value: null, new_value: null })).toBeUndefined();
});
