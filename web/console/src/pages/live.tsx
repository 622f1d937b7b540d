import { useEffect, useRef, useState } from "preact/hooks";
import * as api from "../api";
import { short } from "../format";
import { Badge, Head, Page } from "../ui";

const keep = 500;

/** LivePage streams requests and decisions over server-sent events. */
export function LivePage() {
  const [events, setEvents] = useState<api.LiveEvent[]>([]);
  const [paused, setPaused] = useState(false);
  const [onlyRefused, setOnlyRefused] = useState(false);
  const [keyFilter, setKeyFilter] = useState("");
  const [state, setState] = useState("connecting");
  const [dropped, setDropped] = useState(0);
  const pending = useRef<api.LiveEvent[]>([]);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const [held, setHeld] = useState(0);

  useEffect(() => {
    const src = new EventSource(api.apiURL("events/stream" + api.qs({ key_id: keyFilter })));
    src.onopen = () => setState("live");
    src.onerror = () => setState("reconnecting");
    src.addEventListener("dropped", (e) => setDropped(Number((e as MessageEvent).data)));
    let frame = 0;
    src.addEventListener("request", (e) => {
      pending.current.push(JSON.parse((e as MessageEvent).data));
      if (pending.current.length > keep) pending.current.splice(0, pending.current.length - keep);
      if (pausedRef.current) {
        setHeld(pending.current.length);
        return;
      }
      // Render at most once a frame, however fast events come.
      if (!frame)
        frame = requestAnimationFrame(() => {
          frame = 0;
          flush();
        });
    });
    return () => {
      src.close();
      cancelAnimationFrame(frame);
    };
  }, [keyFilter]);

  const flush = () => {
    const add = pending.current.reverse();
    pending.current = [];
    setHeld(0);
    setEvents((xs) => [...add, ...xs].slice(0, keep));
  };

  const shown = onlyRefused ? events.filter((e) => e.refusal) : events;
  return (
    <Page id="h-live" title="Live">
      <div class="toolbar" role="toolbar" aria-label="Live stream controls">
        <button
          type="button"
          id="pause"
          aria-pressed={paused}
          onClick={() => {
            if (paused) flush();
            setPaused(!paused);
          }}
        >
          {paused ? `Resume (${held} waiting)` : "Pause"}
        </button>
        <button type="button" onClick={() => setEvents([])}>
          Clear
        </button>
        <label class="check">
          <input type="checkbox" checked={onlyRefused} onChange={(e) => setOnlyRefused((e.target as HTMLInputElement).checked)} /> Refused only
        </label>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            setEvents([]);
            setKeyFilter(((e.currentTarget as HTMLFormElement).elements.namedItem("live-key") as HTMLInputElement).value.trim());
          }}
        >
          <label for="live-key">Key id</label> <input id="live-key" name="live-key" defaultValue={keyFilter} placeholder="all keys" />{" "}
          <button type="submit">Filter</button>
        </form>
        <span class={`status status-${state}`} role="status" aria-live="polite">
          {paused ? "paused" : state}
          {dropped > 0 && ` · ${dropped} dropped (too fast for this browser)`}
        </span>
      </div>
      <EventsTable events={shown.slice(0, 200)} showKey id="live-table" />
    </Page>
  );
}

export function EventsTable({ events, showKey, id }: { events: api.LiveEvent[]; showKey: boolean; id?: string }) {
  if (events.length === 0) return <p class="muted">No requests yet.</p>;
  return (
    <table class="table compact" id={id}>
      <Head cols={["Time", showKey && "Key", "Client", "Request", "Status", "Decision", "Cost"]} num={["Cost"]} />
      <tbody>
        {events.map((e) => (
          <tr key={e.id} class={e.refusal ? "row-refused" : ""}>
            <td class="small mono">{new Date(e.ts).toLocaleTimeString("en-GB")}</td>
            {showKey && <td class="small">{e.key_id ? <a href={`#/keys/${encodeURIComponent(e.key_id)}`}>{e.key_id}</a> : "—"}</td>}
            <td class="small">
              <span class="mono">{e.client_ip}</span> <span class="muted">{short(e.user_agent || "(no user agent)", 28)}</span>
            </td>
            <td class="small">
              {e.method} {e.endpoint || e.path} {e.model && <span class="muted">{e.model}</span>}
            </td>
            <td class="small">{e.status}</td>
            <td class="small">
              {e.refusal ? (
                <Badge value={`refused: ${e.refusal}`} kind="refused" />
              ) : e.status >= 400 ? (
                <Badge value="failed" kind="warn" />
              ) : (
                <Badge value="allowed" kind="allowed" />
              )}
              {e.error_code && <span class="muted"> {e.error_code}</span>}
              {e.action && <Badge value={e.action} kind="warn" />}
              {(e.guard ?? []).map((g) => (
                <Badge key={g} value={g} kind="warn" />
              ))}
              {(e.phrases ?? []).map((p) => (
                <Badge key={p} value={p} kind="danger" />
              ))}
            </td>
            <td class="num small">{e.cost_usd ? "$" + e.cost_usd.toFixed(4) : ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
