import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api } from "@/api/client";
import type { AuditAccess } from "@/api/types";
import { Loaded } from "@/components/Message";
import { Badge } from "@/components/ui/badge";
import { Input } from "@/components/ui/input";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { useApi } from "@/hooks/useApi";
import { formatTime, formatValue, shortId } from "@/lib/format";

export function VariablesPage() {
  const { name } = useParams();
  const navigate = useNavigate();
  const [prefix, setPrefix] = useState(name ?? "");
  const matches = useApi(() => api.variables(prefix), `prefix:${prefix}`);
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Variable inspector</h1>
      <div className="flex flex-col gap-3 md:flex-row">
        <div className="w-full space-y-2 md:w-72">
          <Input placeholder="Search variables by prefix" aria-label="Variable prefix" value={prefix} onChange={(e) => setPrefix(e.target.value)} />
          <Loaded state={matches} empty={(d) => d.variables.length === 0} emptyText="No variable starts with that.">
            {(d) => (
              <>
                <ul className="mono max-h-[70vh] space-y-0.5 overflow-auto text-sm" data-testid="variable-list">
                  {d.variables.map((v) => (
                    <li key={v.name}>
                      <button
                        className={`flex w-full items-center gap-2 rounded px-2 py-1 text-left hover:bg-muted ${v.name === name ? "bg-muted font-semibold" : ""}`}
                        title={`${v.name}: ${v.access_count} recorded access${v.access_count === 1 ? "" : "es"}`}
                        onClick={() => navigate(`/variables/${encodeURIComponent(v.name)}`)}
                      >
                        <span className="min-w-0 flex-1 truncate" data-testid="variable-name">{v.name}</span>
                        <span className="text-xs text-muted-foreground" data-testid="variable-accesses">{v.access_count}</span>
                      </button>
                    </li>
                  ))}
                </ul>
                {d.truncated && <p className="text-xs text-muted-foreground">The first {d.limit} matches: type more of the name to narrow them.</p>}
              </>
            )}
          </Loaded>
        </div>
        <div className="min-w-0 flex-1">{name ? <AuditTrail name={name} /> : <p className="text-sm text-muted-foreground">Pick a variable to see every access to it in causal order.</p>}</div>
      </div>
    </div>
  );
}

function AuditTrail({ name }: { name: string }) {
  const trail = useApi(() => api.variableAuditTrail(name, { limit: 1000 }), name);
  return (
    <div className="space-y-2">
      <h2 className="mono text-lg font-semibold">{name}</h2>
      <Loaded state={trail} empty={(d) => d.accesses.length === 0} emptyText="No recorded access to this variable.">
        {(d) => (
          <Table data-testid="audit-trail">
            <thead>
              <tr className="border-b">
                <Th>#</Th><Th>Time</Th><Th>Actor</Th><Th>Access</Th><Th>Value</Th><Th>Location</Th><Th>Trace</Th><Th>Order</Th>
              </tr>
            </thead>
            <tbody>
              {d.accesses.map((a, i) => <AccessRow key={a.event_id} access={a} index={i} />)}
            </tbody>
          </Table>
        )}
      </Loaded>
    </div>
  );
}

function AccessRow({ access: a, index }: { access: AuditAccess; index: number }) {
  return (
    <Tr className={a.in_findings.length > 0 ? "bg-destructive/5" : undefined}>
      <Td>{index + 1}</Td>
      <Td className="mono text-xs">{formatTime(a.timestamp)}</Td>
      <Td className="mono text-xs">{a.service}/{a.thread_id}</Td>
      <Td>{a.access_type}</Td>
      <Td className="mono text-xs">{a.old_value !== undefined && a.old_value !== null ? `${formatValue(a.old_value)} → ` : ""}{formatValue(a.new_value)}</Td>
      <Td className="mono text-xs">{a.location}</Td>
      <Td className="mono text-xs"><Link className="underline" to={`/traces/${a.trace_id}`}>{shortId(a.trace_id)}</Link></Td>
      <Td>
        {index === 0 ? (
          <span className="text-xs text-muted-foreground">first</span>
        ) : a.causally_linked_to_previous ? (
          <span className="text-xs text-muted-foreground">after the previous access</span>
        ) : (
          <Badge variant="destructive" data-testid="no-causal-link">no causal link: race</Badge>
        )}
      </Td>
    </Tr>
  );
}
