package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
)

func newAPI(t *testing.T) (*httptest.Server, *sqlite.DB) {
	t.Helper()
	db := sqlitetest.Open(t)
	srv := httptest.NewServer((&Server{Store: db, Token: "s3cret"}).Handler())
	t.Cleanup(srv.Close)
	return srv, db
}

func call(t *testing.T, srv *httptest.Server, token, method, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func TestAuth(t *testing.T) {
	srv, _ := newAPI(t)
	for _, tok := range []string{"", "wrong", "s3cret-and-more"} {
		if st := call(t, srv, tok, "GET", "/admin/v1/keys", "", nil); st != 401 {
			t.Errorf("token %q: %d", tok, st)
		}
	}
	if st := call(t, srv, "s3cret", "GET", "/admin/v1/keys", "", nil); st != 200 {
		t.Errorf("right token: %d", st)
	}
}

func TestKeyLifecycle(t *testing.T) {
	srv, _ := newAPI(t)
	var created KeyView
	if st := call(t, srv, "s3cret", "POST", "/admin/v1/keys", `{"name":"a","models":["m"],"rpm":5}`, &created); st != 201 {
		t.Fatalf("create: %d", st)
	}
	sec, err := keys.Parse(created.Secret)
	if err != nil || created.ID == "" || created.RPM != 5 {
		t.Fatalf("created %+v: %v", created, err)
	}
	steps := []struct {
		method, path, body string
		status             int
		check              func(v map[string]any) bool
	}{
		{"POST", "/admin/v1/keys", `{"name":"x","bogus":1}`, 400, nil},
		{"POST", "/admin/v1/keys", `{"name":"x","cidrs":["nope"]}`, 400, nil},
		{"GET", "/admin/v1/keys/" + created.ID, "", 200, func(v map[string]any) bool { return v["key"] == nil && v["usage_this_month"] != nil }},
		{"GET", "/admin/v1/keys/key_nope", "", 404, nil},
		{"PATCH", "/admin/v1/keys/" + created.ID, `{"rpm":9,"models":[]}`, 200, func(v map[string]any) bool { return v["rpm"] == 9.0 && v["models"] == nil }},
		{"POST", "/admin/v1/keys/" + created.ID + "/suspend", `{"reason":"odd"}`, 200, func(v map[string]any) bool { return v["status"] == "suspended" && v["status_reason"] == "odd" }},
		{"POST", "/admin/v1/keys/" + created.ID + "/resume", ``, 200, func(v map[string]any) bool { return v["status"] == "active" }},
		{"POST", "/admin/v1/keys/" + created.ID + "/revoke", `{"reason":"leaked","by":"scanner"}`, 200, func(v map[string]any) bool { return v["status"] == "revoked" && v["status_by"] == "scanner" }},
		{"POST", "/admin/v1/keys/" + created.ID + "/resume", ``, 409, nil},
		{"POST", "/admin/v1/keys/" + created.ID + "/rotate", `{"grace":"1h"}`, 400, nil},
		{"DELETE", "/admin/v1/keys/" + created.ID, ``, 200, nil},
		{"DELETE", "/admin/v1/keys/" + created.ID, ``, 404, nil},
		{"GET", "/admin/v1/nothing", ``, 404, nil},
	}
	for i, s := range steps {
		var v map[string]any
		if st := call(t, srv, "s3cret", s.method, s.path, s.body, &v); st != s.status || (s.check != nil && !s.check(v)) {
			t.Errorf("step %d %s %s: %d %v", i, s.method, s.path, st, v)
		}
	}
	_ = sec
}

func TestRotateAndHashLookup(t *testing.T) {
	srv, _ := newAPI(t)
	var a, b KeyView
	call(t, srv, "s3cret", "POST", "/admin/v1/keys", `{"name":"a","rpm":7}`, &a)
	if st := call(t, srv, "s3cret", "POST", "/admin/v1/keys/"+a.ID+"/rotate", `{"grace":"7d"}`, &b); st != 201 || b.RPM != 7 || b.RotatedFrom != a.ID || b.Secret == "" {
		t.Fatalf("rotate: %d %+v", st, b)
	}
	sec, _ := keys.Parse(b.Secret)
	var list []keys.Key
	call(t, srv, "s3cret", "GET", "/admin/v1/keys?hash="+sec.Hash().String(), "", &list)
	if len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("hash lookup: %+v", list)
	}
	call(t, srv, "s3cret", "GET", "/admin/v1/keys?hash="+keys.HashOf("x").String(), "", &list)
	if len(list) != 0 {
		t.Errorf("unknown hash: %+v", list)
	}
	var old map[string]any
	call(t, srv, "s3cret", "GET", "/admin/v1/keys/"+a.ID, "", &old)
	if old["rotated_to"] != b.ID || old["grace_until"] == nil {
		t.Errorf("old key: %v", old)
	}
}
