import { Link } from "react-router-dom";
import { api } from "@/api/client";
import { AnomalyTable } from "@/components/AnomalyTable";
import { Loaded } from "@/components/Message";
import { Card, CardContent, Section } from "@/components/ui/card";
import { useApi } from "@/hooks/useApi";
import { formatMs } from "@/lib/format";
import { overTime, slowestServices, topVariables } from "@/model/dashboard";
import { timestampNs } from "@/model/events";

function Stat({ label, value }: { label: string; value: number | string | undefined }) {
  return (
    <Card>
      <CardContent className="p-4">
        <div className="text-xs text-muted-foreground">{label}</div>
        <div className="text-2xl font-semibold" data-testid={`stat-${label}`}>{value ?? "…"}</div>
      </CardContent>
    </Card>
  );
}

export function DashboardPage() {
  const traces = useApi(() => api.traces({ limit: 1 }), "t");
  const races = useApi(() => api.races({ limit: 1000 }), "r");
  const anomalies = useApi(() => api.anomalies({ limit: 1000 }), "a");
  const deps = useApi(() => api.dependencies(), "d");
  const buckets = races.data && anomalies.data
    ? overTime(races.data.races, anomalies.data.anomalies.map((a) => (a.trace_start ? timestampNs(a.trace_start) : 0)).filter(Boolean))
    : [];
  const peak = Math.max(1, ...buckets.map((b) => b.races + b.anomalies));
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Dashboard</h1>
      <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
        <Stat label="traces" value={traces.data?.total} />
        <Stat label="findings" value={races.data?.total} />
        <Stat label="critical" value={races.data?.races.filter((r) => r.severity === "critical").length} />
        <Stat label="anomalies" value={anomalies.data?.total} />
      </div>
      <Section title="Findings (red) and anomalies (amber) over time">
          {buckets.length === 0 ? <p className="text-sm text-muted-foreground">Nothing found yet.</p> : (
            <div className="flex h-32 items-end gap-1" data-testid="over-time">
              {buckets.map((b) => (
                <div key={b.start} className="flex flex-1 flex-col justify-end" title={`${b.races} findings, ${b.anomalies} anomalies`}>
                  <div className="bg-warning" style={{ height: `${(b.anomalies / peak) * 120}px` }} />
                  <div className="bg-destructive" style={{ height: `${(b.races / peak) * 120}px` }} />
                </div>
              ))}
            </div>
          )}
      </Section>
      <div className="grid gap-3 md:grid-cols-2">
        <Section title="Slowest services (p95 of calls into them)">
            <Loaded state={deps} empty={(d) => d.dependencies.length === 0} emptyText="No calls between services yet.">
              {(d) => (
                <ul className="space-y-1 text-sm">
                  {slowestServices(d.dependencies).map((s) => (
                    <li key={s.service} className="flex justify-between"><span>{s.service}</span><span className="mono">{formatMs(s.p95_ms)} · {s.calls} calls</span></li>
                  ))}
                </ul>
              )}
            </Loaded>
        </Section>
        <Section title="Variables with the most findings">
            <Loaded state={races} empty={(d) => d.races.length === 0} emptyText="No findings yet.">
              {(d) => (
                <ul className="space-y-1 text-sm" data-testid="top-variables">
                  {topVariables(d.races).map((v) => (
                    <li key={v.variable} className="flex justify-between">
                      <Link className="mono underline" to={`/variables/${encodeURIComponent(v.variable)}`}>{v.variable}</Link>
                      <span>{v.count}</span>
                    </li>
                  ))}
                </ul>
              )}
            </Loaded>
        </Section>
      </div>
      <Section title="Recent anomalies">
          <Loaded state={anomalies} empty={(d) => d.anomalies.length === 0} emptyText="No duration anomalies.">
            {(d) => <AnomalyTable anomalies={d.anomalies.slice(0, 10)} showTrace />}
          </Loaded>
      </Section>
    </div>
  );
}
