/**
 * Vertical layout of the timeline: a header row per service, then one row per lane of it.
 */
import type { Lane } from "./timeline";

export const ROW_HEIGHT = 22;
export const AXIS_HEIGHT = 28;

export interface Row {
  kind: "service" | "lane";
  label: string;
  lane?: number;
  y: number;
}

export function layoutRows(lanes: Lane[]): { rows: Row[]; laneY: number[]; height: number } {
  const rows: Row[] = [];
  const laneY: number[] = [];
  let y = AXIS_HEIGHT;
  let service: string | null = null;
  lanes.forEach((lane, i) => {
    if (lane.service !== service) {
      service = lane.service;
      rows.push({ kind: "service", label: lane.service, y });
      y += ROW_HEIGHT;
    }
    rows.push({ kind: "lane", label: lane.thread, lane: i, y });
    laneY[i] = y;
    y += ROW_HEIGHT;
  });
  return { rows, laneY, height: y + 4 };
}

/** The lane at height `y`, if a lane row is there. */
export function laneAt(rows: Row[], y: number): number | undefined {
  const row = rows.find((r) => r.y <= y && y < r.y + ROW_HEIGHT);
  return row?.kind === "lane" ? row.lane : undefined;
}
