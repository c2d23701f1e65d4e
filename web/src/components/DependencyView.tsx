import { useMemo } from "react";
import type { DependencyEdge } from "@/api/types";
import { CytoscapeView } from "@/components/CytoscapeView";
import { Badge } from "@/components/ui/badge";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { formatMs } from "@/lib/format";
import { dependencyElements } from "@/model/dependencies";

/**
 * A service graph (edges labelled with calls and p95) and its table with p50/p95/p99. A trace's
 * edges may be flagged `unexpected`: never seen in the global graph before that trace.
 */
export function DependencyView({ edges }: { edges: (DependencyEdge & { unexpected?: boolean })[] }) {
  const elements = useMemo(() => dependencyElements(edges), [edges]);
  return (
    <div className="space-y-3">
      <CytoscapeView elements={elements} highlighted={[]} onNodeTap={() => undefined} testId="dependency-graph" />
      <Table data-testid="dependency-table">
        <thead>
          <tr className="border-b">
            <Th>Caller</Th><Th>Callee</Th><Th>Kind</Th><Th className="text-right">Calls</Th><Th className="text-right">Errors</Th>
            <Th className="text-right">p50</Th><Th className="text-right">p95</Th><Th className="text-right">p99</Th>
          </tr>
        </thead>
        <tbody>
          {edges.map((e, i) => (
            <Tr key={i}>
              <Td>{e.caller}</Td>
              <Td>
                {e.callee}
                {e.unexpected && <Badge variant="warning" className="ml-2" title="No call from this caller to this callee of this kind was seen before this trace" data-testid="unexpected-edge">⚠ unexpected</Badge>}
              </Td>
              <Td>{e.kind}</Td>
              <Td className="text-right">{e.calls}</Td><Td className="text-right">{e.errors}</Td>
              <Td className="text-right">{formatMs(e.p50_ms)}</Td><Td className="text-right">{formatMs(e.p95_ms)}</Td><Td className="text-right">{formatMs(e.p99_ms)}</Td>
            </Tr>
          ))}
        </tbody>
      </Table>
    </div>
  );
}
