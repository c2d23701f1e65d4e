import { Link } from "react-router-dom";
import type { Hotspots, ServiceHealth, ServiceRow } from "@/api/types";
import { Badge } from "@/components/ui/badge";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { formatMs } from "@/lib/format";
import { formatRate, formatShift, trendBadge, withHealth } from "@/model/services";

export function TrendBadge({ health }: { health?: ServiceHealth }) {
  if (!health) return <span className="text-muted-foreground">–</span>;
  const badge = trendBadge(health.trend.trend);
  return (
    <Badge variant={badge.variant} title={badge.title} data-testid="trend">
      {badge.label}
    </Badge>
  );
}

/** Each service's counts over the window and its health (percentiles, rates, trend). */
export function ServiceHealthTable({ rows, health }: { rows: ServiceRow[]; health: ServiceHealth[] }) {
  return (
    <Table data-testid="service-health">
      <thead>
        <tr className="border-b">
          <Th>Service</Th><Th className="text-right">Traces</Th><Th className="text-right">Events</Th>
          <Th className="text-right">Findings</Th><Th className="text-right">Anomalies</Th>
          <Th className="text-right">p50</Th><Th className="text-right">p95</Th><Th className="text-right">p99</Th>
          <Th className="text-right">Errors</Th><Th className="text-right">Anomalous</Th>
          <Th>Trend</Th><Th className="text-right" title="recent p50 against the service's history, in baseline scales">p50 shift</Th>
        </tr>
      </thead>
      <tbody>
        {withHealth(rows, health).map(({ row, health: h }) => (
          <Tr key={row.service} data-testid="service-row" data-service={row.service}>
            <Td><Link className="underline" to={`/?service=${encodeURIComponent(row.service)}`}>{row.service}</Link></Td>
            <Td className="text-right" data-testid="traces">{row.trace_count}</Td>
            <Td className="text-right" data-testid="events">{row.event_count}</Td>
            <Td className="text-right" data-testid="findings">{row.race_count}</Td>
            <Td className="text-right" data-testid="anomalies">{row.anomaly_count}</Td>
            <Td className="text-right mono" data-testid="p50">{formatMs(h?.recent.p50_ms)}</Td>
            <Td className="text-right mono" data-testid="p95">{formatMs(h?.recent.p95_ms)}</Td>
            <Td className="text-right mono" data-testid="p99">{formatMs(h?.recent.p99_ms)}</Td>
            <Td className="text-right" data-testid="error-rate">{formatRate(h?.recent.error_rate)}</Td>
            <Td className="text-right" data-testid="anomaly-rate">{formatRate(h?.recent.anomaly_rate)}</Td>
            <Td><TrendBadge health={h} /></Td>
            <Td className="text-right mono" title={h ? `history p50 ${formatMs(h.baseline.p50_ms)} over ${h.baseline.traces} traces` : undefined}>
              {formatShift(h?.trend.p50_shift)}
            </Td>
          </Tr>
        ))}
      </tbody>
    </Table>
  );
}

/** The degrading services with what the verdict compared. */
export function DegradingList({ services }: { services: ServiceHealth[] }) {
  return (
    <ul className="space-y-1 text-sm" data-testid="degrading-services">
      {services.map((h) => (
        <li key={h.service} className="flex justify-between gap-2">
          <span>{h.service}</span>
          <span className="mono text-xs">
            p50 {formatMs(h.baseline.p50_ms)} → {formatMs(h.recent.p50_ms)} · errors {formatRate(h.baseline.error_rate)} → {formatRate(h.recent.error_rate)}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** The variables and the code locations involved in the most findings and anomalies. */
export function HotspotTables({ hotspots }: { hotspots: Hotspots }) {
  return (
    <div className="grid gap-3 md:grid-cols-2">
      <Table data-testid="hotspot-variables">
        <thead>
          <tr className="border-b"><Th>Variable</Th><Th className="text-right">Findings</Th><Th className="text-right">Races</Th><Th className="text-right">Lost updates</Th><Th className="text-right">Lock cycles</Th></tr>
        </thead>
        <tbody>
          {hotspots.variables.map((v) => (
            <Tr key={`${v.environment}/${v.variable}`}>
              <Td className="mono"><Link className="underline" to={`/variables/${encodeURIComponent(v.variable)}`}>{v.variable}</Link></Td>
              <Td className="text-right">{v.findings}</Td>
              <Td className="text-right">{v.data_races}</Td>
              <Td className="text-right">{v.lost_updates}</Td>
              <Td className="text-right">{v.lock_order_inversions}</Td>
            </Tr>
          ))}
        </tbody>
      </Table>
      <Table data-testid="hotspot-locations">
        <thead>
          <tr className="border-b"><Th>Service</Th><Th>Location</Th><Th className="text-right">Findings</Th><Th className="text-right">Anomalies</Th></tr>
        </thead>
        <tbody>
          {hotspots.locations.map((l) => (
            <Tr key={`${l.service}/${l.location}`}>
              <Td>{l.service}</Td>
              <Td className="mono text-xs">{l.location}</Td>
              <Td className="text-right">{l.findings}</Td>
              <Td className="text-right">{l.anomalies}</Td>
            </Tr>
          ))}
        </tbody>
      </Table>
    </div>
  );
}
