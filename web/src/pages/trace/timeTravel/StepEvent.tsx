import type { StepRow } from "@/api/types";
import { Section } from "@/components/ui/card";
import { formatTime } from "@/lib/format";
import { actorLabel } from "@/model/timeTravel";

/** The event of the current step: what it did, who did it, and the whole event. */
export function StepEvent({ row, event }: { row: StepRow; event: unknown }) {
  return (
    <Section title="Event at this step">
      <div className="space-y-1 text-sm" data-testid="step-event">
        <div className="mono font-semibold">{row.label}</div>
        <div className="text-xs text-muted-foreground">
          {row.kind} by <span className="mono">{actorLabel(row)}</span> at {formatTime(row.timestamp)}
        </div>
        <details className="text-xs">
          <summary className="cursor-pointer text-muted-foreground">event <span className="mono">{row.event_id}</span></summary>
          <pre className="mono mt-1 max-h-64 overflow-auto rounded bg-muted p-2 text-[11px]">{JSON.stringify(event, null, 2)}</pre>
        </details>
      </div>
    </Section>
  );
}
