import { ComponentChildren } from "preact";
import { useMemo, useState } from "preact/hooks";
import * as api from "../api";
import { Chart, dense } from "../chart";
import { useData } from "../data";
import { ago, num, usd, when } from "../format";
import { Badge, Confirm, ErrorBox, Field, Head, HeatMap, Loaded, Loading, Meter, Page, Panel, toast } from "../ui";
import { EventsTable } from "./live";

type Action = "suspend" | "resume" | "revoke" | "rotate" | "limits" | null;
type StatusVerb = "suspend" | "resume" | "revoke";

// statusChanges are the changes of a key's status the page offers: what
// each does to the key, whether it asks why, and what it says when done.
const statusChanges: Record<StatusVerb, { label: string; body: ComponentChildren; reason: boolean; done: string }> = {
  suspend: { label: "Suspend", body: <p>Every request with this key will be refused until you resume it.</p>, reason: true, done: "Key suspended" },
  resume: { label: "Resume", body: <p>The key will work again.</p>, reason: false, done: "Key resumed" },
  revoke: {
    label: "Revoke",
    body: (
      <p>
        <strong>Revocation is final.</strong> The key stops working for good; its owner needs a new one.
      </p>
    ),
    reason: true,
    done: "Key revoked",
  },
};

export function KeyPage({ id }: { id: string }) {
  const key = useData(() => api.get<api.Key>("keys/" + encodeURIComponent(id)), [id], 15000);
  const activity = useData(() => api.get<api.Activity>(`activity/${encodeURIComponent(id)}?minutes=180`), [id], 15000);
  const events = useData(() => api.get<api.LiveEvent[]>("events" + api.qs({ key_id: id, limit: 50 })), [id], 5000);
  const incidents = useData(() => api.get<api.Incident[]>("incidents" + api.qs({ key_id: id, limit: 20 })), [id], 15000);
  const [action, setAction] = useState<Action>(null);
  const [secret, setSecret] = useState<api.Key | null>(null);

  const k = key.data;
  const chart = useMemo(() => {
    const pts = activity.data?.series ?? [];
    const now = Date.now() / 1000;
    const first = pts.length ? Date.parse(pts[0].ts) / 1000 : now;
    const { times, at } = dense(pts, Math.min(first, now - 3600), now);
    return {
      times,
      series: [
        { label: "Requests", values: at.map((p) => p?.requests ?? 0), color: "--c1", fill: true },
        { label: "Refused", values: at.map((p) => p?.refused ?? 0), color: "--danger" },
        { label: "Spend", values: at.map((p) => p?.cost_usd ?? 0), color: "--c3", axis: "right" as const, money: true },
      ],
    };
  }, [activity.data]);

  if (key.error) return <ErrorBox error={key.error} />;
  if (!k) return <Loading what="Loading key" />;
  const used = k.usage_this_month?.cost_usd ?? 0;
  const final = k.status === "revoked";

  const act = async (path: string, body: unknown, done: string) => {
    const r = await api.send<api.Key>("POST", `keys/${encodeURIComponent(k.id)}/${path}`, body);
    toast(done);
    key.reload();
    return r;
  };

  // confirmStatus asks to confirm suspend, resume or revoke with its
  // consequence (suspend and revoke with a reason, as dangerous) and makes
  // the change. A function, not a component: the dialog keeps its state
  // while the page re-renders.
  const confirmStatus = (verb: StatusVerb) => {
    const c = statusChanges[verb];
    return (
      <Confirm
        title={`${c.label} ${k.name || k.id}?`}
        body={c.body}
        fields={c.reason ? [{ name: "reason", label: "Reason", value: "", required: true }] : undefined}
        confirm={`${c.label} key`}
        danger={c.reason}
        onConfirm={(v) => act(verb, c.reason ? { reason: v.reason, by: "console" } : {}, c.done).then(() => {})}
        onClose={() => setAction(null)}
      />
    );
  };

  const limitFields: Field[] = [
    { name: "rpm", label: "Requests per minute (0: unlimited)", type: "number", value: k.rpm ?? 0 },
    { name: "tpm", label: "Tokens per minute (0: unlimited)", type: "number", value: k.tpm ?? 0 },
    { name: "max_concurrent", label: "Concurrent requests (0: unlimited)", type: "number", value: k.max_concurrent ?? 0 },
    { name: "monthly_budget_usd", label: "Monthly budget, USD (0: none)", type: "number", value: k.monthly_budget_usd ?? 0 },
    { name: "models", label: "Allowed models, comma-separated (empty: all)", value: (k.models ?? []).join(", ") },
    { name: "cidrs", label: "Allowed client networks, CIDRs, comma-separated (empty: any)", value: (k.cidrs ?? []).join(", ") },
  ];
  const list = (s: string) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);

  return (
    <Page
      id="h-key"
      crumbs={<a href="#/keys">Keys</a>}
      title={
        <>
          {k.name || k.id} <Badge value={k.status} /> {k.kind === "canary" && <Badge value="canary" />}
          {k.action && <Badge value={k.action} kind="warn" />}
        </>
      }
    >
      <p class="muted mono">{k.id}</p>
      {k.status !== "active" && (
        <p class={`notice notice-${k.status}`} role="status">
          {k.status === "revoked" ? "Revoked" : "Suspended"} {k.status_by && `by ${k.status_by}`} {ago(k.status_at)}
          {k.status_reason && `: ${k.status_reason}`}
        </p>
      )}
      {k.action && (
        <p class="notice" role="status">
          Detector action {k.action} until {when(k.action_until)}: {k.action_reason}
        </p>
      )}

      <div class="toolbar" role="toolbar" aria-label="Key actions">
        {k.status === "active" && api.can("responder") && (
          <button type="button" class="warn" onClick={() => setAction("suspend")}>
            Suspend
          </button>
        )}
        {k.status === "suspended" && api.can("responder") && (
          <button type="button" onClick={() => setAction("resume")}>
            Resume
          </button>
        )}
        {!final && api.can("admin") && (
          <>
            <button type="button" class="danger" onClick={() => setAction("revoke")}>
              Revoke
            </button>
            <button type="button" onClick={() => setAction("rotate")}>
              Rotate
            </button>
            <button type="button" onClick={() => setAction("limits")}>
              Edit limits
            </button>
          </>
        )}
        {k.action && api.can("responder") && (
          <button
            type="button"
            onClick={async () => {
              await api.send("POST", `keys/${encodeURIComponent(k.id)}/action`, {});
              toast("Detector action lifted");
              key.reload();
            }}
          >
            Lift detector action
          </button>
        )}
      </div>

      {secret && (
        <div class="secret" role="alert">
          <p>
            New key <a href={`#/keys/${encodeURIComponent(secret.id)}`}>{secret.id}</a>. Copy the secret now: it is not shown again.
          </p>
          <code class="mono">{secret.key}</code>{" "}
          <button type="button" onClick={() => navigator.clipboard?.writeText(secret.key ?? "").then(() => toast("Copied"))}>
            Copy
          </button>{" "}
          <button type="button" onClick={() => setSecret(null)}>
            Done
          </button>
        </div>
      )}

      <div class="grid2">
        <Panel id="h-spend" title="Spend this month">
          <p class="big">
            {usd(used)} {k.monthly_budget_usd ? <span class="muted">of {usd(k.monthly_budget_usd)}</span> : <span class="muted">(no budget)</span>}
          </p>
          {k.monthly_budget_usd ? <Meter value={used} max={k.monthly_budget_usd} label="Spend against monthly budget" /> : null}
          <p class="muted small">
            {num(k.usage_this_month?.requests)} requests · {num(k.usage_this_month?.tokens)} tokens
          </p>
        </Panel>
        <Panel id="h-scope" title="Scope and limits">
          <dl class="dl">
            <dt>Owner</dt>
            <dd>{k.owner || "—"}</dd>
            <dt>Models</dt>
            <dd>{k.models?.join(", ") || "all"}</dd>
            <dt>Networks</dt>
            <dd>{k.cidrs?.join(", ") || "any"}</dd>
            <dt>Limits</dt>
            <dd>
              {k.rpm || "∞"} rpm · {k.tpm || "∞"} tpm · {k.max_concurrent || "∞"} concurrent
            </dd>
            <dt>Created</dt>
            <dd>{when(k.created_at)}</dd>
            <dt>Last used</dt>
            <dd>
              {ago(k.last_used_at)} {k.last_used_ip && `from ${k.last_used_ip}`}
            </dd>
            {k.expires_at && (
              <>
                <dt>Expires</dt>
                <dd>{when(k.expires_at)}</dd>
              </>
            )}
            {k.rotated_to && (
              <>
                <dt>Rotated to</dt>
                <dd>
                  <a href={`#/keys/${encodeURIComponent(k.rotated_to)}`}>{k.rotated_to}</a> (works until {when(k.grace_until)})
                </dd>
              </>
            )}
            {k.labels && Object.keys(k.labels).length > 0 && (
              <>
                <dt>Labels</dt>
                <dd>
                  {Object.entries(k.labels)
                    .map(([a, b]) => `${a}=${b}`)
                    .join(", ")}
                </dd>
              </>
            )}
          </dl>
        </Panel>
      </div>

      {!incidents.missing && (incidents.data?.length ?? 0) > 0 && (
        <Panel id="h-kinc" title="Incidents">
          <ul class="list">
            {incidents.data!.map((i) => (
              <li key={i.id}>
                <Badge value={i.severity} /> <Badge value={i.status} /> <a href={`#/incidents/${encodeURIComponent(i.id)}`}>{i.title}</a>{" "}
                <span class="muted small">
                  {ago(i.opened_at)} · {usd(i.spend_usd)}
                </span>
              </li>
            ))}
          </ul>
        </Panel>
      )}

      <Panel id="h-activity" title="Activity">
        <Loaded data={activity.data} empty={(d) => !d.tracked} note="No requests with this key since the server started.">
          {(d) => (
            <>
              <Chart id="chart-key" title="Requests, refusals and spend per minute" times={chart.times} series={chart.series} />
              <div class="grid3">
                <SeenTable title="Networks" rows={d.networks} />
                <SeenTable title="Clients (fingerprint, user agent)" rows={d.fingerprints} detail />
                <SeenTable title="Models" rows={d.models} />
              </div>
              <h3>When it is used</h3>
              <HeatMap counts={d.hour_of_week} />
            </>
          )}
        </Loaded>
      </Panel>

      <Panel id="h-recent" title="Recent requests">
        {events.data ? <EventsTable events={events.data} showKey={false} /> : <Loading />}
      </Panel>

      {action && action in statusChanges && confirmStatus(action as StatusVerb)}
      {action === "rotate" && (
        <Confirm
          title={`Rotate ${k.name || k.id}?`}
          body={<p>Warden issues a successor with the same scope. The old key keeps working for the grace period.</p>}
          fields={[{ name: "grace", label: "Grace period (e.g. 24h, 7d, 0s)", value: "24h", required: true }]}
          confirm="Rotate key"
          onConfirm={async (v) => {
            const r = await api.send<api.Key>("POST", `keys/${encodeURIComponent(k.id)}/rotate`, { grace: v.grace });
            setSecret(r);
            toast("Key rotated");
            key.reload();
          }}
          onClose={() => setAction(null)}
        />
      )}
      {action === "limits" && (
        <Confirm
          title={`Limits of ${k.name || k.id}`}
          fields={limitFields}
          confirm="Save limits"
          onConfirm={async (v) => {
            await api.send("PATCH", `keys/${encodeURIComponent(k.id)}`, {
              rpm: v.rpm ?? 0,
              tpm: v.tpm ?? 0,
              max_concurrent: v.max_concurrent ?? 0,
              monthly_budget_usd: v.monthly_budget_usd ?? 0,
              models: list(v.models),
              cidrs: list(v.cidrs),
            });
            toast("Limits saved");
            key.reload();
          }}
          onClose={() => setAction(null)}
        />
      )}
    </Page>
  );
}

function SeenTable({ title, rows, detail }: { title: string; rows: api.Seen[]; detail?: boolean }) {
  return (
    <div>
      <h3>{title}</h3>
      {rows.length === 0 ? (
        <p class="muted">None seen.</p>
      ) : (
        <table class="table compact">
          <Head cols={[detail ? "Client" : "Value", "Requests", "First seen"]} num={["Requests"]} />
          <tbody>
            {rows.slice(0, 10).map((r) => (
              <tr key={r.value}>
                <td class={detail ? "" : "mono"}>
                  {detail ? (
                    <>
                      <span class="mono">{r.value.slice(0, 10)}</span> <span class="small">{r.detail || "(no user agent)"}</span>
                    </>
                  ) : (
                    r.value
                  )}
                </td>
                <td class="num">
                  {num(r.requests)}
                  {r.refused > 0 && <span class="muted"> ({num(r.refused)} refused)</span>}
                </td>
                <td class="small">{ago(r.first)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
