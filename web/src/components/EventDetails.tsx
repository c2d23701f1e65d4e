import { Link, useParams } from "react-router-dom";
import type { GraphNode, TraceEvent } from "@/api/types";
import { Button } from "@/components/ui/button";
import { formatClock, formatNs, formatTime } from "@/lib/format";

interface Props {
  node: GraphNode;
  event?: TraceEvent;
  onClose: () => void;
}

/** The side panel of one event: its summary, vector clock and full JSON. */
export function EventDetails({ node, event, onClose }: Props) {
  const { id: traceId } = useParams();
  return (
    <aside className="w-full shrink-0 space-y-2 overflow-auto rounded-lg border bg-card p-3 text-xs lg:w-96" data-testid="event-details">
      <div className="flex items-center justify-between">
        <h3 className="text-sm font-semibold">{node.kind}</h3>
        <Button variant="ghost" size="sm" onClick={onClose} aria-label="Close details">✕</Button>
      </div>
      <dl className="grid grid-cols-[6rem_1fr] gap-x-2 gap-y-0.5">
        <dt className="text-muted-foreground">event</dt>
        <dd className="mono break-all">{node.id}</dd>
        <dt className="text-muted-foreground">service</dt>
        <dd className="mono">{node.service}</dd>
        <dt className="text-muted-foreground">thread</dt>
        <dd className="mono">{node.thread}</dd>
        <dt className="text-muted-foreground">location</dt>
        <dd className="mono break-all">{node.location || "–"}</dd>
        <dt className="text-muted-foreground">time</dt>
        <dd className="mono">{formatTime(node.timestamp_ns)}</dd>
        <dt className="text-muted-foreground">duration</dt>
        <dd className="mono">{formatNs(node.duration_ns)}</dd>
        <dt className="text-muted-foreground">vector clock</dt>
        <dd className="mono break-all" data-testid="event-clock">{formatClock(node.clock) || "–"}</dd>
      </dl>
      {traceId && (
        <Link className="text-xs underline" to={`/traces/${traceId}/time-travel?event=${node.id}`} data-testid="event-time-travel">
          Time travel to this event
        </Link>
      )}
      {event && (
        <pre className="mono max-h-96 overflow-auto rounded bg-muted p-2 text-[11px]">{JSON.stringify(event, null, 2)}</pre>
      )}
    </aside>
  );
}
