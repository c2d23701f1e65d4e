import { useCallback, useEffect, useRef, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { api } from "@/api/client";
import type { LiveMessage } from "@/api/types";
import { Loaded } from "@/components/Message";
import { Button } from "@/components/ui/button";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { useApi } from "@/hooks/useApi";
import { useLive } from "@/hooks/useLive";
import { download } from "@/lib/download";
import { AnomaliesTab } from "./trace/AnomaliesTab";
import { DependenciesTab } from "./trace/DependenciesTab";
import { GraphTab } from "./trace/GraphTab";
import { LocksTab } from "./trace/LocksTab";
import { OverviewTab } from "./trace/OverviewTab";
import { RacesTab } from "./trace/RacesTab";
import { TimelineTab } from "./trace/TimelineTab";
import { TreeTab } from "./trace/TreeTab";

const TABS = ["overview", "races", "graph", "timeline", "tree", "locks", "anomalies", "dependencies"] as const;

/** Counts arrivals of new events of `traceId` on the live stream (batched per half second). */
function useTraceVersion(traceId: string): number {
  const [version, setVersion] = useState(0);
  const pending = useRef<ReturnType<typeof setTimeout>>();
  const onMessage = useCallback((message: LiveMessage) => {
    if (message.trace_id !== traceId || message.type === "lagged") return;
    clearTimeout(pending.current);
    pending.current = setTimeout(() => setVersion((v) => v + 1), 500);
  }, [traceId]);
  useEffect(() => () => clearTimeout(pending.current), []);
  useLive({ trace_id: traceId }, onMessage);
  return version;
}

export function TracePage() {
  const { id = "", tab = "overview" } = useParams();
  const navigate = useNavigate();
  const version = useTraceVersion(id);
  const trace = useApi(() => api.trace(id), `${id}:${version}`);
  const races = useApi(() => api.traceRaces(id), `${id}:${version}`);
  const graph = useApi(() => api.traceGraph(id), `${id}:${version}`);
  const critical = useApi(() => api.traceCriticalPath(id), `${id}:${version}`);
  const current = (TABS as readonly string[]).includes(tab) ? tab : "overview";
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-xl font-semibold">Trace <span className="mono text-base">{id}</span></h1>
        <Button
          variant="outline"
          size="sm"
          disabled={!trace.data}
          onClick={() => trace.data && download(`trace-${id}.json`, JSON.stringify(trace.data, null, 2), "application/json")}
        >
          Export JSON
        </Button>
      </div>
      <Loaded state={trace}>
        {(detail) => (
          <Tabs value={current} onValueChange={(t) => navigate(`/traces/${id}/${t === "overview" ? "" : t}`)}>
            <TabsList>
              {TABS.map((t) => (
                <TabsTrigger key={t} value={t} className="capitalize">{t}</TabsTrigger>
              ))}
            </TabsList>
            <TabsContent value="overview"><OverviewTab detail={detail} races={races} critical={critical} /></TabsContent>
            <TabsContent value="races"><RacesTab traceId={id} races={races} /></TabsContent>
            <TabsContent value="graph"><GraphTab graph={graph} races={races} critical={critical} events={detail.events} /></TabsContent>
            <TabsContent value="timeline"><TimelineTab graph={graph} races={races} /></TabsContent>
            <TabsContent value="tree"><TreeTab traceId={id} critical={critical} version={version} /></TabsContent>
            <TabsContent value="locks"><LocksTab events={detail.events} /></TabsContent>
            <TabsContent value="anomalies"><AnomaliesTab traceId={id} version={version} /></TabsContent>
            <TabsContent value="dependencies"><DependenciesTab traceId={id} version={version} /></TabsContent>
          </Tabs>
        )}
      </Loaded>
    </div>
  );
}
