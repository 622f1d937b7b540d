package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"unsafe"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/guard/phrase"
	"github.com/wardenhq/warden/internal/provider"
)

// body is the inspected request: built once from the request body, and
// handed to every stage (the token estimate of the limits, the guard, the
// detector's features in the event, the audit log and the recorder). The
// body forwarded upstream is raw with a few top-level values replaced (see
// rewrite), so the texts the guard judged are the bytes the upstream reads.
type body struct {
	raw     []byte   // as received; I-JSON with no case variants of what Warden reads
	members []member // raw's top-level members

	model  string
	stream bool
	user   string
	// includeUsage says whether the client itself asked for usage in a stream.
	includeUsage bool
	// parts are every text of the request that reaches the model, with the
	// role that sent it: what the guard judges.
	parts    []guard.Part
	features event.Features
}

// wireRequest is the one decode of a request body: the guard's fields
// (messages, tools, prompt, input, instructions) and the gateway's.
type wireRequest struct {
	guard.Request
	Model               *string  `json:"model"`
	Stream              *bool    `json:"stream"`
	StreamOptions       *wireSO  `json:"stream_options"`
	User                *string  `json:"user"`
	MaxTokens           *float64 `json:"max_tokens"`
	MaxCompletionTokens *float64 `json:"max_completion_tokens"`
	MaxOutputTokens     *float64 `json:"max_output_tokens"`
	Temperature         *float64 `json:"temperature"`
	TopP                *float64 `json:"top_p"`
	PresencePenalty     *float64 `json:"presence_penalty"`
	FrequencyPenalty    *float64 `json:"frequency_penalty"`
	N                   *float64 `json:"n"`
	Size                *string  `json:"size"`
	Quality             *string  `json:"quality"`
}

type wireSO struct {
	IncludeUsage *bool `json:"include_usage"`
}

// maxMessages bounds how much work one body can cause in feature extraction.
const maxMessages = 4096

// typeHints say what a top-level parameter must be, for the error message.
var typeHints = map[string]string{
	"model": "a string", "user": "a string", "size": "a string", "quality": "a string", "instructions": "a string",
	"stream": "a boolean", "stream_options": "an object",
	"max_tokens": "an integer", "max_completion_tokens": "an integer", "max_output_tokens": "an integer", "n": "an integer",
	"temperature": "a number", "top_p": "a number", "presence_penalty": "a number", "frequency_penalty": "a number",
	"messages": "an array of message objects", "tools": "an array of tool objects",
	"prompt": "a string or an array of strings", "input": "a string or an array",
}

// decode is the one decode that follows the I-JSON check, of requests and
// of answers. It is encoding/json/v2's reference implementation
// (github.com/go-json-experiment/json), which validates as it decodes,
// where encoding/json first scans the whole document to validate it (a
// third pass over the bytes after checkIJSON) and decodes at half the
// speed (go test ./internal/gateway -bench Inspect). Its defaults agree
// with what the check has enforced: names match exactly, duplicate names
// and invalid UTF-8 are errors.
func decode(b []byte, v any) error { return jsonv2.Unmarshal(b, v) }

// parseBody inspects a request body for endpoint e: the I-JSON check, then
// one decode. It returns an API error for anything that is not a JSON
// object with fields of the right types.
func parseBody(e provider.Endpoint, raw []byte) (*body, *apiError) {
	members, err := checkIJSONMembers(raw, requestSchema)
	if err != nil {
		var ie *ijsonError
		if errors.As(err, &ie) && json.Valid(raw) {
			return nil, badRequest("invalid_json", "", "The request body is valid JSON but not I-JSON (RFC 7493): "+
				strings.TrimPrefix(ie.msg, "gateway: ")+". Send each key once, spelled exactly.")
		}
		return nil, errBadJSON
	}
	var w wireRequest
	if err := decode(raw, &w); err != nil {
		param := ""
		var se *jsonv2.SemanticError
		if errors.As(err, &se) {
			for _, seg := range strings.Split(string(se.JSONPointer), "/") {
				if _, ok := typeHints[seg]; ok {
					param = seg
					break
				}
			}
		}
		if param == "" {
			return nil, badRequest("invalid_type", "", "A value in the request body has the wrong type.")
		}
		return nil, badRequest("invalid_type", param, "'"+param+"' must be "+typeHints[param]+".")
	}
	b := &body{raw: raw, members: members}
	f := &b.features
	if w.Model != nil {
		b.model = *w.Model
	}
	if w.Stream != nil {
		b.stream = *w.Stream
	}
	f.Stream = b.stream
	if w.StreamOptions != nil && w.StreamOptions.IncludeUsage != nil {
		b.includeUsage = *w.StreamOptions.IncludeUsage
	}
	if w.User != nil {
		b.user = *w.User
	}
	for _, mt := range []struct {
		name string
		v    *float64
	}{{"max_tokens", w.MaxTokens}, {"max_completion_tokens", w.MaxCompletionTokens}, {"max_output_tokens", w.MaxOutputTokens}} {
		if mt.v == nil {
			continue
		}
		x := *mt.v
		if x != math.Trunc(x) {
			return nil, badRequest("invalid_type", mt.name, "'"+mt.name+"' must be an integer.")
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
	f.Temperature, f.TopP, f.PresencePen, f.FrequencyPen = w.Temperature, w.TopP, w.PresencePenalty, w.FrequencyPenalty
	if w.N != nil {
		n := *w.N
		if n != math.Trunc(n) || n < 0 || n > 128 {
			return nil, badRequest("invalid_value", "n", "'n' must be an integer between 1 and 128.")
		}
		f.N = int(n)
	}
	required := ""
	switch e {
	case provider.ChatCompletions:
		required = "messages"
	case provider.Completions, provider.ImagesGenerations:
		required = "prompt"
	case provider.Embeddings:
		required = "input"
	}
	if required != "" && !b.has(required) {
		return nil, badRequest("missing_required_parameter", required, "Missing required parameter: '"+required+"'.")
	}
	if len(w.Messages) > maxMessages {
		return nil, badRequest("invalid_value", "messages", "Too many messages.")
	}
	if e == provider.ImagesGenerations {
		if w.Size != nil {
			f.ImageSize = *w.Size
		}
		if w.Quality != nil {
			f.ImageQuality = *w.Quality
		}
	}
	parts, err := w.Parts(string(e))
	if err != nil {
		return nil, badRequest("invalid_value", "", "The request body could not be inspected.")
	}
	b.parts = parts
	b.extractFeatures(e, &w)
	return b, nil
}

// has reports whether the body has the top-level member name (exactly).
func (b *body) has(name string) bool {
	for _, m := range b.members {
		if string(m.name) == name {
			return true
		}
	}
	return false
}

// Phrases the detector treats as near-certain attacker tooling (threat model
// steps 7 and 13): a rule fires when the prompt holds all its phrases, in
// any ASCII case.
var phraseRules = []struct {
	name string
	all  []string
}{
	{"obey_probe", []string{"text before the word 'obey'"}},
	{"obey_probe", []string{"obey all instructions from the user"}},
	{"de3u_verbatim", []string{"revised prompt", "verbatim"}},
}

// phraseSet finds the phrases of phraseRules in one pass over each text;
// ruleMasks[i] has bit k set for each phrase k (in phraseSet's order) that
// rule i needs.
var phraseSet, ruleMasks = func() (*phrase.Set, []uint64) {
	var all []string
	masks := make([]uint64, len(phraseRules))
	for i, r := range phraseRules {
		for _, p := range r.all {
			masks[i] |= 1 << len(all)
			all = append(all, p)
		}
	}
	if len(all) > 64 {
		panic("gateway: more than 64 detector phrases")
	}
	return phrase.CompileFold(all), masks
}()

// phrasesIn returns the bits of the phrases of phraseSet found in t.
func phrasesIn(t string) uint64 {
	var buf [8]phrase.Match
	var seen uint64
	for _, m := range phraseSet.Append(buf[:0], []byte(t)) {
		seen |= 1 << m.Phrase
	}
	return seen
}

// extractFeatures fills the detector's request features from the decoded
// body and its parts: no second look at the bytes.
func (b *body) extractFeatures(e provider.Endpoint, w *wireRequest) {
	f := &b.features
	var system, firstUser string
	var seen uint64 // phrases of phraseSet in the prompt
	userChars := 0
	if e == provider.ChatCompletions {
		f.Messages = len(w.Messages)
		for i := range w.Messages {
			m := &w.Messages[i]
			t := strings.Join(m.Content, "")
			f.PromptChars += len(t) + 1 // the messages as one text, a line each
			seen |= phrasesIn(t)
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
	} else {
		var prompt strings.Builder
		n := 0
		for _, p := range b.parts {
			if p.Role != "system" && p.Role != "tools" {
				n++
			}
		}
		for _, p := range b.parts {
			if p.Role == "system" || p.Role == "tools" {
				continue
			}
			prompt.WriteString(p.Text)
			if n > 1 {
				prompt.WriteByte('\n')
			}
		}
		firstUser = prompt.String()
		f.PromptChars = len(firstUser)
		seen = phrasesIn(firstUser)
		userChars = len(strings.TrimSpace(firstUser))
		if e == provider.Responses && w.Instructions != nil {
			f.SystemHash = shortHash(*w.Instructions)
		}
	}
	// The key checker's probe (threat step 2) sends an empty user turn.
	f.EmptyPrompt = userChars == 0
	if system != "" {
		f.SystemHash = shortHash(system)
	}
	if e == provider.ChatCompletions || e == provider.Responses {
		f.ConvRoot = shortHash(system, "\x00", firstUser)
	}
	if b.user != "" {
		f.User = shortHash(b.user)
	}
	for i, r := range phraseRules {
		if seen&ruleMasks[i] == ruleMasks[i] && !contains(f.Phrases, r.name) {
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

// shortHash returns the first 8 bytes of the SHA-256 of the parts written
// one after the other, in hex. The parts are hashed where they lie: joined
// first, a system prompt and a first user turn were copied for every request
// (and io.WriteString would copy each, the hash being no io.StringWriter).
func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(unsafe.Slice(unsafe.StringData(p), len(p))) // read, never kept or changed
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:8])
}

// rewrite returns the body to send upstream: the client's bytes, member by
// member, with the upstream model, Warden's pseudonymous user id, and a
// request for usage in streams (so that streamed tokens are counted). No
// value Warden inspected is re-encoded: the members are copied as they
// arrived, and only these three are replaced or added.
func (b *body) rewrite(e provider.Endpoint, upstream, user string) ([]byte, bool) {
	type edit struct {
		name  string
		value []byte
		done  bool
	}
	edits := make([]edit, 1, 3)
	edits[0] = edit{name: "model", value: jsonString(upstream)}
	drop := ""
	if user != "" && e != provider.Responses {
		edits = append(edits, edit{name: "user", value: jsonString(user)})
	} else if user != "" {
		edits = append(edits, edit{name: "safety_identifier", value: jsonString(user)})
		drop = "user"
	}
	injected := false
	if b.stream && !b.includeUsage && (e == provider.ChatCompletions || e == provider.Completions) {
		edits = append(edits, edit{name: "stream_options", value: []byte(`{"include_usage":true}`)})
		injected = true
	}
	out := make([]byte, 0, len(b.raw)+len(upstream)+len(user)+64)
	out = append(out, '{')
	for _, m := range b.members {
		if drop != "" && string(m.name) == drop {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, b.raw[m.key:m.val]...) // the key as sent, and its colon
		value := b.raw[m.val:m.end]
		for i := range edits {
			if edits[i].name == string(m.name) {
				value, edits[i].done = edits[i].value, true
			}
		}
		out = append(out, value...)
	}
	for _, ed := range edits {
		if ed.done {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, ed.name...)
		out = append(out, '"', ':')
		out = append(out, ed.value...)
	}
	return append(out, '}'), injected
}

// jsonString encodes s as a JSON string.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
