package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	f := newFixture(t, Config{Retention: Retention{Bodies: BodyPlaintext, MaxAge: time.Hour}})
	f.log.now = func() time.Time { return t0.Add(48 * time.Hour) } // after the bodies expire
	mustAppend(t, f.log, 6, "k1")
	inc := IncidentsFunc(func(_ context.Context, id string) (Scope, error) {
		if id != "inc-1" {
			return Scope{}, errors.New("no such incident")
		}
		return Scope{KeyID: "k1", Since: t0.Add(2 * time.Second)}, nil
	})
	srv := httptest.NewServer(Handler(f.log, inc))
	defer srv.Close()
	c := srv.Client()
	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+APIPrefix+path, strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	if code, _ := do("GET", "checkpoint", ""); code != 404 {
		t.Errorf("checkpoint before any: %d, want 404", code)
	}
	code, note := do("POST", "checkpoint", "")
	if code != 200 || !strings.HasPrefix(string(note), "warden.test/audit/t1\n6\n") {
		t.Fatalf("POST checkpoint: %d %s", code, note)
	}
	if code, b := do("GET", "checkpoint", ""); code != 200 || !bytes.Equal(b, note) {
		t.Errorf("GET checkpoint: %d %s", code, b)
	}
	if code, b := do("GET", "key", ""); code != 200 || strings.TrimSpace(string(b)) != f.log.VerifierKey() {
		t.Errorf("key: %d %s", code, b)
	}

	code, b := do("GET", "proof/inclusion?index=4", "")
	var ip InclusionProof
	if code != 200 || json.Unmarshal(b, &ip) != nil {
		t.Fatalf("inclusion: %d %s", code, b)
	}
	if err := ip.Check(f.v); err != nil {
		t.Errorf("inclusion proof from the API: %v", err)
	}
	mustAppend(t, f.log, 3, "k2")
	do("POST", "checkpoint", "")
	code, b = do("GET", "proof/consistency?old=6&new=9", "")
	var cp ConsistencyProof
	if code != 200 || json.Unmarshal(b, &cp) != nil || cp.Check(f.v) != nil {
		t.Fatalf("consistency: %d %s", code, b)
	}

	for _, bad := range []string{"proof/inclusion", "proof/inclusion?index=x", "proof/inclusion?index=-3", "proof/consistency?old=9&new=6", "entries?since=yesterday", "export"} {
		if code, b := do("GET", bad, ""); code != 400 {
			t.Errorf("GET %s: %d %s, want 400", bad, code, b)
		}
	}
	if code, _ := do("GET", "proof/inclusion?index=99", ""); code != 404 {
		t.Errorf("inclusion of a missing entry: %d, want 404", code)
	}

	code, b = do("GET", "entries?key=k1&limit=2", "")
	var ev []EntryView
	if code != 200 || json.Unmarshal(b, &ev) != nil || len(ev) != 2 || ev[0].Index != 0 || !ev[0].Body {
		t.Fatalf("entries: %d %s", code, b)
	}

	code, b = do("GET", "export?incident=inc-1", "")
	if code != 200 {
		t.Fatalf("export: %d %s", code, b)
	}
	rep, err := VerifyBundle(bytes.NewReader(b), int64(len(b)), f.v)
	if err != nil || rep.Entries != 4 || rep.Scope.Incident != "inc-1" {
		t.Fatalf("exported bundle: %+v, %v", rep, err)
	}

	if code, b := do("POST", "holds", `{"incident":"inc-1","reason":"court order"}`); code != 201 {
		t.Fatalf("hold incident: %d %s", code, b)
	}
	if code, b := do("POST", "holds", `{"key_id":"k2","nonsense":1}`); code != 400 {
		t.Errorf("hold with unknown field: %d %s", code, b)
	}
	code, b = do("GET", "holds", "")
	if code != 200 || !strings.Contains(string(b), `"incident-inc-1"`) {
		t.Fatalf("holds: %d %s", code, b)
	}
	if code, b := do("POST", "verify", ""); code != 200 || !strings.Contains(string(b), `"size": 9`) {
		t.Fatalf("verify: %d %s", code, b)
	}
	if code, _ := do("DELETE", "holds/incident-inc-1", ""); code != 204 {
		t.Errorf("delete hold: %d", code)
	}
	if code, _ := do("DELETE", "holds/incident-inc-1", ""); code != 404 {
		t.Errorf("delete missing hold: %d", code)
	}
	if code, b := do("POST", "prune", ""); code != 200 || !strings.Contains(string(b), `"pruned": 9`) {
		t.Errorf("prune: %d %s", code, b)
	}
}
