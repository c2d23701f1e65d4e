import { api } from "@/api/client";
import { AnomalyTable } from "@/components/AnomalyTable";
import { Loaded } from "@/components/Message";
import { OverTimeChart } from "@/components/OverTimeChart";
import { DegradingList, HotspotTables } from "@/components/ServiceHealth";
import { Card, CardContent, Section } from "@/components/ui/card";
import { useApi } from "@/hooks/useApi";
import { formatCount, formatMs } from "@/lib/format";
import { overTime, slowestServices } from "@/model/dashboard";
import { timestampNs } from "@/model/events";
import { DEFAULT_WINDOW, degradingServices, noneDegradingText } from "@/model/services";

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
  const services = useApi(() => api.servicesWithHealth(DEFAULT_WINDOW), "s");
  const hotspots = useApi(() => api.hotspots(DEFAULT_WINDOW), "h");
  const buckets = races.data && anomalies.data
    ? overTime(races.data.races, anomalies.data.anomalies.map((a) => (a.trace_start ? timestampNs(a.trace_start) : 0)).filter(Boolean))
    : [];
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Dashboard</h1>
      <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
        <Stat label="traces" value={traces.data?.total} />
        <Stat label="findings" value={races.data?.total} />
        <Stat label="critical" value={races.data?.races.filter((r) => r.severity === "critical").length} />
        <Stat label="anomalies" value={anomalies.data?.total} />
      </div>
      <Section title="Findings and anomalies over time">
        <OverTimeChart buckets={buckets} />
      </Section>
      <div className="grid gap-3 md:grid-cols-2">
        <Section title="Slowest services (p95 of calls into them)">
            <Loaded state={deps} empty={(d) => d.dependencies.length === 0} emptyText="No calls between services yet.">
              {(d) => (
                <ul className="space-y-1 text-sm">
                  {slowestServices(d.dependencies).map((s) => (
                    <li key={s.service} className="flex justify-between"><span>{s.service}</span><span className="mono">{formatMs(s.p95_ms)} · {formatCount(s.calls, "call")}</span></li>
                  ))}
                </ul>
              )}
            </Loaded>
        </Section>
        <Section title={`Degrading services (last ${DEFAULT_WINDOW}, against their own history)`}>
            <Loaded state={services} empty={(d) => degradingServices(d.health).length === 0} emptyText={noneDegradingText(services.data?.health ?? [])}>
              {(d) => <DegradingList services={degradingServices(d.health)} />}
            </Loaded>
        </Section>
      </div>
      <Section title={`Hotspots (last ${DEFAULT_WINDOW}): variables and locations in the most findings and anomalies`}>
          <Loaded state={hotspots} empty={(d) => d.variables.length === 0 && d.locations.length === 0} emptyText="No findings or anomalies in the window.">
            {(d) => <HotspotTables hotspots={d} />}
          </Loaded>
      </Section>
      <Section title="Recent anomalies">
          <Loaded state={anomalies} empty={(d) => d.anomalies.length === 0} emptyText="No anomalies.">
            {(d) => <AnomalyTable anomalies={d.anomalies.slice(0, 10)} showTrace />}
          </Loaded>
      </Section>
    </div>
  );
}
