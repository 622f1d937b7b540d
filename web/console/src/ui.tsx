// Small shared pieces: confirmation dialogs, notices, badges, the heat map.
import { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

export function Badge({ value, kind }: { value: string; kind?: string }) {
  return <span class={`badge badge-${kind ?? value}`}>{value}</span>;
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

/**
 * Loaded shows Loading until data has come, note when empty says there is
 * nothing to show, and otherwise what children renders from data (a
 * function, so that nothing reads data before it is there).
 */
export function Loaded<T>(props: { data: T | undefined; empty: (data: T) => boolean; note: string; what?: string; children: (data: T) => ComponentChildren }) {
  if (!props.data) return <Loading what={props.what} />;
  if (props.empty(props.data)) return <p class="muted">{props.note}</p>;
  return <>{props.children(props.data)}</>;
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const msg = error instanceof Error ? error.message : String(error);
  return (
    <p class="error" role="alert">
      {msg}
    </p>
  );
}

/**
 * Page is one page of the console under its heading, which the router
 * focuses on navigation (hence tabIndex -1); crumbs, when given, link up
 * to the list the page is part of.
 */
export function Page({ id, title, crumbs, children }: { id: string; title: ComponentChildren; crumbs?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section aria-labelledby={id}>
      {crumbs && <p class="crumbs">{crumbs} /</p>}
      <h1 id={id} tabIndex={-1}>
        {title}
      </h1>
      {children}
    </section>
  );
}

/** Panel is a section of a page under a heading that names it. */
export function Panel({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section class="panel" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/**
 * Head is a table's header row: a column header for each of cols (false
 * leaves a column out), right-aligned as numbers for those also in num.
 */
export function Head({ cols, num = [] }: { cols: (string | false)[]; num?: string[] }) {
  return (
    <thead>
      <tr>
        {cols.map(
          (c) =>
            c !== false && (
              <th scope="col" key={c} class={num.includes(c) ? "num" : undefined}>
                {c}
              </th>
            ),
        )}
      </tr>
    </thead>
  );
}

/**
 * Table is a data table: Head's header row for cols and num, then row(r)
 * for each of rows (row gives its <tr> a key).
 */
export function Table<T>(props: { id?: string; cols: (string | false)[]; num?: string[]; rows: T[]; row: (r: T) => ComponentChildren }) {
  return (
    <table class="table" id={props.id}>
      <Head cols={props.cols} num={props.num} />
      <tbody>{props.rows.map((r) => props.row(r))}</tbody>
    </table>
  );
}

/** Unavailable says a feature's API is not in this server (404). */
export function Unavailable({ what }: { what: string }) {
  return <p class="notice">{what} is not available on this server yet.</p>;
}

export interface Field {
  name: string;
  label: string;
  type?: "text" | "number" | "checkbox" | "textarea";
  value?: string | number | boolean;
  help?: string;
  required?: boolean;
}

/**
 * Confirm is a modal <dialog> (keyboard- and screen-reader-friendly: focus
 * moves into it, Escape cancels) asking for confirmation and optional fields.
 */
export function Confirm(props: {
  title: string;
  body?: ComponentChildren;
  fields?: Field[];
  confirm: string;
  danger?: boolean;
  onConfirm: (values: Record<string, any>) => Promise<void> | void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    const values: Record<string, any> = {};
    for (const f of props.fields ?? []) {
      const el = form.elements.namedItem(f.name) as HTMLInputElement;
      values[f.name] = f.type === "checkbox" ? el.checked : f.type === "number" ? (el.value === "" ? null : Number(el.value)) : el.value;
    }
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm(values);
      ref.current?.close();
      props.onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="dialog-title" onClose={props.onClose}>
      <form method="dialog" onSubmit={submit}>
        <h2 id="dialog-title">{props.title}</h2>
        {props.body}
        {(props.fields ?? []).map((f) => (
          <div class={f.type === "checkbox" ? "field check" : "field"} key={f.name}>
            {f.type === "checkbox" ? (
              <label>
                <input type="checkbox" name={f.name} defaultChecked={Boolean(f.value)} /> {f.label}
              </label>
            ) : (
              <>
                <label for={`f-${f.name}`}>{f.label}</label>
                {f.type === "textarea" ? (
                  <textarea id={`f-${f.name}`} name={f.name} rows={3} required={f.required}>
                    {String(f.value ?? "")}
                  </textarea>
                ) : (
                  <input
                    id={`f-${f.name}`}
                    name={f.name}
                    type={(f.type ?? "text") as any}
                    step={f.type === "number" ? "any" : undefined}
                    min={f.type === "number" ? 0 : undefined}
                    defaultValue={f.value === undefined || f.value === null ? "" : String(f.value)}
                    required={f.required}
                    aria-describedby={f.help ? `h-${f.name}` : undefined}
                  />
                )}
              </>
            )}
            {f.help && (
              <small id={`h-${f.name}`} class="muted">
                {f.help}
              </small>
            )}
          </div>
        ))}
        <ErrorBox error={error} />
        <div class="actions">
          <button type="button" onClick={() => (ref.current?.close(), props.onClose())}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? "danger" : "primary"} disabled={busy}>
            {busy ? "Working…" : props.confirm}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Toasts: a polite live region with the last few results of actions. */
let pushToast: (msg: string, kind?: string) => void = () => {};
export function toast(msg: string, kind = "ok") {
  pushToast(msg, kind);
}
export function Toasts() {
  const [items, setItems] = useState<{ id: number; msg: string; kind: string }[]>([]);
  useEffect(() => {
    let n = 0;
    pushToast = (msg, kind = "ok") => {
      const id = ++n;
      setItems((xs) => [...xs.slice(-3), { id, msg, kind }]);
      setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== id)), 6000);
    };
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {items.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`}>
          {t.msg}
        </div>
      ))}
    </div>
  );
}

const days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** HeatMap draws requests by hour of week (UTC), a 7x24 grid. */
export function HeatMap({ counts }: { counts: number[] }) {
  const max = Math.max(1, ...counts);
  return (
    <table class="heatmap" aria-label="Requests by hour of week, UTC">
      <thead>
        <tr>
          <th scope="col">
            <span class="sr-only">Day</span>
          </th>
          {Array.from({ length: 24 }, (_, h) => (
            <th scope="col" key={h}>
              {h % 3 === 0 ? String(h).padStart(2, "0") : <span class="sr-only">{h}</span>}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {days.map((d, di) => (
          <tr key={d}>
            <th scope="row">{d}</th>
            {Array.from({ length: 24 }, (_, h) => {
              const v = counts[di * 24 + h] ?? 0;
              const level = v === 0 ? 0 : Math.ceil((v / max) * 4);
              return (
                <td key={h} class={`heat heat-${level}`} title={`${d} ${String(h).padStart(2, "0")}:00 UTC: ${v} requests`}>
                  <span class="sr-only">{v}</span>
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Meter shows spend against a budget. */
export function Meter({ value, max, label }: { value: number; max: number; label: string }) {
  const pct = max > 0 ? Math.min(100, (value / max) * 100) : 0;
  const level = pct >= 90 ? "danger" : pct >= 70 ? "warn" : "ok";
  return (
    <div class="meter-wrap">
      <div class="meter" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={max} aria-valuenow={value}>
        <div class={`meter-fill meter-${level}`} style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}
