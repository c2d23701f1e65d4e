// End-to-end tests of the web UI in a real Chromium against `raceway up` (embedded default) loaded
// with the fixture and the banking demo. Screenshots of every page go to test-artifacts/ui/.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, chromiumPath, FIXTURE_TRACE, postEvents, ROOT, runDemo, startRaceway, waitFor } from "./server.mjs";

const SHOTS = join(ROOT, "test-artifacts/ui");
mkdirSync(SHOTS, { recursive: true });

let raceway;
let browser;
let page;
let demoTrace;

async function shot(name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function open(path) {
  await page.goto(raceway.url + path);
}

function liveEvent(traceId, variable) {
  return {
    events: [{
      id: crypto.randomUUID(), trace_id: traceId, parent_id: null, timestamp: new Date().toISOString(),
      kind: { StateChange: { variable, old_value: 1, new_value: 2, location: "live.rs:1", access_type: "Write" } },
      metadata: { thread_id: "live-thread", process_id: 1, service_name: "live-svc", environment: "test", tags: {}, duration_ns: 1000 },
      causality_vector: [], lock_set: [],
    }],
  };
}

before(async () => {
  raceway = await startRaceway();
  await postEvents(raceway.url, readFileSync(join(ROOT, "tests/fixtures/raceway-events-example.json"), "utf8"));
  await waitFor("the fixture's race", async () => {
    const r = await fetch(`${raceway.url}/api/traces/${FIXTURE_TRACE}/races`);
    return r.ok && (await r.json()).races.length > 0;
  });
  await runDemo(raceway.url);
  const { traces } = await (await fetch(`${raceway.url}/api/traces?service=bank-api&limit=1`)).json();
  demoTrace = traces[0]?.trace_id;
  browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: "light" });
  page = await context.newPage();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await raceway?.stop();
});

describe("web UI", () => {
  it("lists the traces with race badges", { timeout: 60_000 }, async () => {
    await open("/");
    const row = page.getByTestId("trace-row").filter({ hasText: FIXTURE_TRACE });
    await row.waitFor();
    assert.match(await row.innerText(), /1 race/);
    assert.ok(demoTrace, "the demo stored a trace of its api service");
    await shot("traces");
  });

  it("filters, sorts and badges the traces on the server's answer", { timeout: 60_000 }, async () => {
    await open("/");
    await page.getByTestId("trace-row").first().waitFor();
    // Every row's duration and anomaly badge are the API's duration_ms and anomaly_count.
    const { traces } = await (await fetch(`${raceway.url}/api/traces?limit=25`)).json();
    const rows = await page.getByTestId("trace-row").allInnerTexts();
    assert.equal(rows.length, traces.length);
    traces.forEach((t, i) => {
      assert.ok(rows[i].includes(t.trace_id), `row ${i} is ${t.trace_id}`);
      const ms = t.duration_ms;
      const shown = ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(ms >= 100 ? 0 : 1)} ms` : `${(ms * 1000).toFixed(0)} µs`;
      assert.ok(rows[i].includes(shown), `row ${i} shows ${shown}: ${rows[i]}`);
      assert.equal(/anomal(y|ies)/.test(rows[i]), t.anomaly_count > 0, `anomaly badge of row ${i}`);
    });
    assert.match(rows.find((r) => r.includes(FIXTURE_TRACE)), /17\.0 ms/, "the fixture's 17 ms, as on its page (its measured root call)");

    const idFilter = page.getByRole("textbox", { name: "Trace id" });
    await idFilter.fill(FIXTURE_TRACE.slice(0, 8).toUpperCase());
    await idFilter.press("Enter");
    await page.waitForURL(/trace_id=AAAAAAAA/);
    await waitFor("one row", async () => (await page.getByTestId("trace-row").count()) === 1 && (await page.getByTestId("trace-paging").innerText()).endsWith("of 1"));
    assert.ok((await page.getByTestId("trace-row").innerText()).includes(FIXTURE_TRACE));
    await shot("traces-by-id");

    await open("/?sort=races");
    await page.getByTestId("trace-row").first().waitFor();
    const raceCounts = (await page.getByTestId("trace-row").allInnerTexts()).map((r) => Number(/(\d+) races?/.exec(r)?.[1] ?? 0));
    assert.ok(raceCounts[0] >= 1, "a racy trace first");
    assert.deepEqual(raceCounts, [...raceCounts].sort((a, b) => b - a), "most races first");
    const { traces: racy } = await (await fetch(`${raceway.url}/api/traces?sort=races&limit=25`)).json();
    const fixtureAt = racy.findIndex((t) => t.trace_id === FIXTURE_TRACE);
    assert.ok(fixtureAt >= 0 && racy.slice(0, fixtureAt).every((t) => t.race_count >= 1), "the fixture's racy trace before every race-free one");
    assert.ok((await page.getByTestId("trace-row").nth(fixtureAt).innerText()).includes(FIXTURE_TRACE));
    await open("/?environment=nowhere");
    await page.getByText("No traces match").waitFor();
  });

  it("shows the fixture's race on the trace overview, and both locations on click", { timeout: 60_000 }, async () => {
    await open(`/traces/${FIXTURE_TRACE}`);
    await page.getByTestId("trace-summary").waitFor();
    await page.getByTestId("critical-path").waitFor();
    const text = await page.locator("main").innerText();
    for (const word of ["balance", "worker-1", "worker-2"]) assert.ok(text.includes(word), `overview shows ${word}`);
    await shot("trace-overview");
    await page.getByTestId("overview-race").first().click();
    await page.waitForURL(/\/races$/);
    const locations = await page.getByTestId("finding-location").allInnerTexts();
    assert.deepEqual(locations.sort(), ["balance.rs:12", "balance.rs:45"]);
    // worker-1 wrote 10 -> 15, worker-2 15 -> 20.
    const values = await page.getByTestId("finding-value").allInnerTexts();
    assert.deepEqual(values.sort(), ["10 → 15", "15 → 20"]);
    await shot("trace-races");
  });

  it("opens a graph node's details, with its vector clock", { timeout: 60_000 }, async () => {
    await open(`/traces/${FIXTURE_TRACE}/graph`);
    const graph = page.getByTestId("graph");
    await page.locator('[data-testid="graph"][data-ready="true"]').waitFor();
    const box = await graph.boundingBox();
    const position = await graph.evaluate((el) => {
      const node = el.cy.nodes().filter((n) => n.hasClass("race"))[0];
      return node.renderedPosition();
    });
    await page.mouse.click(box.x + position.x, box.y + position.y);
    const details = page.getByTestId("event-details");
    await details.waitFor();
    assert.match(await details.innerText(), /balance\.rs:(12|45)/);
    assert.match(await page.getByTestId("event-clock").innerText(), /^web#web-1\/worker-\d:1/);
    await shot("trace-graph");
  });

  it("zooms the timeline", { timeout: 60_000 }, async () => {
    await open(`/traces/${FIXTURE_TRACE}/timeline`);
    const range = page.getByTestId("timeline-range");
    await range.waitFor();
    const before = await range.innerText();
    await page.getByTestId("timeline-zoom-in").click();
    await waitFor("the range to change", async () => (await range.innerText()) !== before, 10_000);
    const canvas = await page.getByTestId("timeline").boundingBox();
    const zoomed = await range.innerText();
    await page.mouse.move(canvas.x + canvas.width / 2, canvas.y + 40);
    await page.mouse.wheel(0, -300);
    await waitFor("the wheel to zoom", async () => (await range.innerText()) !== zoomed, 10_000);
    await shot("trace-timeline");
  });

  it("renders the tree, locks, anomalies and dependencies tabs", { timeout: 60_000 }, async () => {
    await open(`/traces/${FIXTURE_TRACE}/tree`);
    await page.getByTestId("tree-row").first().waitFor();
    await page.getByRole("button", { name: "Expand all" }).click();
    assert.ok((await page.getByTestId("tree-row").count()) >= 3);
    await shot("trace-tree");
    for (const tab of ["locks", "anomalies", "dependencies"]) {
      await open(`/traces/${demoTrace}/${tab}`);
      await page.getByRole("tab", { name: new RegExp(tab, "i"), selected: true }).waitFor();
      await page.locator('[role="tabpanel"] :is([data-testid], [role="status"])').first().waitFor();
      await shot(`trace-${tab}`);
    }
    await open(`/traces/${demoTrace}/dependencies`);
    await page.getByTestId("dependency-table").waitFor();
    assert.match(await page.getByTestId("dependency-table").innerText(), /ledger/);
    // Unexpected edges (never seen before the trace) are flagged as the API says.
    const deps = await (await fetch(`${raceway.url}/api/traces/${demoTrace}/dependencies`)).json();
    const unexpected = deps.dependencies.filter((e) => e.unexpected).length;
    assert.equal(await page.getByTestId("unexpected-edge").count(), unexpected);
  });

  it("travels through the fixture trace step by step, keeping the step over a reload", { timeout: 60_000 }, async () => {
    const api = async (path) => (await fetch(`${raceway.url}/api/traces/${FIXTURE_TRACE}/${path}`)).json();
    const { steps } = await api("steps");
    const racing = steps.findIndex((s) => s.event_id === "dddddddd-dddd-4ddd-dddd-dddddddddddd");
    assert.ok(racing > 0, "the second write is a step after the first");
    const balanceRow = page.locator('[data-testid="tt-variable"][data-variable="balance"]');
    // The page shows a step's state once `data-step` names it (the previous one stays while loading).
    const balanceAt = async (step) => {
      await page.locator(`[data-testid="tt-state"][data-step="${step}"]`).waitFor();
      return balanceRow.getByTestId("tt-value").innerText();
    };
    const apiBalance = async (step) => String((await api(`state?at=${step}`)).variables.balance.value);

    await open(`/traces/${FIXTURE_TRACE}/time-travel?step=${racing - 1}`);
    const before = await balanceAt(racing - 1);
    assert.equal(before, await apiBalance(racing - 1));
    await page.keyboard.press("ArrowRight");
    await page.waitForURL(new RegExp(`step=${racing}$`));
    const after = await balanceAt(racing);
    assert.equal(after, await apiBalance(racing));
    assert.notEqual(after, before, "stepping over the write changes balance");
    assert.equal(await balanceRow.getAttribute("data-changed"), "true", "the write of this step is highlighted");
    assert.match(await balanceRow.innerText(), /worker-2/);
    const race = page.getByTestId("tt-race");
    assert.match(await race.innerText(), /balance[\s\S]*worker-1[\s\S]*worker-2/);

    await page.reload();
    assert.equal(await balanceAt(racing), after, "the step survives a reload");
    assert.match(await page.getByTestId("step-position").innerText(), new RegExp(`Step ${racing} of`));
    await shot("trace-time-travel");

    // Compare with the step before: balance differs, the API's values on each side.
    await page.getByLabel("Other step").fill(String(racing - 1));
    await page.getByTestId("compare-go").click();
    const difference = page.getByTestId("compare-difference").filter({ hasText: "balance" });
    await difference.waitFor();
    assert.match(await difference.innerText(), new RegExp(`balance\\s+${after}[\\s\\S]*${before}`));
    await shot("trace-time-travel-compare");

    await page.getByTestId("step-prev").click();
    assert.equal(await balanceAt(racing - 1), before);
    await page.getByTestId("tt-no-races").or(page.getByTestId("tt-race")).first().waitFor();

    // An event id in the URL (the graph's "Time travel to this event") opens its step.
    await open(`/traces/${FIXTURE_TRACE}/time-travel?event=${steps[racing].event_id}`);
    await page.waitForURL(new RegExp(`step=${racing}$`));
    assert.equal(await balanceAt(racing), after);
    await race.getByRole("link", { name: "see in Races" }).click();
    await page.waitForURL(/\/races$/);
    await page.getByTestId("finding-location").first().waitFor();
  });

  it("simulates a slower service on the demo trace", { timeout: 60_000 }, async () => {
    const deps = await (await fetch(`${raceway.url}/api/traces/${demoTrace}/dependencies`)).json();
    const callee = deps.dependencies[0]?.callee;
    assert.ok(callee, "the demo's api calls another service");
    const spec = { delays: [{ service: callee, ms: 500 }] };
    const expected = await (await fetch(`${raceway.url}/api/traces/${demoTrace}/simulate`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(spec),
    })).json();
    assert.ok(expected.critical_path.delta_ms > 0, "a slower callee lengthens the demo's path");
    await open(`/traces/${demoTrace}/simulate`);
    await page.getByTestId("simulate-form").waitFor();
    await page.getByRole("button", { name: "Simulate" }).click();
    assert.match(await page.getByRole("alert").innerText(), /Set a delay or a failure/);
    await page.getByLabel(`delay of ${callee} (ms)`).fill("500");
    await page.getByRole("button", { name: "Simulate" }).click();
    const path = page.getByTestId("simulation-path");
    await path.waitFor();
    const { before_ms, after_ms, delta_ms } = expected.critical_path;
    assert.equal(await path.innerText(), `${before_ms.toFixed(1)} ms → ${after_ms.toFixed(1)} ms (+${delta_ms.toFixed(1)} ms)`);
    assert.ok((await page.getByTestId("simulation-moved").locator("tbody tr").count()) > 0, "the moved steps are listed");
    await shot("trace-simulate");
  });

  it("groups all races by variable", { timeout: 60_000 }, async () => {
    await open("/races");
    const group = page.getByTestId("race-group").filter({ hasText: "balance" });
    await group.first().waitFor();
    assert.ok((await page.getByTestId("race-group").count()) >= 2, "the fixture's and the demo's variables");
    await shot("races");
  });

  it("shows a variable's audit trail with the race marker", { timeout: 60_000 }, async () => {
    await open("/variables/balance");
    await page.getByTestId("audit-trail").waitFor();
    await page.getByTestId("no-causal-link").first().waitFor();
    await shot("variable");
  });

  it("searches variables by prefix on the server", { timeout: 60_000 }, async () => {
    await open("/variables");
    const search = page.getByRole("textbox", { name: "Variable prefix" });
    await page.getByTestId("variable-list").waitFor();
    await search.fill("bal");
    const list = page.getByTestId("variable-list");
    await waitFor("only names starting with bal", async () => {
      const names = await list.getByTestId("variable-name").allInnerTexts();
      return names.length > 0 && names.every((n) => n.startsWith("bal")) && names.includes("balance");
    });
    const { variables } = await (await fetch(`${raceway.url}/api/variables?prefix=bal`)).json();
    const balance = variables.find((v) => v.name === "balance");
    const item = list.locator("button").filter({ has: page.getByTestId("variable-name").getByText("balance", { exact: true }) });
    assert.equal(await item.getByTestId("variable-accesses").innerText(), String(balance.access_count));
    await search.fill("no-such-variable");
    await page.getByText("No variable starts with that.").waitFor();
    await shot("variable-search");
  });

  it("shows the services graph and the dashboard", { timeout: 60_000 }, async () => {
    await open("/services");
    await page.getByTestId("dependency-table").waitFor();
    assert.match(await page.getByTestId("dependency-table").innerText(), /bank-api[\s\S]*bank-ledger/);
    // Every service row shows the API's counts and health for the default window (1h).
    await page.getByTestId("service-row").first().waitFor();
    const { services } = await (await fetch(`${raceway.url}/api/services?window=1h`)).json();
    assert.ok(services.some((s) => s.service === "bank-api"), "the demo's services are in the last hour");
    assert.equal(await page.getByTestId("service-row").count(), services.length);
    const ms = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : v >= 1 ? `${v.toFixed(v >= 100 ? 0 : 1)} ms` : `${(v * 1000).toFixed(0)} µs`);
    for (const s of services) {
      const health = await (await fetch(`${raceway.url}/api/services/${encodeURIComponent(s.service)}/health?window=1h`)).json();
      const row = page.locator(`[data-testid="service-row"][data-service="${s.service}"]`);
      const cell = (id) => row.getByTestId(id).innerText();
      assert.equal(await cell("traces"), String(s.trace_count), `${s.service} traces`);
      assert.equal(await cell("events"), String(s.event_count), `${s.service} events`);
      assert.equal(await cell("findings"), String(s.race_count), `${s.service} findings`);
      assert.equal(await cell("anomalies"), String(s.anomaly_count), `${s.service} anomalies`);
      assert.equal(await cell("p50"), ms(health.recent.p50_ns / 1e6), `${s.service} p50`);
      assert.equal(await cell("p95"), ms(health.recent.p95_ns / 1e6), `${s.service} p95`);
      assert.equal(await cell("p99"), ms(health.recent.p99_ns / 1e6), `${s.service} p99`);
      assert.equal(await cell("error-rate"), `${(health.recent.error_rate * 100).toFixed(1)} %`, `${s.service} errors`);
      const trend = { degrading: "degrading", improving: "improving", stable: "stable" }[health.trend] ?? "too few traces";
      assert.equal(await cell("trend"), trend, `${s.service} trend`);
    }
    await shot("services");
    await page.getByTestId("window").selectOption("15m");
    await page.getByText("Health over the last 15m").waitFor();
    await open("/dashboard");
    // The hotspots are the API's, in its order.
    const hot = await (await fetch(`${raceway.url}/api/hotspots?window=1h&limit=10`)).json();
    assert.ok(hot.variables.length > 0, "the demo's lost update is a hotspot");
    const variables = page.getByTestId("hotspot-variables");
    await variables.waitFor();
    const rows = await variables.locator("tbody tr").allInnerTexts();
    assert.deepEqual(rows.map((r) => r.split("\t").map((c) => c.trim())), hot.variables.map((v) => [v.variable, String(v.findings), String(v.data_races), String(v.lost_updates), String(v.lock_order_inversions)]));
    const locations = await page.getByTestId("hotspot-locations").locator("tbody tr").allInnerTexts();
    assert.deepEqual(locations.map((r) => r.split("\t").map((c) => c.trim())), hot.locations.map((l) => [l.service, l.location, String(l.findings), String(l.anomalies)]));
    // The chart's bars count every finding the API lists, each bar says when it is, and the axis
    // is labelled.
    const listed = await (await fetch(`${raceway.url}/api/races?limit=1000`)).json();
    const titles = await page.getByTestId("over-time").locator("[title]").evaluateAll((bars) => bars.map((b) => b.getAttribute("title")));
    assert.ok(titles.every((t) => / UTC: \d+ findings?, \d+ anomal(y|ies)$/.test(t)), titles.join("\n"));
    const charted = titles.reduce((sum, t) => sum + Number(/UTC: (\d+) finding/.exec(t)[1]), 0);
    assert.equal(charted, listed.races.length, "every listed finding is in one bar");
    const axis = await page.getByTestId("over-time-axis").innerText();
    assert.match(axis, /\d\d:\d\d.*UTC/s);
    await shot("dashboard");
  });

  it("keeps the dark-mode choice over a reload", { timeout: 60_000 }, async () => {
    await open("/");
    const isDark = () => page.evaluate(() => document.documentElement.classList.contains("dark"));
    assert.equal(await isDark(), false, "follows the light system preference at first");
    await page.getByTestId("theme-toggle").click();
    assert.equal(await isDark(), true);
    await page.reload();
    await page.getByTestId("theme-toggle").waitFor();
    assert.equal(await isDark(), true, "dark after reload");
    await open(`/traces/${FIXTURE_TRACE}`);
    await page.getByTestId("trace-summary").waitFor();
    await shot("trace-overview-dark");
    await page.getByTestId("theme-toggle").click();
    await page.reload();
    assert.equal(await isDark(), false);
  });

  it("shows live events, and none while paused", { timeout: 60_000 }, async () => {
    await open("/live");
    await page.locator('[data-testid="live-status"]', { hasText: "connected" }).waitFor();
    const first = crypto.randomUUID();
    await postEvents(raceway.url, liveEvent(first, "live_a"));
    await page.getByTestId("live-item").filter({ hasText: first.slice(0, 8) }).first().waitFor();
    await shot("live");
    await page.getByTestId("live-pause").click();
    await page.getByTestId("live-paused").waitFor();
    const whilePaused = crypto.randomUUID();
    await postEvents(raceway.url, liveEvent(whilePaused, "live_b"));
    await page.getByTestId("live-paused").filter({ hasText: /Paused: [1-9]/ }).waitFor();
    await page.getByTestId("live-pause").click();
    const afterResume = crypto.randomUUID();
    await postEvents(raceway.url, liveEvent(afterResume, "live_c"));
    await page.getByTestId("live-item").filter({ hasText: afterResume.slice(0, 8) }).first().waitFor();
    assert.equal(await page.getByTestId("live-item").filter({ hasText: whilePaused.slice(0, 8) }).count(), 0);
  });

  it("shows a message for unknown traces and pages, never a blank page", { timeout: 60_000 }, async () => {
    await open("/traces/00000000-0000-4000-8000-000000000000");
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /404/);
    await open("/no/such/page");
    await page.getByText("No such page.").waitFor();
    await shot("not-found");
  });
});

describe("web UI against a server with API keys", () => {
  const READ_KEY = "e2e-read-key";
  const WRITE_KEY = "e2e-write-key";
  let secured;
  before(async () => {
    secured = await startRaceway(["--api-key", `reader:read:${READ_KEY}`, "--api-key", `writer:ingest:${WRITE_KEY}`]);
    await postEvents(secured.url, readFileSync(join(ROOT, "tests/fixtures/raceway-events-example.json"), "utf8"), WRITE_KEY);
    await waitFor("the fixture's race", async () => {
      const r = await fetch(`${secured.url}/api/traces/${FIXTURE_TRACE}/races`, { headers: { authorization: `Bearer ${READ_KEY}` } });
      return r.ok && (await r.json()).races.length > 0;
    });
  }, { timeout: 120_000 });
  after(async () => {
    await secured?.stop();
  });

  it("asks for a key on 401, then shows the traces and the live stream with the read key", { timeout: 90_000 }, async () => {
    // A fresh context: no key stored yet.
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: "light" });
    const keyed = await context.newPage();
    try {
      await keyed.goto(`${secured.url}/`);
      const dialog = keyed.getByRole("dialog");
      await dialog.waitFor();
      assert.match(await dialog.innerText(), /API key required/);
      await keyed.screenshot({ path: join(SHOTS, "api-key-dialog.png"), fullPage: true });
      await keyed.getByRole("textbox", { name: "API key" }).fill(READ_KEY);
      await keyed.getByRole("button", { name: "Save" }).click();
      const row = keyed.getByTestId("trace-row").filter({ hasText: FIXTURE_TRACE });
      await row.waitFor();
      assert.match(await row.innerText(), /1 race/);
      assert.equal(await keyed.getByRole("dialog").count(), 0, "no dialog once the key is stored");
      await keyed.screenshot({ path: join(SHOTS, "traces-with-api-key.png"), fullPage: true });
      // The live stream takes the stored key as its `token` parameter.
      await keyed.goto(`${secured.url}/live`);
      await keyed.locator('[data-testid="live-status"]', { hasText: "connected" }).waitFor();
      const traceId = crypto.randomUUID();
      await postEvents(secured.url, liveEvent(traceId, "keyed"), WRITE_KEY);
      await keyed.getByTestId("live-item").filter({ hasText: traceId.slice(0, 8) }).first().waitFor();
    } finally {
      await context.close();
    }
  });
});
