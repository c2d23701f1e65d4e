import type { Simulation, SimulationSpec } from "@/api/types";
import { api } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Section } from "@/components/ui/card";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { download } from "@/lib/download";
import { movedEvents, pathChange } from "@/model/simulate";

const ms = (n: number) => n.toFixed(1);

interface Props {
  traceId: string;
  spec: SimulationSpec;
  simulation: Simulation;
}

/** The critical path before and after, the services' times, what the change reaches. */
export function SimulationResult({ traceId, spec, simulation }: Props) {
  const exportCsv = async () =>
    download(`simulation-${traceId}.csv`, await api.simulateCsv(traceId, spec), "text/csv");
  const moved = movedEvents(simulation);
  return (
    <div className="grid gap-3 md:grid-cols-2" data-testid="simulation-result">
      <Section title="Critical path">
        <p className="text-lg font-semibold" data-testid="simulation-path">{pathChange(simulation)}</p>
        <p className="text-sm text-muted-foreground">
          {simulation.critical_path.after.length} steps after, {simulation.critical_path.before.length} before.
        </p>
        <Button variant="outline" size="sm" className="mt-2" onClick={exportCsv}>Export CSV</Button>
      </Section>
      <Section title="Services reached">
        {simulation.affected_services.length === 0 ? (
          <p className="text-sm text-muted-foreground">No other service moves.</p>
        ) : (
          <ul className="space-y-1 text-sm" data-testid="simulation-affected">
            {simulation.affected_services.map((a) => (
              <li key={a.service}>
                <span className="mono font-semibold">{a.service}</span>{" "}
                <span className="text-muted-foreground">via {a.via.map((id) => id.slice(0, 8)).join(" → ")}</span>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Time per service (self time, ms)">
        <Table>
          <thead><Tr><Th>service</Th><Th>before</Th><Th>after</Th></Tr></thead>
          <tbody>
            {simulation.services.map((s) => (
              <Tr key={s.service}>
                <Td className="mono">{s.service}</Td>
                <Td>{ms(s.before_ms)}</Td>
                <Td className={s.after_ms > s.before_ms ? "text-destructive" : undefined}>{ms(s.after_ms)}</Td>
              </Tr>
            ))}
          </tbody>
        </Table>
      </Section>
      <Section title="Over their SLA">
        {simulation.over_sla.length === 0 ? (
          <p className="text-sm text-muted-foreground">{spec.sla_ms ? "Every request stays within its SLA." : "Set an SLA to check requests against it."}</p>
        ) : (
          <Table data-testid="simulation-sla">
            <thead><Tr><Th>request</Th><Th>SLA</Th><Th>before</Th><Th>after</Th></Tr></thead>
            <tbody>
              {simulation.over_sla.map((b) => (
                <Tr key={b.event_id}>
                  <Td><span className="mono">{b.service}</span> <span className="text-muted-foreground">{b.location}</span></Td>
                  <Td>{b.sla_ms}</Td>
                  <Td>{ms(b.before_ms)}{b.already_over ? " (over)" : ""}</Td>
                  <Td className="text-destructive">{ms(b.after_ms)}</Td>
                </Tr>
              ))}
            </tbody>
          </Table>
        )}
      </Section>
      <div className="md:col-span-2">
        <Section title={`Steps that moved (${moved.length})`}>
          <Table data-testid="simulation-moved">
            <thead><Tr><Th>step</Th><Th>service</Th><Th>start (ms)</Th><Th>duration (ms)</Th><Th>ends later by</Th></Tr></thead>
            <tbody>
              {moved.slice(0, 50).map(({ event, shiftMs }) => (
                <Tr key={event.event_id}>
                  <Td><span className="font-medium">{event.kind}</span> <span className="text-muted-foreground">{event.location}</span></Td>
                  <Td className="mono">{event.service}</Td>
                  <Td>{ms(event.before_start_ms)} → {event.after_start_ms == null ? "—" : ms(event.after_start_ms)}</Td>
                  <Td>{ms(event.before_duration_ms)} → {event.after_duration_ms == null ? "—" : ms(event.after_duration_ms)}</Td>
                  <Td>{shiftMs === null ? "skipped (failed call)" : `${shiftMs > 0 ? "+" : ""}${ms(shiftMs)} ms`}</Td>
                </Tr>
              ))}
            </tbody>
          </Table>
        </Section>
      </div>
    </div>
  );
}
