import { Link } from "react-router-dom";
import { Badge } from "@/components/ui/badge";
import { Section } from "@/components/ui/card";
import { shortId } from "@/lib/format";
import type { RaceAtStep } from "@/model/timeTravel";

/** The races one of whose accesses is this step's event, each linking to the Races tab. */
export function RacesPanel({ traceId, races }: { traceId: string; races: RaceAtStep[] }) {
  return (
    <Section title="Races at this step">
      {races.length === 0 ? (
        <p className="text-sm text-muted-foreground" data-testid="tt-no-races">This step's event takes part in no race.</p>
      ) : (
        <ul className="space-y-1 text-sm" data-testid="tt-races">
          {races.map(({ id, finding }) => (
            <li key={id} className="flex flex-wrap items-center gap-2" data-testid="tt-race">
              <Badge variant={finding?.severity === "critical" ? "destructive" : "warning"}>{finding?.severity ?? "race"}</Badge>
              {finding ? (
                <span>
                  <span className="mono">{finding.kind}</span> on <span className="mono font-semibold">{finding.variable}</span> between{" "}
                  <span className="mono">{finding.first.thread_id}</span> and <span className="mono">{finding.second.thread_id}</span>
                </span>
              ) : (
                <span className="mono">{shortId(id)}</span>
              )}
              <Link className="text-xs underline" to={`/traces/${traceId}/races`}>see in Races</Link>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}
