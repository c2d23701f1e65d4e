import { useEffect, useRef } from "react";
import cytoscape, { type Core, type StylesheetJson } from "cytoscape";
import type { GraphElement } from "@/model/graph";
import { RACE_COLOR } from "@/model/palette";

const STYLE: StylesheetJson = [
  {
    selector: "node",
    style: {
      "background-color": "data(color)",
      width: "data(size)",
      height: "data(size)",
      label: "data(label)",
      "font-size": 10,
      color: "#64748b",
      "text-wrap": "wrap",
      "text-max-width": "110px",
      "text-valign": "bottom",
      "text-margin-y": 3,
      "min-zoomed-font-size": 5,
    },
  },
  {
    selector: "node.lane",
    style: { "background-opacity": 0, width: 1, height: 1, "text-valign": "center", "text-halign": "left", "font-size": 13, "font-weight": "bold", "text-max-width": "220px", events: "no" },
  },
  { selector: "edge", style: { width: 1.5, "line-color": "#94a3b8", "target-arrow-color": "#94a3b8", "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.8 } },
  { selector: "edge[label]", style: { label: "data(label)", "font-size": 9, color: "#64748b" } },
  { selector: "edge.unexpected", style: { width: 3, "line-color": "#d97706", "target-arrow-color": "#d97706", "line-style": "dashed", color: "#d97706" } },
  { selector: "node.critical", style: { "border-width": 3, "border-color": "#f59e0b" } },
  { selector: "edge.critical", style: { width: 3, "line-color": "#f59e0b", "target-arrow-color": "#f59e0b" } },
  { selector: "node.race", style: { "border-width": 3, "border-color": RACE_COLOR } },
  { selector: "edge.race", style: { width: 3, "line-color": RACE_COLOR, "target-arrow-shape": "none", "line-style": "dashed", color: RACE_COLOR } },
  { selector: ".path", style: { "border-width": 4, "border-color": "#2563eb", "line-color": "#2563eb", "target-arrow-color": "#2563eb", width: 4 } },
  { selector: "node:selected", style: { "border-width": 4, "border-color": "#2563eb", "overlay-opacity": 0.15 } },
];

interface Props {
  elements: GraphElement[];
  highlighted: string[];
  onNodeTap: (id: string) => void;
  testId?: string;
}

/** A Cytoscape canvas over `elements` (positions preset), with zoom and pan. */
export function CytoscapeView({ elements, highlighted, onNodeTap, testId }: Props) {
  const container = useRef<HTMLDivElement>(null);
  const core = useRef<Core>();
  const tap = useRef(onNodeTap);
  tap.current = onNodeTap;
  useEffect(() => {
    if (!container.current) return;
    const large = elements.length > 1500;
    const cy = cytoscape({
      container: container.current,
      elements,
      style: STYLE,
      layout: { name: "preset", fit: true, padding: 30 },
      minZoom: 0.02,
      maxZoom: 4,
      textureOnViewport: large,
      hideEdgesOnViewport: large,
      boxSelectionEnabled: false,
    });
    cy.on("tap", "node", (event) => tap.current(event.target.id()));
    // Fit the whole graph, but never blow a small one up past its natural size.
    const fit = () => {
      cy.resize();
      cy.fit(undefined, 30);
      if (cy.zoom() > 1.2) {
        cy.zoom(1.2);
        cy.center();
      }
    };
    fit();
    // The container narrows when the details panel opens: keep the graph in view.
    const resized = new ResizeObserver(fit);
    resized.observe(container.current);
    core.current = cy;
    // The instance on its element lets browser tests find where a node is drawn; `data-ready`
    // tells them (and the render benchmark) that the first frame is drawn.
    const element = container.current;
    Object.assign(element, { cy });
    cy.one("render", () => {
      element.dataset.readyAt = String(performance.now());
      element.dataset.ready = "true";
    });
    return () => {
      resized.disconnect();
      cy.destroy();
      core.current = undefined;
    };
  }, [elements]);
  useEffect(() => {
    const cy = core.current;
    if (!cy) return;
    cy.elements(".path").removeClass("path");
    if (highlighted.length === 0) return;
    const nodes = new Set(highlighted);
    cy.nodes().filter((n) => nodes.has(n.id())).addClass("path");
    for (let i = 1; i < highlighted.length; i++) {
      cy.edges(`[source = "${highlighted[i - 1]}"][target = "${highlighted[i]}"]`).addClass("path");
    }
  }, [highlighted, elements]);
  return <div ref={container} data-testid={testId} className="h-[600px] w-full rounded-lg border bg-card" />;
}
