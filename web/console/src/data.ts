// useData loads something from the API, optionally refreshing it.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";

export interface Data<T> {
  data: T | undefined;
  error: unknown;
  missing: boolean; // the API answered 404 for the whole endpoint
  reload: () => void;
}

export function useData<T>(load: () => Promise<T>, deps: unknown[], refreshMs = 0): Data<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const gen = useRef(0);
  const run = useCallback(() => {
    const g = ++gen.current;
    load().then(
      (d) => {
        if (g !== gen.current) return;
        setData(d);
        setError(null);
        setMissing(false);
      },
      (e) => {
        if (g !== gen.current) return;
        if (e instanceof ApiError && e.status === 404 && /no such admin endpoint/.test(e.message)) setMissing(true);
        else {
          setError(e);
          setData(undefined);
        }
      },
    );
  }, deps);
  useEffect(() => {
    setData(undefined);
    run();
    if (!refreshMs) return;
    const t = setInterval(() => {
      if (document.visibilityState === "visible") run();
    }, refreshMs);
    return () => clearInterval(t);
  }, [run, refreshMs]);
  return { data, error, missing, reload: run };
}
