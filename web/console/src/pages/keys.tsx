import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { useData } from "../data";
import { ago, usd } from "../format";
import { Badge, ErrorBox, Head, Loaded, Page } from "../ui";

const pageSize = 50;

interface Filter {
  q: string;
  status: string;
  owner: string;
  kind: string;
  risk: string; // "" or "at-risk"
}

function readFilter(): Filter {
  const p = new URLSearchParams(location.hash.split("?")[1] ?? "");
  return { q: p.get("q") ?? "", status: p.get("status") ?? "", owner: p.get("owner") ?? "", kind: p.get("kind") ?? "", risk: p.get("risk") ?? "" };
}

/**
 * Choice is a filter's drop-down: "Any" (the empty value), then options,
 * value to label, in their order.
 */
function Choice(props: { name: keyof Filter; label: string; value: string; onChange: (ev: Event) => void; options: Record<string, string> }) {
  return (
    <div class="field">
      <label for={props.name}>{props.label}</label>
      <select id={props.name} name={props.name} value={props.value} onChange={props.onChange}>
        <option value="">Any</option>
        {Object.entries(props.options).map(([v, label]) => (
          <option key={v} value={v}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * KeysPage lists keys with server-side paging (after/limit) and filters, so
 * it stays fast with 100,000 keys. "At risk" lists the keys with open
 * incidents or detector containment, and the most refused ones of the hour.
 */
export function KeysPage() {
  const [filter, setFilter] = useState<Filter>(readFilter);
  const [cursors, setCursors] = useState<string[]>([""]); // "after" of each page seen
  const after = cursors[cursors.length - 1];

  useEffect(() => {
    const q = api.qs(filter as any);
    history.replaceState(null, "", "#/keys" + q);
  }, [filter]);

  const list = useData(async () => {
    if (filter.risk === "at-risk") return atRisk();
    return api.get<api.Key[]>("keys" + api.qs({ q: filter.q, status: filter.status, owner: filter.owner, kind: filter.kind, after, limit: pageSize + 1 }));
  }, [filter, after]);

  const rows = list.data?.slice(0, pageSize) ?? [];
  const more = (list.data?.length ?? 0) > pageSize && filter.risk === "";

  const change = (ev: Event) => {
    const form = (ev.currentTarget as HTMLElement).closest("form")!;
    const v = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value.trim();
    setCursors([""]);
    setFilter({ q: v("q"), status: v("status"), owner: v("owner"), kind: v("kind"), risk: v("risk") });
  };

  return (
    <Page id="h-keys" title="Keys">
      <form class="filters" role="search" aria-label="Filter keys" onSubmit={(e) => (e.preventDefault(), change(e))}>
        <div class="field">
          <label for="q">Search id or name</label>
          {/* Uncontrolled: a re-render (data arriving) must not wipe what the operator is typing. */}
          <input id="q" name="q" type="search" defaultValue={filter.q} placeholder="key_… or name" />
        </div>
        <div class="field">
          <label for="owner">Owner</label>
          <input id="owner" name="owner" defaultValue={filter.owner} />
        </div>
        <Choice name="status" label="Status" value={filter.status} onChange={change} options={{ active: "Active", suspended: "Suspended", revoked: "Revoked" }} />
        <Choice name="kind" label="Kind" value={filter.kind} onChange={change} options={{ standard: "Standard", canary: "Canary" }} />
        <Choice name="risk" label="Risk" value={filter.risk} onChange={change} options={{ "at-risk": "At risk" }} />
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      <ErrorBox error={list.error} />
      <Loaded data={list.data} empty={() => rows.length === 0} note="No keys match." what="Loading keys">
        {() => (
          <table class="table" id="keys-table">
            <caption class="sr-only">Keys</caption>
            <Head cols={["Name", "Id", "Owner", "Status", "Limits", "Last used"]} />
            <tbody>
              {rows.map((k) => (
                <tr key={k.id}>
                  <td>
                    <a href={`#/keys/${encodeURIComponent(k.id)}`}>{k.name || "(unnamed)"}</a>
                    {k.kind === "canary" && <Badge value="canary" />}
                  </td>
                  <td class="mono">{k.id}</td>
                  <td>{k.owner || "—"}</td>
                  <td>
                    <Badge value={k.status} />
                    {k.action && <Badge value={k.action} kind="warn" />}
                  </td>
                  <td class="small">
                    {[k.rpm ? `${k.rpm} rpm` : "", k.tpm ? `${k.tpm} tpm` : "", k.monthly_budget_usd ? `${usd(k.monthly_budget_usd)}/mo` : ""].filter(Boolean).join(" · ") || "—"}
                  </td>
                  <td class="small">
                    {ago(k.last_used_at)}
                    {k.last_used_ip && <span class="muted"> from {k.last_used_ip}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
      {filter.risk === "" && (
        <nav class="pager" aria-label="Pages of keys">
          <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous
          </button>
          <span class="muted">Page {cursors.length}</span>
          <button type="button" disabled={!more} onClick={() => setCursors([...cursors, rows[rows.length - 1].id])}>
            Next
          </button>
        </nav>
      )}
    </Page>
  );
}

/** atRisk gathers keys with open incidents, detector actions or refusals. */
async function atRisk(): Promise<api.Key[]> {
  const ids = new Set<string>();
  const [stats, incidents] = await Promise.all([
    api.get<api.Stats>("stats?minutes=60").catch(() => null),
    api.get<api.Incident[]>("incidents?status=open&limit=200").catch(() => [] as api.Incident[]),
  ]);
  for (const i of incidents) ids.add(i.key_id);
  for (const k of stats?.top_keys ?? []) if (k.refused > 0 || (k.risk ?? 0) > 0) ids.add(k.key_id);
  const keys = await Promise.all([...ids].slice(0, 50).map((id) => api.get<api.Key>("keys/" + encodeURIComponent(id)).catch(() => null)));
  return keys.filter((k): k is api.Key => k !== null);
}
