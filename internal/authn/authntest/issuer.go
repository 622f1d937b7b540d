// Package authntest is a small OpenID Connect provider for tests: discovery,
// a JWKS, an authorization endpoint that lets the browser (or a test) pick
// one of a fixed set of people, and a token endpoint that checks the code,
// the redirect URI, the client secret and the PKCE verifier (S256 only)
// before it issues an ES256-signed ID token; and the device flow (RFC 8628)
// for the public client CLIClientID, approved with Approve. It is real HTTP, so Warden's
// OIDC client (go-oidc, x/oauth2) runs unchanged against it.
package authntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Person is someone the issuer can sign in.
type Person struct {
	Subject string
	Email   string
	Name    string
	Groups  []string
}

// Issuer is the test provider. Start it with Start; Close stops it.
type Issuer struct {
	URL          string
	ClientID     string
	ClientSecret string
	People       []Person

	key     *ecdsa.PrivateKey
	srv     *http.Server
	ln      net.Listener
	mu      sync.Mutex
	codes   map[string]grant   // authorization codes not yet redeemed
	devices map[string]*device // device flow sign-ins, by device code
}

// device is a device-flow sign-in (RFC 8628): pending until Approve names
// the person.
type device struct {
	userCode, cid string
	person        *Person
}

type grant struct {
	person                          Person
	redirect, challenge, nonce, cid string
}

// Start serves an issuer on 127.0.0.1 with a random port.
func Start(clientID, clientSecret string, people ...Person) (*Issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	is := &Issuer{URL: "http://" + ln.Addr().String(), ClientID: clientID, ClientSecret: clientSecret, People: people,
		key: key, ln: ln, codes: map[string]grant{}, devices: map[string]*device{}}
	m := http.NewServeMux()
	m.HandleFunc("GET /.well-known/openid-configuration", is.discovery)
	m.HandleFunc("GET /keys", is.keys)
	m.HandleFunc("GET /authorize", is.authorize)
	m.HandleFunc("POST /authorize", is.approve)
	m.HandleFunc("POST /token", is.token)
	m.HandleFunc("POST /device", is.deviceStart)
	m.HandleFunc("POST /device/approve", is.deviceApprove)
	is.srv = &http.Server{Handler: m, ReadHeaderTimeout: 5 * time.Second}
	go is.srv.Serve(ln)
	return is, nil
}

// Close stops the issuer.
func (is *Issuer) Close() error { return is.srv.Close() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (is *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]any{
		"issuer": is.URL, "authorization_endpoint": is.URL + "/authorize", "token_endpoint": is.URL + "/token",
		"jwks_uri": is.URL + "/keys", "response_types_supported": []string{"code"},
		"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported": []string{"S256"}, "device_authorization_endpoint": is.URL + "/device",
	})
}

func (is *Issuer) keys(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: "test", Algorithm: "ES256", Use: "sig"}}})
}

var pickPage = template.Must(template.New("pick").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test identity provider</title></head><body>
<h1>Test identity provider</h1><p>Sign in to {{.Client}} as:</p>
<form method="post" action="/authorize">
{{range $k, $v := .Query}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
{{range .People}}<button type="submit" name="person" value="{{.Subject}}">{{.Name}} ({{.Email}})</button>
{{end}}</form></body></html>`))

// authorize checks the request and shows a page with one button per person.
func (is *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := is.checkAuthorize(q); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pickPage.Execute(w, map[string]any{"Client": q.Get("client_id"), "Query": q, "People": is.People})
}

func (is *Issuer) checkAuthorize(q url.Values) error {
	switch {
	case q.Get("client_id") != is.ClientID:
		return fmt.Errorf("unknown client_id")
	case q.Get("response_type") != "code":
		return fmt.Errorf("response_type must be code")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		return fmt.Errorf("PKCE with S256 is required")
	case q.Get("state") == "" || q.Get("nonce") == "" || q.Get("redirect_uri") == "":
		return fmt.Errorf("state, nonce and redirect_uri are required")
	}
	return nil
}

// approve signs the chosen person in and redirects back with a code.
func (is *Issuer) approve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	q := r.PostForm
	if err := is.checkAuthorize(q); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var p *Person
	for i := range is.People {
		if is.People[i].Subject == q.Get("person") {
			p = &is.People[i]
		}
	}
	if p == nil {
		http.Error(w, "no such person", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	is.mu.Lock()
	is.codes[code] = grant{person: *p, redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), cid: q.Get("client_id")}
	is.mu.Unlock()
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// CLIClientID is the public client (no secret) that may use the device flow.
const CLIClientID = "warden-cli"

func (is *Issuer) deviceStart(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	if r.PostForm.Get("client_id") != CLIClientID {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	dc, uc := rand.Text(), rand.Text()[:8]
	is.mu.Lock()
	is.devices[dc] = &device{userCode: uc, cid: CLIClientID}
	is.mu.Unlock()
	writeJSON(w, 200, map[string]any{"device_code": dc, "user_code": uc, "verification_uri": is.URL + "/device/approve",
		"expires_in": 600, "interval": 1})
}

// deviceApprove signs person in for the device sign-in showing user_code
// (what a person does in the browser; tests call it directly).
func (is *Issuer) deviceApprove(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	if err := is.Approve(r.PostForm.Get("user_code"), r.PostForm.Get("person")); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Write([]byte("approved\n"))
}

// Approve signs the person with subject in for the device sign-in that
// shows userCode.
func (is *Issuer) Approve(userCode, subject string) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	for _, d := range is.devices {
		if d.userCode == userCode {
			for i := range is.People {
				if is.People[i].Subject == subject {
					d.person = &is.People[i]
					return nil
				}
			}
			return fmt.Errorf("no such person")
		}
	}
	return fmt.Errorf("no such user code")
}

func (is *Issuer) deviceToken(w http.ResponseWriter, f url.Values) {
	is.mu.Lock()
	d := is.devices[f.Get("device_code")]
	if d != nil && d.person != nil {
		delete(is.devices, f.Get("device_code"))
	}
	is.mu.Unlock()
	switch {
	case d == nil || f.Get("client_id") != d.cid:
		writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
	case d.person == nil:
		writeJSON(w, 400, map[string]string{"error": "authorization_pending"})
	default:
		is.issue(w, *d.person, "", CLIClientID)
	}
}

func (is *Issuer) issue(w http.ResponseWriter, p Person, nonce, aud string) {
	idt, err := is.idToken(p, nonce, aud, time.Now())
	if err != nil {
		writeJSON(w, 500, map[string]string{"error": "server_error"})
		return
	}
	writeJSON(w, 200, map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 3600, "id_token": idt})
}

func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f := r.PostForm
	if f.Get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code" {
		is.deviceToken(w, f)
		return
	}
	cid, sec, ok := r.BasicAuth()
	if !ok {
		cid, sec = f.Get("client_id"), f.Get("client_secret")
	}
	if cid != is.ClientID || subtle.ConstantTimeCompare([]byte(sec), []byte(is.ClientSecret)) != 1 {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	is.mu.Lock()
	g, ok := is.codes[f.Get("code")]
	delete(is.codes, f.Get("code")) // a code is good once
	is.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	switch {
	case f.Get("grant_type") != "authorization_code" || !ok || g.cid != cid:
		writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
		return
	case f.Get("redirect_uri") != g.redirect:
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "redirect_uri differs"})
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "PKCE verifier does not match"})
		return
	}
	is.issue(w, g.person, g.nonce, is.ClientID)
}

// IDToken signs an ID token for p (audience ClientID, valid an hour from now).
func (is *Issuer) IDToken(p Person, nonce string, now time.Time) (string, error) {
	return is.idToken(p, nonce, is.ClientID, now)
}

func (is *Issuer) idToken(p Person, nonce, aud string, now time.Time) (string, error) {
	claims := map[string]any{"iss": is.URL, "aud": aud, "sub": p.Subject, "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "email": p.Email, "email_verified": true, "name": p.Name, "groups": p.Groups}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: is.key},
		(&jose.SignerOptions{}).WithHeader("kid", "test").WithType("JWT"))
	if err != nil {
		return "", err
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return sig.CompactSerialize()
}
