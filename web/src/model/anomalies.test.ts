import { describe, expect, it } from "vitest";
import type { Anomaly } from "@/api/types";
import { anomalyCells } from "./anomalies";

const duration: Anomaly = {
  anomaly_kind: "duration", description: "FunctionCall transfer took 60.0 ms", transition: null,
  id: "a", trace_id: "t", event_id: "e", service: "bank", kind: "FunctionCall", location: "transfer",
  actual_ms: 60, expected_ms: 10, actual_ns: 60_000_000, expected_ns: 10_000_000, deviations: 33,
  severity: "critical", baseline_samples: 30, flagged_steps: 1, trace_start: "2024-01-01T00:00:00Z",
};

describe("anomaly cells", () => {
  it("show a slow step's durations and deviations", () => {
    const cells = anomalyCells(duration);
    expect(cells.what).toBe("FunctionCall transfer");
    expect(cells.deviations).toBe("33.0σ");
    expect(cells.observed).not.toBe("–");
  });

  it("name an unusual sequence's entry point and first improbable transition, without durations", () => {
    const cells = anomalyCells({
      ...duration, anomaly_kind: "unusual_sequence", location: "validate", actual_ms: 0, expected_ms: 0,
      deviations: 12.5, transition: { from: "FunctionCall:validate", to: "FunctionCall:credit", probability: 0.0042 },
    });
    expect(cells.what).toBe("unusual sequence from FunctionCall validate: FunctionCall:validate → FunctionCall:credit (p 0.004)");
    expect([cells.observed, cells.expected, cells.deviations]).toEqual(["–", "–", "12.5 MAD"]);
  });
});
