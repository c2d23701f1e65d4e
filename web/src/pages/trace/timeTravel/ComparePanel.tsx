import { useState } from "react";
import { api } from "@/api/client";
import { Loaded } from "@/components/Message";
import { Button } from "@/components/ui/button";
import { Section } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { useApi } from "@/hooks/useApi";
import { comparePoint, differenceViews } from "@/model/timeTravel";

interface Props {
  traceId: string;
  step: number;
}

/**
 * Compares this step with a second point (this trace or another, at a step or an event) through
 * `/api/state/compare`: the variables whose values differ.
 */
export function ComparePanel({ traceId, step }: Props) {
  const [otherTrace, setOtherTrace] = useState(traceId);
  const [otherStep, setOtherStep] = useState("0");
  const [right, setRight] = useState<string>();
  const left = comparePoint(traceId, step);
  return (
    <Section title="Compare with another point">
      <form
        className="flex flex-wrap items-center gap-2 text-sm"
        onSubmit={(e) => {
          e.preventDefault();
          setRight(comparePoint(otherTrace || traceId, otherStep || "0"));
        }}
        data-testid="compare-form"
      >
        <span className="mono text-xs">{left}</span>
        <span>with trace</span>
        <Input className="mono h-8 w-80 text-xs" value={otherTrace} onChange={(e) => setOtherTrace(e.target.value)} aria-label="Other trace id" />
        <span>at step or event</span>
        <Input className="mono h-8 w-40 text-xs" value={otherStep} onChange={(e) => setOtherStep(e.target.value)} aria-label="Other step" />
        <Button size="sm" type="submit" data-testid="compare-go">Compare</Button>
      </form>
      {right && <Differences left={left} right={right} />}
    </Section>
  );
}

function Differences({ left, right }: { left: string; right: string }) {
  const state = useApi(() => api.compareStates(left, right), `${left}|${right}`);
  return (
    <div className="mt-3">
      <Loaded state={state} empty={(c) => c.differences.length === 0} emptyText="Every variable has the same value at both points.">
        {(c) => (
          <Table data-testid="compare-differences">
            <thead>
              <tr className="border-b">
                <Th>Variable</Th>
                <Th>Step {c.left.step} of {c.left.trace_id.slice(0, 8)}</Th>
                <Th>Step {c.right.step} of {c.right.trace_id.slice(0, 8)}</Th>
              </tr>
            </thead>
            <tbody>
              {differenceViews(c).map((d) => (
                <Tr key={d.variable} data-testid="compare-difference">
                  <Td className="mono">{d.variable}</Td>
                  <Td className="mono">{d.left}{d.leftWriter && <span className="text-muted-foreground"> by {d.leftWriter}</span>}</Td>
                  <Td className="mono">{d.right}{d.rightWriter && <span className="text-muted-foreground"> by {d.rightWriter}</span>}</Td>
                </Tr>
              ))}
            </tbody>
          </Table>
        )}
      </Loaded>
    </div>
  );
}
