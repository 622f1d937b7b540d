package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

// TestIncidentsHandler lists, reads and resolves an incident over HTTP;
// resolving with restore lifts the detector's step-up from the key.
func TestIncidentsHandler(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	until := t0.Add(24 * time.Hour)
	k := keys.FromSpec(keys.Spec{Name: "k1", Owner: "acme"}, keys.HashOf("x"), t0)
	k.ID, k.Action, k.ActionReason, k.ActionUntil = "k1", keys.ActionStepUp, "step_up: probe", &until
	if err := db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	in := &incident.Incident{ID: "inc_1", KeyID: "k1", KeyOwner: "acme", KeyKind: "standard", Status: incident.StatusOpen,
		Severity: incident.SevHigh, Action: "step_up", OpenedAt: t0, UpdatedAt: t0}
	in.AddEntry(incident.Entry{TS: t0, Kind: "signal", Name: "probe", Reason: "empty prompt"})
	if err := db.PutIncident(ctx, in); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin.NewIncidentsHandler(db, detect.ResolveStored(db, db, func() time.Time { return t0.Add(time.Hour) })))
	defer srv.Close()

	var list []*incident.Incident
	getJSON(t, srv.URL+"/admin/v1/incidents?status=open", &list)
	if len(list) != 1 || list[0].KeyID != "k1" || list[0].Action != "step_up" {
		t.Fatalf("list %d %+v", len(list), list)
	}
	var one incident.Incident
	getJSON(t, srv.URL+"/admin/v1/incidents/inc_1", &one)
	if len(one.Timeline) != 1 || one.Timeline[0].Name != "probe" {
		t.Errorf("incident timeline: %+v", one.Timeline)
	}
	resp, err := http.Post(srv.URL+"/admin/v1/incidents/inc_1/resolve", "application/json", strings.NewReader(`{"note":"rotated","restore":true}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("resolve: %v %v", resp, err)
	}
	resp.Body.Close()
	if got, _ := db.KeyByID(ctx, "k1"); got.Action != keys.ActionNone {
		t.Errorf("restore left action %q", got.Action)
	}
	getJSON(t, srv.URL+"/admin/v1/incidents?status=open", &list)
	if len(list) != 0 {
		t.Errorf("still open: %d", len(list))
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/admin/v1/incidents/inc_none", "", 404},
		{"GET", "/admin/v1/incidents?limit=x", "", 400},
		{"GET", "/admin/v1/incidents?status=maybe", "", 400},
		{"GET", "/admin/v1/incidents?since=yesterday", "", 400},
		{"POST", "/admin/v1/incidents/inc_1/resolve", "{not json", 400},
		{"POST", "/admin/v1/incidents/inc_1/resolve", `{"note":"` + strings.Repeat("x", 2001) + `"}`, 400},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, r.StatusCode, c.want)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
