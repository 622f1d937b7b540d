package provider

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/provider/entra/entratest"
	"github.com/wardenhq/warden/internal/testenv"
)

// TestAzureEntraBearer sends requests through an Azure provider that
// authenticates with Entra ID against a local token endpoint: the upstream
// sees "Authorization: Bearer <token>" and no api-key, one token serves
// several requests, and no log line carries the token.
func TestAzureEntraBearer(t *testing.T) {
	fed := filepath.Join(t.TempDir(), "token")
	os.WriteFile(fed, []byte("federated-assertion"), 0o600)
	for _, tc := range []struct {
		name  string
		entra config.Entra
	}{
		{"client secret", config.Entra{ClientSecret: "app-secret"}},
		{"federated token file", config.Entra{FederatedTokenFile: fed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := testenv.CaptureLogs(t)
			sts := entratest.New(t, 3600)
			var mu sync.Mutex
			var auth, apiKey []string
			up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				auth = append(auth, r.Header.Get("Authorization"))
				apiKey = append(apiKey, r.Header.Get("Api-Key"))
				mu.Unlock()
				if r.URL.Path != "/openai/deployments/gpt-4o-east/chat/completions" || r.URL.Query().Get("api-version") != "2024-10-21" {
					t.Errorf("upstream URL %s", r.URL)
				}
				io.WriteString(w, `{}`)
			}))
			defer up.Close()
			e := tc.entra
			e.TenantID, e.ClientID, e.AuthorityHost = "tenant-1", "client-1", sts.URL
			p, err := New(config.Provider{Name: "east", Type: "azure", Endpoint: up.URL, APIVersion: "2024-10-21", Entra: &e}, up.Client())
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				resp, err := p.Do(context.Background(), &Request{Endpoint: ChatCompletions, Upstream: "gpt-4o-east", Body: []byte(`{}`)})
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			for i := range auth {
				if auth[i] != "Bearer eyJ-secret-token-1" || apiKey[i] != "" {
					t.Fatalf("request %d: Authorization %q api-key %q", i, auth[i], apiKey[i])
				}
			}
			if sts.Issued() != 1 {
				t.Errorf("%d tokens fetched for 3 requests, want 1 (cached)", sts.Issued())
			}
			if strings.Contains(logs.String(), "eyJ-secret") || strings.Contains(logs.String(), "app-secret") {
				t.Fatalf("secret in logs:\n%s", logs.String())
			}
		})
	}
}
