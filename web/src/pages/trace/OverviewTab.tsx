import { Link } from "react-router-dom";
import { api } from "@/api/client";
import type { CriticalPath, FindingPage, TraceDetail } from "@/api/types";
import { Loaded, Message } from "@/components/Message";
import { SeverityBadge } from "@/components/FindingCard";
import { Section } from "@/components/ui/card";
import type { Loaded as LoadedState } from "@/hooks/useApi";
import { useApi } from "@/hooks/useApi";
import { formatMs } from "@/lib/format";
import { traceSummary } from "@/model/summary";
import { Suggestions } from "./Suggestions";

interface Props {
  detail: TraceDetail;
  races: LoadedState<Pick<FindingPage, "races">>;
  critical: LoadedState<CriticalPath>;
}

export function OverviewTab({ detail, races, critical }: Props) {
  const summary = traceSummary(detail);
  const anomalies = useApi(() => api.traceAnomalies(detail.trace_id), detail.trace_id);
  return (
    <div className="grid gap-3 md:grid-cols-2">
      <Section title="Summary">
          <dl className="grid grid-cols-[9rem_1fr] gap-y-1 text-sm" data-testid="trace-summary">
            <dt className="text-muted-foreground">events</dt><dd>{summary.events}</dd>
            <dt className="text-muted-foreground">services</dt><dd>{summary.services.join(", ")}</dd>
            <dt className="text-muted-foreground">actors</dt><dd className="mono text-xs">{summary.actors.join(", ")}</dd>
            <dt className="text-muted-foreground">duration</dt><dd>{formatMs(summary.durationMs)}</dd>
            <dt className="text-muted-foreground">clocks</dt><dd>{detail.trusted_clocks ? "trusted (from the SDKs)" : "derived from the events"}</dd>
          </dl>
      </Section>
      <Section title="Races">
          <Loaded state={races} empty={(d) => d.races.length === 0} emptyText="No races in this trace.">
            {(d) => (
              <ul className="space-y-1 text-sm">
                {d.races.map((f) => (
                  <li key={f.id}>
                    <Link className="flex flex-wrap items-center gap-2 rounded px-1 hover:bg-muted" data-testid="overview-race" to={`/traces/${detail.trace_id}/races`}>
                      <SeverityBadge severity={f.severity} />
                      <span className="mono font-semibold">{f.variable}</span>
                      <span className="text-muted-foreground">{f.kind.replace(/_/g, " ")}: {f.first.thread_id} ↔ {f.second.thread_id}</span>
                    </Link>
                  </li>
                ))}
              </ul>
            )}
          </Loaded>
      </Section>
      <Section title="Anomalies">
          {anomalies.error ? (
            <Message>Not analysed yet: the trace stage has not completed this trace.</Message>
          ) : (
            <Loaded state={anomalies} empty={(d) => d.anomalies.length === 0} emptyText="No anomalies.">
              {(d) => <p className="text-sm">{d.anomalies.length} steps slower than their baseline (see the Anomalies tab).</p>}
            </Loaded>
          )}
      </Section>
      <Section title="Critical path">
          <Loaded state={critical} empty={(d) => d.path.length === 0} emptyText="No durations recorded: no critical path.">
            {(path) => (
              <div className="space-y-1 text-sm" data-testid="critical-path">
                <p>
                  {formatMs(path.total_duration_ms)} of {formatMs(path.trace_duration_ms)} (
                  {(path.share_of_trace * 100).toFixed(0)}% of the trace)
                </p>
                <ol className="mono list-decimal space-y-0.5 pl-5 text-xs">
                  {path.path.map((step) => (
                    <li key={step.event_id}>
                      {step.service} {step.kind} {step.location} — {formatMs(step.duration_ms)}
                    </li>
                  ))}
                </ol>
                <Suggestions suggestions={path.suggestions} />
              </div>
            )}
          </Loaded>
      </Section>
    </div>
  );
}
