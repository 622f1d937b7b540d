// Formatting shared by the pages.

export function usd(v: number | undefined): string {
  const n = v ?? 0;
  if (n !== 0 && Math.abs(n) < 0.01) return "$" + n.toFixed(4);
  return n.toLocaleString("en-US", { style: "currency", currency: "USD" });
}

export function num(v: number | undefined): string {
  return (v ?? 0).toLocaleString("en-US");
}

export function when(ts: string | undefined | null): string {
  if (!ts) return "—";
  const d = new Date(ts);
  if (isNaN(d.getTime()) || d.getUTCFullYear() < 1971) return "—";
  return d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
}

export function ago(ts: string | undefined | null, now = Date.now()): string {
  if (!ts) return "never";
  const d = new Date(ts).getTime();
  if (isNaN(d)) return "—";
  const s = Math.round((now - d) / 1000);
  if (s < 0) return "in " + dur(-s);
  if (s < 5) return "just now";
  return dur(s) + " ago";
}

export function dur(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export function short(s: string | undefined, n = 12): string {
  if (!s) return "—";
  return s.length > n ? s.slice(0, n) + "…" : s;
}
