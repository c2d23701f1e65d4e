import { api } from "@/api/client";
import { DependencyView } from "@/components/DependencyView";
import { Loaded } from "@/components/Message";
import { useApi } from "@/hooks/useApi";

export function ServicesPage() {
  const state = useApi(() => api.dependencies(), "all");
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Services</h1>
      <p className="text-sm text-muted-foreground">Calls between services over every stored trace, with latency percentiles per edge.</p>
      <Loaded state={state} empty={(d) => d.dependencies.length === 0} emptyText="No calls between services recorded yet.">
        {(d) => <DependencyView edges={d.dependencies} />}
      </Loaded>
    </div>
  );
}
