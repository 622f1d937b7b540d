// Package provider adapts Warden to upstream LLM services. Every upstream is
// a Provider: given one request already checked and rewritten by the
// gateway, it sends it and returns the upstream's response unread, so the
// gateway can stream it. Adapters: openai (api.openai.com and every
// OpenAI-compatible server: vLLM, Ollama, llama.cpp), azure (Azure OpenAI
// deployments) and mock (built in, no network).
//
// Upstream credentials live only inside adapters. An adapter must not put
// them into errors; the gateway never copies upstream request headers to a
// client.
package provider

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"

	"github.com/wardenhq/warden/internal/config"
)

// Endpoint names an API operation, the same in both API styles.
type Endpoint string

const (
	ChatCompletions   Endpoint = "chat.completions"
	Completions       Endpoint = "completions"
	Embeddings        Endpoint = "embeddings"
	ImagesGenerations Endpoint = "images.generations"
	Responses         Endpoint = "responses"
)

// Endpoints lists every endpoint, for validation and docs.
var Endpoints = []Endpoint{ChatCompletions, Completions, Embeddings, ImagesGenerations, Responses}

// Path returns the OpenAI-style path suffix of e, e.g. "/chat/completions".
func (e Endpoint) Path() string {
	switch e {
	case ChatCompletions:
		return "/chat/completions"
	case Completions:
		return "/completions"
	case Embeddings:
		return "/embeddings"
	case ImagesGenerations:
		return "/images/generations"
	case Responses:
		return "/responses"
	}
	return ""
}

// Request is one call to an upstream.
type Request struct {
	Endpoint Endpoint
	// Upstream is the model (OpenAI) or deployment (Azure) to call.
	Upstream string
	// Body is the JSON body to send. The gateway has already set "model" to
	// Upstream, "user" to its pseudonym and stream options as needed. The
	// adapter must not modify it: it may be sent again on retry.
	Body   []byte
	Stream bool
	// OnAttempt, if set, is told of every deployment a Pool tries for this
	// request, in order. nil: nobody is told.
	OnAttempt func(Attempt)
}

// A Provider sends requests upstream. Do returns the upstream response with
// its body unread; the caller closes it. Do returns an error only when no
// HTTP response was received (connection failure, timeout); upstream HTTP
// errors are responses.
type Provider interface {
	Do(ctx context.Context, r *Request) (*http.Response, error)
}

// Factory builds a provider from its configuration.
type Factory func(cfg config.Provider, client *http.Client) (Provider, error)

var (
	mu        sync.Mutex
	factories = map[string]Factory{}
)

// Register makes a provider type available to configurations. It panics if
// the type is registered twice: that is a programming error caught at init.
func Register(typ string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[typ]; dup {
		panic("provider: type registered twice: " + typ)
	}
	factories[typ] = f
}

// New builds the provider described by cfg.
func New(cfg config.Provider, client *http.Client) (Provider, error) {
	mu.Lock()
	f, ok := factories[cfg.Type]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("provider: unknown type %q (have %v)", cfg.Type, Types())
	}
	p, err := f(cfg, client)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", cfg.Name, err)
	}
	return p, nil
}

// Types lists the registered provider types.
func Types() []string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for t := range factories {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
