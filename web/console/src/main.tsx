// Entry point: sign-in, the navigation shell and a hash router.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import * as api from "./api";
import { Toasts } from "./ui";
import { Overview } from "./pages/overview";
import { KeysPage } from "./pages/keys";
import { KeyPage } from "./pages/key";
import { IncidentsPage, IncidentPage } from "./pages/incidents";
import { LeaksPage } from "./pages/leaks";
import { AuditPage } from "./pages/audit";
import { LivePage } from "./pages/live";
import "./style.css";

function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, "").split("?")[0] || "overview").split("/").map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => {
      setRoute(read());
      // Move focus to the new page's heading for screen readers and keyboards.
      requestAnimationFrame(() => document.querySelector<HTMLElement>("main h1")?.focus());
    };
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

const nav = [
  ["overview", "Overview"],
  ["keys", "Keys"],
  ["incidents", "Incidents"],
  ["leaks", "Leaks"],
  ["audit", "Audit"],
  ["live", "Live"],
];

// The stored choice goes on the root as data-theme as soon as the script
// runs, signed in or not; the stylesheet does the rest ("auto" follows the
// system's preference there, before any script has run).
const storedTheme = () => localStorage.getItem("warden-theme") ?? "auto";
function applyTheme() {
  document.documentElement.dataset.theme = storedTheme();
}
applyTheme();

function Theme() {
  const [theme, setTheme] = useState(storedTheme);
  useEffect(() => {
    localStorage.setItem("warden-theme", theme);
    applyTheme();
  }, [theme]);
  return (
    <label class="theme">
      <span class="sr-only">Colour theme</span>
      <select value={theme} onChange={(e) => setTheme((e.target as HTMLSelectElement).value)}>
        <option value="auto">Auto theme</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}

function SignIn({ onDone }: { onDone: () => void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [sso, setSSO] = useState(false);
  useEffect(() => {
    api.ssoAvailable().then(setSSO, () => setSSO(false));
  }, []);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const token = ((ev.currentTarget as HTMLFormElement).elements.namedItem("token") as HTMLInputElement).value;
    setBusy(true);
    setError("");
    try {
      await api.signIn(token);
      onDone();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Warden console</h1>
        {sso && (
          <p>
            <a class="button primary" id="sso" href="oidc/login">
              Sign in with your company account
            </a>
          </p>
        )}
        <p class="muted">{sso ? "Or sign" : "Sign"} in with the admin token (the file admin.token in Warden's data directory).</p>
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function App() {
  const [state, setState] = useState<"checking" | "out" | "in">("checking");
  const route = useRoute();
  useEffect(() => {
    api.onSignedOut.cb = () => setState("out");
    api.session().then((ok) => setState(ok ? "in" : "out"), () => setState("out"));
  }, []);
  if (state === "checking") return <p class="muted">Loading…</p>;
  if (state === "out") return <SignIn onDone={() => setState("in")} />;

  const [page, ...rest] = route;
  let body;
  switch (page) {
    case "keys":
      body = rest[0] ? <KeyPage id={rest[0]} /> : <KeysPage />;
      break;
    case "incidents":
      body = rest[0] ? <IncidentPage id={rest[0]} /> : <IncidentsPage />;
      break;
    case "leaks":
      body = <LeaksPage />;
      break;
    case "audit":
      body = <AuditPage />;
      break;
    case "live":
      body = <LivePage />;
      break;
    default:
      body = <Overview />;
  }
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/overview">
          <img src="assets/favicon.svg" alt="" width={22} height={22} /> Warden
        </a>
        <nav aria-label="Main">
          <ul>
            {nav.map(([id, label]) => (
              <li key={id}>
                <a href={`#/${id}`} aria-current={page === id || (id === "overview" && !nav.some((n) => n[0] === page)) ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="top-right">
          <span class="muted" id="whoami">
            {api.me.who} ({api.me.role})
          </span>
          <Theme />
          <button
            type="button"
            onClick={async () => {
              await api.signOut();
              setState("out");
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
      <Toasts />
    </>
  );
}

render(<App />, document.getElementById("app")!);
