/**
 * Time travel for display: which step the URL names, where a key moves it, and the state after a
 * step as rows (variables with their writer, threads with their locks, the races of the step) and
 * the differences between two points. The server replays the trace (`/api/traces/{id}/state`);
 * nothing here recomputes state, so the page always shows what the API says.
 */
import type { Finding, StateComparison, StepRow, ThreadAtStep, TraceState, VariableAtStep } from "@/api/types";
import { formatValue } from "@/lib/format";

/** The step named by the URL's `step` parameter, kept inside `0..total-1` (0 when absent or bad). */
export function stepFromParam(raw: string | null | undefined, total: number): number {
  const step = Number.parseInt(raw ?? "", 10);
  if (!Number.isFinite(step) || step < 0 || total <= 0) return 0;
  return Math.min(step, total - 1);
}

/** The step of the event with `eventId` (a full id or a prefix of 4+ characters), if any. */
export function stepOfEvent(steps: StepRow[], eventId: string): number | undefined {
  if (eventId.length < 4) return undefined;
  return steps.find((s) => s.event_id === eventId)?.step ?? steps.find((s) => s.event_id.startsWith(eventId))?.step;
}

/** The step a typed target names: a step index in range, or an event id (or prefix). */
export function stepOfTarget(steps: StepRow[], target: string): number | undefined {
  const text = target.trim();
  if (/^\d+$/.test(text)) return steps.find((s) => s.step === Number(text))?.step;
  return stepOfEvent(steps, text);
}

/** Where a key moves the step (← → Home End), or undefined for other keys. */
export function stepAfterKey(step: number, key: string, total: number): number | undefined {
  const last = Math.max(0, total - 1);
  switch (key) {
    case "ArrowLeft":
      return Math.max(0, step - 1);
    case "ArrowRight":
      return Math.min(last, step + 1);
    case "Home":
      return 0;
    case "End":
      return last;
    default:
      return undefined;
  }
}

/** `service/thread` (with the instance when there is one). */
export function actorLabel(actor: { service: string; instance: string; thread_id: string }): string {
  return actor.instance ? `${actor.service}#${actor.instance}/${actor.thread_id}` : `${actor.service}/${actor.thread_id}`;
}

export interface VariableView {
  name: string;
  value: string;
  /** Who wrote the value; null when the variable was only read so far. */
  writer: string | null;
  writtenAt: number | null;
  /** Written by this very step. */
  changed: boolean;
}

function variableView(name: string, variable: VariableAtStep, step: number): VariableView {
  const writtenAt = variable.written_at_step ?? null;
  return {
    name,
    value: formatValue(variable.value),
    writer: variable.last_writer ? actorLabel(variable.last_writer) : null,
    writtenAt,
    changed: writtenAt === step,
  };
}

/** The variables after the step, by name. */
export function variableViews(state: TraceState): VariableView[] {
  return Object.entries(state.variables)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, variable]) => variableView(name, variable, state.step));
}

export interface ThreadView {
  actor: string;
  lastStep: number;
  locks: string[];
  /** This thread performed the step. */
  current: boolean;
}

/** Every thread seen so far, with the locks it holds; the one that performed the step marked. */
export function threadViews(state: TraceState): ThreadView[] {
  return state.threads.map((thread: ThreadAtStep) => ({
    actor: actorLabel(thread),
    lastStep: thread.last_step,
    locks: thread.locks_held.map((lock) => (lock.mode === "exclusive" ? lock.lock_id : `${lock.lock_id} (${lock.mode})`)),
    current: thread.last_step === state.step,
  }));
}

export interface RaceAtStep {
  id: string;
  /** The finding, when the trace's races list has it (it may not have loaded yet). */
  finding?: Finding;
}

/** The races whose accesses include the step's event. */
export function racesAtStep(state: TraceState, findings: Finding[] | undefined): RaceAtStep[] {
  const byId = new Map((findings ?? []).map((f) => [f.id, f]));
  return state.races_at_step.map((id) => ({ id, finding: byId.get(id) }));
}

/** A point of a comparison as the API names it: `TRACE_ID@STEP`. */
export function comparePoint(traceId: string, step: number | string): string {
  return `${traceId.trim()}@${String(step).trim()}`;
}

export interface DifferenceView {
  variable: string;
  left: string;
  leftWriter: string | null;
  right: string;
  rightWriter: string | null;
}

function side(variable: VariableAtStep | null | undefined): [string, string | null] {
  if (!variable) return ["(not yet seen)", null];
  return [formatValue(variable.value), variable.last_writer ? actorLabel(variable.last_writer) : null];
}

/** The variables whose values differ between the two points, by name. */
export function differenceViews(comparison: StateComparison): DifferenceView[] {
  return comparison.differences
    .map((d) => {
      const [left, leftWriter] = side(d.left);
      const [right, rightWriter] = side(d.right);
      return { variable: d.variable, left, leftWriter, right, rightWriter };
    })
    .sort((a, b) => a.variable.localeCompare(b.variable));
}
