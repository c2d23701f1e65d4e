import { api } from "@/api/client";
import { AnomalyTable } from "@/components/AnomalyTable";
import { Loaded, Message } from "@/components/Message";
import { useApi } from "@/hooks/useApi";

export function AnomaliesTab({ traceId, version }: { traceId: string; version: number }) {
  const state = useApi(() => api.traceAnomalies(traceId), `${traceId}:${version}`);
  if (state.error) return <Message>No analysis stored yet: the trace stage analyses a trace when it completes.</Message>;
  return (
    <Loaded state={state} empty={(d) => d.anomalies.length === 0} emptyText="No anomaly: no step was slower than its baseline, no sequence of steps was unusual.">
      {(d) => <AnomalyTable anomalies={d.anomalies} />}
    </Loaded>
  );
}
