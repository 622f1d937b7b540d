package detect

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

func TestIncidentsHandler(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := keys.FromSpec(keys.Spec{Name: "k1", Owner: "acme"}, keys.HashOf("x"), t0)
	k.ID = "k1"
	if err := db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	d, _ := New(Config{}, Options{Keys: db, Store: db})
	at := warm(d, "k1")
	for i := range 1 { // a stripped proxy from a new network: step-up at once
		e := sdkEvent("k1", at.Add(time.Duration(i+1)*time.Second), 900+i)
		e.ClientIP, e.Client = "203.0.113.50", event.Client{HeaderNames: []string{"host", "content-type", "api-key"}}
		d.Handle(ctx, e)
	}
	if got, _ := db.KeyByID(ctx, "k1"); got.Action != keys.ActionStepUp {
		t.Fatalf("key action %q", got.Action)
	}
	srv := httptest.NewServer(d.IncidentsHandler())
	defer srv.Close()

	var list []*incident.Incident
	getJSON(t, srv.URL+"/admin/v1/incidents?status=open", &list)
	if len(list) != 1 || list[0].KeyID != "k1" || list[0].Action != "step_up" {
		t.Fatalf("list %d %+v", len(list), *list[0])
	}
	var one incident.Incident
	getJSON(t, srv.URL+"/admin/v1/incidents/"+list[0].ID, &one)
	if len(one.Timeline) == 0 || len(one.Evidence.Samples) == 0 {
		t.Errorf("incident lacks timeline or samples: %+v", one)
	}
	resp, err := http.Post(srv.URL+"/admin/v1/incidents/"+list[0].ID+"/resolve", "application/json", strings.NewReader(`{"note":"rotated","restore":true}`))
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
	if r, _ := http.Get(srv.URL + "/admin/v1/incidents/inc_none"); r.StatusCode != 404 {
		t.Errorf("missing incident: %d", r.StatusCode)
	}
	if r, _ := http.Get(srv.URL + "/admin/v1/incidents?limit=x"); r.StatusCode != 400 {
		t.Errorf("bad limit: %d", r.StatusCode)
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
