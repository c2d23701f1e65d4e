import { Section } from "@/components/ui/card";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { cn } from "@/lib/utils";
import type { VariableView } from "@/model/timeTravel";

/** The variables after the step; the ones this step wrote are highlighted. */
export function VariablesPanel({ variables, onGoTo }: { variables: VariableView[]; onGoTo: (step: number) => void }) {
  return (
    <Section title="Variables">
      {variables.length === 0 ? (
        <p className="text-sm text-muted-foreground">No variable was read or written up to this step.</p>
      ) : (
        <Table data-testid="tt-variables">
          <thead>
            <tr className="border-b"><Th>Variable</Th><Th>Value</Th><Th>Last writer</Th><Th>Written at step</Th></tr>
          </thead>
          <tbody>
            {variables.map((v) => (
              <Tr key={v.name} className={cn(v.changed && "bg-amber-100 font-semibold dark:bg-amber-900/40")} data-testid="tt-variable" data-variable={v.name} data-changed={v.changed}>
                <Td className="mono">{v.name}</Td>
                <Td className="mono" data-testid="tt-value">{v.value}</Td>
                <Td className="mono">{v.writer ?? <span className="text-muted-foreground">only read so far</span>}</Td>
                <Td>
                  {v.writtenAt === null ? "–" : (
                    <button className="mono underline-offset-2 hover:underline" onClick={() => onGoTo(v.writtenAt ?? 0)}>
                      {v.writtenAt}{v.changed ? " (this step)" : ""}
                    </button>
                  )}
                </Td>
              </Tr>
            ))}
          </tbody>
        </Table>
      )}
    </Section>
  );
}
