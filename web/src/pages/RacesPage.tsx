import { Link, useSearchParams } from "react-router-dom";
import { api } from "@/api/client";
import { FindingCard } from "@/components/FindingCard";
import { Loaded } from "@/components/Message";
import { Button } from "@/components/ui/button";
import { Input, Select } from "@/components/ui/input";
import { useApi } from "@/hooks/useApi";
import { download } from "@/lib/download";
import { findingsCsv, groupByVariable } from "@/model/races";

const FIELDS = ["kind", "severity", "service", "variable", "from", "to"] as const;

export function RacesPage() {
  const [params, setParams] = useSearchParams();
  const query = Object.fromEntries(FIELDS.map((f) => [f, params.get(f) ?? ""]));
  const state = useApi(() => api.races({ ...query, limit: 1000 }), JSON.stringify(query));
  const set = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next);
  };
  const text = (name: string, placeholder: string) => (
    <Input
      key={`${name}:${query[name]}`}
      placeholder={placeholder}
      aria-label={placeholder}
      defaultValue={query[name]}
      className="w-40"
      onBlur={(e) => e.target.value !== query[name] && set(name, e.target.value)}
      onKeyDown={(e) => e.key === "Enter" && set(name, e.currentTarget.value)}
    />
  );
  return (
    <div className="space-y-3">
      <div className="flex items-center gap-3">
        <h1 className="text-xl font-semibold">Races</h1>
        <Button variant="outline" size="sm" disabled={!state.data?.races.length} onClick={() => state.data && download("raceway-findings.csv", findingsCsv(state.data.races), "text/csv")}>
          Export CSV
        </Button>
      </div>
      <div className="flex flex-wrap items-center gap-2">
        <Select aria-label="Kind" value={query.kind} onChange={(e) => set("kind", e.target.value)}>
          <option value="">all kinds</option>
          <option value="data_race">data race</option>
          <option value="lost_update">lost update</option>
          <option value="lock_order_inversion">lock-order inversion</option>
        </Select>
        <Select aria-label="Severity" value={query.severity} onChange={(e) => set("severity", e.target.value)}>
          <option value="">all severities</option>
          <option value="critical">critical</option>
          <option value="warning">warning</option>
        </Select>
        {text("service", "Service")}
        {text("variable", "Variable")}
        {text("from", "From (RFC 3339)")}
        {text("to", "To (RFC 3339)")}
      </div>
      <Loaded state={state} empty={(d) => d.races.length === 0} emptyText="No findings match.">
        {(d) => (
          <div className="space-y-5">
            <p className="text-sm text-muted-foreground">{d.total} findings{d.total > d.races.length ? ` (first ${d.races.length} shown)` : ""}, grouped by variable.</p>
            {groupByVariable(d.races).map((group) => (
              <section key={group.variable} className="space-y-2" data-testid="race-group">
                <h2 className="mono text-base font-semibold">
                  <Link className="underline" to={`/variables/${encodeURIComponent(group.variable)}`}>{group.variable}</Link>
                  <span className="ml-2 text-sm font-normal text-muted-foreground">{group.findings.length} findings, {group.critical} critical</span>
                </h2>
                {group.findings.map((f) => <FindingCard key={f.id} finding={f} />)}
              </section>
            ))}
          </div>
        )}
      </Loaded>
    </div>
  );
}
