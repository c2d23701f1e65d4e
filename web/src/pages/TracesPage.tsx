import { Link, useSearchParams } from "react-router-dom";
import { api } from "@/api/client";
import { Loaded } from "@/components/Message";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input, Select } from "@/components/ui/input";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { useApi } from "@/hooks/useApi";
import { formatMs, formatTime } from "@/lib/format";
import { PAGE_SIZE, readFilters, traceQuery, writeFilters, type TraceFilters } from "@/model/traceFilters";

export function TracesPage() {
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const query = traceQuery(filters);
  const state = useApi(() => api.traces(query), JSON.stringify(query));
  const update = (change: Partial<TraceFilters>) =>
    setParams(writeFilters({ ...filters, page: 0, ...change }));
  const text = (name: keyof TraceFilters, placeholder: string, type = "text") => (
    <Input
      key={`${name}:${String(filters[name])}`}
      type={type}
      placeholder={placeholder}
      aria-label={placeholder}
      defaultValue={String(filters[name])}
      className="w-40"
      onBlur={(e) => e.target.value !== filters[name] && update({ [name]: e.target.value })}
      onKeyDown={(e) => e.key === "Enter" && update({ [name]: e.currentTarget.value })}
    />
  );
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Traces</h1>
      <div className="flex flex-wrap items-center gap-2" data-testid="trace-filters">
        {text("trace_id", "Trace id")}
        {text("service", "Service")}
        {text("environment", "Environment")}
        {text("min_events", "Min events", "number")}
        {text("from", "From", "datetime-local")}
        {text("to", "To", "datetime-local")}
        <label className="flex items-center gap-1 text-sm">
          <input type="checkbox" checked={filters.has_races} onChange={(e) => update({ has_races: e.target.checked })} />
          has races
        </label>
        <Select aria-label="Sort" value={filters.sort} onChange={(e) => update({ sort: e.target.value as TraceFilters["sort"] })}>
          <option value="time">newest first</option>
          <option value="duration">longest first</option>
          <option value="races">most races first</option>
        </Select>
      </div>
      <Loaded state={state} empty={(d) => d.traces.length === 0} emptyText="No traces match. Send events to POST /events, or loosen the filters.">
        {(page) => (
          <>
            <Table data-testid="traces-table">
              <thead>
                <tr className="border-b">
                  <Th>Trace</Th><Th>Services</Th><Th>Started</Th><Th className="text-right">Events</Th>
                  <Th className="text-right">Duration</Th><Th>Findings</Th>
                </tr>
              </thead>
              <tbody>
                {page.traces.map((t) => (
                  <Tr key={t.trace_id} data-testid="trace-row">
                    <Td className="mono"><Link className="underline" to={`/traces/${t.trace_id}`}>{t.trace_id}</Link></Td>
                    <Td>{t.services.join(", ")}</Td>
                    <Td className="mono text-xs">{formatTime(t.first_timestamp)}</Td>
                    <Td className="text-right">{t.event_count}</Td>
                    <Td className="text-right">{formatMs(t.duration_ms)}</Td>
                    <Td className="space-x-1">
                      {t.race_count > 0 && <Badge variant="destructive">{t.race_count} race{t.race_count > 1 ? "s" : ""}</Badge>}
                      {(t.anomaly_count ?? 0) > 0 && <Badge variant="warning">{t.anomaly_count} anomal{t.anomaly_count === 1 ? "y" : "ies"}</Badge>}
                      {t.race_count === 0 && !t.anomaly_count && <span className="text-xs text-muted-foreground">none</span>}
                    </Td>
                  </Tr>
                ))}
              </tbody>
            </Table>
            <div className="flex items-center gap-2 text-sm">
              <Button variant="outline" size="sm" disabled={filters.page === 0} onClick={() => update({ page: filters.page - 1 })}>Previous</Button>
              <span data-testid="trace-paging">
                {page.offset + 1}–{page.offset + page.traces.length} of {page.total}
              </span>
              <Button variant="outline" size="sm" disabled={page.offset + PAGE_SIZE >= page.total} onClick={() => update({ page: filters.page + 1 })}>Next</Button>
            </div>
          </>
        )}
      </Loaded>
    </div>
  );
}
