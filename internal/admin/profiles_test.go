package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/pprof/profile"
)

func TestProfiles(t *testing.T) {
	srv := httptest.NewServer(Profiles())
	defer srv.Close()
	for _, c := range []struct {
		path   string
		status int
		parse  bool // the body is a profile pprof reads
	}{
		{"/admin/v1/debug/pprof/heap", 200, true},
		{"/admin/v1/debug/pprof/goroutine", 200, true},
		{"/admin/v1/debug/pprof/profile?seconds=1", 200, true},
		{"/admin/v1/debug/pprof/profile?seconds=0", 400, false},
		{"/admin/v1/debug/pprof/profile?seconds=61", 400, false},
		{"/admin/v1/debug/pprof/profile?seconds=x", 400, false},
		{"/admin/v1/debug/pprof/nosuch", 404, false},
	} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.path, resp.StatusCode, c.status)
		}
		if c.parse {
			if _, err := profile.Parse(resp.Body); err != nil {
				t.Errorf("%s: not a profile: %v", c.path, err)
			}
		}
		resp.Body.Close()
	}
}
