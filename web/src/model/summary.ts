/** A trace's headline figures from its events. */
import type { TraceDetail } from "@/api/types";
import { actorOf, timestampNs } from "./events";

export interface TraceSummary {
  events: number;
  services: string[];
  actors: string[];
  durationMs: number;
}

export function traceSummary(detail: TraceDetail): TraceSummary {
  const services = new Set<string>();
  const actors = new Set<string>();
  let start = Infinity;
  let end = -Infinity;
  for (const event of detail.events) {
    services.add(event.metadata.service_name);
    actors.add(actorOf(event.metadata.service_name, event.metadata.thread_id));
    const at = timestampNs(event.timestamp);
    start = Math.min(start, at);
    end = Math.max(end, at + (event.metadata.duration_ns ?? 0));
  }
  return {
    events: detail.events.length,
    services: [...services].sort(),
    actors: [...actors].sort(),
    durationMs: Number.isFinite(start) ? (end - start) / 1e6 : 0,
  };
}
