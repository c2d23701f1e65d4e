import { useMemo } from "react";
import type { TraceEvent } from "@/api/types";
import { Message } from "@/components/Message";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { formatNs } from "@/lib/format";
import { lockHolds } from "@/model/locks";
import { colorFor } from "@/model/palette";

export function LocksTab({ events }: { events: TraceEvent[] }) {
  const locks = useMemo(() => lockHolds(events), [events]);
  if (locks.length === 0) return <Message>No lock was taken in this trace.</Message>;
  return (
    <div className="space-y-3" data-testid="locks">
      {locks.map((lock) => {
        const start = Math.min(...lock.holds.map((h) => h.start));
        const end = Math.max(...lock.holds.map((h) => h.end ?? h.start));
        const span = Math.max(1, end - start);
        return (
          <Card key={lock.lock}>
            <CardHeader>
              <CardTitle className="mono">{lock.lock}</CardTitle>
              <p className="text-xs text-muted-foreground">
                {lock.holds.length} holds, {formatNs(lock.totalHeldNs)} held in all, longest {formatNs(lock.longestNs)}, {lock.handOvers.length} hand-overs
              </p>
            </CardHeader>
            <CardContent className="space-y-2">
              <div className="relative h-6 rounded bg-muted">
                {lock.holds.map((h, i) => (
                  <div
                    key={i}
                    title={`${h.actor} ${h.mode} ${formatNs((h.end ?? h.start) - h.start)}`}
                    className="absolute top-1 h-4 rounded-sm"
                    style={{
                      left: `${((h.start - start) / span) * 100}%`,
                      width: `${Math.max(0.5, (((h.end ?? h.start) - h.start) / span) * 100)}%`,
                      background: colorFor(h.actor),
                    }}
                  />
                ))}
              </div>
              <ul className="mono text-xs">
                {lock.handOvers.map((h, i) => (
                  <li key={i}>{h.from} → {h.to} after {formatNs(h.gapNs)}</li>
                ))}
              </ul>
            </CardContent>
          </Card>
        );
      })}
    </div>
  );
}
