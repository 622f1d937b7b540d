package entra

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/clock"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/provider/entra/entratest"
	"github.com/wardenhq/warden/internal/testenv"
)

const tenant = "00000000-0000-0000-0000-0000000000aa"

func selfSigned(t *testing.T, dir string) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "warden-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: kd})
	p := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSourceFetchesAndRefreshes runs each credential kind against the local
// token endpoint: the token is fetched, served from cache until it is due,
// then refreshed; the request carried the credential; no log line holds a
// token or a secret.
func TestSourceFetchesAndRefreshes(t *testing.T) {
	dir := t.TempDir()
	fedFile := filepath.Join(dir, "azure-identity-token")
	if err := os.WriteFile(fedFile, []byte("federated-assertion-from-aks"), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile := selfSigned(t, dir)
	tests := []struct {
		name  string
		cfg   config.Entra
		check func(t *testing.T, form map[string]string)
	}{
		{"client secret", config.Entra{ClientSecret: "app-secret-value"}, func(t *testing.T, f map[string]string) {
			if f["client_secret"] != "app-secret-value" || f["grant_type"] != "client_credentials" {
				t.Errorf("form %v", f)
			}
		}},
		{"federated token file", config.Entra{FederatedTokenFile: fedFile}, func(t *testing.T, f map[string]string) {
			if f["client_assertion"] != "federated-assertion-from-aks" ||
				f["client_assertion_type"] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
				t.Errorf("form %v", f)
			}
		}},
		{"client certificate", config.Entra{CertificateFile: certFile}, func(t *testing.T, f map[string]string) {
			if strings.Count(f["client_assertion"], ".") != 2 || f["client_secret"] != "" {
				t.Errorf("want a signed JWT assertion, form %v", f)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := testenv.CaptureLogs(t)
			// expires_in under five minutes: the identity library's own
			// cache treats it as due at once, so only Source's cache
			// keeps it, and the test sees Source's refresh decisions.
			s := entratest.New(t, 280)
			clk := clock.NewVirtual(time.Unix(2e9, 0))
			cfg := tt.cfg
			cfg.TenantID, cfg.ClientID, cfg.AuthorityHost = tenant, "11111111-2222-3333-4444-555555555555", s.URL
			src, err := New(cfg, s.Client(), clk.Now)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			tok1, err := src.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok1 != "eyJ-secret-token-1" {
				t.Fatalf("token %q", tok1)
			}
			tt.check(t, s.LastForm())
			if sc := s.LastForm()["scope"]; !strings.Contains(sc, "https://cognitiveservices.azure.com/.default") {
				t.Errorf("scope %q", sc)
			}
			clk.Advance(130 * time.Second) // before refresh (at 140 s: half of 280)
			if tok, _ := src.Token(ctx); tok != tok1 || s.Issued() != 1 {
				t.Fatalf("cached token not reused: %q, %d issued", tok, s.Issued())
			}
			clk.Advance(15 * time.Second)
			tok2, err := src.Token(ctx)
			if err != nil || tok2 != "eyJ-secret-token-2" {
				t.Fatalf("refresh: %q %v", tok2, err)
			}
			// A failing refresh keeps the still-valid token.
			s.Close()
			clk.Advance(141 * time.Second)
			if tok, err := src.Token(ctx); err != nil || tok != tok2 {
				t.Fatalf("refresh failure with a valid token: %q %v", tok, err)
			}
			clk.Advance(time.Hour)
			if _, err := src.Token(ctx); err == nil {
				t.Fatal("expired token and no endpoint: want an error")
			} else if strings.Contains(err.Error(), "eyJ-secret") {
				t.Fatalf("error carries the token: %v", err)
			}
			for _, secret := range []string{"eyJ-secret", "app-secret-value", "federated-assertion"} {
				if strings.Contains(logs.String(), secret) {
					t.Fatalf("log holds %q:\n%s", secret, logs)
				}
			}
			if !strings.Contains(logs.String(), "entra: token acquired") {
				t.Fatalf("expected a token log line, got:\n%s", logs)
			}
		})
	}
}

// TestManagedIdentity uses the App Service flavour of managed identity (a
// local endpoint named by IDENTITY_ENDPOINT, as the platform sets it).
func TestManagedIdentity(t *testing.T) {
	srv := testenv.NewRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"access_token":"eyJ-mi-token","expires_on":"%d","resource":"https://cognitiveservices.azure.com","token_type":"Bearer"}`,
			time.Now().Add(time.Hour).Unix())
	})
	t.Setenv("IDENTITY_ENDPOINT", srv.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "platform-header")
	src, err := New(config.Entra{ManagedIdentity: true, ClientID: "user-assigned-1"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		tok, err := src.Token(context.Background())
		if err != nil || tok != "eyJ-mi-token" {
			t.Fatalf("%q %v", tok, err)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d token requests for 2 tokens, want 1 (cached)", len(reqs))
	}
	q, h := reqs[0].URL.Query(), reqs[0].Header
	if q.Get("resource") != "https://cognitiveservices.azure.com" || h.Get("X-Identity-Header") != "platform-header" || q.Get("client_id") != "user-assigned-1" {
		t.Fatalf("token request: query %v identity header %q", q, h.Get("X-Identity-Header"))
	}
}
