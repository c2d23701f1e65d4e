import { Link } from "react-router-dom";
import type { Hotspots, ServiceHealth, ServiceRow } from "@/api/types";
import { Badge } from "@/components/ui/badge";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { formatNs } from "@/lib/format";
import { formatRate, formatShift, trendBadge, withHealth } from "@/model/services";

export function TrendBadge({ health }: { health?: ServiceHealth }) {
  if (!health) return <span className="text-muted-foreground">–</span>;
  const badge = trendBadge(health.trend);
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
            <Td className="text-right mono" data-testid="p50">{formatNs(h?.recent.p50_ns)}</Td>
            <Td className="text-right mono" data-testid="p95">{formatNs(h?.recent.p95_ns)}</Td>
            <Td className="text-right mono" data-testid="p99">{formatNs(h?.recent.p99_ns)}</Td>
            <Td className="text-right" data-testid="error-rate">{formatRate(h?.recent.error_rate)}</Td>
            <Td className="text-right" data-testid="anomaly-rate">{formatRate(h?.recent.anomaly_rate)}</Td>
            <Td><TrendBadge health={h} /></Td>
            <Td className="text-right mono" title={h ? `history p50 ${formatNs(h.baseline.p50_ns)} over ${h.baseline.traces} traces` : undefined}>
              {formatShift(h?.comparison.p50_shift)}
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
            p50 {formatNs(h.baseline.p50_ns)} → {formatNs(h.recent.p50_ns)} · errors {formatRate(h.baseline.error_rate)} → {formatRate(h.recent.error_rate)}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** A table of rows of cells: the first `text` cells are text (the first in monospace, linked when `link` is given), the rest are numbers. */
function CountTable({ id, header, rows, text, link }: { id: string; header: string[]; rows: (string | number)[][]; text: number; link?: (first: string) => string }) {
  return (
    <Table data-testid={id}>
      <thead>
        <tr className="border-b">{header.map((h, i) => <Th key={h} className={i >= text ? "text-right" : undefined}>{h}</Th>)}</tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <Tr key={row.slice(0, text).join("/")}>
            {row.map((cell, i) => (
              <Td key={i} className={i >= text ? "text-right" : i === text - 1 ? "mono text-xs" : undefined}>
                {i === 0 && link ? <Link className="mono underline" to={link(String(cell))}>{cell}</Link> : cell}
              </Td>
            ))}
          </Tr>
        ))}
      </tbody>
    </Table>
  );
}

/** The variables and the code locations involved in the most findings and anomalies. */
export function HotspotTables({ hotspots }: { hotspots: Hotspots }) {
  const variables = hotspots.variables.map((v) => [v.variable, v.findings, v.data_races, v.lost_updates, v.lock_order_inversions]);
  const locations = hotspots.locations.map((l) => [l.service, l.location, l.findings, l.anomalies]);
  return (
    <div className="grid gap-3 md:grid-cols-2">
      <CountTable id="hotspot-variables" header={["Variable", "Findings", "Races", "Lost updates", "Lock cycles"]} rows={variables} text={1}
        link={(name) => `/variables/${encodeURIComponent(name)}`} />
      <CountTable id="hotspot-locations" header={["Service", "Location", "Findings", "Anomalies"]} rows={locations} text={2} />
    </div>
  );
}
