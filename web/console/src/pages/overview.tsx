import { useMemo, useState } from "preact/hooks";
import * as api from "../api";
import { Chart } from "../chart";
import { useData } from "../data";
import { ago, num, usd } from "../format";
import { Badge, ErrorBox, Head, Loading, Page, Panel } from "../ui";

/** Open incidents at each minute, from their opening and resolution times. */
export function openOver(incidents: api.Incident[], times: number[]): number[] {
  return times.map((t) =>
    incidents.filter((i) => {
      const o = Date.parse(i.opened_at) / 1000;
      const r = i.resolved_at ? Date.parse(i.resolved_at) / 1000 : Infinity;
      return o <= t + 59 && r > t;
    }).length,
  );
}

export function Overview() {
  const [minutes, setMinutes] = useState(60);
  const stats = useData(() => api.get<api.Stats>(`stats?minutes=${minutes}`), [minutes], 10000);
  const incidents = useData(() => api.get<api.Incident[]>("incidents?limit=500"), [], 15000);
  const s = stats.data;
  const span = minutes === 60 ? "last hour" : minutes === 180 ? "last 3 hours" : `last ${minutes} minutes`;
  const topIDs = (s?.top_keys ?? []).slice(0, 10).map((k) => k.key_id).join(",");
  const names = useData(async () => {
    const ks = await Promise.all(topIDs.split(",").filter(Boolean).map((id) => api.get<api.Key>("keys/" + encodeURIComponent(id)).catch(() => null)));
    return new Map(ks.filter((k): k is api.Key => k !== null).map((k) => [k.id, k]));
  }, [topIDs]);
  const inc = incidents.data ?? [];
  const open = inc.filter((i) => i.status === "open");

  const charts = useMemo(() => {
    if (!s) return null;
    const times = s.series.map((p) => Date.parse(p.ts) / 1000);
    return {
      times,
      traffic: [
        { label: "Requests", values: s.series.map((p) => p.requests), color: "--c1", fill: true },
        { label: "Refused", values: s.series.map((p) => p.refused), color: "--danger" },
      ],
      spend: [{ label: "Spend (USD)", values: s.series.map((p) => p.cost_usd), color: "--c3", bars: true, money: true }],
      incidents: [{ label: "Open incidents", values: openOver(inc, times), color: "--warn", fill: true }],
    };
  }, [s, incidents.data]);

  return (
    <Page id="h-overview" title="Overview">
      <div class="toolbar">
        <label for="window">Window</label>
        <select id="window" value={String(minutes)} onChange={(e) => setMinutes(Number((e.target as HTMLSelectElement).value))}>
          <option value="15">Last 15 minutes</option>
          <option value="60">Last hour</option>
          <option value="180">Last 3 hours</option>
        </select>
      </div>
      <ErrorBox error={stats.error} />
      {!s ? (
        <Loading />
      ) : (
        <>
          <div class="cards" role="list">
            <Card label={`Requests, ${span}`} value={num(s.totals.requests)} />
            <Card label="Refused" value={num(s.totals.refused)} tone={s.totals.refused ? "danger" : undefined} />
            <Card label={`Spend, ${span}`} value={usd(s.totals.cost_usd)} />
            <Card label="Open incidents" value={incidents.missing ? "—" : num(open.length)} tone={open.length ? "warn" : undefined} />
            <Card label="Canary hits" value={num(s.totals.canary)} tone={s.totals.canary ? "danger" : undefined} />
          </div>
          <div class="grid2">
            <Chart id="chart-traffic" title="Requests and refusals per minute" times={charts!.times} series={charts!.traffic} />
            <Chart id="chart-spend" title="Spend per minute" times={charts!.times} series={charts!.spend} />
          </div>
          <div class="grid2">
            <Panel id="h-risk" title="Keys at highest risk">
              <p class="muted small">{span[0].toUpperCase() + span.slice(1)}, by detector risk, then refusals, then spend.</p>
              {s.top_keys.length === 0 ? (
                <p class="muted">No key traffic in the {span}.</p>
              ) : (
                <table class="table" id="top-keys">
                  <Head cols={["Key", "Owner", "Risk", "Requests", "Refused", "Spend"]} num={["Risk", "Requests", "Refused", "Spend"]} />
                  <tbody>
                    {s.top_keys.slice(0, 10).map((k) => (
                      <tr key={k.key_id}>
                        <td>
                          <a href={`#/keys/${encodeURIComponent(k.key_id)}`}>{names.data?.get(k.key_id)?.name || k.key_id}</a>{" "}
                          {names.data?.get(k.key_id) && names.data.get(k.key_id)!.status !== "active" && <Badge value={names.data.get(k.key_id)!.status} />}
                          <div class="mono small muted">{k.key_id}</div>
                        </td>
                        <td>{k.key_owner ?? "—"}</td>
                        <td class="num">{k.risk ? k.risk.toFixed(0) : "—"}</td>
                        <td class="num">{num(k.requests)}</td>
                        <td class="num">{num(k.refused)}</td>
                        <td class="num">{usd(k.cost_usd)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Panel>
            <Panel id="h-open" title="Open incidents">
              {incidents.missing ? (
                <p class="muted">Detection is not enabled on this server.</p>
              ) : open.length === 0 ? (
                <p class="muted">No open incidents.</p>
              ) : (
                <ul class="list">
                  {open.slice(0, 8).map((i) => (
                    <li key={i.id}>
                      <Badge value={i.severity} /> <a href={`#/incidents/${encodeURIComponent(i.id)}`}>{i.title}</a>{" "}
                      <span class="muted small">
                        {i.key_id} · {usd(i.spend_usd)} · {ago(i.opened_at)}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
              {!incidents.missing && <Chart id="chart-incidents" title="Open incidents" times={charts!.times} series={charts!.incidents} height={140} />}
            </Panel>
          </div>
          <p class="muted small">Charts cover events since this server started ({num(s.received)} in all); they refresh every 10 seconds.</p>
        </>
      )}
    </Page>
  );
}

function Card({ label, value, tone }: { label: string; value: string; tone?: string }) {
  return (
    <div class={`card ${tone ? "card-" + tone : ""}`} role="listitem">
      <div class="card-value">{value}</div>
      <div class="card-label">{label}</div>
    </div>
  );
}
