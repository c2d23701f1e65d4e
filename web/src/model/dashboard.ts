/**
 * The dashboard's figures: findings and anomalies per time bucket, and the slowest services (by
 * the p95 of the calls into them). Hotspots and degrading services come from the API.
 */
import type { Anomaly, DependencyEdge, Finding } from "@/api/types";

export interface Bucket {
  start: number;
  races: number;
  anomalies: number;
}

export function overTime(findings: Finding[], anomalyTimes: number[], buckets = 24): Bucket[] {
  const times = findings.map((f) => Math.max(f.first.timestamp_ns, f.second.timestamp_ns));
  const all = [...times, ...anomalyTimes];
  if (all.length === 0) return [];
  const min = Math.min(...all);
  const max = Math.max(...all) + 1;
  const width = (max - min) / buckets;
  const result: Bucket[] = Array.from({ length: buckets }, (_, i) => ({ start: min + i * width, races: 0, anomalies: 0 }));
  const slot = (t: number) => Math.min(buckets - 1, Math.floor((t - min) / width));
  for (const t of times) result[slot(t)].races += 1;
  for (const t of anomalyTimes) result[slot(t)].anomalies += 1;
  return result;
}

export function slowestServices(edges: DependencyEdge[], limit = 5): { service: string; p95_ms: number; calls: number }[] {
  const byService = new Map<string, { p95_ms: number; calls: number }>();
  for (const edge of edges) {
    const entry = byService.get(edge.callee) ?? { p95_ms: 0, calls: 0 };
    entry.p95_ms = Math.max(entry.p95_ms, edge.p95_ms);
    entry.calls += edge.calls;
    byService.set(edge.callee, entry);
  }
  return [...byService.entries()]
    .map(([service, v]) => ({ service, ...v }))
    .sort((a, b) => b.p95_ms - a.p95_ms)
    .slice(0, limit);
}

export function anomalySeverityCounts(anomalies: Anomaly[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of anomalies) counts[a.severity] = (counts[a.severity] ?? 0) + 1;
  return counts;
}
