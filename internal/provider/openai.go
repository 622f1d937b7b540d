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

// httpBase parses a configured upstream URL, less its trailing slashes;
// ok is false unless it is an absolute http(s) URL.
func httpBase(raw string) (base string, ok bool) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return u.String(), true
}

// upstreamHeaders are the headers every request to the upstream carries:
// the API key, when one is configured, as header name with the value
// prefix+key, then the configured extra headers (which may override it).
func upstreamHeaders(cfg config.Provider, name, prefix string) http.Header {
	h := http.Header{}
	if cfg.APIKey != "" {
		h.Set(name, prefix+cfg.APIKey)
	}
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	return h
}

func newOpenAI(cfg config.Provider, client *http.Client) (Provider, error) {
	b, ok := httpBase(cfg.BaseURL)
	if !ok {
		return nil, errors.New("base_url must be an http(s) URL")
	}
	h := upstreamHeaders(cfg, "Authorization", "Bearer ")
	return &httpProvider{
		client:  client,
		headers: h,
		url:     func(r *Request) string { return b + r.Endpoint.Path() },
	}, nil
}

func newAzure(cfg config.Provider, client *http.Client) (Provider, error) {
	b, ok := httpBase(cfg.Endpoint)
	if !ok {
		return nil, errors.New("endpoint must be an http(s) URL such as https://RESOURCE.openai.azure.com")
	}
	h := upstreamHeaders(cfg, "api-key", "")
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
