import type { ReactNode } from "react";
import { ApiError } from "@/api/client";
import { cn } from "@/lib/utils";

/** A notice in place of content: loading, an error, or an empty result. Never a blank page. */
export function Message({ tone = "muted", children }: { tone?: "muted" | "error"; children: ReactNode }) {
  return (
    <div
      role={tone === "error" ? "alert" : "status"}
      className={cn(
        "rounded-lg border border-dashed p-6 text-center text-sm",
        tone === "error" ? "border-destructive text-destructive" : "text-muted-foreground",
      )}
    >
      {children}
    </div>
  );
}

export function ErrorMessage({ error }: { error: Error }) {
  const status = error instanceof ApiError && error.status ? `(${error.status}) ` : "";
  return (
    <Message tone="error">
      Could not load: {status}
      {error.message}
    </Message>
  );
}

interface LoadedProps<T> {
  state: { data?: T; error?: Error; loading: boolean };
  empty?: (data: T) => boolean;
  emptyText?: string;
  children: (data: T) => ReactNode;
}

/** Renders `children` with the data once loaded; a message while loading, on error or when empty. */
export function Loaded<T>({ state, empty, emptyText = "Nothing to show.", children }: LoadedProps<T>) {
  if (state.error) return <ErrorMessage error={state.error} />;
  if (state.data === undefined) return <Message>Loading…</Message>;
  if (empty?.(state.data)) return <Message>{emptyText}</Message>;
  return <>{children(state.data)}</>;
}
