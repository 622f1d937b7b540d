import * as api from "../api";
import { useData } from "../data";
import { ago, when } from "../format";
import { Badge, ErrorBox, Loaded, Page, Panel, Table } from "../ui";

/**
 * LeaksPage shows what the leak scanner and the canaries found: revoked
 * keys (with who revoked them and why; "scanner" for the scanner and the
 * GitHub partner endpoint) and the canary keys, where they were planted and
 * whether anyone has used them.
 */
export function LeaksPage() {
  const revoked = useData(() => api.get<api.Key[]>("keys?status=revoked&limit=200"), [], 30000);
  const canaries = useData(() => api.get<api.Key[]>("keys?kind=canary&limit=200"), [], 30000);
  const incidents = useData(() => api.get<api.Incident[]>("incidents?limit=1000"), [], 30000);
  const findings = (incidents.data ?? []).flatMap((i) =>
    i.timeline.filter((e) => e.kind === "signal" && e.name === "leak").map((e) => ({ inc: i, where: e.evidence?.where ?? "", by: e.evidence?.found_by ?? "", ts: e.ts })),
  );
  const canaryIncident = new Map((incidents.data ?? []).filter((i) => i.key_kind === "canary").map((i) => [i.key_id, i]));
  const revokedSorted = [...(revoked.data ?? [])].sort((a, b) => (b.status_at ?? "").localeCompare(a.status_at ?? ""));
  return (
    <Page id="h-leaks" title="Leaks">
      <Panel id="h-findings" title="Scanner findings">
        <p class="muted small">
          Keys the leak scanner (<code>warden scan --revoke</code>) or GitHub secret scanning found exposed, and revoked.
        </p>
        {incidents.missing ? (
          <p class="muted">Incidents are not available on this server.</p>
        ) : (
          <Loaded data={incidents.data} empty={() => findings.length === 0} note="No leaked keys found.">
            {() => (
              <Table
                id="findings-table"
                cols={["Found at", "Key", "Found by", "When", "Incident"]}
                rows={findings}
                row={(f) => (
                  <tr key={f.inc.id}>
                    <td class="mono small">{f.where}</td>
                    <td>
                      <a href={`#/keys/${encodeURIComponent(f.inc.key_id)}`}>{f.inc.key_id}</a>
                      {f.inc.key_owner && <span class="muted small"> {f.inc.key_owner}</span>}
                    </td>
                    <td>
                      <Badge value={f.by || "scanner"} kind="info" />
                    </td>
                    <td class="small">{when(f.ts)}</td>
                    <td>
                      <a href={`#/incidents/${encodeURIComponent(f.inc.id)}`}>{f.inc.status}</a>
                    </td>
                  </tr>
                )}
              />
            )}
          </Loaded>
        )}
      </Panel>
      <Panel id="h-canaries" title="Canaries">
        <p class="muted small">
          Decoy keys planted where a thief would find them (create them with <code>warden canary create</code>). Any use is an attack.
        </p>
        <ErrorBox error={canaries.error} />
        <Loaded data={canaries.data} empty={(d) => d.length === 0} note="No canaries yet.">
          {(d) => (
            <Table
              id="canaries-table"
              cols={["Canary", "Planted", "Status", "Last used"]}
              rows={d}
              row={(k) => (
                <tr key={k.id} class={k.last_used_at ? "row-refused" : ""}>
                  <td>
                    <a href={`#/keys/${encodeURIComponent(k.id)}`}>{k.name}</a> <span class="mono small muted">{k.id}</span>
                  </td>
                  <td class="small">
                    {Object.entries(k.labels ?? {})
                      .map(([a, b]) => `${a.replace(/^canary_/, "")}: ${b}`)
                      .join(" · ") || "—"}
                  </td>
                  <td>
                    <Badge value={k.status} />
                  </td>
                  <td class="small">
                    {k.last_used_at ? <strong>{`${ago(k.last_used_at)} from ${k.last_used_ip ?? "?"}`}</strong> : "never (good)"}
                    {canaryIncident.has(k.id) && (
                      <>
                        {" "}
                        <a href={`#/incidents/${encodeURIComponent(canaryIncident.get(k.id)!.id)}`}>incident</a>
                      </>
                    )}
                  </td>
                </tr>
              )}
            />
          )}
        </Loaded>
      </Panel>
      <Panel id="h-revoked" title="Revocations">
        <p class="muted small">
          Keys revoked by an operator, the leak scanner (<code>warden scan --revoke</code>), the GitHub secret-scanning partner endpoint or the
          detector.
        </p>
        <ErrorBox error={revoked.error} />
        <Loaded data={revoked.data} empty={() => revokedSorted.length === 0} note="No revoked keys.">
          {() => (
            <Table
              id="revoked-table"
              cols={["Key", "Owner", "Revoked by", "When", "Reason"]}
              rows={revokedSorted}
              row={(k) => (
                <tr key={k.id}>
                  <td>
                    <a href={`#/keys/${encodeURIComponent(k.id)}`}>{k.name || k.id}</a>
                  </td>
                  <td>{k.owner || "—"}</td>
                  <td>
                    <Badge value={k.status_by || "?"} kind="info" />
                  </td>
                  <td class="small">{when(k.status_at)}</td>
                  <td class="small">{k.status_reason}</td>
                </tr>
              )}
            />
          )}
        </Loaded>
      </Panel>
    </Page>
  );
}
