import { useCallback, useEffect, useRef, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { api } from "@/api/client";
import type { LiveMessage } from "@/api/types";
import { messageTrace } from "@/model/live";
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
import { TimeTravelTab } from "./trace/TimeTravelTab";
import { TimelineTab } from "./trace/TimelineTab";
import { TreeTab } from "./trace/TreeTab";

const TABS = ["overview", "races", "graph", "timeline", "tree", "locks", "anomalies", "dependencies", "time-travel"] as const;

/** A tab's name on its trigger (the URL segment, capitalised, unless named here). */
const TAB_LABELS: Partial<Record<(typeof TABS)[number], string>> = { "time-travel": "Time travel" };

/** Counts arrivals of new events of `traceId` on the live stream (batched per half second). */
function useTraceVersion(traceId: string): number {
  const [version, setVersion] = useState(0);
  const pending = useRef<ReturnType<typeof setTimeout>>();
  const onMessage = useCallback((message: LiveMessage) => {
    if (messageTrace(message) !== traceId) return;
    clearTimeout(pending.current);
    pending.current = setTimeout(() => setVersion((v) => v + 1), 500);
  }, [traceId]);
  useEffect(() => () => clearTimeout(pending.current), []);
  useLive({ trace_id: traceId }, onMessage);
  return version;
}

/** The tabs opened so far on this page. */
function useSeenTabs(current: string): Set<string> {
  const [seen, setSeen] = useState(() => new Set([current]));
  useEffect(() => setSeen((s) => (s.has(current) ? s : new Set([...s, current]))), [current]);
  return seen;
}

export function TracePage() {
  const { id = "", tab = "overview" } = useParams();
  const navigate = useNavigate();
  const version = useTraceVersion(id);
  const current = (TABS as readonly string[]).includes(tab) ? tab : "overview";
  // Each answer is fetched once a tab that shows it is opened (a big trace's events are slow to
  // send), then kept while the page is open.
  const seen = useSeenTabs(current);
  const wants = (...tabs: string[]) => tabs.some((t) => seen.has(t));
  const key = `${id}:${version}`;
  // The graph asks for the events (its details panel shows them whole) once a node is clicked.
  const [eventsWanted, setEventsWanted] = useState(false);
  const trace = useApi(() => api.trace(id), key, eventsWanted || wants("overview", "locks"));
  const races = useApi(() => api.traceRaces(id), key);
  const graph = useApi(() => api.traceGraph(id), key, wants("graph", "timeline"));
  const critical = useApi(() => api.traceCriticalPath(id), key, wants("overview", "graph", "tree"));
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
      <Tabs value={current} onValueChange={(t) => navigate(`/traces/${id}/${t === "overview" ? "" : t}`)}>
        <TabsList>
          {TABS.map((t) => (
            <TabsTrigger key={t} value={t} className={TAB_LABELS[t] ? undefined : "capitalize"}>{TAB_LABELS[t] ?? t}</TabsTrigger>
          ))}
        </TabsList>
        <TabsContent value="overview">
          <Loaded state={trace}>{(detail) => <OverviewTab detail={detail} races={races} critical={critical} />}</Loaded>
        </TabsContent>
        <TabsContent value="races"><RacesTab traceId={id} races={races} /></TabsContent>
        <TabsContent value="graph"><GraphTab graph={graph} races={races} critical={critical} events={trace.data?.events} onNodeSelected={() => setEventsWanted(true)} /></TabsContent>
        <TabsContent value="timeline"><TimelineTab graph={graph} races={races} /></TabsContent>
        <TabsContent value="tree"><TreeTab traceId={id} critical={critical} version={version} /></TabsContent>
        <TabsContent value="locks">
          <Loaded state={trace}>{(detail) => <LocksTab events={detail.events} />}</Loaded>
        </TabsContent>
        <TabsContent value="anomalies"><AnomaliesTab traceId={id} version={version} /></TabsContent>
        <TabsContent value="dependencies"><DependenciesTab traceId={id} version={version} /></TabsContent>
        <TabsContent value="time-travel"><TimeTravelTab traceId={id} races={races} version={version} /></TabsContent>
      </Tabs>
    </div>
  );
}
