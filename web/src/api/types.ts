/**
 * The API's answer shapes, named for the UI. Each one is the schema of the OpenAPI spec
 * (`web/openapi.json`, generated into `schema.d.ts`), so a change of the server's contract shows
 * up as a type error here rather than as a blank page.
 */
export type Clock = [string, number][];

export interface TraceRow {
  trace_id: string;
  event_count: number;
  services: string[];
  first_timestamp: string;
  last_timestamp: string;
  race_count: number;
  duration_ms?: number;
  anomaly_count?: number;
}

export interface TracePage {
  traces: TraceRow[];
  total: number;
  limit: number;
  offset: number;
}

export interface EventMetadata {
  thread_id: string;
  service_name: string;
  environment: string;
  duration_ns?: number | null;
  instance_id?: string | null;
  [key: string]: unknown;
}

export interface TraceEvent {
  id: string;
  trace_id: string;
  parent_id: string | null;
  timestamp: string;
  kind: Record<string, Record<string, unknown>> | string;
  metadata: EventMetadata;
  causality_vector: Clock;
  lock_set: string[];
  final_clock?: Clock;
}

export interface TraceDetail {
  trace_id: string;
  trusted_clocks: boolean;
  events: TraceEvent[];
}

export interface FindingEvent {
  event_id: string;
  trace_id: string;
  thread_id: string;
  service: string;
  instance: string;
  location: string;
  access_type: string;
  timestamp_ns: number;
  clock: Clock;
  old_value?: unknown;
  new_value?: unknown;
}

export interface Finding {
  id: string;
  kind: string;
  environment: string;
  variable: string;
  severity: string;
  count: number;
  explanation: string;
  first: FindingEvent;
  second: FindingEvent;
  detected_at_ns: number;
}

export interface FindingPage {
  races: Finding[];
  total: number;
  limit: number;
  offset: number;
}

export interface GraphNode {
  id: string;
  kind: string;
  service: string;
  thread: string;
  location: string;
  timestamp_ns: number;
  duration_ns?: number | null;
  clock: Clock;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: string;
}

export interface CausalGraph {
  trace_id: string;
  trusted_clocks: boolean;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface TreeNode {
  id: string;
  kind: string;
  service: string;
  location: string;
  thread: string;
  start: string;
  start_ns: number;
  duration_ns: number;
  self_time_ns: number;
  duration_measured: boolean;
  placeholder: boolean;
  error: boolean;
  hidden_children?: number;
  children: TreeNode[];
}

export interface TraceTree {
  trace_id: string;
  start_ns: number;
  end_ns: number;
  duration_ns: number;
  node_count: number;
  roots: TreeNode[];
}

export interface CriticalStep {
  event_id: string;
  kind: string;
  service: string;
  location: string;
  self_time_ms: number;
  duration_ms: number;
}

export interface CriticalPath {
  trace_id: string;
  path: CriticalStep[];
  total_duration_ms: number;
  trace_duration_ms: number;
  share_of_trace: number;
}

export interface DependencyEdge {
  caller: string;
  callee: string;
  kind: string;
  calls: number;
  errors: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}

export interface Dependencies {
  dependencies: DependencyEdge[];
}

export interface Anomaly {
  id: string;
  trace_id: string;
  event_id: string;
  service: string;
  kind: string;
  location: string;
  actual_ms: number;
  expected_ms: number;
  deviations: number;
  severity: string;
  trace_start?: string;
}

export interface TraceAnomalies {
  trace_id: string;
  duration_ms: number;
  event_count: number;
  anomalies: Anomaly[];
}

export interface AnomalyPage {
  anomalies: Anomaly[];
  total: number;
}

export interface AuditAccess {
  event_id: string;
  trace_id: string;
  timestamp: string;
  service: string;
  instance: string;
  thread_id: string;
  location: string;
  access_type: string;
  old_value?: unknown;
  new_value?: unknown;
  clock: Clock;
  causally_linked_to_previous: boolean;
  in_findings: boolean;
}

export interface AuditTrail {
  variable: string;
  accesses: AuditAccess[];
  truncated: boolean;
}

export interface VariableList {
  variables: { name: string; [key: string]: unknown }[];
}

/** One message of `/ws/events/live`: every message names its trace. */
export interface LiveMessage {
  type: "event" | "finding" | "trace_completed" | "lagged" | string;
  trace_id?: string;
  [key: string]: unknown;
}
