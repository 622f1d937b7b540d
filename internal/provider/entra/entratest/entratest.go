// Package entratest is a local Microsoft Entra ID token endpoint for tests:
// OpenID discovery and the v2.0 token endpoint, over TLS as the identity
// library requires. Point an entra configuration's authority_host at URL
// and use Client for its transport.
package entratest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// STS issues numbered tokens "eyJ-secret-token-N" valid for Life seconds
// and keeps every token request's form.
type STS struct {
	*httptest.Server
	Life   int
	issued atomic.Int64
	mu     sync.Mutex
	forms  []map[string]string
}

// New starts an STS that t closes at its end.
func New(t testing.TB, life int) *STS {
	s := &STS{Life: life}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := s.URL + "/" + r.PathValue("tenant")
		json.NewEncoder(w).Encode(map[string]string{"token_endpoint": base + "/oauth2/v2.0/token",
			"issuer": base + "/v2.0", "authorization_endpoint": base + "/oauth2/v2.0/authorize"})
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f := map[string]string{}
		for k := range r.PostForm {
			f[k] = r.PostForm.Get(k)
		}
		s.mu.Lock()
		s.forms = append(s.forms, f)
		s.mu.Unlock()
		n := s.issued.Add(1)
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"ext_expires_in":%d,"access_token":"eyJ-secret-token-%d"}`, s.Life, s.Life, n)
	})
	s.Server = httptest.NewTLSServer(mux)
	t.Cleanup(s.Close)
	return s
}

// Issued is how many tokens the STS has handed out.
func (s *STS) Issued() int64 { return s.issued.Load() }

// LastForm is the form of the latest token request.
func (s *STS) LastForm() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.forms) == 0 {
		return nil
	}
	return s.forms[len(s.forms)-1]
}
