import { useCallback, useMemo, useRef, useState } from "react";
import { Link } from "react-router-dom";
import type { LiveMessage } from "@/api/types";
import { Message } from "@/components/Message";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { useLive } from "@/hooks/useLive";
import { shortId } from "@/lib/format";
import { appendLive, isShown, liveSummary, messageKind, messageService, passes, type LiveFilter, type ShownMessage } from "@/model/live";

export function LivePage() {
  const [filter, setFilter] = useState<LiveFilter>({ service: "", traceId: "", kind: "" });
  const [paused, setPaused] = useState(false);
  const [messages, setMessages] = useState<ShownMessage[]>([]);
  const [dropped, setDropped] = useState(0);
  const [hidden, setHidden] = useState(0);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const onMessage = useCallback((message: LiveMessage) => {
    if (message.type === "lagged") setDropped((d) => d + message.dropped);
    if (!isShown(message)) return;
    if (pausedRef.current) setHidden((n) => n + 1);
    else setMessages((list) => appendLive(list, message));
  }, []);
  const status = useLive({}, onMessage);
  const shown = useMemo(() => messages.filter((m) => passes(m, filter)), [messages, filter]);
  const field = (name: keyof LiveFilter, placeholder: string) => (
    <Input placeholder={placeholder} aria-label={placeholder} value={filter[name]} className="w-44" onChange={(e) => setFilter({ ...filter, [name]: e.target.value })} />
  );
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-xl font-semibold">Live</h1>
        <Badge variant={status === "open" ? "default" : "muted"} data-testid="live-status">{status === "open" ? "connected" : status}</Badge>
        <Button variant="outline" size="sm" data-testid="live-pause" onClick={() => {
          setPaused(!paused);
          setHidden(0);
        }}>{paused ? "Resume" : "Pause"}</Button>
        <Button variant="ghost" size="sm" onClick={() => setMessages([])}>Clear</Button>
        {dropped > 0 && <span className="text-sm text-warning">{dropped} messages dropped (the page was too slow)</span>}
      </div>
      <div className="flex flex-wrap gap-2">
        {field("service", "Service")}
        {field("traceId", "Trace id")}
        {field("kind", "Event kind")}
      </div>
      {paused && (
        <p className="text-sm text-muted-foreground" data-testid="live-paused">
          Paused: {hidden} new message{hidden === 1 ? "" : "s"} not shown (messages that arrive while paused are skipped).
        </p>
      )}
      {shown.length === 0 ? (
        <Message>Waiting for events… (new events and findings appear here as they arrive)</Message>
      ) : (
        <ul className="mono divide-y rounded-lg border text-xs" data-testid="live-list">
          {shown.map((m, i) => (
            <li key={shown.length - i} className="flex flex-wrap items-center gap-3 px-3 py-1.5" data-testid="live-item">
              <Badge variant={m.type === "finding" ? "destructive" : m.type === "trace_completed" ? "default" : "outline"}>{m.type}</Badge>
              <Link className="underline" to={`/traces/${m.trace_id}`} title={m.trace_id}>{shortId(m.trace_id)}</Link>
              <span>{messageService(m)}</span>
              <span>{messageKind(m)}</span>
              <span className="text-muted-foreground">{liveSummary(m)}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
