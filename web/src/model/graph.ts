/**
 * The causal graph as Cytoscape elements, laid out without a force simulation: one row (lane) per
 * actor (service/thread), labelled at its left end, and each event in the column of its causal
 * depth (one past the deepest event it follows), so concurrent actors share columns and placing
 * 10,000 events costs one pass over the edges. Above
 * `COLLAPSE_AT` visible events the graph is collapsed to one node per actor (edges summed), since
 * drawing every event would make the page unresponsive; filtering by kind brings it back under.
 */
import type { CausalGraph, Finding, GraphNode } from "@/api/types";
import { actorOf } from "./events";
import { colorFor } from "./palette";

export const COLLAPSE_AT = 2000;

export type ColorBy = "service" | "thread";

export interface GraphOptions {
  kinds: Set<string> | null;
  colorBy: ColorBy;
  findings: Finding[];
  criticalIds: Set<string>;
}

export interface ElementData {
  id: string;
  [key: string]: unknown;
}

export interface GraphElement {
  group: "nodes" | "edges";
  data: ElementData;
  position?: { x: number; y: number };
  classes?: string;
}

export interface GraphModel {
  elements: GraphElement[];
  collapsed: boolean;
  shownEvents: number;
}

const COLUMN = 90;
const ROW = 110;

export function kindsOf(graph: CausalGraph): string[] {
  return [...new Set(graph.nodes.map((n) => n.kind))].sort();
}

/** Node diameter from duration: 20 px for instant steps to 60 px for the slowest. */
export function sizeFor(durationNs: number | null | undefined, maxNs: number): number {
  if (!durationNs || maxNs <= 0) return 20;
  return 20 + 40 * (Math.log1p(durationNs) / Math.log1p(maxNs));
}

function racePairs(findings: Finding[]): [string, string, Finding][] {
  return findings.map((f) => [f.first.event_id, f.second.event_id, f]);
}

export function buildGraph(graph: CausalGraph, options: GraphOptions): GraphModel {
  const visible = graph.nodes.filter((n) => !options.kinds || options.kinds.has(n.kind));
  if (visible.length > COLLAPSE_AT) return collapseByActor(graph, visible, options);
  const shown = new Set(visible.map((n) => n.id));
  const lanes = new Map<string, number>();
  const depth = causalDepths(visible, graph, shown);
  const maxNs = Math.max(0, ...visible.map((n) => n.duration_ns ?? 0));
  const raceIds = new Set(options.findings.flatMap((f) => [f.first.event_id, f.second.event_id]));
  const elements: GraphElement[] = visible.map((node) => {
    const actor = actorOf(node.service, node.thread);
    if (!lanes.has(actor)) lanes.set(actor, lanes.size);
    const classes = [
      options.criticalIds.has(node.id) ? "critical" : "",
      raceIds.has(node.id) ? "race" : "",
    ].join(" ").trim();
    return {
      group: "nodes",
      data: {
        id: node.id,
        label: `${node.kind}\n${node.location || node.thread}`,
        kind: node.kind,
        color: colorFor(options.colorBy === "service" ? node.service : actor),
        size: sizeFor(node.duration_ns, maxNs),
      },
      position: { x: (depth.get(node.id) ?? 0) * COLUMN, y: (lanes.get(actor) ?? 0) * ROW },
      classes,
    };
  });
  for (const [actor, lane] of lanes) {
    elements.push({
      group: "nodes",
      data: { id: `lane:${actor}`, label: actor, kind: "lane" },
      position: { x: -COLUMN * 1.5, y: lane * ROW },
      classes: "lane",
    });
  }
  graph.edges.forEach((edge, i) => {
    if (shown.has(edge.from) && shown.has(edge.to)) {
      const critical = options.criticalIds.has(edge.from) && options.criticalIds.has(edge.to);
      elements.push({
        group: "edges",
        data: { id: `e${i}`, source: edge.from, target: edge.to, kind: edge.kind },
        classes: critical ? "critical" : undefined,
      });
    }
  });
  racePairs(options.findings).forEach(([a, b, finding], i) => {
    if (shown.has(a) && shown.has(b)) {
      elements.push({
        group: "edges",
        data: { id: `race${i}`, source: a, target: b, kind: "race", label: finding.variable },
        classes: "race",
      });
    }
  });
  return { elements, collapsed: false, shownEvents: visible.length };
}

/** Each shown event's column: one past the deepest shown event with an edge into it. */
function causalDepths(visible: GraphNode[], graph: CausalGraph, shown: Set<string>): Map<string, number> {
  const incoming = new Map<string, string[]>();
  for (const edge of graph.edges) {
    if (shown.has(edge.from) && shown.has(edge.to)) {
      const list = incoming.get(edge.to) ?? [];
      list.push(edge.from);
      incoming.set(edge.to, list);
    }
  }
  // Nodes come in causal order: every predecessor's depth is known when a node is reached.
  const depth = new Map<string, number>();
  for (const node of visible) {
    let d = 0;
    for (const from of incoming.get(node.id) ?? []) d = Math.max(d, (depth.get(from) ?? -1) + 1);
    depth.set(node.id, d);
  }
  return depth;
}

function collapseByActor(graph: CausalGraph, visible: GraphNode[], options: GraphOptions): GraphModel {
  const actorOfId = new Map<string, string>();
  const counts = new Map<string, { service: string; count: number }>();
  for (const node of visible) {
    const actor = actorOf(node.service, node.thread);
    actorOfId.set(node.id, actor);
    const entry = counts.get(actor) ?? { service: node.service, count: 0 };
    entry.count += 1;
    counts.set(actor, entry);
  }
  const elements: GraphElement[] = [];
  let column = 0;
  for (const [actor, { service, count }] of counts) {
    elements.push({
      group: "nodes",
      data: {
        id: `actor:${actor}`,
        label: `${actor}\n${count} events`,
        kind: "actor",
        color: colorFor(options.colorBy === "service" ? service : actor),
        size: 30 + Math.min(50, Math.sqrt(count)),
      },
      position: { x: column * COLUMN, y: (column % 2) * ROW * 2 },
    });
    column += 1;
  }
  const edgeCounts = new Map<string, number>();
  for (const edge of graph.edges) {
    const a = actorOfId.get(edge.from);
    const b = actorOfId.get(edge.to);
    if (a && b && a !== b) edgeCounts.set(`${a}\u0000${b}`, (edgeCounts.get(`${a}\u0000${b}`) ?? 0) + 1);
  }
  let i = 0;
  for (const [key, count] of edgeCounts) {
    const [a, b] = key.split("\u0000");
    elements.push({ group: "edges", data: { id: `ae${i++}`, source: `actor:${a}`, target: `actor:${b}`, label: String(count) } });
  }
  for (const [a, b, finding] of racePairs(options.findings)) {
    const x = actorOfId.get(a);
    const y = actorOfId.get(b);
    if (x && y) {
      elements.push({
        group: "edges",
        data: { id: `ar${i++}`, source: `actor:${x}`, target: `actor:${y}`, label: finding.variable },
        classes: "race",
      });
    }
  }
  return { elements, collapsed: true, shownEvents: visible.length };
}

/**
 * The causal path between two events: the edges from the earlier to the later one, found by a
 * breadth-first search along the graph's edges. Null when neither reaches the other (the two are
 * concurrent: nothing orders them).
 */
export function causalPath(graph: CausalGraph, a: string, b: string): string[] | null {
  return directedPath(graph, a, b) ?? directedPath(graph, b, a);
}

function directedPath(graph: CausalGraph, from: string, to: string): string[] | null {
  const next = new Map<string, string[]>();
  for (const edge of graph.edges) {
    const list = next.get(edge.from) ?? [];
    list.push(edge.to);
    next.set(edge.from, list);
  }
  const cameFrom = new Map<string, string>([[from, from]]);
  const queue = [from];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head];
    if (node === to) {
      const path = [to];
      let step = to;
      while (step !== from) {
        step = cameFrom.get(step) ?? from;
        path.push(step);
      }
      return path.reverse();
    }
    for (const target of next.get(node) ?? []) {
      if (!cameFrom.has(target)) {
        cameFrom.set(target, node);
        queue.push(target);
      }
    }
  }
  return null;
}
