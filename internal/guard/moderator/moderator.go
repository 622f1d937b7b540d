// Package moderator chains external moderation services after the local
// guard (package guard), for deployments that want a second opinion from a
// larger model than the guard's own.
//
// Three kinds are built in, each registered by name:
//
//   - "openai": an OpenAI-moderation-compatible endpoint.
//     POST {endpoint}/moderations with {"model": ..., "input": [texts]};
//     the answer's results[].categories (booleans), category_scores
//     (0..1) and flagged are mapped to guard categories (see openai.go).
//     https://platform.openai.com/docs/api-reference/moderations
//   - "llamaguard": Llama Guard 3 served behind an OpenAI-compatible API
//     (vLLM, Ollama). Mode "chat" (default) POSTs the conversation to
//     {endpoint}/chat/completions and lets the server's chat template build
//     the Llama Guard prompt; mode "completions" builds the Llama Guard 3
//     prompt itself (categories S1..S14, "Provide your safety assessment
//     ...") and POSTs it to {endpoint}/completions. The answer, "safe" or
//     "unsafe\nS1,S10", is mapped through the S-code table (llamaguard.go).
//     https://www.llama.com/docs/model-cards-and-prompt-formats/llama-guard-3/
//   - "azure": Azure AI Content Safety. POST
//     {endpoint}/contentsafety/text:analyze?api-version=2024-09-01 with
//     {"text", "categories", "outputType": "FourSeverityLevels"} gives
//     categoriesAnalysis[].{category, severity}; for prompts, POST
//     {endpoint}/contentsafety/text:shieldPrompt?api-version=2024-09-01 with
//     {"userPrompt", "documents"} gives userPromptAnalysis.attackDetected
//     and documentsAnalysis[].attackDetected. The key goes in the
//     Ocp-Apim-Subscription-Key header.
//     https://learn.microsoft.com/azure/ai-services/content-safety/
//
// Every moderator call has a timeout (Config.Timeout, default 2s) and a
// failure policy: fail open (the local guard's result stands) or fail closed
// (the request is blocked with rule "moderator.NAME.unavailable"). Chain runs
// the configured moderators concurrently after the local guard and combines
// their verdicts with the guard's: the maximum score per category, a
// category a moderator flagged counts as 1, and any block wins. When the
// local guard already blocks, no moderator is called.
//
// API keys are held in a redacting type and sent only in request headers;
// they never appear in errors, logs or events. Bodies sent are bounded
// (MaxInput bytes of text per call) and answers are read up to MaxAnswer
// bytes.
package moderator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/guard"
)

// Verdict is an external moderator's judgment of the texts of one request
// or answer.
type Verdict struct {
	// Scores are 0..1 per guard category; categories the service does not
	// judge are 0.
	Scores guard.Scores
	// Flagged are the categories the service itself flagged as unsafe; the
	// chain treats them as score 1.
	Flagged []guard.Category
}

// Moderator judges texts with an external service.
//
// Moderate must return within ctx's deadline, must not modify parts, and
// must not put secrets (API keys) or the judged text in its errors.
// Categories in the Verdict must be guard categories.
type Moderator interface {
	Moderate(ctx context.Context, stage guard.Stage, parts []guard.Part) (Verdict, error)
}

// Func adapts a function to Moderator.
type Func func(ctx context.Context, stage guard.Stage, parts []guard.Part) (Verdict, error)

// Moderate calls f.
func (f Func) Moderate(ctx context.Context, stage guard.Stage, parts []guard.Part) (Verdict, error) {
	return f(ctx, stage, parts)
}

// Config configures one external moderator. It is meant to be embedded in
// the gateway's configuration file (YAML):
//
//	moderators:
//	  - name: openai-mod
//	    kind: openai
//	    endpoint: https://api.openai.com/v1
//	    api_key: ${OPENAI_API_KEY}
//	    model: omni-moderation-latest
//	    timeout: 1500ms
//	    fail_open: true
//	  - name: llamaguard
//	    kind: llamaguard
//	    endpoint: http://127.0.0.1:8000/v1
//	    model: meta-llama/Llama-Guard-3-8B
//	    mode: chat
//	    stages: [prompt, image_prompt, answer]
//	  - name: azure-cs
//	    kind: azure
//	    endpoint: https://RESOURCE.cognitiveservices.azure.com
//	    api_key: ${AZURE_CONTENT_SAFETY_KEY}
type Config struct {
	Name     string        `yaml:"name" json:"name"`         // unique; names the moderator in events and rules
	Kind     string        `yaml:"kind" json:"kind"`         // openai, llamaguard or azure (see Kinds)
	Endpoint string        `yaml:"endpoint" json:"endpoint"` // base URL, e.g. https://api.openai.com/v1
	APIKey   string        `yaml:"api_key" json:"-"`         // sent as Authorization: Bearer (openai, llamaguard) or Ocp-Apim-Subscription-Key (azure); never logged
	Model    string        `yaml:"model" json:"model"`       // openai: default omni-moderation-latest; llamaguard: required
	Mode     string        `yaml:"mode" json:"mode"`         // llamaguard: chat (default) or completions
	Timeout  time.Duration `yaml:"timeout" json:"timeout"`   // per call; default 2s, at most 30s
	FailOpen bool          `yaml:"fail_open" json:"fail_open"`
	// Stages at which the moderator is called; default prompt and
	// image_prompt. Streams are judged per chunk and are not sent by
	// default: a network call per chunk is slow and costly.
	Stages []guard.Stage `yaml:"stages" json:"stages"`
	// APIVersion overrides the Azure api-version (default 2024-09-01).
	APIVersion string `yaml:"api_version" json:"api_version"`
}

// Limits.
const (
	DefaultTimeout = 2 * time.Second
	MaxTimeout     = 30 * time.Second
	// MaxInput bounds the text sent in one call; the rest is not sent.
	MaxInput = 64 << 10
	// MaxAnswer bounds the answer body read from a service.
	MaxAnswer = 1 << 20
)

// Factory builds a moderator from its configuration (already defaulted and
// checked by New) and an HTTP client.
type Factory func(c Config, key Secret, client *http.Client) (Moderator, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a moderator kind available to New. It panics if kind is
// empty or registered twice: registration happens at init, and a clash is a
// programming error.
func Register(kind string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if kind == "" || f == nil {
		panic("moderator: Register with empty kind or nil factory")
	}
	if _, dup := registry[kind]; dup {
		panic("moderator: kind registered twice: " + kind)
	}
	registry[kind] = f
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Errors.
var (
	ErrConfig = errors.New("moderator: bad configuration")
	// ErrUnavailable wraps every failure to get a verdict: network
	// errors, timeouts, HTTP errors and unreadable answers.
	ErrUnavailable = errors.New("moderator: service unavailable")
)

// Instance is a configured moderator: the Moderator with its name, timeout,
// failure policy and stages.
type Instance struct {
	Name      string
	Moderator Moderator
	Timeout   time.Duration
	FailOpen  bool
	stages    map[guard.Stage]bool
}

// Judges reports whether the instance is called at stage.
func (in *Instance) Judges(stage guard.Stage) bool { return in.stages[stage] }

// New checks c, fills in defaults and builds the moderator of c.Kind. A nil
// client means a new http.Client (timeouts come from the context).
func New(c Config, client *http.Client) (*Instance, error) {
	if c.Name == "" {
		return nil, fmt.Errorf("%w: moderator without a name", ErrConfig)
	}
	regMu.RLock()
	f := registry[c.Kind]
	regMu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("%w: moderator %s: unknown kind %q (known: %v)", ErrConfig, c.Name, c.Kind, Kinds())
	}
	if c.Endpoint == "" {
		return nil, fmt.Errorf("%w: moderator %s: endpoint is required", ErrConfig, c.Name)
	}
	switch {
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	case c.Timeout < 0 || c.Timeout > MaxTimeout:
		return nil, fmt.Errorf("%w: moderator %s: timeout %v not in (0, %v]", ErrConfig, c.Name, c.Timeout, MaxTimeout)
	}
	if len(c.Stages) == 0 {
		c.Stages = []guard.Stage{guard.StagePrompt, guard.StageImagePrompt}
	}
	stages := map[guard.Stage]bool{}
	for _, s := range c.Stages {
		switch s {
		case guard.StagePrompt, guard.StageImagePrompt, guard.StageAnswer, guard.StageStream:
			stages[s] = true
		default:
			return nil, fmt.Errorf("%w: moderator %s: unknown stage %q", ErrConfig, c.Name, s)
		}
	}
	if client == nil {
		client = &http.Client{}
	}
	m, err := f(c, Secret{s: c.APIKey}, client)
	if err != nil {
		return nil, fmt.Errorf("moderator %s: %w", c.Name, err)
	}
	return &Instance{Name: c.Name, Moderator: m, Timeout: c.Timeout, FailOpen: c.FailOpen, stages: stages}, nil
}

// Secret is an API key. It is incomparable, and its String, LogValue and
// GoString redact it, so a key that slips into a log line reveals nothing.
type Secret struct {
	_ [0]func() // incomparable
	s string
}

// NewSecret wraps a key.
func NewSecret(s string) Secret { return Secret{s: s} }

// String redacts the secret.
func (s Secret) String() string {
	if s.s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer so that slog never prints the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the key, for the one header that carries it.
func (s Secret) Reveal() string { return s.s }

// Empty reports whether no key is set.
func (s Secret) Empty() bool { return s.s == "" }
