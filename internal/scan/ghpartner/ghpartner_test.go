package ghpartner_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan/fakes"
	"github.com/wardenhq/warden/internal/scan/ghpartner"
	"github.com/wardenhq/warden/internal/scan/revoke"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
	"github.com/wardenhq/warden/internal/store/storetest"
)

type fixture struct {
	srv  *httptest.Server
	priv *ecdsa.PrivateKey
	db   *sqlite.DB
}

// signingKey returns a new P-256 key and GitHub's public-key document
// naming it id.
func signingKey(t testing.TB, id string) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	meta, _ := json.Marshal(map[string]any{"public_keys": []any{map[string]any{"key_identifier": id, "key": pemKey, "is_current": true}}})
	return priv, meta
}

func setup(t testing.TB) *fixture {
	t.Helper()
	priv, meta := signingKey(t, "test-key-1")
	file := filepath.Join(t.TempDir(), "github-keys.json")
	os.WriteFile(file, meta, 0o600)

	db := sqlitetest.Open(t)
	st := &revoke.Store{Keys: db}
	h := &ghpartner.Handler{Keys: &ghpartner.Keys{File: file}, Lookup: st, Revoker: st, MaxBody: 4 << 20}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, priv: priv, db: db}
}

func (f *fixture) post(t *testing.T, body []byte, keyID string, sign *ecdsa.PrivateKey) (*http.Response, []ghpartner.Feedback) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sign != nil {
		sum := sha256.Sum256(body)
		sig, err := ecdsa.SignASN1(rand.Reader, sign, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Github-Public-Key-Identifier", keyID)
		req.Header.Set("Github-Public-Key-Signature", base64.StdEncoding.EncodeToString(sig))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var fb []ghpartner.Feedback
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&fb); err != nil {
			t.Fatal(err)
		}
	}
	return resp, fb
}

func hashHex(s string) string { return keys.HashOf(s).String() }

func TestPartnerRevokes(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	k, sec := storetest.NewKey(t, "leaky")
	if err := f.db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	unknown, _ := keys.Generate(nil)
	body, _ := json.Marshal([]ghpartner.Report{
		{Token: sec.Reveal(), Type: "warden_api_key", URL: "https://github.com/o/r/blob/abc/x.env", Source: "content"},
		{Token: unknown.Reveal(), Type: "warden_api_key", Source: "content"},
		{Token: "wdn_notreallyakeyatallnotreallyakeyatall", Type: "warden_api_key", Source: "content"},
	})

	// Unsigned, wrong key id, wrong signer, tampered body: 401 with no body.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, tc := range map[string]struct {
		body []byte
		id   string
		key  *ecdsa.PrivateKey
	}{
		"unsigned":     {body, "", nil},
		"unknown id":   {body, "nope", f.priv},
		"wrong signer": {body, "test-key-1", other},
	} {
		resp, _ := f.post(t, tc.body, tc.id, tc.key)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: status %d", name, resp.StatusCode)
		}
	}
	if got, _ := f.db.KeyByID(ctx, k.ID); got.Status != keys.StatusActive {
		t.Fatal("an unauthenticated request changed a key")
	}

	resp, fb := f.post(t, body, "test-key-1", f.priv)
	if resp.StatusCode != http.StatusOK || len(fb) != 3 {
		t.Fatalf("status %d feedback %+v", resp.StatusCode, fb)
	}
	want := map[string]string{hashHex(sec.Reveal()): "true_positive", hashHex(unknown.Reveal()): "false_positive", hashHex("wdn_notreallyakeyatallnotreallyakeyatall"): "false_positive"}
	for _, x := range fb {
		if want[x.TokenHash] != x.Label || x.TokenType != "warden_api_key" {
			t.Fatalf("feedback %+v", x)
		}
	}
	got, _ := f.db.KeyByID(ctx, k.ID)
	if got.Status != keys.StatusRevoked || got.StatusBy != "scanner" {
		t.Fatalf("key after report: %+v", got)
	}
	// Idempotent.
	resp, fb = f.post(t, body, "test-key-1", f.priv)
	if resp.StatusCode != http.StatusOK || fb[0].Label != "true_positive" {
		t.Fatalf("second report: %d %+v", resp.StatusCode, fb)
	}
	// Too large.
	resp, _ = f.post(t, bytes.Repeat([]byte(" "), 5<<20), "test-key-1", f.priv)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %d", resp.StatusCode)
	}
}

// TestPartnerBatch sends thousands of tokens in one signed request; the
// time is logged, the bound is generous (timing goals live in benchmarks).
func TestPartnerBatch(t *testing.T) {
	f := setup(t)
	g := fakes.New(1)
	var reps []ghpartner.Report
	for i := 0; i < 5000; i++ {
		reps = append(reps, ghpartner.Report{Token: g.WardenKey(), Type: "warden_api_key", URL: fmt.Sprintf("https://github.com/o/r/%d", i), Source: "content"})
	}
	body, _ := json.Marshal(reps)
	start := time.Now()
	resp, fb := f.post(t, body, "test-key-1", f.priv)
	if resp.StatusCode != http.StatusOK || len(fb) != 5000 {
		t.Fatalf("status %d, %d feedback", resp.StatusCode, len(fb))
	}
	t.Logf("5000 tokens in %v", time.Since(start))
}
