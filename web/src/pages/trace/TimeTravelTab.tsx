import { useCallback, useEffect } from "react";
import { useSearchParams } from "react-router-dom";
import { api } from "@/api/client";
import type { Finding, StepRow } from "@/api/types";
import { Loaded } from "@/components/Message";
import { useApi, type Loaded as LoadedState } from "@/hooks/useApi";
import { racesAtStep, stepAfterKey, stepFromParam, stepOfEvent, stepOfTarget, threadViews, variableViews } from "@/model/timeTravel";
import { ComparePanel } from "./timeTravel/ComparePanel";
import { RacesPanel } from "./timeTravel/RacesPanel";
import { StepControls } from "./timeTravel/StepControls";
import { StepEvent } from "./timeTravel/StepEvent";
import { ThreadsPanel } from "./timeTravel/ThreadsPanel";
import { VariablesPanel } from "./timeTravel/VariablesPanel";

interface Props {
  traceId: string;
  races: LoadedState<{ races: Finding[] }>;
  version: number;
}

/** Steps through the trace in causal order, showing the state the API replays after each step. */
export function TimeTravelTab({ traceId, races, version }: Props) {
  const steps = useApi(() => api.traceSteps(traceId), `${traceId}:${version}`);
  return (
    <Loaded state={steps} empty={(s) => s.steps.length === 0} emptyText="The trace has no steps.">
      {(s) => <Traveller traceId={traceId} steps={s.steps} findings={races.data?.races} version={version} />}
    </Loaded>
  );
}

/**
 * The step in the URL (`?step=N`, so a reload or a shared link keeps it); `?event=ID` is turned
 * into its step. Returns the step, a setter, and a jump by step index or event id.
 */
function useStepParam(steps: StepRow[]) {
  const [params, setParams] = useSearchParams();
  const step = stepFromParam(params.get("step"), steps.length);
  const setStep = useCallback(
    (next: number) =>
      setParams(
        (p) => {
          p.set("step", String(Math.max(0, Math.min(next, steps.length - 1))));
          p.delete("event");
          return p;
        },
        { replace: true },
      ),
    [setParams, steps.length],
  );
  const event = params.get("event");
  useEffect(() => {
    const found = event ? stepOfEvent(steps, event) : undefined;
    if (found !== undefined) setStep(found);
  }, [event, steps, setStep]);
  const goTo = (target: string): string | undefined => {
    const found = stepOfTarget(steps, target);
    if (found === undefined) return `No step or event "${target}": give 0 to ${steps.length - 1} or an event id.`;
    setStep(found);
    return undefined;
  };
  return { step, setStep, goTo };
}

/** ← → Home End move the step, unless a text field or the slider (which has its own) has focus. */
function useStepKeys(step: number, total: number, setStep: (step: number) => void) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (e.altKey || e.ctrlKey || e.metaKey || target?.closest("input, textarea, select, [contenteditable]")) return;
      const next = stepAfterKey(step, e.key, total);
      if (next === undefined) return;
      e.preventDefault();
      setStep(next);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [step, total, setStep]);
}

function Traveller({ traceId, steps, findings, version }: { traceId: string; steps: StepRow[]; findings?: Finding[]; version: number }) {
  const { step, setStep, goTo } = useStepParam(steps);
  useStepKeys(step, steps.length, setStep);
  const state = useApi(() => api.traceState(traceId, step), `${traceId}:${step}:${version}`);
  return (
    <div className="space-y-3" data-testid="time-travel">
      <StepControls step={step} total={steps.length} onStep={setStep} onGoTo={goTo} />
      {/* The previous step's state stays on screen while the next one loads; `data-step` says which. */}
      <Loaded state={state}>
        {(s) => (
          <div className="grid gap-3 lg:grid-cols-2" data-testid="tt-state" data-step={s.step} aria-busy={state.loading}>
            <div className="space-y-3">
              <StepEvent row={steps[s.step] ?? steps[step]} event={s.event} />
              <RacesPanel traceId={traceId} races={racesAtStep(s, findings)} />
            </div>
            <div className="space-y-3">
              <VariablesPanel variables={variableViews(s)} onGoTo={setStep} />
              <ThreadsPanel threads={threadViews(s)} />
            </div>
          </div>
        )}
      </Loaded>
      <ComparePanel traceId={traceId} step={step} />
    </div>
  );
}
