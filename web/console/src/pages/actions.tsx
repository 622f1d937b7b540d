import * as api from "../api";
import { useData } from "../data";
import { ErrorBox, Loading, Panel } from "../ui";

/** How far back "Who did what" looks: the last entries of the audit log. */
const window_ = 1000;

/**
 * AdminActions lists the latest admin actions from the audit log, newest
 * first: who (the person's e-mail or subject), with which role, what, and
 * whether it was allowed. Every write to the admin API is an entry with
 * endpoint "admin" and an actor (docs/operators.md).
 */
export function AdminActions() {
  const actions = useData(async () => {
    const st = await api.get<any>("audit/stats");
    const size = Number(st.size ?? 0);
    const list = await api.get<any[]>("audit/entries" + api.qs({ from: Math.max(0, size - window_), limit: window_ }));
    return list.filter((e) => e.event?.endpoint === "admin" && e.event?.actor).reverse().slice(0, 50);
  }, [], 30000);
  return (
    <Panel id="h-actions" title="Who did what">
      <ErrorBox error={actions.error} />
      {!actions.data && !actions.error && <Loading />}
      {actions.data && (
        <ul class="list small" id="admin-actions">
          {actions.data.length === 0 && <li class="muted">No admin actions among the last {window_} entries.</li>}
          {actions.data.map((e) => {
            const a = e.event.actor;
            const what = String(e.event.path ?? "").replace(/^\/admin\/v1\//, "");
            return (
              <li key={e.index}>
                {e.event.ts} <strong>{a.email || a.subject}</strong> as {a.role}: {e.event.method} {what}{" "}
                {e.event.status === 403 ? <span class="error">refused</span> : e.event.status >= 400 ? `failed (${e.event.status})` : "done"}
              </li>
            );
          })}
        </ul>
      )}
    </Panel>
  );
}
