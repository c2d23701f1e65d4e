import { api } from "@/api/client";
import { DependencyView } from "@/components/DependencyView";
import { Loaded } from "@/components/Message";
import { useApi } from "@/hooks/useApi";

export function DependenciesTab({ traceId, version }: { traceId: string; version: number }) {
  const state = useApi(() => api.traceDependencies(traceId), `${traceId}:${version}`);
  return (
    <Loaded state={state} empty={(d) => d.dependencies.length === 0} emptyText="This trace made no calls between services.">
      {(d) => <DependencyView edges={d.dependencies} />}
    </Loaded>
  );
}
