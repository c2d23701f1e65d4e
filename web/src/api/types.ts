/**
 * The API's answer shapes, named for the UI: each is a schema of the OpenAPI spec
 * (`web/openapi.json`, generated into `schema.d.ts` by `npm run gen:api`), so a change of the
 * server's contract shows up as a type error here rather than as a blank page.
 */
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Clock = [string, number][];
export type TraceRow = Schemas["TraceRow"] & Partial<TraceRowExtras>;
export type TracePage = Omit<Schemas["TracesPage"], "traces"> & { traces: TraceRow[] };
export type TraceEvent = Schemas["TraceEvent"];
export type TraceDetail = Schemas["TraceEvents"];
export type Finding = Schemas["RaceFinding"];
export type FindingEvent = Schemas["FindingEvent"] & { old_value?: unknown; new_value?: unknown };
export type FindingPage = Schemas["RacesPage"];
export type TraceRaces = Schemas["TraceRaces"];
export type GraphNode = Schemas["GraphNode"];
export type CausalGraph = Schemas["CausalGraph"];
export type TreeNode = Schemas["TreeNodeBody"];
export type TraceTree = Schemas["TreeBody"];
export type CriticalPath = Schemas["CriticalPathBody"];
export type DependencyEdge = Schemas["DependencyRow"];
export type Dependencies = Schemas["DependenciesBody"];
export type TraceDependencies = Schemas["TraceDependencies"];
export type Anomaly = Schemas["AnomalyRow"];
export type TraceAnomalies = Schemas["TraceAnomalies"];
export type AnomalyPage = Schemas["AnomaliesPage"];
export type AuditAccess = Schemas["AccessRow"];
export type AuditTrail = Schemas["VariableAuditTrail"];
export type TraceSteps = Schemas["TraceSteps"];
export type StepRow = Schemas["StepRow"];
export type TraceState = Schemas["TraceStateBody"];
export type VariableAtStep = Schemas["VariableRow"];
export type ThreadAtStep = Schemas["ThreadRow"];
export type StateComparison = Schemas["StateComparison"];

/** Trace row fields the list shows when the server sends them. */
interface TraceRowExtras {
  duration_ms: number;
  anomaly_count: number;
}

/** `GET /api/variables?prefix=`: variable names. */
export interface VariableList {
  variables: { name: string; [key: string]: unknown }[];
}

/** One message of `/ws/events/live`: every message names its trace. */
export interface LiveMessage {
  type: "event" | "finding" | "trace_completed" | "lagged" | string;
  trace_id?: string;
  [key: string]: unknown;
}
