/**
 * The one module that talks to the query API. Every route the UI uses is a typed function here;
 * components never build URLs. Errors come back as `ApiError` with the server's JSON message, a
 * 401 also announces itself so the app can ask for an API key.
 */
import { announceUnauthorized, apiKey } from "./auth";
import type {
  AnomalyPage,
  AuditTrail,
  CausalGraph,
  CriticalPath,
  Dependencies,
  StateComparison,
  FindingPage,
  Hotspots,
  ServiceHealth,
  ServicesHealth,
  ServicesBody,
  Simulation,
  SimulationSpec,
  TraceAnomalies,
  TraceDependencies,
  TraceRaces,
  TraceDetail,
  TraceState,
  TraceSteps,
  TracePage,
  TraceTree,
  VariableList,
} from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>;

/** `path` with the defined, non-empty `query` values as parameters. */
export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

function headers(): HeadersInit {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** Sends one request; an error status becomes an `ApiError` with the server's message. */
async function send(path: string, query?: Query, body?: unknown): Promise<Response> {
  const init: RequestInit = { headers: headers() };
  if (body !== undefined) {
    init.method = "POST";
    init.headers = { ...init.headers, "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(withQuery(path, query), init);
  } catch (err) {
    throw new ApiError(0, `cannot reach the Raceway API (${String(err)})`);
  }
  if (response.status === 401) announceUnauthorized();
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const answer = (await response.json()) as { error?: string };
      if (answer.error) message = answer.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, message);
  }
  return response;
}

async function get<T>(path: string, query?: Query): Promise<T> {
  return (await (await send(path, query)).json()) as T;
}

async function post<T>(path: string, body: unknown, query?: Query): Promise<T> {
  return (await (await send(path, query, body)).json()) as T;
}

const trace = (id: string) => `/api/traces/${encodeURIComponent(id)}`;

export const api = {
  traces: (query: Query) => get<TracePage>("/api/traces", query),
  trace: (id: string) => get<TraceDetail>(trace(id)),
  traceRaces: (id: string) => get<TraceRaces>(`${trace(id)}/races`),
  traceGraph: (id: string) => get<CausalGraph>(`${trace(id)}/graph`),
  traceTree: (id: string) => get<TraceTree>(`${trace(id)}/tree`),
  traceCriticalPath: (id: string) => get<CriticalPath>(`${trace(id)}/critical-path`),
  traceDependencies: (id: string) => get<TraceDependencies>(`${trace(id)}/dependencies`),
  traceAnomalies: (id: string) => get<TraceAnomalies>(`${trace(id)}/anomalies`),
  simulate: (id: string, spec: SimulationSpec) => post<Simulation>(`${trace(id)}/simulate`, spec),
  simulateCsv: async (id: string, spec: SimulationSpec) =>
    (await send(`${trace(id)}/simulate`, { format: "csv" }, spec)).text(),
  traceSteps: (id: string) => get<TraceSteps>(`${trace(id)}/steps`),
  /** The state after `at`: a step index or an event id. */
  traceState: (id: string, at: number | string) => get<TraceState>(`${trace(id)}/state`, { at }),
  /** The variables that differ between two `TRACE_ID@STEP` points. */
  compareStates: (left: string, right: string) => get<StateComparison>("/api/state/compare", { left, right }),
  races: (query: Query) => get<FindingPage>("/api/races", query),
  anomalies: (query: Query) => get<AnomalyPage>("/api/anomalies", query),
  dependencies: (query: Query = {}) => get<Dependencies>("/api/dependencies", query),
  variables: (prefix: string) => get<VariableList>("/api/variables", { prefix }),
  variableAuditTrail: (name: string, query: Query = {}) =>
    get<AuditTrail>(`/api/variables/${encodeURIComponent(name)}/audit-trail`, query),
  /** The services of the last `window` (`1h`, `7d`, ...) with their counts. */
  services: (window: string) => get<ServicesBody>("/api/services", { window }),
  serviceHealth: (name: string, window: string) =>
    get<ServiceHealth>(`/api/services/${encodeURIComponent(name)}/health`, { window }),
  /** The services of the window and the health of each, in one request. */
  servicesWithHealth: (window: string) => get<ServicesHealth>("/api/services/health", { window }),
  hotspots: (window: string, limit = 10) => get<Hotspots>("/api/hotspots", { window, limit }),
};

/** The live stream's URL, with the API key as `token` when one is stored. */
export function liveUrl(query: Query): string {
  const base = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
  return base + withQuery("/ws/events/live", { ...query, token: apiKey() });
}
