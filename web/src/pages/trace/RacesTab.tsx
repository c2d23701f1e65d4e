import type { Finding } from "@/api/types";
import { FindingCard } from "@/components/FindingCard";
import { Loaded } from "@/components/Message";
import type { Loaded as LoadedState } from "@/hooks/useApi";

export function RacesTab({ traceId, races }: { traceId: string; races: LoadedState<{ races: Finding[] }> }) {
  return (
    <Loaded state={races} empty={(d) => d.races.length === 0} emptyText="No races in this trace: every pair of conflicting accesses was ordered.">
      {(d) => (
        <div className="space-y-3">
          {d.races.map((f) => <FindingCard key={f.id} finding={f} currentTrace={traceId} />)}
        </div>
      )}
    </Loaded>
  );
}
