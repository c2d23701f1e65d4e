import type { Suggestion } from "@/api/types";
import { formatMs } from "@/lib/format";

const LABELS: Record<Suggestion["kind"], string> = {
  parallelize: "Run in parallel",
  cache: "Cache",
  make_async: "Make asynchronous",
};

/** The optimisation hints beside the critical path, largest saving first (as the API sends them). */
export function Suggestions({ suggestions }: { suggestions: Suggestion[] }) {
  if (suggestions.length === 0) return null;
  return (
    <div className="pt-2" data-testid="suggestions">
      <p className="font-medium">Could be faster</p>
      <ul className="space-y-1">
        {suggestions.map((s) => (
          <li key={`${s.kind}:${s.event_ids.join(",")}`} data-testid="suggestion">
            <span className="font-semibold">{LABELS[s.kind]}</span>{" "}
            <span className="text-muted-foreground">saves {formatMs(s.saves_ms)}: {s.description}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
