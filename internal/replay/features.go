package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/record"
)

// This file derives an event's client and features from a recorded request,
// the way the gateway does for live traffic. It serves the offline pipeline
// until replay runs through the gateway itself.

// clientOf reads what the headers tell about the client software.
func clientOf(rec *record.Record) event.Client {
	var c event.Client
	hasAuth, hasKey := false, false
	for _, h := range rec.Headers {
		n := strings.ToLower(h.Name)
		c.HeaderNames = append(c.HeaderNames, n)
		switch {
		case n == "user-agent":
			c.UserAgent = h.Value
		case n == "x-stainless-lang":
			c.SDKLang = h.Value
		case n == "x-stainless-package-version":
			c.SDKVersion = h.Value
		case n == "authorization":
			hasAuth = true
		case n == "api-key":
			hasKey = true
		}
		if strings.HasPrefix(n, "x-stainless-") {
			c.SDKHeaders = true
		}
	}
	c.BothAuth = hasAuth && hasKey
	if u, err := url.Parse(rec.Path); err == nil {
		c.APIVersion = u.Query().Get("api-version")
	}
	return c
}

// credential returns the key the request presents, if any.
func credential(rec *record.Record) string {
	if v := rec.Headers.Get("api-key"); v != "" {
		return v
	}
	a := rec.Headers.Get("authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// route names the endpoint and model (deployment) of a path.
func route(method, path string) (style, endpoint, model string) {
	p, _, _ := strings.Cut(path, "?")
	style = "openai"
	if rest, ok := strings.CutPrefix(p, "/openai/deployments/"); ok {
		style = "azure"
		model, rest, _ = strings.Cut(rest, "/")
		p = "/" + rest
	} else if strings.HasPrefix(p, "/openai/") {
		style = "azure"
		p = strings.TrimPrefix(p, "/openai")
	}
	p = strings.TrimPrefix(p, "/v1")
	switch {
	case strings.HasSuffix(p, "/chat/completions"):
		endpoint = "chat.completions"
	case strings.HasSuffix(p, "/completions"):
		endpoint = "completions"
	case strings.HasSuffix(p, "/embeddings"):
		endpoint = "embeddings"
	case strings.HasSuffix(p, "/images/generations"):
		endpoint = "images.generations"
	case method == "GET" && p == "/deployments":
		endpoint = "deployments.list"
	case method == "GET" && p == "/models":
		endpoint = "models.list"
	default:
		endpoint = "other"
	}
	return style, endpoint, model
}

type body struct {
	Model               string          `json:"model"`
	Messages            []message       `json:"messages"`
	Prompt              json.RawMessage `json:"prompt"`
	Input               json.RawMessage `json:"input"`
	MaxTokens           *float64        `json:"max_tokens"`
	MaxCompletionTokens *float64        `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	N                   int             `json:"n"`
	Stream              bool            `json:"stream"`
	User                string          `json:"user"`
	Size                string          `json:"size"`
	Quality             string          `json:"quality"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// text returns the text of a content value: a string or an array of parts.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// featuresOf extracts the request features and the prompt text (for the
// offline guard) from a body.
func featuresOf(b []byte) (event.Features, string, string) {
	var f event.Features
	var bd body
	if len(b) == 0 || json.Unmarshal(b, &bd) != nil {
		return f, "", ""
	}
	f.Stream, f.N, f.Messages = bd.Stream, bd.N, len(bd.Messages)
	f.Temperature, f.TopP, f.PresencePen, f.FrequencyPen = bd.Temperature, bd.TopP, bd.PresencePenalty, bd.FrequencyPenalty
	mt := bd.MaxTokens
	if mt == nil {
		mt = bd.MaxCompletionTokens
	}
	if mt != nil {
		f.MaxTokens = int(*mt)
		if *mt < 0 {
			f.MaxTokens = -1
		}
	}
	if bd.User != "" {
		f.User = hashOf("user", bd.User)
	}
	f.ImageSize, f.ImageQuality = bd.Size, bd.Quality
	var all strings.Builder
	var system, firstUser string
	seenUser := false
	for _, m := range bd.Messages {
		t := text(m.Content)
		all.WriteString(t)
		all.WriteByte('\n')
		switch {
		case m.Role == "system" || m.Role == "developer":
			system += t
		case m.Role == "user" && !seenUser:
			firstUser, seenUser = t, true
		}
	}
	if len(bd.Prompt) > 0 {
		t := text(bd.Prompt)
		all.WriteString(t)
		if !seenUser {
			firstUser, seenUser = t, true
		}
	}
	prompt := all.String()
	f.PromptChars = len(strings.TrimSpace(prompt))
	f.EmptyPrompt = (len(bd.Messages) > 0 || len(bd.Prompt) > 0) && f.PromptChars == 0
	if seenUser || system != "" {
		f.ConvRoot = hashOf("root", system, firstUser)
	}
	if system != "" {
		f.SystemHash = hashOf("system", system)
	}
	l := strings.ToLower(prompt)
	if strings.Contains(l, "revised prompt") && strings.Contains(l, "verbatim") {
		f.Phrases = append(f.Phrases, "de3u_verbatim")
	}
	if strings.Contains(l, "obey all instructions") || strings.Contains(l, "before the word 'obey'") || strings.Contains(l, "before the word \"obey\"") {
		f.Phrases = append(f.Phrases, "obey_probe")
	}
	return f, prompt, bd.Model
}

// guardOf is a small stand-in for the guard: it flags the jailbreak and
// role-play markers the simulator uses, so content streaks can be tested
// before the real guard runs in replay.
func guardOf(prompt string) []event.Verdict {
	l := strings.ToLower(prompt)
	for _, m := range []struct{ marker, category string }{
		{"ignore all previous instructions", "jailbreak"},
		{"you are dan", "jailbreak"},
		{"no ethical guidelines", "jailbreak"},
		{"{{char}}", "roleplay"},
		{"character card", "roleplay"},
		{"stay in character no matter what", "roleplay"},
	} {
		if strings.Contains(l, m.marker) {
			return []event.Verdict{{Stage: "prompt", Action: "flag", Category: m.category, Rule: "offline:" + m.category}}
		}
	}
	return nil
}
