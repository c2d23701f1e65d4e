/**
 * The API's answer shapes, named for the UI: each is a schema of the OpenAPI spec
 * (`web/openapi.json`, generated into `schema.d.ts` by `npm run gen:api`), so a change of the
 * server's contract shows up as a type error here rather than as a blank page.
 */
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Clock = [string, number][];
export type TraceRow = Schemas["TraceRow"];
export type TracePage = Schemas["TracesPage"];
export type TraceEvent = Schemas["TraceEvent"];
export type WireEvent = Schemas["WireEvent"];
export type TraceDetail = Schemas["TraceEvents"];
export type Finding = Schemas["RaceFinding"];
export type FindingEvent = Schemas["FindingEvent"];
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
export type Simulation = Schemas["Simulation"];
export type SimulationSpec = Schemas["SimulationSpec"];
export type EventComparison = Schemas["EventComparison"];
export type Suggestion = Schemas["Suggestion"];
export type VariableList = Schemas["VariableList"];
/** One message of `/ws/events/live`: every message names its trace, but `lagged`. */
export type LiveMessage = Schemas["LiveMessage"];
export type TraceSteps = Schemas["TraceSteps"];
export type StepRow = Schemas["StepRow"];
export type TraceState = Schemas["TraceStateBody"];
export type VariableAtStep = Schemas["VariableRow"];
export type ThreadAtStep = Schemas["ThreadRow"];
export type StateComparison = Schemas["StateComparison"];
export type ServiceRow = Schemas["ServiceRow"];
export type ServicesBody = Schemas["ServicesBody"];
export type ServiceHealth = Schemas["ServiceHealthBody"];
export type ServicesHealth = Schemas["ServicesHealthBody"];
export type WindowFigures = Schemas["WindowFigures"];
export type Hotspots = Schemas["HotspotsBody"];
export type VariableHotspot = Schemas["VariableHotspot"];
export type LocationHotspot = Schemas["LocationHotspot"];
