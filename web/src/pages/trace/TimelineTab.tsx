import { useEffect, useMemo, useRef, useState } from "react";
import { useParams } from "react-router-dom";
import { api } from "@/api/client";
import type { CausalGraph, Finding } from "@/api/types";
import { EventDetails } from "@/components/EventDetails";
import { Loaded, Message } from "@/components/Message";
import { Button } from "@/components/ui/button";
import { useApi, type Loaded as LoadedState } from "@/hooks/useApi";
import { formatNs } from "@/lib/format";
import { colorFor, RACE_COLOR } from "@/model/palette";
import { racingEventIds } from "@/model/races";
import { barAt, buildTimeline, pan, treeDurations, zoom, type TimeRange, type TimelineData } from "@/model/timeline";
import { AXIS_HEIGHT, laneAt, layoutRows, ROW_HEIGHT, type Row } from "@/model/timelineRows";

const LABEL_WIDTH = 170;

const NO_FINDINGS: Finding[] = [];

interface Props {
  graph: LoadedState<CausalGraph>;
  races: LoadedState<{ races: Finding[] }>;
}

export function TimelineTab({ graph, races }: Props) {
  const { id = "" } = useParams();
  // The tree's durations give every bar its step's width; fetched again when the graph grows.
  const tree = useApi(() => api.traceTree(id), `${id}:${graph.data?.nodes.length ?? 0}`, graph.data !== undefined);
  // Drawn once the tree answered (or failed: then the measured durations only), so that a zoom
  // is not reset by a late change of the bounds.
  const durations = useMemo(() => (tree.data ? treeDurations(tree.data.roots) : new Map<string, number>()), [tree.data]);
  const settled = tree.data !== undefined || tree.error !== undefined;
  return (
    <Loaded state={graph} empty={(g) => g.nodes.length === 0} emptyText="The trace has no events to draw.">
      {(g) => (settled ? <TimelineView graph={g} findings={races.data?.races ?? NO_FINDINGS} durations={durations} /> : <Message>Loading…</Message>)}
    </Loaded>
  );
}

function draw(canvas: HTMLCanvasElement, data: TimelineData, rows: Row[], laneY: number[], view: TimeRange, selected?: string) {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  canvas.width = width * dpr;
  canvas.height = height * dpr;
  ctx.scale(dpr, dpr);
  const dark = document.documentElement.classList.contains("dark");
  const fg = dark ? "#e2e8f0" : "#0f172a";
  const muted = dark ? "#94a3b8" : "#64748b";
  ctx.clearRect(0, 0, width, height);
  ctx.font = '11px "Geist Mono", monospace';
  const plot = width - LABEL_WIDTH;
  const x = (t: number) => LABEL_WIDTH + ((t - view.from) / (view.to - view.from)) * plot;
  for (const row of rows) {
    if (row.kind === "service") {
      ctx.fillStyle = dark ? "#1e293b" : "#f1f5f9";
      ctx.fillRect(0, row.y, width, ROW_HEIGHT);
      ctx.fillStyle = fg;
      ctx.fillText(row.label, 6, row.y + 15);
    } else {
      ctx.fillStyle = muted;
      ctx.fillText(row.label.slice(0, 22), 16, row.y + 15);
    }
  }
  for (let i = 0; i <= 4; i++) {
    const t = view.from + ((view.to - view.from) * i) / 4;
    const px = LABEL_WIDTH + (plot * i) / 4;
    ctx.fillStyle = muted;
    ctx.fillText(`+${formatNs(t - data.min)}`, Math.min(px + 2, width - 70), 16);
    ctx.fillStyle = dark ? "#334155" : "#e2e8f0";
    ctx.fillRect(px, AXIS_HEIGHT - 4, 1, height);
  }
  ctx.save();
  ctx.beginPath();
  ctx.rect(LABEL_WIDTH, 0, plot, height);
  ctx.clip();
  for (const bar of data.bars) {
    if (bar.end < view.from || bar.start > view.to) continue;
    const left = x(bar.start);
    const w = Math.max(2, x(bar.end) - left);
    ctx.fillStyle = bar.race ? RACE_COLOR : colorFor(bar.node.service);
    ctx.fillRect(left, laneY[bar.lane] + 4, w, ROW_HEIGHT - 8);
    if (bar.id === selected) {
      ctx.strokeStyle = fg;
      ctx.lineWidth = 2;
      ctx.strokeRect(left - 1, laneY[bar.lane] + 3, w + 2, ROW_HEIGHT - 6);
    }
  }
  ctx.restore();
}

function TimelineView({ graph, findings, durations }: { graph: CausalGraph; findings: Finding[]; durations: Map<string, number> }) {
  const data = useMemo(() => buildTimeline(graph.nodes, racingEventIds(findings), durations), [graph, findings, durations]);
  const { rows, laneY, height } = useMemo(() => layoutRows(data.lanes), [data]);
  const bounds = useMemo(() => ({ from: data.min, to: data.max }), [data]);
  const [view, setView] = useState<TimeRange>(bounds);
  const [selected, setSelected] = useState<string>();
  const canvas = useRef<HTMLCanvasElement>(null);
  const drag = useRef<{ x: number; view: TimeRange; moved: boolean }>();
  useEffect(() => setView(bounds), [bounds]);
  useEffect(() => {
    if (!canvas.current) return;
    draw(canvas.current, data, rows, laneY, view, selected);
    if (!canvas.current.dataset.ready) canvas.current.dataset.readyAt = String(performance.now());
    canvas.current.dataset.ready = "true";
  }, [data, rows, laneY, view, selected]);
  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const at = Math.min(1, Math.max(0, (e.offsetX - LABEL_WIDTH) / (element.clientWidth - LABEL_WIDTH)));
      setView((v) => zoom(v, e.deltaY < 0 ? 0.8 : 1.25, at, bounds));
    };
    element.addEventListener("wheel", onWheel, { passive: false });
    return () => element.removeEventListener("wheel", onWheel);
  }, [bounds]);
  const plotWidth = () => (canvas.current?.clientWidth ?? 1000) - LABEL_WIDTH;
  const node = selected ? data.bars.find((b) => b.id === selected)?.node : undefined;
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <Button variant="outline" size="sm" aria-label="Zoom in" data-testid="timeline-zoom-in" onClick={() => setView((v) => zoom(v, 0.5, 0.5, bounds))}>Zoom in</Button>
        <Button variant="outline" size="sm" aria-label="Zoom out" onClick={() => setView((v) => zoom(v, 2, 0.5, bounds))}>Zoom out</Button>
        <Button variant="outline" size="sm" aria-label="Earlier" onClick={() => setView((v) => pan(v, -0.25, bounds))}>←</Button>
        <Button variant="outline" size="sm" aria-label="Later" onClick={() => setView((v) => pan(v, 0.25, bounds))}>→</Button>
        <Button variant="outline" size="sm" onClick={() => setView(bounds)}>Reset</Button>
        <span className="mono text-xs" data-testid="timeline-range">
          showing +{formatNs(view.from - data.min)} … +{formatNs(view.to - data.min)} of {formatNs(data.max - data.min)}
        </span>
        <span className="text-muted-foreground">Wheel to zoom, drag to pan, click a bar for details. Red: accesses of a race.</span>
      </div>
      <div className="flex flex-col gap-3 lg:flex-row">
        <div className="min-w-0 flex-1 overflow-auto rounded-lg border bg-card">
          <canvas
            ref={canvas}
            data-testid="timeline"
            style={{ width: "100%", height }}
            className="cursor-grab"
            onMouseDown={(e) => (drag.current = { x: e.clientX, view, moved: false })}
            onMouseMove={(e) => {
              const d = drag.current;
              if (!d || Math.abs(e.clientX - d.x) < 3) return;
              d.moved = true;
              setView(pan(d.view, -(e.clientX - d.x) / plotWidth(), bounds));
            }}
            onMouseUp={(e) => {
              const d = drag.current;
              drag.current = undefined;
              if (d?.moved) return;
              const rect = e.currentTarget.getBoundingClientRect();
              const lane = laneAt(rows, e.clientY - rect.top);
              const px = e.clientX - rect.left - LABEL_WIDTH;
              if (lane === undefined || px < 0) return;
              const perPx = (view.to - view.from) / plotWidth();
              setSelected(barAt(data, lane, view.from + px * perPx, perPx * 3)?.id);
            }}
            onMouseLeave={() => (drag.current = undefined)}
          />
        </div>
        {node && <EventDetails node={node} onClose={() => setSelected(undefined)} />}
      </div>
    </div>
  );
}
