// Benchmark (not a test): time to first render of the graph and the timeline of a 10,000-event
// trace in headless Chromium, against `raceway up` on a temporary data dir (RACEWAY_BIN picks the
// binary: a release build measures what users get). Prints the median of RUNS page loads of:
// the whole load (navigation start to the drawn canvas, the API's answers included), the UI's
// own part (the last API answer it needs to the drawn canvas), and one timeline zoom's redraw.
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, chromiumPath, postEvents, startRaceway, waitFor } from "./server.mjs";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SERVICES = 4;
const THREADS_PER_SERVICE = 10;

/** A trace of EVENTS events: 40 actors calling functions and writing shared counters. */
function bigTrace(traceId) {
  const start = Date.parse("2024-01-01T12:00:00Z");
  const events = [];
  const clocks = new Map();
  for (let i = 0; i < EVENTS; i++) {
    const service = `svc-${i % SERVICES}`;
    const thread = `t-${Math.floor(i / SERVICES) % THREADS_PER_SERVICE}`;
    const actor = `${service}#${service}-1/${thread}`;
    const tick = (clocks.get(actor) ?? 0) + 1;
    clocks.set(actor, tick);
    const write = i % 3 === 0;
    events.push({
      id: crypto.randomUUID(),
      trace_id: traceId,
      parent_id: null,
      timestamp: new Date(start + i).toISOString(),
      kind: write
        ? { StateChange: { variable: `counter-${i % 7}`, old_value: i, new_value: i + 1, location: `work.rs:${i % 50}`, access_type: "Write" } }
        : { FunctionCall: { function_name: `step_${i % 20}`, module: "bench", args: {}, file: "work.rs", line: i % 50 } },
      metadata: { thread_id: thread, process_id: 1, service_name: service, environment: "bench", tags: {}, duration_ns: 200_000 + (i % 13) * 50_000 },
      causality_vector: [[actor, tick]],
      lock_set: [],
    });
  }
  return { events };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const raceway = await startRaceway();
const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
try {
  const traceId = crypto.randomUUID();
  await postEvents(raceway.url, bigTrace(traceId));
  await waitFor("the trace's graph", async () => {
    const r = await fetch(`${raceway.url}/api/traces/${traceId}/graph`);
    return r.ok && (await r.json()).nodes.length === EVENTS;
  }, 300_000);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const results = { graph: [], timeline: [], zoom: [], graphUi: [], timelineUi: [] };
  for (let run = 0; run < RUNS; run++) {
    for (const tab of ["graph", "timeline"]) {
      const started = Date.now();
      await page.goto(`${raceway.url}/traces/${traceId}/${tab}`);
      await page.locator(`[data-testid="${tab}"][data-ready="true"]`).waitFor({ timeout: 120_000 });
      // One frame after the draw call: the canvas is on screen.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
      results[tab].push(Date.now() - started);
      // The UI's part: from the last answer it waited for to the canvas being drawn.
      results[`${tab}Ui`].push(await page.evaluate((tab) => {
        const needed = tab === "graph" ? ["/graph", "/races", "/critical-path"] : ["/graph", "/races"];
        const answered = performance.getEntriesByType("resource")
          .filter((e) => needed.some((n) => e.name.endsWith(n)))
          .map((e) => e.responseEnd);
        const drawn = Number(document.querySelector(`[data-testid="${tab}"]`).dataset.readyAt);
        return Math.round(drawn - Math.max(...answered));
      }, tab));
    }
    const range = page.getByTestId("timeline-range");
    const before = await range.innerText();
    const started = Date.now();
    await page.getByTestId("timeline-zoom-in").click();
    await waitFor("the zoom", async () => (await range.innerText()) !== before);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
    results.zoom.push(Date.now() - started);
  }
  console.log(`${EVENTS}-event trace, median of ${RUNS} page loads (navigation to drawn canvas, API answer included):`);
  console.log(`  graph (collapsed by actor): ${median(results.graph)} ms  [${results.graph.join(", ")}]; UI part ${median(results.graphUi)} ms`);
  console.log(`  timeline (every event):     ${median(results.timeline)} ms  [${results.timeline.join(", ")}]; UI part ${median(results.timelineUi)} ms`);
  console.log(`  timeline zoom redraw:       ${median(results.zoom)} ms  [${results.zoom.join(", ")}]`);
} finally {
  await browser.close();
  await raceway.stop();
}
