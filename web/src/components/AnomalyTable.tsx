import { Link } from "react-router-dom";
import type { Anomaly } from "@/api/types";
import { SeverityBadge } from "@/components/FindingCard";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { shortId } from "@/lib/format";
import { anomalyCells } from "@/model/anomalies";

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
        {anomalies.map((a) => {
          const cells = anomalyCells(a);
          return (
            <Tr key={a.id} title={a.description}>
              <Td><SeverityBadge severity={a.severity} /></Td>
              {showTrace && <Td className="mono"><Link className="underline" to={`/traces/${a.trace_id}`}>{shortId(a.trace_id)}</Link></Td>}
              <Td>{a.service}</Td>
              <Td className="mono text-xs">{cells.what}</Td>
              <Td className="text-right">{cells.observed}</Td>
              <Td className="text-right">{cells.expected}</Td>
              <Td className="text-right">{cells.deviations}</Td>
            </Tr>
          );
        })}
      </tbody>
    </Table>
  );
}
