// The console's client of the admin API. Every call goes through
// /console/api/v1/... under the session cookie; state-changing calls carry
// the session's CSRF token in X-CSRF-Token.

let csrf = "";

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

/** Thrown by calls when the session is gone; the app shows the sign-in form. */
export const onSignedOut: { cb: () => void } = { cb: () => {} };

async function parse(resp: Response): Promise<any> {
  const text = await resp.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!resp.ok) {
    const err = body && typeof body === "object" ? body.error : null;
    const msg = typeof err === "string" ? err : err?.message ?? `${resp.status} ${resp.statusText}`;
    const code = typeof err === "object" && err?.code ? err.code : String(resp.status);
    if (resp.status === 401) onSignedOut.cb();
    throw new ApiError(resp.status, code, msg);
  }
  return body;
}

/** Who is signed in, and with which role (viewer, responder or admin). */
export const me = { who: "", role: "" };
const ranks: Record<string, number> = { viewer: 1, responder: 2, admin: 3 };

/** Whether the signed-in role may do what needs role; the admin API decides anyway (403). */
export function can(role: "viewer" | "responder" | "admin"): boolean {
  return (ranks[me.role] ?? 0) >= ranks[role];
}

function remember(body: any) {
  csrf = body.csrf;
  me.role = body.role ?? "";
  me.who = body.email || body.name || body.subject || "";
}

export async function session(): Promise<boolean> {
  const resp = await fetch("session", { credentials: "same-origin" });
  if (!resp.ok) return false;
  remember(await resp.json());
  return true;
}

/** Whether single sign-on with the identity provider is configured. */
export async function ssoAvailable(): Promise<boolean> {
  const resp = await fetch("auth", { credentials: "same-origin" });
  return resp.ok && (await resp.json()).sso === true;
}

export async function signIn(token: string): Promise<void> {
  const resp = await fetch("session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  remember(await parse(resp));
}

export async function signOut(): Promise<void> {
  await fetch("session", { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
  csrf = "";
}

/** URL of an admin API path ("keys?limit=50") under the console. */
export function apiURL(p: string): string {
  return "api/v1/" + p;
}

export async function get<T = any>(p: string): Promise<T> {
  return parse(await fetch(apiURL(p), { credentials: "same-origin", headers: { Accept: "application/json" } }));
}

/** GET of a text answer (audit checkpoints are text/plain). */
export async function getText(p: string): Promise<string> {
  const resp = await fetch(apiURL(p), { credentials: "same-origin" });
  if (!resp.ok) await parse(resp);
  return resp.text();
}

export async function send<T = any>(method: string, p: string, body?: unknown): Promise<T> {
  return parse(
    await fetch(apiURL(p), {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

/** Query string from an object, skipping empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, String(v));
  const s = u.toString();
  return s ? "?" + s : "";
}

// Records of the admin API.

export interface Key {
  id: string;
  name: string;
  owner?: string;
  labels?: Record<string, string>;
  kind: string;
  models?: string[];
  endpoints?: string[];
  cidrs?: string[];
  rpm?: number;
  tpm?: number;
  max_concurrent?: number;
  monthly_budget_usd?: number;
  expires_at?: string;
  status: string;
  status_reason?: string;
  status_by?: string;
  status_at?: string;
  action?: string;
  action_reason?: string;
  action_until?: string;
  rotated_to?: string;
  rotated_from?: string;
  grace_until?: string;
  created_at: string;
  updated_at: string;
  last_used_at?: string;
  last_used_ip?: string;
  usage_this_month?: { requests: number; tokens: number; cost_usd: number };
  key?: string;
}

export interface LiveEvent {
  id: string;
  ts: string;
  duration_ms: number;
  key_id?: string;
  key_owner?: string;
  key_kind?: string;
  client_ip: string;
  network?: string;
  fingerprint?: string;
  user_agent?: string;
  method: string;
  path: string;
  endpoint?: string;
  model?: string;
  status: number;
  error_code?: string;
  refusal?: string;
  tokens?: number;
  cost_usd?: number;
  action?: string;
  guard?: string[];
  phrases?: string[];
}

export interface StatsPoint {
  ts: string;
  requests: number;
  refused: number;
  errors: number;
  tokens: number;
  cost_usd: number;
  canary: number;
}

export interface Stats {
  from: string;
  to: string;
  received: number;
  series: StatsPoint[];
  totals: StatsPoint;
  top_keys: { key_id: string; key_owner?: string; requests: number; refused: number; cost_usd: number; risk?: number }[];
}

export interface Seen {
  value: string;
  detail?: string;
  requests: number;
  refused: number;
  first: string;
  last: string;
}

export interface Activity {
  key_id: string;
  tracked: boolean;
  requests: number;
  refused: number;
  cost_usd: number;
  series: {
    ts: string;
    requests: number;
    refused: number;
    cost_usd: number;
    networks?: Record<string, number>;
    fingerprints?: Record<string, number>;
  }[];
  networks: Seen[];
  fingerprints: Seen[];
  models: Seen[];
  hour_of_week: number[];
}

export interface IncidentEntry {
  ts: string;
  kind: string;
  name: string;
  severity?: string;
  reason: string;
  weight?: number;
  risk?: number;
  evidence?: Record<string, string>;
}

export interface Incident {
  id: string;
  key_id: string;
  key_owner?: string;
  key_kind?: string;
  status: string;
  severity: string;
  action: string;
  title: string;
  opened_at: string;
  updated_at: string;
  resolved_at?: string;
  resolved_by?: string;
  resolution?: string;
  risk: number;
  requests: number;
  refused: number;
  spend_usd: number;
  timeline: IncidentEntry[];
  evidence: {
    networks?: string[];
    fingerprints?: string[];
    user_agents?: string[];
    samples?: any[];
  };
}
