import { useState } from "react";
import { api } from "@/api/client";
import type { Simulation, SimulationSpec } from "@/api/types";
import { ErrorMessage, Loaded } from "@/components/Message";
import { useApi } from "@/hooks/useApi";
import { calledServices } from "@/model/simulate";
import { SimulationForm } from "./simulate/SimulationForm";
import { SimulationResult } from "./simulate/SimulationResult";

/** What-if: delays and failures of the services this trace calls, and what they would do. */
export function SimulateTab({ traceId }: { traceId: string }) {
  const dependencies = useApi(() => api.traceDependencies(traceId), traceId);
  const [result, setResult] = useState<{ spec: SimulationSpec; simulation?: Simulation; error?: Error }>();
  const run = (spec: SimulationSpec) => {
    setResult({ spec });
    api.simulate(traceId, spec).then(
      (simulation) => setResult({ spec, simulation }),
      (error: Error) => setResult({ spec, error }),
    );
  };
  return (
    <Loaded
      state={dependencies}
      empty={(d) => d.dependencies.length === 0}
      emptyText="This trace makes no calls into other services: there is nothing to delay or fail."
    >
      {(d) => (
        <div className="space-y-3">
          <SimulationForm services={calledServices(d.dependencies)} onRun={run} running={!!result && !result.simulation && !result.error} />
          {result?.error && <ErrorMessage error={result.error} />}
          {result?.simulation && <SimulationResult traceId={traceId} spec={result.spec} simulation={result.simulation} />}
        </div>
      )}
    </Loaded>
  );
}
