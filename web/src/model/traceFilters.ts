/**
 * The Traces page's filters, sort and page, kept in the URL (so a reload or a shared link shows
 * the same list) and turned into the `/api/traces` query.
 */
import type { Query } from "@/api/client";

export const PAGE_SIZE = 25;

export interface TraceFilters {
  service: string;
  environment: string;
  trace_id: string;
  from: string;
  to: string;
  has_races: boolean;
  min_events: string;
  sort: "time" | "duration" | "races";
  page: number;
}

export function readFilters(params: URLSearchParams): TraceFilters {
  const sort = params.get("sort");
  return {
    service: params.get("service") ?? "",
    environment: params.get("environment") ?? "",
    trace_id: params.get("trace_id") ?? "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
    has_races: params.get("has_races") === "true",
    min_events: params.get("min_events") ?? "",
    sort: sort === "duration" || sort === "races" ? sort : "time",
    page: Math.max(0, Number(params.get("page") ?? 0) || 0),
  };
}

export function writeFilters(filters: TraceFilters): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) {
    if (name === "sort" && value === "time") continue;
    if (name === "page" && value === 0) continue;
    if (value === "" || value === false) continue;
    params.set(name, String(value));
  }
  return params;
}

/** `datetime-local` input text (local time) as RFC 3339, or nothing. */
function rfc3339(local: string): string | undefined {
  const date = new Date(local);
  return local && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;
}

export function traceQuery(filters: TraceFilters): Query {
  return {
    service: filters.service,
    environment: filters.environment,
    trace_id: filters.trace_id,
    from: rfc3339(filters.from),
    to: rfc3339(filters.to),
    has_races: filters.has_races ? true : undefined,
    min_events: filters.min_events,
    sort: filters.sort === "time" ? undefined : filters.sort,
    limit: PAGE_SIZE,
    offset: filters.page * PAGE_SIZE,
  };
}
