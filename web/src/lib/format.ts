/** Display formats shared by the pages. */

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 1) return `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

export function formatNs(ns: number | null | undefined): string {
  return ns === null || ns === undefined ? "–" : formatMs(ns / 1e6);
}

export function formatTime(iso: string | number): string {
  const date = typeof iso === "number" ? new Date(iso / 1e6) : new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toISOString().replace("T", " ").replace("Z", "");
}

export function formatValue(value: unknown): string {
  if (value === undefined) return "–";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A vector clock as `actor:counter, ...`; a component's leading trace id is left out. */
export function formatClock(clock: [string, number][] | undefined): string {
  return (clock ?? []).map(([actor, n]) => `${actor.replace(/^[0-9a-f-]{36}\//, "")}:${n}`).join(", ");
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** `n noun`, with the noun's plural (by default an added `s`) unless `n` is 1: `1 call`, `3 calls`. */
export function formatCount(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
