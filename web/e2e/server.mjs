// Starts `raceway up` on a temporary data dir and a free port, and helpers to wait on it.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
export const FIXTURE_TRACE = "aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa";

export function racewayBinary() {
  const bin = process.env.RACEWAY_BIN ?? join(ROOT, "target/debug/raceway");
  if (!existsSync(bin)) throw new Error(`no raceway binary at ${bin}: run cargo build first (or set RACEWAY_BIN)`);
  return bin;
}

export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run",
];

export function chromiumPath() {
  return process.env.CHROMIUM ?? "/usr/bin/chromium";
}

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on("error", fail);
  });
}

/** Polls `check` (an async function returning a value or undefined) until it answers. */
export async function waitFor(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** `raceway up` with `args` added (e.g. `--api-key`). */
export async function startRaceway(args = []) {
  const dataDir = mkdtempSync(join(tmpdir(), "raceway-ui-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(racewayBinary(), ["up", "--data-dir", dataDir, "--http-addr", `127.0.0.1:${port}`, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, RUST_LOG: "warn" },
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((r) => child.on("exit", r));
  try {
    await waitFor("raceway up to answer /health", async () => {
      if (child.exitCode !== null) throw new Error(`raceway exited: ${stderr}`);
      return (await fetch(`${url}/health`)).ok;
    });
  } catch (err) {
    child.kill();
    throw err;
  }
  return {
    url,
    dataDir,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** POSTs `body` to `/events`, with `key` as a bearer credential when given. */
export async function postEvents(url, body, key) {
  const response = await fetch(`${url}/events`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST /events: ${response.status} ${await response.text()}`);
}

/** Runs `raceway demo` against the instance and waits for it to finish. */
export function runDemo(url) {
  return new Promise((ok, fail) => {
    const child = spawn(racewayBinary(), ["demo", "--url", url], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => (code === 0 ? ok(out) : fail(new Error(`raceway demo failed (${code}): ${out.slice(-2000)}`))));
  });
}
