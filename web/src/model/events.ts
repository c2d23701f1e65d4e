/**
 * Reading the Raceway JSON event form (`kind` is `{"StateChange": {...}}`, or a bare name for a
 * payload-less kind): the kind's name, its payload, and the fields several views show.
 */
import type { TraceEvent } from "@/api/types";

export function kindName(event: Pick<TraceEvent, "kind">): string {
  return typeof event.kind === "string" ? event.kind : (Object.keys(event.kind)[0] ?? "Unknown");
}

export function payload(event: Pick<TraceEvent, "kind">): Record<string, unknown> {
  if (typeof event.kind === "string") return {};
  const value = Object.values(event.kind)[0];
  return value && typeof value === "object" ? value : {};
}

/** Where the event happened: its location, or a function call's `file:line`. */
export function location(event: Pick<TraceEvent, "kind">): string {
  const p = payload(event);
  if (typeof p.location === "string") return p.location;
  if (typeof p.file === "string") return p.line ? `${p.file}:${String(p.line)}` : p.file;
  return "";
}

/** The actor an event belongs to: its service and thread. */
export function actorOf(service: string, thread: string): string {
  return `${service}/${thread}`;
}

export function timestampNs(iso: string): number {
  // Date keeps milliseconds; the fraction's digits past them are added back.
  const ms = Date.parse(iso);
  const fraction = /\.(\d+)/.exec(iso)?.[1] ?? "";
  const subMs = fraction.length > 3 ? Number(fraction.slice(3, 9).padEnd(6, "0")) : 0;
  return ms * 1e6 + subMs;
}
