// Package entra gets Microsoft Entra ID access tokens for Warden's calls to
// Azure OpenAI, with the Azure SDK for Go's identity library (azidentity):
// client secret, client certificate, workload identity federation (a
// federated token file, as on AKS or GitHub Actions) and managed identity.
//
// A Source caches its token and fetches a new one before the old expires:
// five minutes before, or at half the token's lifetime for tokens shorter
// than ten minutes. Concurrent callers share one fetch. If a refresh fails
// while the cached token is still valid, the cached token is used and the
// failure logged, so a brief outage of Entra does not fail requests.
//
// Tokens are bearer credentials: they never appear in logs, errors or
// String output.
package entra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/wardenhq/warden/internal/config"
)

// Scope is the default token scope for Azure OpenAI.
const Scope = "https://cognitiveservices.azure.com/.default"

// Source hands out access tokens for one credential and scope. It is safe
// for concurrent use.
type Source struct {
	cred   azcore.TokenCredential
	scope  string
	method string
	now    func() time.Time

	mu        sync.Mutex // held during a fetch, so callers share it
	token     string
	expires   time.Time
	refreshAt time.Time
}

// New builds the credential cfg describes. client carries the calls to
// Entra (nil: the SDK's default transport); now is the clock that decides
// when to refresh (nil: time.Now).
func New(cfg config.Entra, client *http.Client, now func() time.Time) (*Source, error) {
	if now == nil {
		now = time.Now
	}
	// A request waits for its token: bound the SDK's retries (default:
	// three, up to a minute apart).
	opts := azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 2, TryTimeout: 10 * time.Second,
		RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 2 * time.Second}}
	if client != nil {
		opts.Transport = client
	}
	custom := cfg.AuthorityHost != ""
	if custom {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost}
	}
	var cred azcore.TokenCredential
	var err error
	switch cfg.Method() {
	case "client_secret":
		cred, err = azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cfg.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: custom})
	case "client_certificate":
		var pem []byte
		pem, err = os.ReadFile(cfg.CertificateFile)
		if err != nil {
			return nil, fmt.Errorf("entra: certificate: %w", err)
		}
		certs, key, perr := azidentity.ParseCertificates(pem, []byte(cfg.CertificatePassword))
		if perr != nil {
			return nil, fmt.Errorf("entra: certificate %s: %w", cfg.CertificateFile, perr)
		}
		cred, err = azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: custom})
	case "workload_identity":
		if _, serr := os.Stat(cfg.FederatedTokenFile); serr != nil {
			return nil, fmt.Errorf("entra: federated token file: %w", serr)
		}
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: opts, DisableInstanceDiscovery: custom,
			TenantID: cfg.TenantID, ClientID: cfg.ClientID, TokenFilePath: cfg.FederatedTokenFile})
	case "managed_identity":
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if cfg.ClientID != "" {
			mo.ID = azidentity.ClientID(cfg.ClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(mo)
	default:
		return nil, errors.New("entra: no credential source set")
	}
	if err != nil {
		return nil, fmt.Errorf("entra: %s: %w", cfg.Method(), err)
	}
	scope := cfg.Scope
	if scope == "" {
		scope = Scope
	}
	return &Source{cred: cred, scope: scope, method: cfg.Method(), now: now}, nil
}

// Token returns a valid access token, fetching one when the cached token is
// due for refresh.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.refreshAt) {
		return s.token, nil
	}
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.scope}})
	if err != nil {
		if s.token != "" && now.Before(s.expires) {
			slog.Warn("entra: token refresh failed; using the cached token until it expires",
				"method", s.method, "expires", s.expires, "err", err)
			return s.token, nil
		}
		return "", fmt.Errorf("entra: %s: get token: %w", s.method, err)
	}
	if tok.Token == "" {
		return "", fmt.Errorf("entra: %s: empty token", s.method)
	}
	// The SDK reports absolute expiry on the wall clock; keep the lifetime
	// and place it on our clock.
	life := time.Until(tok.ExpiresOn)
	if life <= 0 {
		life = time.Minute
	}
	margin := min(5*time.Minute, life/2)
	s.token, s.expires, s.refreshAt = tok.Token, now.Add(life), now.Add(life-margin)
	slog.Debug("entra: token acquired", "method", s.method, "scope", s.scope, "lifetime", life.Round(time.Second))
	return s.token, nil
}

// String names the credential without its secrets.
func (s *Source) String() string { return "entra:" + s.method }
