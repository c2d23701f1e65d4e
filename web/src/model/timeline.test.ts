import { describe, expect, it } from "vitest";
import { barAt, buildTimeline, pan, zoom } from "./timeline";
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
});
