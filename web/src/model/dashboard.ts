/**
 * The dashboard's figures: findings and anomalies per time bucket, and the slowest services (by
 * the p95 of the calls into them). Hotspots and degrading services come from the API.
 */
import type { Anomaly, DependencyEdge, Finding } from "@/api/types";
import { formatCount } from "@/lib/format";

/** One bar of the chart: what happened in `[start, end)`, nanoseconds since the epoch (UTC). */
export interface Bucket {
  start: number;
  end: number;
  races: number;
  anomalies: number;
}

/** The shortest span the chart covers, so that findings at one instant still get a bar. */
const MIN_SPAN_NS = 1e9;

export function overTime(findings: Finding[], anomalyTimes: number[], buckets = 24): Bucket[] {
  const times = findings.map((f) => Math.max(f.first.timestamp_ns, f.second.timestamp_ns));
  const all = [...times, ...anomalyTimes];
  if (all.length === 0) return [];
  const min = Math.min(...all);
  // Nanoseconds since the epoch are past a double's exact range (a step of 256 ns), so `max + 1`
  // would equal `max`: the span is at least a second, else equal times give zero-width buckets.
  const span = Math.max(Math.max(...all) - min, MIN_SPAN_NS);
  const width = span / buckets;
  const result: Bucket[] = Array.from({ length: buckets }, (_, i) => ({
    start: min + i * width,
    end: min + (i + 1) * width,
    races: 0,
    anomalies: 0,
  }));
  const slot = (t: number) => Math.min(buckets - 1, Math.floor((t - min) / width));
  for (const t of times) result[slot(t)].races += 1;
  for (const t of anomalyTimes) result[slot(t)].anomalies += 1;
  return result;
}

/**
 * A time of day (UTC) for the chart's axis, precise enough for the chart's span: seconds below an
 * hour, minutes below two days, then the date with the minutes. Nanoseconds since the epoch exceed
 * a double's exact range, which is fine at these precisions.
 */
export function axisTime(ns: number, spanNs: number): string {
  const iso = new Date(ns / 1e6).toISOString();
  if (spanNs < 3_600e9) return iso.slice(11, 19);
  if (spanNs < 2 * 86_400e9) return iso.slice(11, 16);
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** The chart's axis: its first, middle and last instants, labelled for the chart's span. */
export function overTimeAxis(buckets: Bucket[]): { start: string; middle: string; end: string } | undefined {
  if (buckets.length === 0) return undefined;
  const start = buckets[0].start;
  const end = buckets[buckets.length - 1].end;
  const span = end - start;
  return { start: axisTime(start, span), middle: axisTime(start + span / 2, span), end: axisTime(end, span) };
}

/** A bar's tooltip: its interval and what it counts. */
export function bucketTitle(bucket: Bucket): string {
  const span = bucket.end - bucket.start;
  const findings = formatCount(bucket.races, "finding");
  const anomalies = formatCount(bucket.anomalies, "anomaly", "anomalies");
  return `${axisTime(bucket.start, span)}–${axisTime(bucket.end, span)} UTC: ${findings}, ${anomalies}`;
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
