import { useMemo, useState } from "preact/hooks";
import * as api from "../api";
import { Chart, Marker, Series, dense } from "../chart";
import { useData } from "../data";
import { ago, num, short, usd, when } from "../format";
import { Badge, Confirm, ErrorBox, Head, Loaded, Loading, Page, Panel, Unavailable, toast } from "../ui";

export function IncidentsPage() {
  const [status, setStatus] = useState("open");
  const list = useData(() => api.get<api.Incident[]>("incidents" + api.qs({ status, limit: 200 })), [status], 10000);
  return (
    <Page id="h-incidents" title="Incidents">
      {list.missing ? (
        <Unavailable what="Detection (incidents)" />
      ) : (
        <>
          <div class="toolbar">
            <label for="inc-status">Status</label>
            <select id="inc-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
              <option value="open">Open</option>
              <option value="resolved">Resolved</option>
              <option value="">All</option>
            </select>
          </div>
          <ErrorBox error={list.error} />
          <Loaded data={list.data} empty={(d) => d.length === 0} note="No incidents.">
            {(d) => (
              <table class="table" id="incidents-table">
                <Head cols={["Severity", "Incident", "Key", "Action", "Requests", "Spend", "Opened", "Status"]} num={["Requests", "Spend"]} />
                <tbody>
                  {d.map((i) => (
                    <tr key={i.id}>
                      <td>
                        <Badge value={i.severity} />
                      </td>
                      <td>
                        <a href={`#/incidents/${encodeURIComponent(i.id)}`}>{i.title}</a>
                      </td>
                      <td>
                        <a href={`#/keys/${encodeURIComponent(i.key_id)}`}>{i.key_id}</a>
                        {i.key_owner && <span class="muted small"> {i.key_owner}</span>}
                      </td>
                      <td>{i.action || "—"}</td>
                      <td class="num">{num(i.requests)}</td>
                      <td class="num">{usd(i.spend_usd)}</td>
                      <td class="small">{ago(i.opened_at)}</td>
                      <td>
                        <Badge value={i.status} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Loaded>
        </>
      )}
    </Page>
  );
}

const containing = new Set(["throttle", "step_up", "suspend", "revoke"]);

/** timelineChart builds the attack's per-minute series by network and fingerprint. */
export function timelineChart(act: api.Activity | undefined, inc: api.Incident) {
  const pts = act?.series ?? [];
  // The window: from a little before the incident (or the key's first
  // traffic, if later) to its resolution or now.
  const opened0 = Date.parse(inc.opened_at) / 1000;
  const end = inc.resolved_at ? Math.min(Date.now() / 1000, Date.parse(inc.resolved_at) / 1000 + 600) : Date.now() / 1000;
  const first = pts.length ? Date.parse(pts[0].ts) / 1000 : opened0;
  const { times, at } = dense(pts, Math.max(Math.min(first, opened0 - 300), end - 3 * 3600), end);
  const s = at.map((p, i) => p ?? { ts: new Date(times[i] * 1000).toISOString(), requests: 0, refused: 0, cost_usd: 0 });
  const top = (pick: (p: api.Activity["series"][0]) => Record<string, number> | undefined, n: number) => {
    const tot = new Map<string, number>();
    for (const p of s) for (const [k, v] of Object.entries(pick(p) ?? {})) tot.set(k, (tot.get(k) ?? 0) + v);
    return [...tot.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map((e) => e[0]);
  };
  const byNet: Series[] = top((p) => p.networks, 4).map((n) => ({ label: `net ${n}`, values: s.map((p) => p.networks?.[n] ?? 0) }));
  const byFP: Series[] = top((p) => p.fingerprints, 4).map((f, i) => ({
    label: `client ${f.slice(0, 8)}`,
    values: s.map((p) => p.fingerprints?.[f] ?? 0),
    color: `--c${5 + i}`,
  }));
  const markers: Marker[] = [];
  const firstSignal = inc.timeline.find((e) => e.kind === "signal");
  if (firstSignal) markers.push({ t: Date.parse(firstSignal.ts) / 1000, label: `detected: ${firstSignal.name}`, color: "--warn" });
  for (const e of inc.timeline) if (e.kind === "action") markers.push({ t: Date.parse(e.ts) / 1000, label: e.name, color: "--danger" });
  if (inc.resolved_at) markers.push({ t: Date.parse(inc.resolved_at) / 1000, label: "resolved", color: "--ok" });
  const contained = inc.timeline.find((e) => e.kind === "action" && containing.has(e.name));
  const opened = Date.parse(inc.opened_at);
  const until = contained ? Date.parse(contained.ts) : Infinity;
  let before = 0;
  for (const p of pts) {
    const t = Date.parse(p.ts);
    if (t + 60000 > opened && t <= until) before += p.cost_usd;
  }
  return {
    times,
    total: [{ label: "Requests", values: s.map((p) => p.requests), color: "--c1", fill: true }, { label: "Refused", values: s.map((p) => p.refused), color: "--danger" }] as Series[],
    byNet,
    byFP,
    markers,
    contained,
    spendBefore: act?.tracked ? before : undefined,
  };
}

export function IncidentPage({ id }: { id: string }) {
  const inc = useData(() => api.get<api.Incident>("incidents/" + encodeURIComponent(id)), [id], 10000);
  const i = inc.data;
  const act = useData(() => (i ? api.get<api.Activity>(`activity/${encodeURIComponent(i.key_id)}?minutes=180`) : Promise.resolve(undefined)), [i?.key_id], 10000);
  const key = useData(() => (i ? api.get<api.Key>(`keys/${encodeURIComponent(i.key_id)}`) : Promise.resolve(undefined)), [i?.key_id], 10000);
  const [dialog, setDialog] = useState<"resolve" | "revoke" | null>(null);
  const tl = useMemo(() => (i ? timelineChart(act.data, i) : null), [act.data, i]);

  if (inc.missing) return <Unavailable what="Detection (incidents)" />;
  if (inc.error) return <ErrorBox error={inc.error} />;
  if (!i || !tl) return <Loading what="Loading incident" />;
  const k = key.data;

  return (
    <Page id="h-incident" crumbs={<a href="#/incidents">Incidents</a>} title={<>{i.title} <Badge value={i.severity} /> <Badge value={i.status} /></>}>
      <p class="muted">
        <span class="mono">{i.id}</span> on key <a href={`#/keys/${encodeURIComponent(i.key_id)}`}>{k?.name ? `${k.name} (${i.key_id})` : i.key_id}</a>
        {i.key_owner && ` of ${i.key_owner}`} · opened {when(i.opened_at)}
        {i.resolved_at && ` · resolved ${when(i.resolved_at)} by ${i.resolved_by}${i.resolution ? ": " + i.resolution : ""}`}
      </p>
      <div class="toolbar" role="toolbar" aria-label="Incident actions">
        {i.status === "open" && api.can("responder") && (
          <button type="button" class="primary" onClick={() => setDialog("resolve")}>
            Resolve
          </button>
        )}
        {api.can("responder") && <a
          class="button"
          id="export-bundle"
          title="The audit log's signed entries of this key from an hour before the incident to its resolution" href={api.apiURL("audit/export" + api.qs({ incident: i.id }))} download={`evidence-${i.id}.zip`}>
          Export evidence bundle
        </a>}
        {k && k.status !== "revoked" && api.can("admin") && (
          <button type="button" class="danger" onClick={() => setDialog("revoke")}>
            Revoke key
          </button>
        )}
        {k && <Badge value={`key ${k.status}`} kind={k.status} />}
      </div>

      <div class="cards" role="list">
        <div class="card" role="listitem">
          <div class="card-value">{i.risk.toFixed(0)}</div>
          <div class="card-label">Risk</div>
        </div>
        <div class="card" role="listitem">
          <div class="card-value">{num(i.requests)}</div>
          <div class="card-label">Requests since opened ({num(i.refused)} refused)</div>
        </div>
        <div class="card card-danger" role="listitem">
          <div class="card-value" id="spend-before">{tl.spendBefore === undefined ? "—" : usd(tl.spendBefore)}</div>
          <div class="card-label">Spend before containment{tl.contained ? ` (${tl.contained.name} ${ago(tl.contained.ts)})` : " (not contained)"}</div>
        </div>
        <div class="card" role="listitem">
          <div class="card-value">{usd(i.spend_usd)}</div>
          <div class="card-label">Spend since opened</div>
        </div>
        <div class="card" role="listitem">
          <div class="card-value">{i.action || "—"}</div>
          <div class="card-label">Strongest action</div>
        </div>
      </div>

      <Panel id="h-attack" title="Timeline of the attack">
        <Loaded data={act.data} empty={(d) => !d.tracked} note="This server saw no requests of the key since it started; the timeline below lists the detections.">
          {() => (
            <>
              <Chart id="chart-attack" title="Requests per minute, with detections and actions marked" times={tl.times} series={tl.total} markers={tl.markers} />
              <div class="grid2">
                <Chart id="chart-networks" title="Requests per minute by network" times={tl.times} series={tl.byNet} markers={tl.markers} height={180} />
                <Chart id="chart-clients" title="Requests per minute by client fingerprint" times={tl.times} series={tl.byFP} markers={tl.markers} height={180} />
              </div>
            </>
          )}
        </Loaded>
        <ol class="timeline" id="incident-timeline">
          {i.timeline.map((e, n) => (
            <li key={n} class={`tl-${e.kind}`}>
              <time dateTime={e.ts}>{when(e.ts)}</time> <Badge value={e.kind} kind={e.kind === "action" ? "danger" : e.severity ?? "info"} /> <strong>{e.name}</strong>{" "}
              {e.reason}
              {e.risk ? <span class="muted small"> · risk {e.risk.toFixed(0)}</span> : null}
            </li>
          ))}
        </ol>
      </Panel>

      <Panel id="h-evidence" title="Evidence">
        <div class="grid3">
          <div>
            <h3>Networks</h3>
            <ul class="mono small">{(i.evidence.networks ?? []).map((n) => <li key={n}>{n}</li>)}</ul>
          </div>
          <div>
            <h3>Client fingerprints</h3>
            <ul class="mono small">{(i.evidence.fingerprints ?? []).map((n) => <li key={n}>{short(n, 16)}</li>)}</ul>
          </div>
          <div>
            <h3>User agents</h3>
            <ul class="small">{(i.evidence.user_agents ?? []).map((n) => <li key={n}>{n || "(none)"}</li>)}</ul>
          </div>
        </div>
        {(i.evidence.samples ?? []).length > 0 && (
          <>
            <h3>Sample requests</h3>
            <table class="table compact">
              <Head cols={["Time", "Client", "Request", "Status", "Features"]} />
              <tbody>
                {i.evidence.samples!.map((e: any) => (
                  <tr key={e.id}>
                    <td class="small">{when(e.ts)}</td>
                    <td class="small">
                      <span class="mono">{e.client_ip}</span> {e.client?.user_agent ?? ""}
                    </td>
                    <td class="small">
                      {e.method} {e.endpoint || e.path} {e.model}
                    </td>
                    <td class="small">
                      {e.status} {e.refusal && `refused: ${e.refusal}`}
                    </td>
                    <td class="small">
                      {[e.features?.max_tokens ? `max_tokens ${e.features.max_tokens}` : "", e.features?.empty_prompt ? "empty prompt" : "", ...(e.features?.phrases ?? [])]
                        .filter(Boolean)
                        .join(", ")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Panel>

      {dialog === "resolve" && (
        <Confirm
          title="Resolve this incident?"
          fields={[
            { name: "note", label: "Resolution note", type: "textarea", required: true },
            { name: "restore", label: "Lift the detector's containment of the key (it was a false alarm)", type: "checkbox" },
          ]}
          confirm="Resolve"
          onConfirm={async (v) => {
            await api.send("POST", `incidents/${encodeURIComponent(i.id)}/resolve`, { note: v.note, restore: v.restore, by: "console" });
            toast("Incident resolved");
            inc.reload();
          }}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog === "revoke" && (
        <Confirm
          title={`Revoke key ${k?.name || i.key_id}?`}
          body={
            <p>
              <strong>Revocation is final.</strong> Every request with this key will be refused for good.
            </p>
          }
          fields={[{ name: "reason", label: "Reason", value: `incident ${i.id}: ${i.title}`, required: true }]}
          confirm="Revoke key"
          danger
          onConfirm={async (v) => {
            await api.send("POST", `keys/${encodeURIComponent(i.key_id)}/revoke`, { reason: v.reason, by: "console" });
            toast("Key revoked");
            key.reload();
          }}
          onClose={() => setDialog(null)}
        />
      )}
    </Page>
  );
}
