package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/provider/entra"
)

func init() {
	Register("openai", newOpenAI)
	Register("azure", newAzure)
}

// httpProvider sends requests to a URL computed per request, with fixed headers.
type httpProvider struct {
	client  *http.Client
	url     func(r *Request) string
	headers http.Header // includes the credential, unless token is set
	// token, if set, returns a bearer token per request (Entra ID).
	token func(ctx context.Context) (string, error)
}

func (p *httpProvider) Do(ctx context.Context, r *Request) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url(r), bytes.NewReader(r.Body))
	if err != nil {
		return nil, fmt.Errorf("provider: build request: %w", err)
	}
	for k, v := range p.headers {
		req.Header[k] = v
	}
	if p.token != nil {
		tok, err := p.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("provider: upstream credential: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Stream {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, scrubURLError(err)
	}
	return resp, nil
}

// scrubURLError drops the URL from a *url.Error: a misconfigured base URL
// might carry credentials in its query or user info.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("provider: %s upstream: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return fmt.Errorf("provider: %w", err)
}

func newOpenAI(cfg config.Provider, client *http.Client) (Provider, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, errors.New("base_url must be an http(s) URL")
	}
	h := http.Header{}
	if cfg.APIKey != "" {
		h.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	b := base.String()
	return &httpProvider{
		client:  client,
		headers: h,
		url:     func(r *Request) string { return b + r.Endpoint.Path() },
	}, nil
}

func newAzure(cfg config.Provider, client *http.Client) (Provider, error) {
	base, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, errors.New("endpoint must be an http(s) URL such as https://RESOURCE.openai.azure.com")
	}
	h := http.Header{}
	if cfg.APIKey != "" {
		h.Set("api-key", cfg.APIKey)
	}
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	var token func(context.Context) (string, error)
	if cfg.Entra != nil {
		src, err := entra.New(*cfg.Entra, client, nil)
		if err != nil {
			return nil, err
		}
		token = src.Token
		h.Del("api-key")
		h.Del("Authorization")
	}
	b := base.String()
	q := url.Values{"api-version": {cfg.APIVersion}}.Encode()
	return &httpProvider{
		client:  client,
		token:   token,
		headers: h,
		url: func(r *Request) string {
			if r.Endpoint == Responses {
				// The Responses API lives outside the deployments tree and
				// takes the deployment as "model".
				return b + "/openai/responses?" + q
			}
			return b + "/openai/deployments/" + url.PathEscape(r.Upstream) + r.Endpoint.Path() + "?" + q
		},
	}, nil
}
