// Package event defines the Event, the one record Warden makes of every
// request, allowed or refused, and the Bus that hands it to every consumer:
// the audit log, the detector, metrics, alert sinks and the JSONL writer.
//
// Nothing in Warden re-parses logs: whatever a consumer needs to know about a
// request must be a field here. Events carry no secrets: keys appear only by
// id, and bodies only as sizes, hashes and features.
package event

import (
	"time"
)

// Event describes one request from arrival to the last byte of its answer.
// Times are event time: Time is when the request arrived (or, in replay, the
// recorded timestamp), never the wall clock of whoever reads the event.
type Event struct {
	ID       string        `json:"id"` // request id, also sent as X-Request-Id
	Time     time.Time     `json:"ts"`
	Duration time.Duration `json:"duration_ns"`
	Instance string        `json:"instance,omitempty"`

	// Who.
	KeyID       string `json:"key_id,omitempty"`
	KeyOwner    string `json:"key_owner,omitempty"`
	KeyKind     string `json:"key_kind,omitempty"` // standard or canary
	AuthMethod  string `json:"auth_method,omitempty"`
	ClientIP    string `json:"client_ip"`
	Client      Client `json:"client"`
	Fingerprint string `json:"fingerprint"` // hash of Client, see Client.Fingerprint

	// What.
	Method     string   `json:"method"`
	Path       string   `json:"path"`
	Style      string   `json:"style,omitempty"`    // "openai" or "azure"
	Endpoint   string   `json:"endpoint,omitempty"` // e.g. chat.completions
	Model      string   `json:"model,omitempty"`    // client-facing model or deployment
	Provider   string   `json:"provider,omitempty"`
	Upstream   string   `json:"upstream_model,omitempty"`
	RequestLen int64    `json:"request_bytes"`
	Features   Features `json:"features"`

	// What happened.
	Status       int           `json:"status"`
	ErrorCode    string        `json:"error_code,omitempty"`
	Refusal      string        `json:"refusal,omitempty"` // stage that refused: auth, scope, limit, guard, detector, ...
	RetryAfter   time.Duration `json:"retry_after_ns,omitempty"`
	Guard        []Verdict     `json:"guard,omitempty"`
	ResponseLen  int64         `json:"response_bytes"`
	Streamed     bool          `json:"streamed,omitempty"`
	StreamCut    bool          `json:"stream_cut,omitempty"` // upstream or client broke off a stream
	FinishReason string        `json:"finish_reason,omitempty"`
	Upstream429  bool          `json:"upstream_429,omitempty"`
	UpstreamTime time.Duration `json:"upstream_ns,omitempty"`
	Attempts     int           `json:"attempts,omitempty"`
	// Tries lists every upstream deployment tried, in order; the last one
	// with a status answered (Provider and Upstream name it too).
	Tries []Try `json:"tries,omitempty"`

	PromptTokens     int     `json:"prompt_tokens,omitempty"`
	CompletionTokens int     `json:"completion_tokens,omitempty"`
	Images           int     `json:"images,omitempty"`
	CostUSD          float64 `json:"cost_usd,omitempty"`

	// Decisions of the detector that applied to this request.
	Action string `json:"action,omitempty"`

	// Actor is the operator who made an admin API call (admin events only:
	// Endpoint "admin").
	Actor *Actor `json:"actor,omitempty"`
}

// Actor names who acted on the admin API and with which role.
type Actor struct {
	Subject string `json:"subject"`
	Email   string `json:"email,omitempty"`
	Role    string `json:"role"`
	Method  string `json:"method"` // oidc, bearer-oidc, service-token, local
}

// Try is one attempt of a request on one upstream deployment.
type Try struct {
	Deployment string `json:"deployment"`       // provider/upstream
	Status     int    `json:"status,omitempty"` // 0: no answer (connection failure, timeout)
}

// Client is what the request tells about the software that sent it. Together
// with the network it separates a key's owner from whoever stole it.
type Client struct {
	UserAgent   string   `json:"user_agent,omitempty"`
	HeaderNames []string `json:"header_names,omitempty"` // lower-cased, in arrival order, auth headers included by name only
	SDKHeaders  bool     `json:"sdk_headers,omitempty"`  // any x-stainless-* header present
	SDKLang     string   `json:"sdk_lang,omitempty"`     // x-stainless-lang
	SDKVersion  string   `json:"sdk_version,omitempty"`  // x-stainless-package-version
	APIVersion  string   `json:"api_version,omitempty"`  // Azure api-version query parameter
	BothAuth    bool     `json:"both_auth,omitempty"`    // sent both Authorization and api-key (de3u)
}

// Features are what the detector and the guard need to know of a body
// without keeping the body.
type Features struct {
	Stream       bool     `json:"stream,omitempty"`
	MaxTokens    int      `json:"max_tokens,omitempty"` // max_tokens, max_completion_tokens or max_output_tokens; -1 when negative
	Temperature  *float64 `json:"temperature,omitempty"`
	TopP         *float64 `json:"top_p,omitempty"`
	PresencePen  *float64 `json:"presence_penalty,omitempty"`
	FrequencyPen *float64 `json:"frequency_penalty,omitempty"`
	N            int      `json:"n,omitempty"`
	Messages     int      `json:"messages,omitempty"`
	PromptChars  int      `json:"prompt_chars"`
	EmptyPrompt  bool     `json:"empty_prompt,omitempty"` // no user text at all
	User         string   `json:"user,omitempty"`         // hashed end-user id sent by the client
	ConvRoot     string   `json:"conv_root,omitempty"`    // hash of system prompt + first user turn
	SystemHash   string   `json:"system_hash,omitempty"`
	ImageSize    string   `json:"image_size,omitempty"`
	ImageQuality string   `json:"image_quality,omitempty"`
	// Phrases marks known attacker phrases seen in the prompt, e.g.
	// "obey_probe", "de3u_verbatim". Set by the gateway's feature extraction.
	Phrases []string `json:"phrases,omitempty"`
}

// Verdict is the guard's judgment of one piece of text.
type Verdict struct {
	Stage    string             `json:"stage"`  // prompt, answer, image_prompt, stream
	Action   string             `json:"action"` // allow, flag, block
	Category string             `json:"category,omitempty"`
	Scores   map[string]float64 `json:"scores,omitempty"`
	Rule     string             `json:"rule,omitempty"`
}
