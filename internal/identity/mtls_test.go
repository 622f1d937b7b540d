package identity

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/testenv"
)

// client is an HTTPS client that trusts ca and presents certs.
func client(ca *testenv.CA, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs}}}
}

// forcing makes c send cert even where the server's CA list excludes it
// (Go's client otherwise keeps it back).
func forcing(c *http.Client, cert tls.Certificate) *http.Client {
	c.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &cert, nil
	}
	return c
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMTLS(t *testing.T) {
	dir := t.TempDir()
	pki := testenv.NewCA(t, "Warden test CA")
	_, srvCert, srvKey := pki.Issue(t, true, "warden")
	tc := config.TLS{CertFile: write(t, dir, "srv.pem", srvCert), KeyFile: write(t, dir, "srv.key", srvKey),
		ClientCAFile: write(t, dir, "ca.pem", pki.PEM), ClientAuth: "request"}
	st := newTestStore(t)
	id := config.Identity{
		MTLS: config.MTLS{Clients: []config.IdentityPolicy{
			{Name: "ml", Match: map[string]string{"spiffe_id": "spiffe://acme.org/ns/ml/*"}, KeySpec: &config.KeySpec{Name: "ml", RPM: 5}},
			{Name: "billing", Match: map[string]string{"cn": "billing-*"}, KeySpec: &config.KeySpec{Name: "billing"}},
		}},
		Tokens: config.Tokens{Enabled: true},
	}
	set, err := New(Options{Config: id, DataDir: dir, KeyByID: st.KeyByID, KeyByHash: st.byHash})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == TokenPath {
			set.Tokens.ServeHTTP(w, r)
			return
		}
		addr := netip.MustParseAddr("127.0.0.1")
		cred, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var ids []string
		for _, a := range set.Authenticators() {
			k, err := a.Authenticate(r.Context(), r, cred, addr)
			if err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			if k != nil {
				ids = append(ids, k.ID)
				break
			}
		}
		io.WriteString(w, strings.Join(ids, ","))
	}))
	if srv.TLS, err = ServerTLS(tc); err != nil {
		t.Fatal(err)
	}
	srv.StartTLS()
	defer srv.Close()

	ml, _, _ := pki.Issue(t, false, "batch", "spiffe://acme.org/ns/ml/sa/batch")
	billing, _, _ := pki.Issue(t, false, "billing-api")
	stranger, _, _ := pki.Issue(t, false, "someone")
	rogue := testenv.NewCA(t, "Rogue CA")
	forged, _, _ := rogue.Issue(t, false, "billing-api", "spiffe://acme.org/ns/ml/sa/batch")

	get := func(c *http.Client, hdr ...string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/models", nil)
		if len(hdr) == 2 {
			req.Header.Set(hdr[0], hdr[1])
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	for _, tc := range []struct {
		name     string
		client   *http.Client
		wantCode int
		want     string
	}{
		{"spiffe id", client(pki, ml), 200, "mtls:ml#spiffe://acme.org/ns/ml/sa/batch"},
		{"cn", client(pki, billing), 200, "mtls:billing#billing-api"},
		{"no policy", client(pki, stranger), 401, ""},
		{"no certificate", client(pki), 200, ""},
		{"other CA", forcing(client(pki), forged), 0, ""},
	} {
		code, body := get(tc.client)
		if code != tc.wantCode || (tc.want != "" && body != tc.want) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, body, tc.wantCode, tc.want)
		}
	}

	// Another credential, even one nobody recognises, is not upgraded to the
	// certificate's identity.
	if code, body := get(client(pki, ml), "Authorization", "DPoP garbage"); code != 200 || body != "" {
		t.Fatalf("certificate with a foreign credential: %d %q", code, body)
	}

	// A token issued to a certificate works only over a connection with it.
	req, _ := http.NewRequest("POST", srv.URL+TokenPath, nil)
	resp, err := client(pki, ml).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tr TokenResponse
	json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if resp.StatusCode != 200 || tr.AccessToken == "" {
		t.Fatalf("token for certificate: %d", resp.StatusCode)
	}
	if code, body := get(client(pki, ml), "Authorization", "Bearer "+tr.AccessToken); code != 200 || body != "mtls:ml#spiffe://acme.org/ns/ml/sa/batch" {
		t.Fatalf("with its certificate: %d %q", code, body)
	}
	if code, _ := get(client(pki), "Authorization", "Bearer "+tr.AccessToken); code != 401 {
		t.Fatalf("without its certificate: %d", code)
	}
	if code, _ := get(client(pki, billing), "Authorization", "Bearer "+tr.AccessToken); code != 401 {
		t.Fatalf("with another certificate: %d", code)
	}
}

func TestServerTLSErrors(t *testing.T) {
	dir := t.TempDir()
	pki := testenv.NewCA(t, "ca")
	_, c, k := pki.Issue(t, true, "warden")
	cert, key := write(t, dir, "c.pem", c), write(t, dir, "k.pem", k)
	for _, tc := range []config.TLS{
		{CertFile: cert, KeyFile: cert},
		{CertFile: cert, KeyFile: key, ClientAuth: "require", ClientCAFile: key},
		{CertFile: cert, KeyFile: key, ClientAuth: "require", ClientCAFile: filepath.Join(dir, "missing")},
		{CertFile: cert, KeyFile: key, ClientAuth: "maybe", ClientCAFile: cert},
	} {
		if _, err := ServerTLS(tc); err == nil {
			t.Errorf("accepted %+v", tc)
		}
	}
}
