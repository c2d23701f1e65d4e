/**
 * Findings for display: grouped by variable (most findings first), and as CSV for export.
 */
import type { Finding } from "@/api/types";
import { formatValue } from "@/lib/format";

export interface VariableGroup {
  variable: string;
  findings: Finding[];
  critical: number;
}

export function groupByVariable(findings: Finding[]): VariableGroup[] {
  const groups = new Map<string, Finding[]>();
  for (const finding of findings) {
    const list = groups.get(finding.variable) ?? [];
    list.push(finding);
    groups.set(finding.variable, list);
  }
  return [...groups.entries()]
    .map(([variable, list]) => ({
      variable,
      findings: list,
      critical: list.filter((f) => f.severity === "critical").length,
    }))
    .sort((a, b) => b.findings.length - a.findings.length || a.variable.localeCompare(b.variable));
}

const COLUMNS = [
  "id", "kind", "severity", "variable", "environment", "count",
  "first_trace", "first_service", "first_thread", "first_location", "first_access",
  "second_trace", "second_service", "second_thread", "second_location", "second_access",
  "explanation",
] as const;

function cell(value: unknown): string {
  const text = formatValue(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV, one row per finding. */
export function findingsCsv(findings: Finding[]): string {
  const rows = findings.map((f) =>
    [
      f.id, f.kind, f.severity, f.variable, f.environment, f.count,
      f.first.trace_id, f.first.service, f.first.thread_id, f.first.location, f.first.access_type,
      f.second.trace_id, f.second.service, f.second.thread_id, f.second.location, f.second.access_type,
      f.explanation,
    ].map(cell).join(","),
  );
  return [COLUMNS.join(","), ...rows].join("\r\n") + "\r\n";
}

/** The ids of the events that take part in a finding, for highlighting. */
export function racingEventIds(findings: Finding[]): Set<string> {
  const ids = new Set<string>();
  for (const f of findings) {
    ids.add(f.first.event_id);
    ids.add(f.second.event_id);
  }
  return ids;
}
