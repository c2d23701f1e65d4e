/**
 * How an anomaly reads in a table row. A `duration` anomaly is a step (kind and location) with
 * its observed and expected durations and standard deviations; an `unusual_sequence` is the
 * entry point whose steps ran in an unusual order, the first improbable transition with its
 * probability, and the MADs below the entry point's usual score (it has no durations).
 */
import type { Anomaly } from "@/api/types";
import { formatMs } from "@/lib/format";

export interface AnomalyCells {
  /** What is unusual: the step, or the sequence's entry point and transition. */
  what: string;
  observed: string;
  expected: string;
  deviations: string;
}

export function anomalyCells(a: Anomaly): AnomalyCells {
  if (a.anomaly_kind === "unusual_sequence") {
    const t = a.transition;
    const transition = t ? `: ${t.from} → ${t.to} (p ${t.probability.toFixed(3)})` : "";
    return {
      what: `unusual sequence from ${a.kind} ${a.location}${transition}`,
      observed: "–",
      expected: "–",
      deviations: `${a.deviations.toFixed(1)} MAD`,
    };
  }
  return {
    what: `${a.kind} ${a.location}`,
    observed: formatMs(a.actual_ms),
    expected: formatMs(a.expected_ms),
    deviations: `${a.deviations.toFixed(1)}σ`,
  };
}
