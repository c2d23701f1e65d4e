/**
 * Lock holds from a trace's events: each acquire paired with the same actor's next release of
 * that lock, grouped per lock, and the hand-overs: an acquire that follows another actor's release
 * of the lock (the order the lock imposed between two actors).
 */
import type { TraceEvent } from "@/api/types";
import { actorOf, kindName, location, payload, timestampNs } from "./events";

export interface Hold {
  lock: string;
  actor: string;
  mode: string;
  start: number;
  end: number | null;
  location: string;
}

export interface LockSummary {
  lock: string;
  holds: Hold[];
  totalHeldNs: number;
  longestNs: number;
  handOvers: { from: string; to: string; gapNs: number }[];
}

export function lockHolds(events: TraceEvent[]): LockSummary[] {
  const open = new Map<string, Hold>();
  const holds: Hold[] = [];
  const sorted = [...events].sort((a, b) => timestampNs(a.timestamp) - timestampNs(b.timestamp));
  for (const event of sorted) {
    const kind = kindName(event);
    if (kind !== "LockAcquire" && kind !== "LockRelease") continue;
    const p = payload(event);
    const lock = String(p.lock_id ?? "?");
    const actor = actorOf(event.metadata.service_name, event.metadata.thread_id);
    const key = `${lock}\u0000${actor}`;
    const at = timestampNs(event.timestamp);
    if (kind === "LockAcquire") {
      const hold = { lock, actor, mode: String(p.mode ?? p.lock_type ?? ""), start: at, end: null, location: location(event) };
      open.set(key, hold);
      holds.push(hold);
    } else {
      const hold = open.get(key);
      if (hold) {
        hold.end = at;
        open.delete(key);
      }
    }
  }
  const byLock = new Map<string, Hold[]>();
  for (const hold of holds) byLock.set(hold.lock, [...(byLock.get(hold.lock) ?? []), hold]);
  return [...byLock.entries()].map(([lock, list]) => {
    const durations = list.map((h) => (h.end ?? h.start) - h.start);
    const handOvers = [];
    for (let i = 1; i < list.length; i++) {
      const before = list[i - 1];
      if (before.actor !== list[i].actor && before.end !== null) {
        handOvers.push({ from: before.actor, to: list[i].actor, gapNs: list[i].start - before.end });
      }
    }
    return {
      lock,
      holds: list,
      totalHeldNs: durations.reduce((a, b) => a + b, 0),
      longestNs: Math.max(0, ...durations),
      handOvers,
    };
  });
}
