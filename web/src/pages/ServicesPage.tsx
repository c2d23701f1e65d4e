import { useState } from "react";
import { api } from "@/api/client";
import { DependencyView } from "@/components/DependencyView";
import { Loaded } from "@/components/Message";
import { ServiceHealthTable } from "@/components/ServiceHealth";
import { Section } from "@/components/ui/card";
import { useApi } from "@/hooks/useApi";
import { DEFAULT_WINDOW, WINDOWS } from "@/model/services";

export function ServicesPage() {
  const [window, setWindow] = useState<string>(DEFAULT_WINDOW);
  const services = useApi(() => api.servicesWithHealth(window), window);
  const deps = useApi(() => api.dependencies(), "all");
  return (
    <div className="space-y-3">
      <div className="flex items-center justify-between gap-3">
        <h1 className="text-xl font-semibold">Services</h1>
        <label className="flex items-center gap-2 text-sm">
          Window
          <select className="rounded-md border bg-background px-2 py-1" value={window} onChange={(e) => setWindow(e.target.value)} data-testid="window">
            {WINDOWS.map((w) => <option key={w} value={w}>last {w}</option>)}
          </select>
        </label>
      </div>
      <Section title={`Health over the last ${window}`}>
        <p className="mb-2 text-xs text-muted-foreground">
          Latency is each trace's time from the service's first to its last event; errors are traces where it recorded an Error.
          The trend compares the window with the service's own seven windows before it.
        </p>
        <Loaded state={services} empty={(d) => d.services.length === 0} emptyText={`No service recorded events in the last ${window}.`}>
          {(d) => <ServiceHealthTable rows={d.services} health={d.health} />}
        </Loaded>
      </Section>
      <Section title="Calls between services (every stored trace)">
        <Loaded state={deps} empty={(d) => d.dependencies.length === 0} emptyText="No calls between services recorded yet.">
          {(d) => <DependencyView edges={d.dependencies} />}
        </Loaded>
      </Section>
    </div>
  );
}
