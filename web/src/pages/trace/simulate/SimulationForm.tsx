import { useState } from "react";
import type { SimulationSpec } from "@/api/types";
import { Button } from "@/components/ui/button";
import { Section } from "@/components/ui/card";
import { Input, Select } from "@/components/ui/input";
import { emptyForm, specOf, type FailureChoice, type ServiceChoice } from "@/model/simulate";

interface Props {
  services: string[];
  running: boolean;
  onRun: (spec: SimulationSpec) => void;
}

/** One row per service the trace calls: a delay, a failure; one SLA for every request. */
export function SimulationForm({ services, running, onRun }: Props) {
  const [form, setForm] = useState(() => emptyForm(services));
  const [problem, setProblem] = useState<string>();
  const update = (index: number, change: Partial<ServiceChoice>) =>
    setForm((f) => ({ ...f, services: f.services.map((row, i) => (i === index ? { ...row, ...change } : row)) }));
  const submit = () => {
    const checked = specOf(form);
    if ("error" in checked) {
      setProblem(checked.error);
      return;
    }
    setProblem(undefined);
    onRun(checked.spec);
  };
  return (
    <Section title="What if a service were slower, or failed?">
      <form className="space-y-2 text-sm" onSubmit={(e) => { e.preventDefault(); submit(); }} data-testid="simulate-form">
        <p className="text-muted-foreground">
          A delay adds to every call into the service; a failed call skips its work and the caller resumes at once (error) or after the timeout.
        </p>
        {form.services.map((row, i) => (
          <div key={row.service} className="flex flex-wrap items-center gap-2" data-testid="simulate-service">
            <span className="mono w-40 truncate font-semibold">{row.service}</span>
            <label className="flex items-center gap-1">
              delay
              <Input aria-label={`delay of ${row.service} (ms)`} className="w-24" inputMode="numeric" placeholder="—" value={row.delayMs} onChange={(e) => update(i, { delayMs: e.target.value })} />
              ms
            </label>
            <Select aria-label={`failure of ${row.service}`} value={row.failure} onChange={(e) => update(i, { failure: e.target.value as FailureChoice })}>
              <option value="none">no failure</option>
              <option value="error">fails at once</option>
              <option value="timeout">times out after…</option>
            </Select>
            {row.failure === "timeout" && (
              <Input aria-label={`timeout of ${row.service} (ms)`} className="w-24" inputMode="numeric" placeholder="ms" value={row.timeoutMs} onChange={(e) => update(i, { timeoutMs: e.target.value })} />
            )}
          </div>
        ))}
        <label className="flex items-center gap-2">
          SLA per request
          <Input aria-label="SLA (ms)" className="w-24" inputMode="numeric" placeholder="none" value={form.slaMs} onChange={(e) => setForm((f) => ({ ...f, slaMs: e.target.value }))} />
          ms
        </label>
        {problem && <p role="alert" className="text-destructive">{problem}</p>}
        <Button type="submit" disabled={running}>{running ? "Simulating…" : "Simulate"}</Button>
      </form>
    </Section>
  );
}
