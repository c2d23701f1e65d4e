import { useMemo, useState } from "react";
import { api } from "@/api/client";
import type { CriticalPath, TraceTree } from "@/api/types";
import { Loaded } from "@/components/Message";
import { Button } from "@/components/ui/button";
import { useApi, type Loaded as LoadedState } from "@/hooks/useApi";
import { formatNs } from "@/lib/format";
import { cn } from "@/lib/utils";
import { expandableIds, visibleRows } from "@/model/tree";

/** Rows drawn at most; the rest are summarised (expand less to see them). */
const ROW_LIMIT = 2000;

export function TreeTab({ traceId, critical, version }: { traceId: string; critical: LoadedState<CriticalPath>; version: number }) {
  const tree = useApi(() => api.traceTree(traceId), `${traceId}:${version}`);
  return (
    <Loaded state={tree} empty={(t) => t.roots.length === 0} emptyText="The trace has no events.">
      {(t) => <TreeView tree={t} critical={critical.data} />}
    </Loaded>
  );
}

function TreeView({ tree, critical }: { tree: TraceTree; critical?: CriticalPath }) {
  const [expanded, setExpanded] = useState(() => new Set(tree.roots.map((r) => r.id)));
  const criticalIds = useMemo(() => new Set(critical?.path.map((s) => s.event_id) ?? []), [critical]);
  const rows = useMemo(() => visibleRows(tree.roots, expanded, criticalIds), [tree, expanded, criticalIds]);
  const toggle = (id: string) =>
    setExpanded((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  return (
    <div className="space-y-2">
      <div className="flex items-center gap-2 text-sm">
        <Button variant="outline" size="sm" onClick={() => setExpanded(expandableIds(tree.roots))}>Expand all</Button>
        <Button variant="outline" size="sm" onClick={() => setExpanded(new Set())}>Collapse all</Button>
        <span className="text-muted-foreground">{tree.node_count} nodes; the critical path is red.</span>
      </div>
      <div className="mono rounded-lg border bg-card p-2 text-xs" data-testid="tree">
        {rows.slice(0, ROW_LIMIT).map(({ node, depth, hasChildren, expanded: open, critical: onPath }) => (
          <div key={node.id} className={cn("flex items-center gap-2 py-0.5", onPath && "text-destructive font-semibold")} style={{ paddingLeft: depth * 16 }} data-testid="tree-row">
            <button className="w-4 text-left" disabled={!hasChildren} onClick={() => toggle(node.id)} aria-label={open ? "Collapse" : "Expand"}>
              {hasChildren ? (open ? "▾" : "▸") : "·"}
            </button>
            <span>{node.kind}</span>
            <span className="text-muted-foreground">{node.service}/{node.thread}</span>
            <span className="truncate">{node.location}</span>
            <span className="ml-auto whitespace-nowrap">{formatNs(node.duration_ns)}</span>
          </div>
        ))}
        {rows.length > ROW_LIMIT && <p className="p-2 text-muted-foreground">{rows.length - ROW_LIMIT} more rows: collapse some nodes to see them.</p>}
      </div>
    </div>
  );
}
