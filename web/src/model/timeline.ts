/**
 * The timeline's data: one lane per actor (service/thread), lanes grouped by service, each event
 * a bar from its timestamp over its duration; and the visible time range, which zoom and pan
 * change. Pure numbers, so the canvas view only draws.
 *
 * Durations come from the trace's tree (`/api/traces/{id}/tree`), which gives every step one:
 * measured by the SDK, or derived (up to the step's last descendant or the actor's next event).
 * The graph's own `duration_ns` is only the measured one, absent for most events, which would
 * draw most steps as points.
 */
import type { GraphNode, TreeNode } from "@/api/types";
import { actorOf } from "./events";

export interface Lane {
  actor: string;
  service: string;
  thread: string;
}

export interface Bar {
  id: string;
  lane: number;
  start: number;
  end: number;
  race: boolean;
  node: GraphNode;
}

export interface TimelineData {
  lanes: Lane[];
  bars: Bar[];
  min: number;
  max: number;
}

export interface TimeRange {
  from: number;
  to: number;
}

/** Bars shorter than this share of the whole trace are drawn at it, so they stay clickable. */
const MIN_SHARE = 0.002;

/** Event id -> duration (ns) of every node of the tree (placeholders left out). */
export function treeDurations(roots: TreeNode[]): Map<string, number> {
  const durations = new Map<string, number>();
  // An explicit stack: parent links chain an actor's events, so trees can be very deep.
  const stack = [...roots];
  while (stack.length > 0) {
    const node = stack.pop() as TreeNode;
    if (!node.placeholder) durations.set(node.id, node.duration_ns);
    stack.push(...node.children);
  }
  return durations;
}

/**
 * The lanes and bars of `nodes`; a bar lasts `durations`' value for its event (see
 * `treeDurations`), else the graph's measured duration, else nothing (drawn at the least width).
 */
export function buildTimeline(
  nodes: GraphNode[],
  raceIds: Set<string>,
  durations: Map<string, number> = new Map(),
): TimelineData {
  const duration = (node: GraphNode) => durations.get(node.id) ?? node.duration_ns ?? 0;
  const lanes: Lane[] = [];
  const seen = new Map<string, Lane>();
  for (const node of nodes) {
    const actor = actorOf(node.service, node.thread);
    if (!seen.has(actor)) {
      const lane = { actor, service: node.service, thread: node.thread };
      seen.set(actor, lane);
      lanes.push(lane);
    }
  }
  lanes.sort((a, b) => a.service.localeCompare(b.service) || a.thread.localeCompare(b.thread));
  const laneIndex = new Map(lanes.map((lane, i) => [lane.actor, i]));
  let min = Infinity;
  let max = -Infinity;
  for (const node of nodes) {
    min = Math.min(min, node.timestamp_ns);
    max = Math.max(max, node.timestamp_ns + duration(node));
  }
  if (!Number.isFinite(min)) return { lanes, bars: [], min: 0, max: 1 };
  if (max <= min) max = min + 1;
  const minWidth = (max - min) * MIN_SHARE;
  const bars = nodes.map((node) => ({
    id: node.id,
    lane: laneIndex.get(actorOf(node.service, node.thread)) ?? 0,
    start: node.timestamp_ns,
    end: node.timestamp_ns + Math.max(duration(node), minWidth),
    race: raceIds.has(node.id),
    node,
  }));
  return { lanes, bars, min, max };
}

/** Zooms by `factor` (< 1 zooms in) around the point at `at` (0..1 across the view). */
export function zoom(view: TimeRange, factor: number, at: number, bounds: TimeRange): TimeRange {
  const width = view.to - view.from;
  const center = view.from + width * at;
  const newWidth = Math.min(bounds.to - bounds.from, Math.max(1000, width * factor));
  return clamp({ from: center - newWidth * at, to: center + newWidth * (1 - at) }, bounds);
}

/** Moves the view by `share` of its width (negative: earlier). */
export function pan(view: TimeRange, share: number, bounds: TimeRange): TimeRange {
  const delta = (view.to - view.from) * share;
  return clamp({ from: view.from + delta, to: view.to + delta }, bounds);
}

function clamp(view: TimeRange, bounds: TimeRange): TimeRange {
  const width = view.to - view.from;
  if (view.from < bounds.from) return { from: bounds.from, to: bounds.from + width };
  if (view.to > bounds.to) return { from: bounds.to - width, to: bounds.to };
  return view;
}

/** The bar under a point: lane and time. */
export function barAt(data: TimelineData, lane: number, time: number, slack: number): Bar | undefined {
  let best: Bar | undefined;
  for (const bar of data.bars) {
    if (bar.lane === lane && bar.start - slack <= time && time <= bar.end + slack) {
      if (!best || bar.end - bar.start < best.end - best.start) best = bar;
    }
  }
  return best;
}
