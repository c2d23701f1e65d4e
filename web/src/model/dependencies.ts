/**
 * A service dependency graph as Cytoscape elements: services on a circle, one edge per call kind.
 * Edges of a trace that the global graph had never seen before it (`unexpected`, decided by the
 * server) carry the class `unexpected` and say so in their label.
 */
import type { DependencyEdge } from "@/api/types";
import type { GraphElement } from "./graph";
import { formatMs } from "@/lib/format";
import { colorFor } from "./palette";

export function dependencyElements(edges: (DependencyEdge & { unexpected?: boolean })[]): GraphElement[] {
  const services = [...new Set(edges.flatMap((e) => [e.caller, e.callee]))].sort();
  const radius = 60 * Math.max(2, services.length);
  const nodes: GraphElement[] = services.map((service, i) => {
    const angle = (2 * Math.PI * i) / services.length;
    return {
      group: "nodes",
      data: { id: `svc:${service}`, label: service, color: colorFor(service), size: 36 },
      position: { x: radius * Math.cos(angle), y: radius * Math.sin(angle) },
    };
  });
  const links: GraphElement[] = edges.map((e, i) => ({
    group: "edges",
    data: {
      id: `dep${i}`,
      source: `svc:${e.caller}`,
      target: `svc:${e.callee}`,
      label: `${e.unexpected ? "⚠ unexpected · " : ""}${e.calls} ${e.kind} · p50 ${formatMs(e.p50_ms)} / p95 ${formatMs(e.p95_ms)} / p99 ${formatMs(e.p99_ms)}`,
    },
    classes: e.unexpected ? "unexpected" : undefined,
  }));
  return [...nodes, ...links];
}
