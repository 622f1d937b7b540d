package gateway

import (
	"strings"
	"sync"
	"testing"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/record"
)

// warden serve --record must not keep credentials: not in headers, not in
// the query string (Azure clients may send ?api-key=), not in the body.
func TestRecordRedactsCredentials(t *testing.T) {
	var mu sync.Mutex
	var recs []*record.Record
	h := newHarnessWith(t, nil, func(o *Options) {
		o.Recorder = func(r *record.Record) {
			mu.Lock()
			recs = append(recs, r)
			mu.Unlock()
		}
	})
	_, k := h.key(keys.Spec{})
	const azureKey = "0123456789abcdef0123456789abcdef"
	r := h.do("POST", "/openai/deployments/mock-echo/chat/completions?api-version=2024-10-21&api-key="+azureKey,
		map[string]string{"api-key": k, "Cookie": "session=abc", "X-Api-Key": "other-secret"},
		`{"messages":[{"role":"user","content":"my key is `+k+`"}]}`)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	line, err := recs[0].Headers.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	all := recs[0].Path + string(line) + string(recs[0].Body)
	for _, secret := range []string{azureKey, k, "session=abc", "other-secret"} {
		if strings.Contains(all, secret) {
			t.Errorf("recording keeps %q: %s", secret, all)
		}
	}
	if !strings.Contains(recs[0].Path, "api-version=2024-10-21") || !strings.Contains(recs[0].Path, "api-key=[REDACTED]") {
		t.Errorf("path %s", recs[0].Path)
	}
}
