import { describe, expect, it } from "vitest";
import type { DependencyEdge } from "@/api/types";
import { dependencyElements } from "./dependencies";

const edge = (callee: string, unexpected?: boolean) => ({
  caller: "api", callee, kind: "http", calls: 2, errors: 0, p50_ms: 1, p95_ms: 2, p99_ms: 3, unexpected,
}) as DependencyEdge & { unexpected?: boolean };

describe("dependencies", () => {
  it("places each service once and marks unexpected edges", () => {
    const elements = dependencyElements([edge("bank", false), edge("fraud", true)]);
    expect(elements.filter((e) => e.group === "nodes").map((n) => n.data.label)).toEqual(["api", "bank", "fraud"]);
    const [known, unexpected] = elements.filter((e) => e.group === "edges");
    expect(known.classes).toBeUndefined();
    expect(known.data.label).toMatch(/^2 http/);
    expect(unexpected.classes).toBe("unexpected");
    expect(unexpected.data.label).toMatch(/^⚠ unexpected · 2 http/);
  });
});
