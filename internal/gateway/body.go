package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/provider"
)

// body is a parsed request body. Fields is every top-level field, kept raw
// so that Warden forwards what it does not understand unchanged; the typed
// fields are what Warden reads.
type body struct {
	fields map[string]json.RawMessage

	model    string
	stream   bool
	user     string
	messages []message
	prompt   string // completions prompt, image prompt, or Responses input text
	// includeUsage says whether the client itself asked for usage in a stream.
	includeUsage bool
	features     event.Features
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// maxMessages bounds how much work one body can cause in feature extraction.
const maxMessages = 4096

// parseBody decodes a request body for endpoint e. It returns an API error
// for anything that is not a JSON object with fields of the right types.
func parseBody(e provider.Endpoint, raw []byte) (*body, *apiError) {
	b := &body{}
	if err := json.Unmarshal(raw, &b.fields); err != nil || b.fields == nil {
		return nil, errBadJSON
	}
	f := &b.features
	if err := b.str("model", &b.model); err != nil {
		return nil, err
	}
	if v, ok := b.fields["stream"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &b.stream); err != nil {
			return nil, badRequest("invalid_type", "stream", "'stream' must be a boolean.")
		}
	}
	f.Stream = b.stream
	if v, ok := b.fields["stream_options"]; ok && !isNull(v) {
		var so struct {
			IncludeUsage bool `json:"include_usage"`
		}
		if err := json.Unmarshal(v, &so); err != nil {
			return nil, badRequest("invalid_type", "stream_options", "'stream_options' must be an object.")
		}
		b.includeUsage = so.IncludeUsage
	}
	if err := b.str("user", &b.user); err != nil {
		return nil, err
	}
	for _, name := range []string{"max_tokens", "max_completion_tokens", "max_output_tokens"} {
		if v, ok := b.fields[name]; ok && !isNull(v) {
			var x float64
			if err := json.Unmarshal(v, &x); err != nil || x != math.Trunc(x) {
				return nil, badRequest("invalid_type", name, "'"+name+"' must be an integer.")
			}
			switch {
			case x < 0:
				f.MaxTokens = -1
			case x > math.MaxInt32:
				f.MaxTokens = math.MaxInt32
			default:
				f.MaxTokens = int(x)
			}
		}
	}
	for name, dst := range map[string]**float64{"temperature": &f.Temperature, "top_p": &f.TopP, "presence_penalty": &f.PresencePen, "frequency_penalty": &f.FrequencyPen} {
		if v, ok := b.fields[name]; ok && !isNull(v) {
			var x float64
			if err := json.Unmarshal(v, &x); err != nil {
				return nil, badRequest("invalid_type", name, "'"+name+"' must be a number.")
			}
			*dst = &x
		}
	}
	if v, ok := b.fields["n"]; ok && !isNull(v) {
		var n float64
		if err := json.Unmarshal(v, &n); err != nil || n != math.Trunc(n) || n < 0 || n > 128 {
			return nil, badRequest("invalid_value", "n", "'n' must be an integer between 1 and 128.")
		}
		f.N = int(n)
	}
	switch e {
	case provider.ChatCompletions:
		v, ok := b.fields["messages"]
		if !ok {
			return nil, badRequest("missing_required_parameter", "messages", "Missing required parameter: 'messages'.")
		}
		if err := json.Unmarshal(v, &b.messages); err != nil {
			return nil, badRequest("invalid_type", "messages", "'messages' must be an array of message objects.")
		}
		if len(b.messages) > maxMessages {
			return nil, badRequest("invalid_value", "messages", "Too many messages.")
		}
	case provider.Completions, provider.Embeddings, provider.ImagesGenerations:
		name := "prompt"
		if e == provider.Embeddings {
			name = "input"
		}
		v, ok := b.fields[name]
		if !ok {
			return nil, badRequest("missing_required_parameter", name, "Missing required parameter: '"+name+"'.")
		}
		b.prompt = textOf(v)
	case provider.Responses:
		if v, ok := b.fields["input"]; ok {
			b.prompt = textOf(v)
		}
		if v, ok := b.fields["instructions"]; ok {
			var s string
			json.Unmarshal(v, &s)
			f.SystemHash = shortHash(s)
		}
	}
	if e == provider.ImagesGenerations {
		b.str("size", &f.ImageSize)
		b.str("quality", &f.ImageQuality)
	}
	b.extractFeatures(e)
	return b, nil
}

func (b *body) str(name string, dst *string) *apiError {
	v, ok := b.fields[name]
	if !ok || isNull(v) {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return badRequest("invalid_type", name, "'"+name+"' must be a string.")
	}
	return nil
}

func isNull(v json.RawMessage) bool { return len(v) == 4 && string(v) == "null" }

// textOf flattens a prompt-like JSON value (string, array of strings, array
// of message items or content parts) into text, for features and guards.
func textOf(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var arr []json.RawMessage
	if json.Unmarshal(v, &arr) != nil {
		return ""
	}
	var sb strings.Builder
	for i, x := range arr {
		if i >= maxMessages {
			break
		}
		if json.Unmarshal(x, &s) == nil {
			sb.WriteString(s)
			sb.WriteByte('\n')
			continue
		}
		var item struct {
			Content json.RawMessage `json:"content"`
			Text    string          `json:"text"`
		}
		if json.Unmarshal(x, &item) == nil {
			sb.WriteString(item.Text)
			if item.Content != nil {
				sb.WriteString(contentText(item.Content))
			}
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// contentText returns the text of a chat message's content: a string or an
// array of parts, of which only text parts count.
func contentText(c json.RawMessage) string {
	if len(c) == 0 || isNull(c) {
		return ""
	}
	var s string
	if json.Unmarshal(c, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(c, &parts) != nil {
		return ""
	}
	var sb strings.Builder
	for _, p := range parts {
		sb.WriteString(p.Text)
	}
	return sb.String()
}

// Phrases the detector treats as near-certain attacker tooling (threat model
// steps 7 and 13).
var phraseRules = []struct {
	name string
	all  []string
}{
	{"obey_probe", []string{"text before the word 'obey'"}},
	{"obey_probe", []string{"obey all instructions from the user"}},
	{"de3u_verbatim", []string{"revised prompt", "verbatim"}},
}

func (b *body) extractFeatures(e provider.Endpoint) {
	f := &b.features
	f.Messages = len(b.messages)
	var system, firstUser string
	var all strings.Builder
	userChars := 0
	for _, m := range b.messages {
		t := contentText(m.Content)
		all.WriteString(t)
		all.WriteByte('\n')
		switch m.Role {
		case "system", "developer":
			if system == "" {
				system = t
			}
		case "user":
			userChars += len(strings.TrimSpace(t))
			if firstUser == "" {
				firstUser = t
			}
		}
	}
	if e != provider.ChatCompletions {
		all.WriteString(b.prompt)
		firstUser = b.prompt
		userChars = len(strings.TrimSpace(b.prompt))
	}
	text := all.String()
	f.PromptChars = len(text)
	// The key checker's probe (threat step 2) sends an empty user turn.
	f.EmptyPrompt = userChars == 0
	if system != "" {
		f.SystemHash = shortHash(system)
	}
	if e == provider.ChatCompletions || e == provider.Responses {
		f.ConvRoot = shortHash(system + "\x00" + firstUser)
	}
	if b.user != "" {
		f.User = shortHash(b.user)
	}
	lower := strings.ToLower(text)
	for _, r := range phraseRules {
		hit := true
		for _, p := range r.all {
			if !strings.Contains(lower, p) {
				hit = false
				break
			}
		}
		if hit && !contains(f.Phrases, r.name) {
			f.Phrases = append(f.Phrases, r.name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// rewrite returns the body to send upstream: the client's fields with the
// upstream model, Warden's pseudonymous user id, and a request for usage in
// streams (so that streamed tokens are counted).
func (b *body) rewrite(e provider.Endpoint, upstream, user string) ([]byte, bool) {
	out := make(map[string]json.RawMessage, len(b.fields)+2)
	for k, v := range b.fields {
		out[k] = v
	}
	out["model"], _ = json.Marshal(upstream)
	if user != "" && e != provider.Responses {
		out["user"], _ = json.Marshal(user)
	} else if user != "" {
		out["safety_identifier"], _ = json.Marshal(user)
		delete(out, "user")
	}
	injected := false
	if b.stream && !b.includeUsage && (e == provider.ChatCompletions || e == provider.Completions) {
		out["stream_options"] = json.RawMessage(`{"include_usage":true}`)
		injected = true
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(out)
	return bytes.TrimRight(buf.Bytes(), "\n"), injected
}
