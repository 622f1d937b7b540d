// Package mock is Warden's built-in upstream: a deterministic, network-free
// imitation of the OpenAI and Azure OpenAI APIs. Warden fronts it when no
// provider is configured, the tests and the benchmark use it, and canary
// keys are answered by it.
//
// Models (and Azure deployments of the same names):
//
//	mock-echo   chat and completions answer with the last user message; embeddings
//	mock-lorem  answers with fixed lorem ipsum text
//	mock-image  image generation: a small valid PNG as b64_json or a data: URL
//
// A prompt (the last user message) may carry directives, so tests can drive
// faults through unmodified SDKs:
//
//	mock:fault=429            answer 429 rate_limit_exceeded with Retry-After: 1
//	mock:fault=500            answer 500
//	mock:fault=timeout        never answer (until the caller gives up)
//	mock:fault=broken-stream  start a stream, then cut the connection
//	mock:latency=50ms         wait before answering
//
// Like the real services, the mock rejects what they reject: chat on an
// image deployment (400 OperationNotSupported), max_tokens beyond the
// 8192-token context (400 context_length_exceeded), negative max_tokens, and
// unknown deployments or models (404 DeploymentNotFound / model_not_found).
package mock

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/clock"
)

// ContextWindow is the context length of every mock model, in tokens.
const ContextWindow = 8192

// Lorem is mock-lorem's answer.
const Lorem = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua."

// Models are the mock's models and their kinds.
var Models = map[string]string{
	"mock-echo":  "chat",
	"mock-lorem": "chat",
	"mock-image": "image",
}

// Handler serves the OpenAI API under /v1 and the Azure OpenAI API under
// /openai. The zero value is ready to use.
type Handler struct {
	// Latency is added before every answer.
	Latency time.Duration
	// Now returns the time for "created" fields; nil means time.Now.
	Now func() time.Time
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t, ok := clock.EventTime(r.Context()); ok && h.Now == nil {
		hh := *h // answer at the request's event time (replay gives the live answer)
		hh.Now = func() time.Time { return t }
		h = &hh
	}
	path := r.URL.Path
	azure := strings.HasPrefix(path, "/openai/")
	switch {
	case r.Method == http.MethodGet && (path == "/v1/models" || path == "/openai/models"):
		h.listModels(w)
		return
	case r.Method == http.MethodGet && path == "/openai/deployments":
		h.listDeployments(w)
		return
	case r.Method != http.MethodPost:
		writeError(w, http.StatusNotFound, "not_found", "invalid_request_error", "Unknown path "+path, azure)
		return
	}
	var endpoint, model string
	switch {
	case strings.HasPrefix(path, "/v1/"):
		endpoint = strings.TrimPrefix(path, "/v1/")
	case path == "/openai/responses" || path == "/openai/v1/responses":
		endpoint = "responses"
	case strings.HasPrefix(path, "/openai/deployments/"):
		rest := strings.TrimPrefix(path, "/openai/deployments/")
		dep, op, ok := strings.Cut(rest, "/")
		if !ok {
			writeError(w, http.StatusNotFound, "404", "invalid_request_error", "Resource not found", true)
			return
		}
		model, endpoint = dep, op
	default:
		writeError(w, http.StatusNotFound, "404", "invalid_request_error", "Resource not found", azure)
		return
	}
	body := map[string]any{}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "invalid_request_error", "We could not parse the JSON body of your request.", azure)
		return
	}
	if model == "" {
		model, _ = body["model"].(string)
	}
	kind, known := Models[model]
	if !known {
		if azure {
			writeError(w, http.StatusNotFound, "DeploymentNotFound", "invalid_request_error", "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.", true)
		} else {
			writeError(w, http.StatusNotFound, "model_not_found", "invalid_request_error", fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model), false)
		}
		return
	}
	c := &call{h: h, w: w, r: r, body: body, model: model, azure: azure}
	c.prompt = lastUserText(body)
	if !c.directives() {
		return
	}
	switch endpoint {
	case "chat/completions", "completions", "responses":
		if kind == "image" {
			writeError(w, http.StatusBadRequest, "OperationNotSupported", "invalid_request_error", "The chatCompletion operation does not work with the specified model, "+model+". Please choose different model and try again.", azure)
			return
		}
		c.text(endpoint)
	case "embeddings":
		c.embeddings()
	case "images/generations":
		if kind != "image" {
			writeError(w, http.StatusBadRequest, "OperationNotSupported", "invalid_request_error", "The imagesGenerations operation does not work with the specified model, "+model+".", azure)
			return
		}
		c.images()
	default:
		writeError(w, http.StatusNotFound, "404", "invalid_request_error", "Resource not found", azure)
	}
}

type call struct {
	h      *Handler
	w      http.ResponseWriter
	r      *http.Request
	body   map[string]any
	model  string
	azure  bool
	prompt string
	broken bool
}

var directive = regexp.MustCompile(`mock:(fault|latency)=([A-Za-z0-9.\-]+)`)

// directives applies latency and faults. It reports whether to go on.
func (c *call) directives() bool {
	latency := c.h.Latency
	fault := ""
	for _, m := range directive.FindAllStringSubmatch(c.prompt, 4) {
		switch m[1] {
		case "latency":
			if d, err := time.ParseDuration(m[2]); err == nil && d >= 0 && d <= time.Minute {
				latency = d
			}
		case "fault":
			fault = m[2]
		}
	}
	if latency > 0 && clock.Sleep(c.r.Context(), latency) != nil {
		return false
	}
	switch fault {
	case "429":
		c.w.Header().Set("Retry-After", "1")
		writeError(c.w, http.StatusTooManyRequests, "rate_limit_exceeded", "requests", "Rate limit reached. Please retry after 1 second.", c.azure)
		return false
	case "500":
		writeError(c.w, http.StatusInternalServerError, "server_error", "server_error", "The server had an error while processing your request.", c.azure)
		return false
	case "timeout":
		clock.Sleep(c.r.Context(), 10*time.Minute)
		return false
	case "broken-stream":
		c.broken = true
	}
	return true
}

// lastUserText finds the text a mock answer echoes: the last user message,
// the completions prompt, the Responses input, or the image prompt.
func lastUserText(body map[string]any) string {
	if msgs, ok := body["messages"].([]any); ok {
		for i := len(msgs) - 1; i >= 0; i-- {
			m, _ := msgs[i].(map[string]any)
			if m["role"] == "user" {
				return contentText(m["content"])
			}
		}
		return ""
	}
	for _, f := range []string{"prompt", "input"} {
		switch v := body[f].(type) {
		case string:
			return v
		case []any:
			if len(v) == 0 {
				return ""
			}
			last := v[len(v)-1]
			if s, ok := last.(string); ok {
				return s
			}
			if m, ok := last.(map[string]any); ok {
				return contentText(m["content"])
			}
		}
	}
	return ""
}

func contentText(c any) string {
	switch v := c.(type) {
	case string:
		return v
	case []any:
		var b strings.Builder
		for _, p := range v {
			if m, ok := p.(map[string]any); ok {
				if t, ok := m["text"].(string); ok {
					b.WriteString(t)
				}
			}
		}
		return b.String()
	}
	return ""
}

// Tokens estimates tokens as the mock counts them: a quarter of the characters, rounded up.
func Tokens(s string) int { return (len(s) + 3) / 4 }

func intField(body map[string]any, names ...string) (int, bool) {
	for _, n := range names {
		if v, ok := body[n].(json.Number); ok {
			i, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return 0, true
			}
			if i > math.MaxInt32 {
				i = math.MaxInt32
			}
			if i < math.MinInt32 {
				i = math.MinInt32
			}
			return int(i), true
		}
	}
	return 0, false
}

func (c *call) promptTokens() int {
	n := 0
	if msgs, ok := c.body["messages"].([]any); ok {
		for _, m := range msgs {
			mm, _ := m.(map[string]any)
			n += 3 + Tokens(contentText(mm["content"]))
		}
		return n + 3
	}
	return Tokens(c.prompt) + 1
}

func (c *call) text(endpoint string) {
	maxTok, hasMax := intField(c.body, "max_tokens", "max_completion_tokens", "max_output_tokens")
	if hasMax && maxTok < 1 {
		writeError(c.w, http.StatusBadRequest, "invalid_value", "invalid_request_error", fmt.Sprintf("Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", maxTok), c.azure)
		return
	}
	pt := c.promptTokens()
	if hasMax && pt+maxTok > ContextWindow {
		writeError(c.w, http.StatusBadRequest, "context_length_exceeded", "invalid_request_error", fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.", ContextWindow, pt+maxTok, pt, maxTok), c.azure)
		return
	}
	out := Lorem
	if c.model == "mock-echo" {
		out = directive.ReplaceAllString(c.prompt, "")
		out = strings.TrimSpace(out)
	}
	finish := "stop"
	if hasMax && Tokens(out) > maxTok {
		out = out[:min(len(out), maxTok*4)]
		finish = "length"
	}
	n, _ := intField(c.body, "n")
	if n < 1 || endpoint == "responses" {
		n = 1
	}
	n = min(n, 8)
	usage := map[string]any{"prompt_tokens": pt, "completion_tokens": Tokens(out) * n, "total_tokens": pt + Tokens(out)*n}
	stream, _ := c.body["stream"].(bool)
	id := c.id()
	if endpoint == "responses" {
		c.responses(id, out, pt, stream)
		return
	}
	object, chunkObject := "chat.completion", "chat.completion.chunk"
	if endpoint == "completions" {
		object, chunkObject = "text_completion", "text_completion"
	}
	if !stream {
		choices := make([]any, n)
		for i := range choices {
			ch := map[string]any{"index": i, "finish_reason": finish, "logprobs": nil}
			if endpoint == "completions" {
				ch["text"] = out
			} else {
				ch["message"] = map[string]any{"role": "assistant", "content": out, "refusal": nil}
			}
			if c.azure {
				ch["content_filter_results"] = safeFilterResults()
			}
			choices[i] = ch
		}
		resp := map[string]any{"id": id, "object": object, "created": c.h.now().Unix(), "model": c.model, "choices": choices, "usage": usage, "system_fingerprint": "fp_mock"}
		if c.azure {
			resp["prompt_filter_results"] = []any{map[string]any{"prompt_index": 0, "content_filter_results": safeFilterResults()}}
		}
		writeJSON(c.w, http.StatusOK, resp)
		return
	}
	so, _ := c.body["stream_options"].(map[string]any)
	includeUsage, _ := so["include_usage"].(bool)
	sse := newSSE(c.w)
	words := splitWords(out)
	chunk := func(i int, delta map[string]any, text string, finish any) map[string]any {
		ch := map[string]any{"index": i, "finish_reason": finish, "logprobs": nil}
		if endpoint == "completions" {
			ch["text"] = text
		} else {
			ch["delta"] = delta
		}
		m := map[string]any{"id": id, "object": chunkObject, "created": c.h.now().Unix(), "model": c.model, "choices": []any{ch}, "system_fingerprint": "fp_mock"}
		if includeUsage {
			m["usage"] = nil
		}
		return m
	}
	for i := range n {
		if endpoint != "completions" {
			sse.data(chunk(i, map[string]any{"role": "assistant", "content": ""}, "", nil))
		}
		for j, w := range words {
			if c.broken && j == len(words)/2 {
				sse.flush()
				panic(http.ErrAbortHandler) // cut the connection mid-stream
			}
			sse.data(chunk(i, map[string]any{"content": w}, w, nil))
		}
		sse.data(chunk(i, map[string]any{}, "", finish))
	}
	if includeUsage {
		sse.data(map[string]any{"id": id, "object": chunkObject, "created": c.h.now().Unix(), "model": c.model, "choices": []any{}, "usage": usage})
	}
	sse.done()
}

func (c *call) responses(id, out string, pt int, stream bool) {
	ot := Tokens(out)
	msg := map[string]any{"type": "message", "id": "msg_" + id[9:], "status": "completed", "role": "assistant",
		"content": []any{map[string]any{"type": "output_text", "text": out, "annotations": []any{}}}}
	resp := map[string]any{"id": "resp_" + id[9:], "object": "response", "created_at": c.h.now().Unix(), "status": "completed", "model": c.model,
		"output": []any{msg}, "usage": map[string]any{"input_tokens": pt, "output_tokens": ot, "total_tokens": pt + ot,
			"input_tokens_details": map[string]any{"cached_tokens": 0}, "output_tokens_details": map[string]any{"reasoning_tokens": 0}},
		"parallel_tool_calls": true, "tool_choice": "auto", "tools": []any{}, "text": map[string]any{"format": map[string]any{"type": "text"}}}
	if !stream {
		writeJSON(c.w, http.StatusOK, resp)
		return
	}
	sse := newSSE(c.w)
	seq := 0
	ev := func(typ string, m map[string]any) {
		m["type"] = typ
		m["sequence_number"] = seq
		seq++
		sse.event(typ, m)
	}
	pending := map[string]any{}
	for k, v := range resp {
		pending[k] = v
	}
	pending["status"], pending["output"], pending["usage"] = "in_progress", []any{}, nil
	ev("response.created", map[string]any{"response": pending})
	for i, w := range splitWords(out) {
		if c.broken && i == 1 {
			sse.flush()
			panic(http.ErrAbortHandler)
		}
		ev("response.output_text.delta", map[string]any{"item_id": msg["id"], "output_index": 0, "content_index": 0, "delta": w})
	}
	ev("response.output_text.done", map[string]any{"item_id": msg["id"], "output_index": 0, "content_index": 0, "text": out})
	ev("response.completed", map[string]any{"response": resp})
}

func (c *call) id() string {
	sum := sha256.Sum256([]byte(fmt.Sprint(c.h.now().UnixNano(), c.prompt)))
	return fmt.Sprintf("chatcmpl-%x", sum[:12])
}

func splitWords(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s[1:], ' ')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

func safeFilterResults() map[string]any {
	safe := map[string]any{"filtered": false, "severity": "safe"}
	return map[string]any{"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe}
}

func (h *Handler) listModels(w http.ResponseWriter) {
	var data []any
	for _, name := range []string{"mock-echo", "mock-image", "mock-lorem"} {
		data = append(data, map[string]any{"id": name, "object": "model", "created": 1700000000, "owned_by": "warden-mock"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (h *Handler) listDeployments(w http.ResponseWriter) {
	var data []any
	for _, name := range []string{"mock-echo", "mock-image", "mock-lorem"} {
		data = append(data, map[string]any{"id": name, "model": name, "object": "deployment", "status": "succeeded",
			"owner": "organization-owner", "scale_settings": map[string]any{"scale_type": "standard"}, "created_at": 1700000000, "updated_at": 1700000000})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}
