import { Section } from "@/components/ui/card";
import { Table, Td, Th, Tr } from "@/components/ui/table";
import { cn } from "@/lib/utils";
import type { ThreadView } from "@/model/timeTravel";

/** Every thread seen so far: its last step and the locks it holds there. */
export function ThreadsPanel({ threads }: { threads: ThreadView[] }) {
  return (
    <Section title="Threads">
      <Table data-testid="tt-threads">
        <thead>
          <tr className="border-b"><Th>Thread</Th><Th>Last step</Th><Th>Locks held</Th></tr>
        </thead>
        <tbody>
          {threads.map((t) => (
            <Tr key={t.actor} className={cn(t.current && "font-semibold")} data-testid="tt-thread">
              <Td className="mono">{t.current ? "▶ " : ""}{t.actor}</Td>
              <Td className="mono">{t.lastStep}</Td>
              <Td className="mono">{t.locks.length ? t.locks.join(", ") : <span className="text-muted-foreground">none</span>}</Td>
            </Tr>
          ))}
        </tbody>
      </Table>
    </Section>
  );
}
