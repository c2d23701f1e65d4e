/**
 * Service health as the pages show it: the windows offered, the trend badge of each verdict,
 * rates as percentages, and which services are degrading (worst first). The verdicts themselves
 * come from the API (`GET /api/services/{name}/health`); nothing here recomputes them.
 */
import type { ServiceHealth, ServiceRow } from "@/api/types";

/** The windows the pages offer, shortest first; `1h` is the API's default. */
export const WINDOWS = ["15m", "1h", "24h", "7d", "30d"] as const;
export const DEFAULT_WINDOW = "1h";

export type BadgeVariant = "destructive" | "default" | "muted" | "outline";

/** The badge of a trend: its label, its colour, and what it means (the badge's tooltip). */
export function trendBadge(trend: string): { label: string; variant: BadgeVariant; title: string } {
  switch (trend) {
    case "degrading":
      return { label: "degrading", variant: "destructive", title: "slower or failing more than its own history" };
    case "improving":
      return { label: "improving", variant: "default", title: "faster or failing less than its own history" };
    case "stable":
      return { label: "stable", variant: "muted", title: "in line with its own history" };
    default:
      return { label: "too few traces", variant: "outline", title: "not enough traces in the window or its history to tell" };
  }
}

/** A rate (0 to 1) as a percentage with one decimal. */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return "–";
  return `${(rate * 100).toFixed(1)} %`;
}

/** A shift in baseline scales, signed (`+4.2σ`); `–` when the API compared none. */
export function formatShift(shift: number | null | undefined): string {
  if (shift === null || shift === undefined) return "–";
  return `${shift >= 0 ? "+" : ""}${shift.toFixed(1)}σ`;
}

/** Each listed service with its health (matched by name; `undefined` when none came back). */
export function withHealth(rows: ServiceRow[], health: ServiceHealth[]): { row: ServiceRow; health?: ServiceHealth }[] {
  const byName = new Map(health.map((h) => [h.service, h]));
  return rows.map((row) => ({ row, health: byName.get(row.service) }));
}

/** The degrading services, the largest p50 shift first (a service degrading by errors alone last). */
export function degradingServices(health: ServiceHealth[]): ServiceHealth[] {
  return health
    .filter((h) => h.trend === "degrading")
    .sort((a, b) => (b.comparison.p50_shift ?? -Infinity) - (a.comparison.p50_shift ?? -Infinity) || a.service.localeCompare(b.service));
}

/** What to say when no service is degrading: also how many could not be judged. */
export function noneDegradingText(health: ServiceHealth[]): string {
  const unjudged = health.filter((h) => h.trend === "insufficient_data").length;
  if (unjudged === 0) return "No service is degrading.";
  return `No service is degrading; ${unjudged} of ${health.length} have too few traces to tell.`;
}
