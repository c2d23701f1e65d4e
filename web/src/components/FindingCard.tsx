import { Link } from "react-router-dom";
import type { Finding, FindingEvent } from "@/api/types";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardHeader } from "@/components/ui/card";
import { formatClock, formatValue, shortId } from "@/lib/format";

/** A side's recorded values: `old → new` for a write that recorded its previous value, else the
 * value read or written; nothing when none was recorded (a lock acquisition). */
export function valueChange(side: Pick<FindingEvent, "old_value" | "new_value">): string | undefined {
  const known = (value: unknown) => value !== undefined && value !== null;
  if (!known(side.new_value)) return undefined;
  return known(side.old_value) ? `${formatValue(side.old_value)} → ${formatValue(side.new_value)}` : formatValue(side.new_value);
}

function Side({ label, side, currentTrace }: { label: string; side: FindingEvent; currentTrace?: string }) {
  const change = valueChange(side);
  return (
    <div className="min-w-0 flex-1 rounded-md border p-3 text-xs" data-testid="finding-side">
      <div className="mb-1 font-semibold text-muted-foreground">{label}</div>
      <dl className="grid grid-cols-[6rem_1fr] gap-x-2 gap-y-0.5">
        <dt className="text-muted-foreground">service</dt>
        <dd className="mono">{side.service}{side.instance ? ` (${side.instance})` : ""}</dd>
        <dt className="text-muted-foreground">thread</dt>
        <dd className="mono">{side.thread_id}</dd>
        <dt className="text-muted-foreground">location</dt>
        <dd className="mono break-all" data-testid="finding-location">{side.location}</dd>
        <dt className="text-muted-foreground">access</dt>
        <dd className="mono">{side.access_type}</dd>
        {change !== undefined && (
          <>
            <dt className="text-muted-foreground">{side.access_type.includes("Write") || side.access_type.includes("RMW") ? "value change" : "value read"}</dt>
            <dd className="mono break-all" data-testid="finding-value">{change}</dd>
          </>
        )}
        <dt className="text-muted-foreground">clock</dt>
        <dd className="mono break-all">{formatClock(side.clock) || "–"}</dd>
        {side.trace_id !== currentTrace && (
          <>
            <dt className="text-muted-foreground">trace</dt>
            <dd className="mono"><Link className="underline" to={`/traces/${side.trace_id}`}>{shortId(side.trace_id)}</Link></dd>
          </>
        )}
      </dl>
    </div>
  );
}

export function SeverityBadge({ severity }: { severity: string }) {
  return <Badge variant={severity === "critical" ? "destructive" : "warning"}>{severity}</Badge>;
}

/** One finding: what, how bad, why, and both sides. */
export function FindingCard({ finding, currentTrace }: { finding: Finding; currentTrace?: string }) {
  return (
    <Card data-testid="finding">
      <CardHeader className="flex-row flex-wrap items-center gap-2">
        <Badge variant="outline">{finding.kind.replace(/_/g, " ")}</Badge>
        <SeverityBadge severity={finding.severity} />
        <Link className="mono font-semibold underline" to={`/variables/${encodeURIComponent(finding.variable)}`}>
          {finding.variable}
        </Link>
        {finding.count > 1 && <span className="text-xs text-muted-foreground">seen {finding.count}×</span>}
      </CardHeader>
      <CardContent className="space-y-2">
        <p className="text-sm">{finding.explanation}</p>
        <div className="flex flex-col gap-2 md:flex-row">
          <Side label="First access" side={finding.first} currentTrace={currentTrace} />
          <Side label="Second access" side={finding.second} currentTrace={currentTrace} />
        </div>
      </CardContent>
    </Card>
  );
}
