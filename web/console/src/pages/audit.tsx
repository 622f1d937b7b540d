import { useState } from "preact/hooks";
import * as api from "../api";
import { useData } from "../data";
import { Badge, ErrorBox, Head, Loading, Page, Panel, Unavailable, toast } from "../ui";
import { AdminActions } from "./actions";

/** AuditPage: the latest signed checkpoint, a full verification, proofs. */
export function AuditPage() {
  const cp = useData(() => api.getText("audit/checkpoint"), [], 30000);
  const stats = useData(() => api.get<any>("audit/stats"), [], 30000);
  const [verify, setVerify] = useState<any>(null);
  const [verifyErr, setVerifyErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [proof, setProof] = useState<any>(null);
  const [proofErr, setProofErr] = useState<unknown>(null);
  const [entries, setEntries] = useState<any[] | null>(null);
  const [hygiene, setHygiene] = useState<any>(null);
  const [hygieneErr, setHygieneErr] = useState<unknown>(null);
  const [hygieneBusy, setHygieneBusy] = useState(false);

  if (cp.missing) return <Unavailable what="The audit log" />;

  const runVerify = async () => {
    setBusy(true);
    setVerifyErr(null);
    try {
      setVerify(await api.send("POST", "audit/verify"));
      toast("Audit log verified");
    } catch (e) {
      setVerify(null);
      setVerifyErr(e);
    } finally {
      setBusy(false);
    }
  };
  const lookup = async (ev: Event) => {
    ev.preventDefault();
    const v = ((ev.currentTarget as HTMLFormElement).elements.namedItem("index") as HTMLInputElement).value.trim();
    setProof(null);
    setProofErr(null);
    try {
      setProof(await api.get("audit/proof/inclusion" + api.qs({ index: v })));
    } catch (e) {
      setProofErr(e);
    }
  };
  const findEntries = async (ev: Event) => {
    ev.preventDefault();
    const v = ((ev.currentTarget as HTMLFormElement).elements.namedItem("audit-key") as HTMLInputElement).value.trim();
    setEntries(null);
    try {
      setEntries(await api.get<any[]>("audit/entries" + api.qs({ key: v, limit: 50 })));
    } catch (e) {
      setProofErr(e);
    }
  };

  return (
    <Page id="h-audit" title="Audit">
      <div class="grid2">
        <Panel id="h-cp" title="Latest checkpoint">
          {cp.error instanceof api.ApiError && cp.error.status === 404 ? (
            <p class="muted">No checkpoint has been signed yet.</p>
          ) : (
            <ErrorBox error={cp.error} />
          )}
          {cp.data !== undefined && (
            <pre class="checkpoint" id="checkpoint">
              {cp.data}
            </pre>
          )}
          {cp.data === undefined && !cp.error && <Loading />}
          <button
            type="button"
            onClick={async () => {
              try {
                await api.send("POST", "audit/checkpoint");
                toast("Checkpoint signed");
                cp.reload();
              } catch (e) {
                toast(e instanceof Error ? e.message : String(e), "error");
              }
            }}
          >
            Sign a checkpoint now
          </button>
          {stats.data && (
            <p class="muted small">
              {stats.data.size ?? stats.data.tree_size ?? ""} entries · {stats.data.appended ?? 0} appended since start · {stats.data.failed ?? 0} failed
            </p>
          )}
        </Panel>
        <Panel id="h-verify" title="Verification">
          <p class="muted small">Rebuilds the Merkle tree from every entry and checks every signed checkpoint against it.</p>
          <button type="button" class="primary" onClick={runVerify} disabled={busy}>
            {busy ? "Verifying…" : "Verify the whole log"}
          </button>
          <ErrorBox error={verifyErr} />
          {verify && (
            <p class="notice notice-ok" role="status" id="verify-result">
              Verified: {verify.size} entries, {verify.checkpoints} checkpoints, {verify.bodies} bodies. Root <span class="mono">{String(verify.root)}</span>
            </p>
          )}
        </Panel>
      </div>
      <AdminActions />
      <Panel id="h-hygiene" title="Key hygiene">
        <p class="muted small">Keys nobody uses, keys never rotated, keys usable from any network or with no limit: what turns a leak into a bill.</p>
        <button
          type="button"
          disabled={hygieneBusy}
          onClick={async () => {
            setHygieneBusy(true);
            setHygieneErr(null);
            try {
              setHygiene(await api.get("audit/keys"));
            } catch (e) {
              setHygieneErr(e);
            } finally {
              setHygieneBusy(false);
            }
          }}
        >
          {hygieneBusy ? "Auditing keys…" : "Audit the keys"}
        </button>
        <ErrorBox error={hygieneErr} />
        {hygiene && (
          <>
            <p role="status">
              {hygiene.keys_audited} keys audited, {hygiene.findings?.length ?? 0} findings.
            </p>
            {(hygiene.findings?.length ?? 0) > 0 && (
              <table class="table compact" id="hygiene-table">
                <Head cols={["Key", "Finding", "Severity", "Detail", "Fix"]} />
                <tbody>
                  {hygiene.findings.slice(0, 200).map((f: any, n: number) => (
                    <tr key={n}>
                      <td>
                        <a href={`#/keys/${encodeURIComponent(f.key_id)}`}>{f.name || f.key_id}</a>
                      </td>
                      <td class="mono small">{f.check}</td>
                      <td>
                        <Badge value={f.severity} />
                      </td>
                      <td class="small">{f.detail}</td>
                      <td class="mono small">{f.fix}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
      </Panel>
      <Panel id="h-proof" title="Inclusion proof">
        <form class="inline" onSubmit={lookup}>
          <label for="index">Entry index</label> <input id="index" name="index" inputMode="numeric" pattern="[0-9]+" required />{" "}
          <button type="submit">Prove</button>
        </form>
        <form class="inline" onSubmit={findEntries}>
          <label for="audit-key">Or find a key's entries</label> <input id="audit-key" name="audit-key" placeholder="key_…" required /> <button type="submit">Find</button>
        </form>
        <ErrorBox error={proofErr} />
        {entries && (
          <ul class="list small">
            {entries.length === 0 && <li class="muted">No entries.</li>}
            {entries.map((e) => (
              <li key={e.index}>
                #{e.index} {e.event?.ts} {e.event?.method} {e.event?.path} {e.event?.status}
                {e.event?.actor && (
                  <span class="actor">
                    {" "}by {e.event.actor.email || e.event.actor.subject} as {e.event.actor.role}
                  </span>
                )}{" "}
                <button type="button" onClick={() => api.get("audit/proof/inclusion" + api.qs({ index: e.index })).then(setProof, setProofErr)}>
                  Prove #{e.index}
                </button>
              </li>
            ))}
          </ul>
        )}
        {proof && (
          <pre class="checkpoint" id="proof">
            {JSON.stringify(proof, null, 2)}
          </pre>
        )}
      </Panel>
    </Page>
  );
}
