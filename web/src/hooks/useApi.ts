import { useCallback, useEffect, useState } from "react";

export interface Loaded<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` whenever `key` changes (and on `reload`); the latest answer wins. Nothing is loaded
 * while `enabled` is false (e.g. data only some tabs need).
 */
export function useApi<T>(load: () => Promise<T>, key: string, enabled = true): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  // `load` is rebuilt every render; `key` says when its answer changes.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const stableLoad = useCallback(load, [key]);
  useEffect(() => {
    if (!enabled) return;
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    stableLoad().then(
      (data) => current && setState({ data, loading: false }),
      (error: Error) => current && setState({ error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [stableLoad, generation, enabled]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}
