import { describe, expect, it } from "vitest";
import type { TreeNode } from "@/api/types";
import { barAt, buildTimeline, pan, treeDurations, zoom } from "./timeline";
import { laneAt, layoutRows } from "./timelineRows";

const nodes = [
  { id: "a", kind: "Call", service: "web", thread: "w2", location: "", timestamp_ns: 1000, duration_ns: 500, clock: [] },
  { id: "b", kind: "Call", service: "api", thread: "main", location: "", timestamp_ns: 0, duration_ns: 100, clock: [] },
  { id: "c", kind: "Call", service: "web", thread: "w1", location: "", timestamp_ns: 1_000_000, duration_ns: 0, clock: [] },
] as Parameters<typeof buildTimeline>[0];

describe("timeline", () => {
  const data = buildTimeline(nodes, new Set(["a"]));

  it("groups lanes by service and marks race accesses", () => {
    expect(data.lanes.map((l) => l.actor)).toEqual(["api/main", "web/w1", "web/w2"]);
    expect(data.bars.find((b) => b.id === "a")).toMatchObject({ lane: 2, race: true });
    expect(data.min).toBe(0);
    expect(data.max).toBe(1_000_000);
  });

  it("zooms around a point and stays inside the trace", () => {
    const bounds = { from: data.min, to: data.max };
    const zoomed = zoom(bounds, 0.5, 0, bounds);
    expect(zoomed).toEqual({ from: 0, to: 500_000 });
    expect(pan(zoomed, 0.5, bounds)).toEqual({ from: 250_000, to: 750_000 });
    expect(pan(zoomed, -1, bounds)).toEqual({ from: 0, to: 500_000 });
    expect(zoom(zoomed, 10, 0.5, bounds)).toEqual(bounds);
  });

  it("finds the bar under a click", () => {
    expect(barAt(data, 2, 1200, 0)?.id).toBe("a");
    expect(barAt(data, 2, 900_000, 0)).toBeUndefined();
    const { rows, laneY } = layoutRows(data.lanes);
    expect(laneAt(rows, laneY[1] + 1)).toBe(1);
    expect(rows.filter((r) => r.kind === "service").map((r) => r.label)).toEqual(["api", "web"]);
  });

  it("takes each bar's width from the tree's durations", () => {
    const node = (id: string, duration_ns: number, children: TreeNode[] = [], placeholder = false) =>
      ({ id, duration_ns, children, placeholder }) as unknown as TreeNode;
    const durations = treeDurations([node("root", 0, [node("b", 400_000), node("c", 250_000)], true)]);
    expect([...durations.entries()].sort()).toEqual([["b", 400_000], ["c", 250_000]]);
    const timed = buildTimeline(nodes, new Set(), durations);
    // b measured 100 ns; the tree says 400 µs.
    expect(timed.bars.find((b) => b.id === "b")).toMatchObject({ start: 0, end: 400_000 });
    expect(timed.max).toBe(1_250_000);
    // a has no tree duration: its measured 500 ns, under the least width (0.2% of 1.25 ms).
    expect(timed.bars.find((b) => b.id === "a")?.end).toBe(1000 + 2500);
  });
});
