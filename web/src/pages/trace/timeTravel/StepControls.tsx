import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";

interface Props {
  step: number;
  total: number;
  onStep: (step: number) => void;
  /** Jumps to a step index or an event id; returns an error message when there is none. */
  onGoTo: (target: string) => string | undefined;
}

/** The step slider, back and forward buttons, and a box to jump to a step or an event. */
export function StepControls({ step, total, onStep, onGoTo }: Props) {
  const [target, setTarget] = useState("");
  const [error, setError] = useState<string>();
  const last = Math.max(0, total - 1);
  return (
    <div className="flex flex-wrap items-center gap-3 rounded-lg border bg-card p-3" data-testid="step-controls">
      <Button variant="outline" size="sm" disabled={step <= 0} onClick={() => onStep(step - 1)} aria-label="Previous step" data-testid="step-prev">
        ← Prev
      </Button>
      <input
        type="range"
        min={0}
        max={last}
        value={step}
        onChange={(e) => onStep(Number(e.target.value))}
        className="min-w-48 flex-1 accent-primary"
        aria-label="Step"
        data-testid="step-slider"
      />
      <Button variant="outline" size="sm" disabled={step >= last} onClick={() => onStep(step + 1)} aria-label="Next step" data-testid="step-next">
        Next →
      </Button>
      <span className="mono text-sm" data-testid="step-position" title={`${total} steps, numbered from 0`}>Step {step} of 0–{last}</span>
      <form
        className="flex items-center gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          setError(onGoTo(target.trim()));
        }}
      >
        <Input className="mono h-8 w-48 text-xs" placeholder="step or event id" value={target} onChange={(e) => setTarget(e.target.value)} aria-label="Go to step or event" />
        <Button variant="outline" size="sm" type="submit">Go</Button>
      </form>
      {error && <span className="text-xs text-destructive" role="alert">{error}</span>}
      <span className="w-full text-xs text-muted-foreground">← and → step through the trace; Home and End jump to its ends.</span>
    </div>
  );
}
