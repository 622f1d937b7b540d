package provider

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
			up := testenv.NewTLSRecorder(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{}`) })
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
			reqs := up.Requests()
			if len(reqs) != 3 {
				t.Fatalf("upstream got %d requests, want 3", len(reqs))
			}
			for i, r := range reqs {
				if r.URL.Path != "/openai/deployments/gpt-4o-east/chat/completions" || r.URL.Query().Get("api-version") != "2024-10-21" {
					t.Errorf("request %d: upstream URL %s", i, r.URL)
				}
				if auth, apiKey := r.Header.Get("Authorization"), r.Header.Get("Api-Key"); auth != "Bearer eyJ-secret-token-1" || apiKey != "" {
					t.Fatalf("request %d: Authorization %q api-key %q", i, auth, apiKey)
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
