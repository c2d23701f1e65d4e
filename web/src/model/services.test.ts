import { describe, expect, it } from "vitest";
import type { ServiceHealth, ServiceRow } from "@/api/types";
import { degradingServices, formatRate, formatShift, noneDegradingText, trendBadge, withHealth } from "./services";

function health(service: string, trend: ServiceHealth["trend"], p50_shift: number | null): ServiceHealth {
  const window = { traces: 10, p50_ns: 1, p95_ns: 1, p99_ns: 1, mad_ns: 0, error_traces: 0, anomalous_traces: 0, error_rate: 0, anomaly_rate: 0 };
  const rules = { shift_deviations: 3, relative_floor: 0.1, absolute_floor_ns: 1e6, error_rate_margin: 0.05, min_recent_errors: 2, min_baseline_traces: 10, min_recent_traces: 5, min_tail_traces: 20 };
  return {
    service,
    window: "1h",
    from: "",
    to: "",
    history_from: "",
    recent: window,
    baseline: window,
    comparison: { scale_ns: 1, p50_shift, p95_shift: null, error_rate_change: 0 },
    trend,
    rules,
  };
}

describe("service health", () => {
  it("badges each trend, unknown ones as too few traces", () => {
    expect(trendBadge("degrading").variant).toBe("destructive");
    expect(trendBadge("stable").label).toBe("stable");
    expect(trendBadge("insufficient_data").label).toBe("too few traces");
  });

  it("formats rates and shifts", () => {
    expect(formatRate(1 / 3)).toBe("33.3 %");
    expect(formatRate(undefined)).toBe("–");
    expect(formatShift(4.24)).toBe("+4.2σ");
    expect(formatShift(-3)).toBe("-3.0σ");
    expect(formatShift(null)).toBe("–");
  });

  it("lists the degrading services, largest shift first, errors-only last", () => {
    const all = [health("a", "degrading", 3.5), health("b", "stable", 0), health("c", "degrading", null), health("d", "degrading", 9)];
    expect(degradingServices(all).map((h) => h.service)).toEqual(["d", "a", "c"]);
  });

  it("matches rows with their health by name", () => {
    const rows = [{ service: "a" }, { service: "z" }] as ServiceRow[];
    const matched = withHealth(rows, [health("a", "stable", 0)]);
    expect(matched[0].health?.service).toBe("a");
    expect(matched[1].health).toBeUndefined();
  });

  it("says how many services could not be judged", () => {
    expect(noneDegradingText([health("a", "stable", 0)])).toBe("No service is degrading.");
    expect(noneDegradingText([health("a", "stable", 0), health("b", "insufficient_data", null)])).toBe(
      "No service is degrading; 1 of 2 have too few traces to tell.",
    );
  });
});
