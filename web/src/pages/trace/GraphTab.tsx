import { useMemo, useState } from "react";
import type { CausalGraph, CriticalPath, Finding, TraceEvent } from "@/api/types";
import { CytoscapeView } from "@/components/CytoscapeView";
import { EventDetails } from "@/components/EventDetails";
import { Loaded, Message } from "@/components/Message";
import { Button } from "@/components/ui/button";
import { Select } from "@/components/ui/input";
import type { Loaded as LoadedState } from "@/hooks/useApi";
import { buildGraph, causalPath, COLLAPSE_AT, kindsOf, type ColorBy } from "@/model/graph";

const NO_FINDINGS: Finding[] = [];

interface Props {
  graph: LoadedState<CausalGraph>;
  races: LoadedState<{ races: Finding[] }>;
  critical: LoadedState<CriticalPath>;
  events?: TraceEvent[];
  onNodeSelected: () => void;
}

export function GraphTab({ graph, races, critical, events, onNodeSelected }: Props) {
  return (
    <Loaded state={graph} empty={(g) => g.nodes.length === 0} emptyText="The trace has no events to draw.">
      {(g) => <GraphView graph={g} findings={races.data?.races ?? NO_FINDINGS} critical={critical.data} events={events} onNodeSelected={onNodeSelected} />}
    </Loaded>
  );
}

interface ViewProps {
  graph: CausalGraph;
  findings: Finding[];
  critical?: CriticalPath;
  events?: TraceEvent[];
  onNodeSelected: () => void;
}

function GraphView({ graph, findings, critical, events, onNodeSelected }: ViewProps) {
  const [kind, setKind] = useState("");
  const [colorBy, setColorBy] = useState<ColorBy>("service");
  const [selected, setSelected] = useState<string[]>([]);
  const criticalIds = useMemo(() => new Set(critical?.path.map((s) => s.event_id) ?? []), [critical]);
  const model = useMemo(
    () => buildGraph(graph, { kinds: kind ? new Set([kind]) : null, colorBy, findings, criticalIds }),
    [graph, kind, colorBy, findings, criticalIds],
  );
  const path = useMemo(
    () => (selected.length === 2 ? causalPath(graph, selected[0], selected[1]) : null),
    [graph, selected],
  );
  const nodesById = useMemo(() => new Map(graph.nodes.map((n) => [n.id, n])), [graph]);
  const eventsById = useMemo(() => new Map((events ?? []).map((e) => [e.id, e])), [events]);
  const last = selected.length > 0 ? nodesById.get(selected[selected.length - 1]) : undefined;
  const onTap = (id: string) => {
    if (!nodesById.has(id)) return;
    onNodeSelected();
    setSelected((s) => (s.includes(id) ? s : [...s, id].slice(-2)));
  };
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <Select aria-label="Event kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="">all kinds</option>
          {kindsOf(graph).map((k) => <option key={k} value={k}>{k}</option>)}
        </Select>
        <Select aria-label="Colour by" value={colorBy} onChange={(e) => setColorBy(e.target.value as ColorBy)}>
          <option value="service">colour by service</option>
          <option value="thread">colour by thread</option>
        </Select>
        <span className="text-muted-foreground">
          Click a node for details; click a second one for the causal path between them. Red dashed: races; amber: critical path; size: duration.
        </span>
        {selected.length > 0 && <Button variant="outline" size="sm" onClick={() => setSelected([])}>Clear selection</Button>}
      </div>
      {model.collapsed && (
        <Message>
          {model.shownEvents} events are more than {COLLAPSE_AT}: shown as one node per actor (edge labels count the causal links). Filter by kind to see single events.
        </Message>
      )}
      {selected.length === 2 && (
        <p className="text-sm" data-testid="causal-path">
          {path ? `Causal path: ${path.length} events, ${path.length - 1} steps.` : "No causal path: nothing orders these two events (they are concurrent)."}
        </p>
      )}
      <div className="flex flex-col gap-3 lg:flex-row">
        <div className="min-w-0 flex-1">
          <CytoscapeView elements={model.elements} highlighted={path ?? []} onNodeTap={onTap} testId="graph" />
        </div>
        {last && <EventDetails node={last} event={eventsById.get(last.id)} onClose={() => setSelected([])} />}
      </div>
    </div>
  );
}
