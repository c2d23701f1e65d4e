import { Link } from "react-router-dom";
import type { Anomaly } from "@/api/types";
import { SeverityBadge } from "@/components/FindingCard";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { formatMs, shortId } from "@/lib/format";

export function AnomalyTable({ anomalies, showTrace = false }: { anomalies: Anomaly[]; showTrace?: boolean }) {
  return (
    <Table data-testid="anomalies">
      <thead>
        <tr className="border-b">
          <Th>Severity</Th>{showTrace && <Th>Trace</Th>}<Th>Service</Th><Th>Step</Th>
          <Th className="text-right">Observed</Th><Th className="text-right">Expected</Th><Th className="text-right">Deviations</Th>
        </tr>
      </thead>
      <tbody>
        {anomalies.map((a) => (
          <Tr key={a.id}>
            <Td><SeverityBadge severity={a.severity} /></Td>
            {showTrace && <Td className="mono"><Link className="underline" to={`/traces/${a.trace_id}`}>{shortId(a.trace_id)}</Link></Td>}
            <Td>{a.service}</Td>
            <Td className="mono text-xs">{a.kind} {a.location}</Td>
            <Td className="text-right">{formatMs(a.actual_ms)}</Td>
            <Td className="text-right">{formatMs(a.expected_ms)}</Td>
            <Td className="text-right">{a.deviations.toFixed(1)}σ</Td>
          </Tr>
        ))}
      </tbody>
    </Table>
  );
}
