package ghpartner_test

import (
	"crypto/elliptic"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/wardenhq/warden/internal/scan/ghpartner"
)

// GitHub's public-key document comes from the network: whatever it holds,
// ParseMeta returns an error or only P-256 keys, and never panics.
func FuzzParseMeta(f *testing.F) {
	_, good := signingKey(f, "k1")
	f.Add(good)
	f.Add([]byte(`{"public_keys":[{"key_identifier":"k","key":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}]}`))
	f.Add([]byte(`{"public_keys":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ks, err := ghpartner.ParseMeta(b)
		if err != nil {
			if ks != nil {
				t.Fatalf("keys %v with error %v", ks, err)
			}
			return
		}
		for id, k := range ks {
			if id == "" || k == nil || k.Curve != elliptic.P256() {
				t.Fatalf("accepted key %q: %v", id, k)
			}
		}
	})
}

// A correctly signed request may still carry anything: the handler answers
// 200 with one feedback per distinct token, or 400, and never fails or
// panics on what GitHub (or whoever holds its key) sends.
func FuzzPartnerBody(f *testing.F) {
	f.Add([]byte(`[{"token":"wdn_live_x","type":"warden_api_key","url":"https://github.com/o/r/blob/main/a.txt","source":"content"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"token":""},{"token":""}]`))
	f.Add([]byte(`{"token":"x"}`))
	f.Add([]byte(`[{"token":123}]`))
	fx := setup(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, fb := fx.post(t, body, "test-key-1", fx.priv)
		switch resp.StatusCode {
		case http.StatusOK:
			var reports []ghpartner.Report
			if err := json.Unmarshal(body, &reports); err != nil {
				t.Fatalf("200 for a body that is not an array of reports: %v", err)
			}
			if len(fb) > len(reports) {
				t.Fatalf("%d feedbacks for %d reports", len(fb), len(reports))
			}
		case http.StatusBadRequest:
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}
