/**
 * The live view's list: messages that pass the filters, newest first, at most `LIVE_LIMIT` kept
 * (older ones fall off so a busy stream cannot grow the page without bound).
 *
 * Messages are the server's `LiveMessage` (from the OpenAPI document), a union tagged by `type`:
 * each field is read from the variant that has it, so a change of the server's messages is a
 * type error here rather than an empty column.
 */
import type { LiveMessage } from "@/api/types";

export const LIVE_LIMIT = 500;

/** A message the list shows: an event, a finding or a completed trace (not the notices). */
export type ShownMessage = Exclude<LiveMessage, { type: "subscribed" } | { type: "lagged" }>;

export interface LiveFilter {
  service: string;
  traceId: string;
  kind: string;
}

/** Whether the list shows `message` (notices are handled by the page). */
export function isShown(message: LiveMessage): message is ShownMessage {
  return message.type !== "subscribed" && message.type !== "lagged";
}

/** The trace a message names; none for the notices. */
export function messageTrace(message: LiveMessage): string | undefined {
  return isShown(message) ? message.trace_id : undefined;
}

/** Every service a message is about. */
function services(message: ShownMessage): string[] {
  switch (message.type) {
    case "event":
      return [message.service];
    case "finding":
      return [...new Set([message.finding.first.service, message.finding.second.service])];
    case "trace_completed":
      return message.services;
  }
}

/** Every trace a message is about. */
function traces(message: ShownMessage): string[] {
  return message.type === "finding" ? message.trace_ids : [message.trace_id];
}

export function messageService(message: ShownMessage): string {
  return services(message).join(", ");
}

/** An event's kind, a finding's kind; nothing for a completed trace. */
export function messageKind(message: ShownMessage): string {
  if (message.type === "event") return message.kind;
  if (message.type === "finding") return message.finding.kind;
  return "";
}

export function passes(message: ShownMessage, filter: LiveFilter): boolean {
  if (filter.traceId && !traces(message).some((t) => t.startsWith(filter.traceId))) return false;
  if (filter.service && !services(message).includes(filter.service)) return false;
  if (filter.kind && message.type === "event" && message.kind !== filter.kind) return false;
  return true;
}

export function appendLive(list: ShownMessage[], message: ShownMessage): ShownMessage[] {
  const next = [message, ...list];
  return next.length > LIVE_LIMIT ? next.slice(0, LIVE_LIMIT) : next;
}

/** One line about a message: a finding's variable, an event's variable or location. */
export function liveSummary(message: ShownMessage): string {
  switch (message.type) {
    case "finding":
      return `on ${message.finding.variable || "?"}`;
    case "trace_completed":
      return `${message.event_count} events`;
    case "event": {
      // The wire event's kind is externally tagged: `{"StateChange": {...}}`.
      const kinds = message.event.kind as Record<string, Record<string, unknown> | undefined>;
      const payload = kinds[message.kind];
      if (typeof payload?.variable === "string") return payload.variable;
      if (typeof payload?.location === "string") return payload.location;
      return "";
    }
  }
}
