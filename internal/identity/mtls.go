package identity

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/keys"
)

// MTLS maps verified client certificates to policies. The TLS handshake
// has already checked the chain against tls.client_ca_file, the validity
// period and the client-auth key usage; MTLS only reads the certificate's
// names:
//
//	cn         subject common name
//	spiffe_id  URI SANs with the spiffe scheme (e.g. spiffe://acme.org/ns/ml/sa/batch)
//	uri        all URI SANs
//	dns        DNS SANs
//	email      e-mail SANs
//	o, ou      subject organisation and organisational unit
//	issuer_cn  the issuing CA's common name
//	serial     serial number in lower-case hex
//
// The identity's subject is its first SPIFFE ID, else its CN, else the
// certificate's SHA-256.
type MTLS struct {
	clients  []*policy
	policies *policies
	state    func(*http.Request) *tls.ConnectionState
}

func newMTLS(cfg config.MTLS, ps *policies, state func(*http.Request) *tls.ConnectionState, now time.Time) (*MTLS, error) {
	m := &MTLS{policies: ps, state: state}
	for i, pc := range cfg.Clients {
		p, err := newPolicy("mtls", i, pc, now)
		if err != nil {
			return nil, err
		}
		for _, mt := range p.match {
			switch mt.claim {
			case "cn", "spiffe_id", "uri", "dns", "email", "o", "ou", "issuer_cn", "serial":
			default:
				return nil, fmt.Errorf("identity: mtls policy %q: unknown certificate field %q", p.name, mt.claim)
			}
		}
		if err := ps.add(p); err != nil {
			return nil, err
		}
		m.clients = append(m.clients, p)
	}
	return m, nil
}

// Authenticate implements the gateway's Authenticator. A request that
// also carries any credential header (Bearer, DPoP, api-key) is left to
// that credential, even one no authenticator recognises: it is refused
// rather than silently upgraded to the certificate's identity.
func (m *MTLS) Authenticate(ctx context.Context, r *http.Request, cred string, _ netip.Addr) (*keys.Key, error) {
	if m == nil || len(m.clients) == 0 || cred != "" || r.Header.Get("Authorization") != "" || r.Header.Get("Api-Key") != "" {
		return nil, nil
	}
	p, err := m.Identify(ctx, m.state(r))
	if p == nil || err != nil {
		return nil, err
	}
	return p.Key, nil
}

// Identify maps the connection's client certificate to a principal. It
// returns (nil, nil) when the client sent no certificate.
func (m *MTLS) Identify(ctx context.Context, st *tls.ConnectionState) (*Principal, error) {
	if m == nil || st == nil || len(st.PeerCertificates) == 0 {
		return nil, nil
	}
	if len(st.VerifiedChains) == 0 {
		// Only a listener with client_ca_file verifies; never trust an
		// unverified certificate's names.
		return nil, errors.New("identity: client certificate was not verified")
	}
	cert := st.PeerCertificates[0]
	claims, subject := certClaims(cert)
	p := first(m.clients, claims)
	if p == nil {
		return nil, fmt.Errorf("%w (certificate %q)", ErrNoPolicy, truncate(subject, 200))
	}
	k, err := m.policies.resolve(ctx, p, subject)
	if err != nil {
		return nil, err
	}
	return &Principal{Policy: p.name, Subject: subject, Method: "mtls", Key: k}, nil
}

// certClaims lists a certificate's names as match fields, and its subject.
func certClaims(c *x509.Certificate) (map[string]any, string) {
	list := func(ss []string) []any {
		out := make([]any, len(ss))
		for i, s := range ss {
			out[i] = s
		}
		return out
	}
	var uris, spiffe []any
	for _, u := range c.URIs {
		uris = append(uris, u.String())
		if u.Scheme == "spiffe" {
			spiffe = append(spiffe, u.String())
		}
	}
	m := map[string]any{
		"cn": c.Subject.CommonName, "issuer_cn": c.Issuer.CommonName, "serial": hex.EncodeToString(c.SerialNumber.Bytes()),
		"dns": list(c.DNSNames), "email": list(c.EmailAddresses), "o": list(c.Subject.Organization),
		"ou": list(c.Subject.OrganizationalUnit), "uri": uris, "spiffe_id": spiffe,
	}
	switch {
	case len(spiffe) > 0:
		return m, spiffe[0].(string)
	case c.Subject.CommonName != "":
		return m, c.Subject.CommonName
	}
	return m, "sha256:" + certThumbprint(c)
}

// certThumbprint is the RFC 8705 x5t#S256 value: base64url SHA-256 of the
// DER certificate.
func certThumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ServerTLS builds the main listener's TLS configuration: TLS 1.2 or
// later, HTTP/1.1 only (the gateway reads header order from the plain
// bytes of HTTP/1.1, and its connection wrapper hides the *tls.Conn from
// net/http, which would otherwise speak HTTP/2), and client certificates
// verified against the CA file when client_auth is set.
func ServerTLS(c config.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("identity: tls: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if c.ClientAuth == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(c.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("identity: tls: client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("identity: tls: client_ca_file %s holds no PEM certificate", c.ClientCAFile)
	}
	cfg.ClientCAs = pool
	switch c.ClientAuth {
	case "request":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "require":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("identity: tls: unknown client_auth %q", c.ClientAuth)
	}
	return cfg, nil
}
