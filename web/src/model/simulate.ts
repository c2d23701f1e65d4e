/**
 * The Simulate tab's data: the form a person fills in (strings, as inputs hold them) turned into
 * the API's simulation spec with a message for each bad value, and the answer shaped for the
 * page (the critical path's change in one line, the events that moved, largest change first).
 */
import type { DependencyEdge, EventComparison, Simulation, SimulationSpec } from "@/api/types";

export type FailureChoice = "none" | "error" | "timeout";

/** One service's row of the form. */
export interface ServiceChoice {
  service: string;
  delayMs: string;
  failure: FailureChoice;
  timeoutMs: string;
}

export interface SimulationForm {
  services: ServiceChoice[];
  /** The budget of every service's requests, in ms ("" for none). */
  slaMs: string;
}

/** The services the trace calls into (the callees of its dependencies), sorted. */
export function calledServices(edges: DependencyEdge[]): string[] {
  return [...new Set(edges.map((e) => e.callee))].sort();
}

/** An empty form over `services`. */
export function emptyForm(services: string[]): SimulationForm {
  return {
    services: services.map((service) => ({ service, delayMs: "", failure: "none", timeoutMs: "" })),
    slaMs: "",
  };
}

/** A whole number of ms >= 0 from an input, `undefined` when empty, `null` when not a number. */
function millis(text: string): number | undefined | null {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  return /^\d+$/.test(trimmed) ? Number(trimmed) : null;
}

/** The API's spec for `form`, or the first problem with it. */
export function specOf(form: SimulationForm): { spec: SimulationSpec } | { error: string } {
  const spec: SimulationSpec = { delays: [], failures: [], sla_ms: null };
  for (const row of form.services) {
    const delay = millis(row.delayMs);
    if (delay === null) return { error: `The delay of ${row.service} must be a whole number of ms.` };
    if (delay) spec.delays.push({ service: row.service, ms: delay });
    if (row.failure === "error") spec.failures.push({ service: row.service, mode: "error" });
    if (row.failure === "timeout") {
      const timeout = millis(row.timeoutMs);
      if (timeout == null) return { error: `The timeout of ${row.service} needs a whole number of ms.` };
      spec.failures.push({ service: row.service, mode: "timeout", timeout_ms: timeout });
    }
  }
  const sla = millis(form.slaMs);
  if (sla === null) return { error: "The SLA must be a whole number of ms." };
  if (sla !== undefined) spec.sla_ms = { default: sla, services: {} };
  if (spec.delays.length === 0 && spec.failures.length === 0) {
    return { error: "Set a delay or a failure on at least one service." };
  }
  return { spec };
}

const ms = (n: number) => `${n.toFixed(1)} ms`;

/** "100.0 ms → 600.0 ms (+500.0 ms)". */
export function pathChange(sim: Simulation): string {
  const { before_ms, after_ms, delta_ms } = sim.critical_path;
  const sign = delta_ms > 0 ? "+" : delta_ms < 0 ? "−" : "±";
  return `${ms(before_ms)} → ${ms(after_ms)} (${sign}${ms(Math.abs(delta_ms))})`;
}

/** One event that moved: its end's shift, or skipped by a failure. */
export interface MovedEvent {
  event: EventComparison;
  /** How much later (ms) it ends; null when skipped. */
  shiftMs: number | null;
}

/** The events whose start or duration changed, skipped ones first, then by the largest shift. */
export function movedEvents(sim: Simulation): MovedEvent[] {
  const moved: MovedEvent[] = [];
  for (const event of sim.events) {
    if (event.after_start_ms == null || event.after_duration_ms == null) {
      moved.push({ event, shiftMs: null });
      continue;
    }
    const before = event.before_start_ms + event.before_duration_ms;
    const after = event.after_start_ms + event.after_duration_ms;
    const startMoved = event.after_start_ms !== event.before_start_ms;
    if (after !== before || startMoved) moved.push({ event, shiftMs: after - before });
  }
  const rank = (m: MovedEvent) => (m.shiftMs === null ? Infinity : Math.abs(m.shiftMs));
  return moved.sort((a, b) => rank(b) - rank(a));
}
