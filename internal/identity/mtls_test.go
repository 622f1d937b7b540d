package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/config"
)

// testPKI is a CA that issues server and client certificates.
type testPKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
	serial int64
}

func newTestPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &testPKI{ca: ca, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: 1}
}

// issue makes a leaf certificate: a server one for 127.0.0.1 when
// server, else a client one with cn and the URIs.
func (p *testPKI) issue(t *testing.T, server bool, cn string, uris ...string) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, u := range uris {
		pu, _ := url.Parse(u)
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c, certPEM, keyPEM
}

func (p *testPKI) client(t *testing.T, certs ...tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
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
	pki := newTestPKI(t, "Warden test CA")
	_, srvCert, srvKey := pki.issue(t, true, "warden")
	tc := config.TLS{CertFile: write(t, dir, "srv.pem", srvCert), KeyFile: write(t, dir, "srv.key", srvKey),
		ClientCAFile: write(t, dir, "ca.pem", pki.caPEM), ClientAuth: "request"}
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

	ml, _, _ := pki.issue(t, false, "batch", "spiffe://acme.org/ns/ml/sa/batch")
	billing, _, _ := pki.issue(t, false, "billing-api")
	stranger, _, _ := pki.issue(t, false, "someone")
	rogue := newTestPKI(t, "Rogue CA")
	forged, _, _ := rogue.issue(t, false, "billing-api", "spiffe://acme.org/ns/ml/sa/batch")

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
		{"spiffe id", pki.client(t, ml), 200, "mtls:ml#spiffe://acme.org/ns/ml/sa/batch"},
		{"cn", pki.client(t, billing), 200, "mtls:billing#billing-api"},
		{"no policy", pki.client(t, stranger), 401, ""},
		{"no certificate", pki.client(t), 200, ""},
		{"other CA", forcing(pki.client(t), forged), 0, ""},
	} {
		code, body := get(tc.client)
		if code != tc.wantCode || (tc.want != "" && body != tc.want) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, body, tc.wantCode, tc.want)
		}
	}

	// Another credential, even one nobody recognises, is not upgraded to the
	// certificate's identity.
	if code, body := get(pki.client(t, ml), "Authorization", "DPoP garbage"); code != 200 || body != "" {
		t.Fatalf("certificate with a foreign credential: %d %q", code, body)
	}

	// A token issued to a certificate works only over a connection with it.
	req, _ := http.NewRequest("POST", srv.URL+TokenPath, nil)
	resp, err := pki.client(t, ml).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tr TokenResponse
	json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if resp.StatusCode != 200 || tr.AccessToken == "" {
		t.Fatalf("token for certificate: %d", resp.StatusCode)
	}
	if code, body := get(pki.client(t, ml), "Authorization", "Bearer "+tr.AccessToken); code != 200 || body != "mtls:ml#spiffe://acme.org/ns/ml/sa/batch" {
		t.Fatalf("with its certificate: %d %q", code, body)
	}
	if code, _ := get(pki.client(t), "Authorization", "Bearer "+tr.AccessToken); code != 401 {
		t.Fatalf("without its certificate: %d", code)
	}
	if code, _ := get(pki.client(t, billing), "Authorization", "Bearer "+tr.AccessToken); code != 401 {
		t.Fatalf("with another certificate: %d", code)
	}
}

func TestServerTLSErrors(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, "ca")
	_, c, k := pki.issue(t, true, "warden")
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
