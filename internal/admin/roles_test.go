package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/authn"
	"github.com/wardenhq/warden/internal/authn/authntest"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         authn.Role
	}{
		{"GET", "/admin/v1/keys", authn.Viewer},
		{"GET", "/admin/v1/keys/key_1", authn.Viewer},
		{"GET", "/admin/v1/audit/entries", authn.Viewer},
		{"POST", "/admin/v1/audit/verify", authn.Viewer},
		{"GET", "/admin/v1/audit/export", authn.Responder},
		{"POST", "/admin/v1/keys/key_1/suspend", authn.Responder},
		{"POST", "/admin/v1/keys/key_1/resume", authn.Responder},
		{"POST", "/admin/v1/keys/key_1/action", authn.Responder},
		{"POST", "/admin/v1/incidents/inc_1/resolve", authn.Responder},
		{"POST", "/admin/v1/audit/holds", authn.Responder},
		{"DELETE", "/admin/v1/audit/holds/h1", authn.Responder},
		{"POST", "/admin/v1/keys/key_1/revoke", authn.Admin},
		{"POST", "/admin/v1/keys/key_1/rotate", authn.Admin},
		{"POST", "/admin/v1/keys", authn.Admin},
		{"PATCH", "/admin/v1/keys/key_1", authn.Admin},
		{"DELETE", "/admin/v1/keys/key_1", authn.Admin},
		{"POST", "/admin/v1/audit/prune", authn.Admin},
		{"POST", "/admin/v1/something-new", authn.Admin},
		{"GET", "/admin/v1/debug/pprof/profile", authn.Admin},
		{"GET", "/admin/v1/debug/pprof/heap", authn.Admin},
	} {
		if got := Required(c.method, c.path); got != c.want {
			t.Errorf("%s %s needs %s, want %s", c.method, c.path, got, c.want)
		}
	}
}

// The token counts only as Authorization: Bearer (issue 15.5: a bare
// token in the Authorization header was accepted too).
func TestTokenOnlyAsBearer(t *testing.T) {
	srv, _ := newAPI(t)
	for _, c := range []struct {
		name, header string
		want         int
	}{
		{"bearer", "Bearer s3cret", 200},
		{"bare token", "s3cret", 401},
		{"basic", "Basic s3cret", 401},
		{"lower-case scheme glued", "Bearers3cret", 401},
		{"empty bearer", "Bearer ", 401},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/admin/v1/keys", nil)
		req.Header.Set("Authorization", c.header)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, res.StatusCode, c.want)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/admin/v1/keys?token=s3cret", nil)
	res, _ := http.DefaultClient.Do(req)
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("token in the query: %d, want 401", res.StatusCode)
	}
}

// The shared token acts with its configured role; a person's ID token acts
// as that person; every write is reported with who sent it.
func TestServiceRoleAndBearerIDTokens(t *testing.T) {
	db := sqlitetest.Open(t)
	k, _, err := keys.Create(context.Background(), db, keys.Spec{Name: "bot"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rick := authntest.Person{Subject: "u-rick", Email: "rick@example.com", Groups: []string{"secops"}}
	is, err := authntest.Start("warden", "x", rick)
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	p, err := authn.NewProvider(context.Background(), &authn.Config{OIDC: authn.OIDCConfig{Issuer: is.URL, ClientID: "warden", RedirectURL: "http://x/cb"},
		Roles: map[string][]string{"responder": {"secops"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []Action
	s := &Server{Store: db, Token: "s3cret", ServiceRole: authn.Viewer, Bearer: p.Bearer,
		OnAction: func(_ context.Context, a Action) { got = append(got, a) }}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if code := call(t, srv, "s3cret", "GET", "/admin/v1/keys", "", nil); code != 200 {
		t.Fatalf("viewer service token reads: %d", code)
	}
	if code := call(t, srv, "s3cret", "POST", "/admin/v1/keys/"+k.ID+"/suspend", `{}`, nil); code != 403 {
		t.Fatalf("viewer service token suspends: %d, want 403", code)
	}
	idt, err := is.IDToken(rick, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var view KeyView
	if code := call(t, srv, idt, "POST", "/admin/v1/keys/"+k.ID+"/action", `{"action":"step_up","for":"2h","reason":"odd network"}`, &view); code != 200 ||
		view.Action != keys.ActionStepUp || view.ActionUntil == nil || !strings.HasPrefix(view.ActionReason, rick.Email) {
		t.Fatalf("responder steps up: %d %+v", code, view.Key)
	}
	if code := call(t, srv, idt, "POST", "/admin/v1/keys/"+k.ID+"/action", `{"action":"lock"}`, nil); code != 400 {
		t.Fatalf("unknown action: %d", code)
	}
	var lifted KeyView
	if code := call(t, srv, idt, "POST", "/admin/v1/keys/"+k.ID+"/action", `{}`, &lifted); code != 200 || lifted.Action != keys.ActionNone {
		t.Fatalf("responder lifts: %d %+v", code, lifted.Key)
	}
	got = got[:1]
	if code := call(t, srv, idt, "POST", "/admin/v1/keys/"+k.ID+"/suspend", `{"reason":"r","by":"forged"}`, &view); code != 200 {
		t.Fatalf("responder's ID token suspends: %d", code)
	}
	if view.StatusBy != rick.Email {
		t.Fatalf("suspension by %q, want the person %q whatever the body says", view.StatusBy, rick.Email)
	}
	if len(got) != 2 || got[0].Status != 403 || got[0].Principal.Method != "service-token" ||
		got[1].Status != 200 || got[1].Principal.Email != rick.Email || got[1].Role != authn.Responder {
		t.Fatalf("actions: %+v", got)
	}
	// An ID token from elsewhere (wrong audience) is no credential.
	other, _ := authntest.Start("someone-else", "x", rick)
	defer other.Close()
	bad, _ := other.IDToken(rick, "", time.Now())
	if code := call(t, srv, bad, "GET", "/admin/v1/keys", "", nil); code != 401 {
		t.Fatalf("foreign ID token: %d, want 401", code)
	}
}

// FuzzRequired: whatever the method and path, a write needs at least the
// responder role, and one that is not a listed responder action needs admin
// (default deny for endpoints nobody classified).
func FuzzRequired(f *testing.F) {
	for _, s := range []string{"/admin/v1/keys/k/suspend", "/admin/v1/keys//suspend/", "/admin/v1/audit/holds", "/admin/v1/x", "/admin/v1/incidents/a/resolve", "//admin/v1/keys/a/b/suspend"} {
		f.Add("POST", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		r := Required(method, path)
		if method == "GET" || method == "HEAD" {
			if r < authn.Viewer {
				t.Fatalf("%s %s needs %s", method, path, r)
			}
			return
		}
		if r == authn.Viewer && !(method == "POST" && path == "/admin/v1/audit/verify") {
			t.Fatalf("write %s %s needs only viewer", method, path)
		}
		if r == authn.None {
			t.Fatalf("%s %s needs no role", method, path)
		}
	})
}
