import { useEffect, useRef, useState } from "react";
import { liveUrl, type Query } from "@/api/client";
import type { LiveMessage } from "@/api/types";

export type LiveStatus = "connecting" | "open" | "closed";

/**
 * Subscribes to `/ws/events/live` with `query` while `enabled`, calling `onMessage` for each
 * message; reconnects (after 2 s) when the connection drops.
 */
export function useLive(query: Query, onMessage: (message: LiveMessage) => void, enabled = true): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>("connecting");
  const handler = useRef(onMessage);
  handler.current = onMessage;
  const key = JSON.stringify(query);
  useEffect(() => {
    if (!enabled) return;
    let socket: WebSocket | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const connect = () => {
      setStatus("connecting");
      socket = new WebSocket(liveUrl(JSON.parse(key) as Query));
      socket.onopen = () => setStatus("open");
      socket.onmessage = (event) => {
        try {
          handler.current(JSON.parse(String(event.data)) as LiveMessage);
        } catch {
          // not JSON: ignored
        }
      };
      socket.onclose = () => {
        setStatus("closed");
        if (!stopped) retry = setTimeout(connect, 2000);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      socket?.close();
    };
  }, [key, enabled]);
  return status;
}
