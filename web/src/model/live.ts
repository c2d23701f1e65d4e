/**
 * The live view's list: messages that pass the filters, newest first, at most `LIVE_LIMIT` kept
 * (older ones fall off so a busy stream cannot grow the page without bound).
 */
import type { LiveMessage } from "@/api/types";

export const LIVE_LIMIT = 500;

export interface LiveFilter {
  service: string;
  traceId: string;
  kind: string;
}

function field(message: LiveMessage, ...names: string[]): string {
  for (const name of names) {
    const value = message[name];
    if (typeof value === "string") return value;
  }
  const event = message.event as Record<string, unknown> | undefined;
  if (event && typeof event === "object") {
    const metadata = event.metadata as Record<string, unknown> | undefined;
    for (const name of names) {
      if (typeof event[name] === "string") return event[name] as string;
      if (metadata && typeof metadata[name] === "string") return metadata[name] as string;
    }
  }
  return "";
}

export function messageService(message: LiveMessage): string {
  return field(message, "service", "service_name");
}

export function messageKind(message: LiveMessage): string {
  const kind = field(message, "kind", "event_kind");
  if (kind) return kind;
  const event = message.event as Record<string, unknown> | undefined;
  const raw = event?.kind;
  if (raw && typeof raw === "object") return Object.keys(raw)[0] ?? "";
  return "";
}

export function passes(message: LiveMessage, filter: LiveFilter): boolean {
  if (filter.traceId && !(message.trace_id ?? "").startsWith(filter.traceId)) return false;
  if (filter.service && messageService(message) !== filter.service) return false;
  if (filter.kind && message.type === "event" && messageKind(message) !== filter.kind) return false;
  return true;
}

export function appendLive(list: LiveMessage[], message: LiveMessage): LiveMessage[] {
  const next = [message, ...list];
  return next.length > LIVE_LIMIT ? next.slice(0, LIVE_LIMIT) : next;
}

/** One line about a message: a finding's kind and variable, an event's variable or location. */
export function liveSummary(message: LiveMessage): string {
  const finding = message.finding as { kind?: string; variable?: string } | undefined;
  if (finding) return `${finding.kind ?? ""} on ${finding.variable ?? "?"}`;
  const event = message.event as { kind?: Record<string, Record<string, unknown>> } | undefined;
  const payload = event?.kind && typeof event.kind === "object" ? Object.values(event.kind)[0] : undefined;
  if (payload && typeof payload.variable === "string") return payload.variable;
  if (payload && typeof payload.location === "string") return payload.location;
  if (typeof message.event_count === "number") return `${message.event_count} events`;
  return "";
}
