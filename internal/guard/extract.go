package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"
)

// Endpoints whose bodies ExtractRequest and ExtractResponse understand.
const (
	EndpointChat        = "chat.completions"
	EndpointCompletions = "completions"
	EndpointResponses   = "responses"
	EndpointImages      = "images.generations"
	EndpointEmbeddings  = "embeddings"
)

// MaxBody bounds the bodies the extractors read.
const MaxBody = 32 << 20

// Part is one piece of text of a request or response, with the role that
// sent it: "system", "developer", "user", "assistant", "tool" (tool results
// and function outputs: text from documents and the web, where indirect
// injection hides), "tools" (tool descriptions), "prompt" (completions,
// images, embeddings) or "output" (answers).
type Part struct {
	Role string
	Text string
}

// Indirect reports whether the part came from a tool or document rather than
// from the user.
func (p Part) Indirect() bool { return p.Role == "tool" }

var (
	errTooLarge = errors.New("guard: body too large")
	errEndpoint = errors.New("guard: unknown endpoint")
)

// Texts returns the texts of parts, for Check.
func Texts(parts []Part) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.Text
	}
	return out
}

// StageOf returns the stage at which a request to endpoint is judged.
func StageOf(endpoint string) Stage {
	if endpoint == EndpointImages {
		return StageImagePrompt
	}
	return StagePrompt
}

// content is a message content: a string, or an array of typed parts of which
// the text ones count ({"type":"text","text":...}, "input_text",
// "output_text"; images and audio are skipped).
type content []string

func (c *content) UnmarshalJSON(b []byte) error {
	s, ok, err := jsonString(b)
	if ok {
		*c = content{s}
	}
	if ok || err != nil || isNull(b) {
		return err
	}
	var parts []struct {
		Type    string  `json:"type"`
		Text    *string `json:"text"`
		Refusal *string `json:"refusal"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	for _, p := range parts {
		if p.Text != nil {
			*c = append(*c, *p.Text)
		}
		if p.Refusal != nil {
			*c = append(*c, *p.Refusal)
		}
	}
	return nil
}

// promptValue is a completions or images prompt: a string, or a list whose
// string elements count (token arrays are skipped: token ids are not text);
// or a Responses API prompt template reference, {"id", "variables"}, whose
// variables are text the model reads (strings, or input_text objects).
type promptValue struct {
	texts []string
	vars  []string // template variables, in name order
}

func (s *promptValue) UnmarshalJSON(b []byte) error {
	v, ok, err := jsonString(b)
	if ok {
		s.texts = []string{v}
	}
	if ok || err != nil || isNull(b) {
		return err
	}
	b = bytes.TrimSpace(b)
	if b[0] == '{' {
		var ref struct {
			Variables map[string]json.RawMessage `json:"variables"`
		}
		if err := json.Unmarshal(b, &ref); err != nil {
			return err
		}
		names := make([]string, 0, len(ref.Variables))
		for name := range ref.Variables {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			v := bytes.TrimSpace(ref.Variables[name])
			text, _, err := jsonString(v)
			if err != nil {
				return err
			}
			if len(v) > 0 && v[0] == '{' {
				var in struct {
					Text *string `json:"text"`
				}
				if err := json.Unmarshal(v, &in); err != nil {
					return err
				}
				if in.Text != nil {
					text = *in.Text
				}
			}
			s.vars = append(s.vars, text)
		}
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, r := range raw {
		v, ok, err := jsonString(r)
		if err != nil {
			return err
		}
		if ok {
			s.texts = append(s.texts, v)
		}
	}
	return nil
}

// jsonString decodes b when it is a JSON string; for any other value (null,
// a number, an array, an object) it reports false and decodes nothing.
func jsonString(b []byte) (string, bool, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '"' {
		return "", false, nil
	}
	// One pass that checks and unquotes: json.Unmarshal would first scan
	// the whole string to validate it, then decode it (a 16 KB document
	// in a tool result is read twice more than it needs to be).
	s, err := jsontext.AppendUnquote(make([]byte, 0, len(b)), b)
	if err != nil {
		return "", false, err
	}
	// s is new and no one else holds it: the string takes it as it is,
	// as strings.Builder does, instead of a second copy of every text.
	return unsafe.String(unsafe.SliceData(s), len(s)), true, nil
}

// isNull reports whether b is JSON null (or empty), which decodes to nothing.
func isNull(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || b[0] == 'n'
}

type toolCall struct {
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatMessage struct {
	Role      string     `json:"role"`
	Content   content    `json:"content"`
	Refusal   *string    `json:"refusal"`
	ToolCalls []toolCall `json:"tool_calls"`
}

type tool struct {
	Description string `json:"description"`
	Function    struct {
		Description string `json:"description"`
	} `json:"function"`
}

// responsesItem is an item of the Responses API input or output. In an
// input list a bare string stands for a user message (str is set).
type responsesItem struct {
	Type      string  `json:"type"`
	Role      string  `json:"role"`
	Content   content `json:"content"`
	Output    *string `json:"output"`    // function_call_output
	Arguments *string `json:"arguments"` // function_call
	str       bool
}

// inputList is a Responses or embeddings input: a string, or a list whose
// elements are strings, token arrays (skipped) or Responses items.
type inputList []responsesItem

func (r *inputList) UnmarshalJSON(b []byte) error {
	s, ok, err := jsonString(b)
	if ok {
		*r = inputList{{Content: content{s}, str: true}}
	}
	if ok || err != nil || isNull(b) {
		return err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, x := range raw {
		x = bytes.TrimSpace(x)
		s, ok, err := jsonString(x)
		switch {
		case err != nil:
			return err
		case ok:
			*r = append(*r, responsesItem{Content: content{s}, str: true})
		case len(x) > 0 && x[0] == '{':
			var it responsesItem
			if err := json.Unmarshal(x, &it); err != nil {
				return err
			}
			*r = append(*r, it)
		}
	}
	return nil
}

// Request is the part of a request body the guard reads, in every
// endpoint's shape. Decode a body into it (or into a struct that embeds
// it, so the body is decoded once for every stage) and call Parts.
//
// It decodes with encoding/json, which matches keys case-insensitively and
// keeps the last of duplicate keys: callers that forward the body's bytes
// must first refuse bodies with duplicate keys or case variants of these
// fields (the gateway's I-JSON check), so that what is judged here is what
// the upstream reads.
type Request struct {
	Messages     []chatMessage `json:"messages"`
	Tools        []tool        `json:"tools"`
	Prompt       promptValue   `json:"prompt"`
	Input        inputList     `json:"input"`
	Instructions *string       `json:"instructions"`
}

// ExtractRequest returns every text of a request body to endpoint that
// reaches the model: chat messages of every role (tool results included),
// tool-call arguments and tool descriptions; completions and image prompts;
// Responses API instructions and input items; embeddings input.
func ExtractRequest(endpoint string, body []byte) ([]Part, error) {
	if len(body) > MaxBody {
		return nil, errTooLarge
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("guard: request body: %w", err)
	}
	return req.Parts(endpoint)
}

// Parts returns the texts of a decoded request to endpoint, with their
// roles (see ExtractRequest), at most MaxTexts of them.
func (req *Request) Parts(endpoint string) ([]Part, error) {
	var parts []Part
	add := func(role, text string) {
		if text != "" && len(parts) < MaxTexts {
			parts = append(parts, Part{Role: role, Text: text})
		}
	}
	switch endpoint {
	case EndpointChat:
		for _, m := range req.Messages {
			role := m.Role
			if role == "function" {
				role = "tool"
			}
			for _, t := range m.Content {
				add(role, t)
			}
			if m.Refusal != nil {
				add(role, *m.Refusal)
			}
			for _, tc := range m.ToolCalls {
				add(role, tc.Function.Arguments)
			}
		}
		for _, t := range req.Tools {
			add("tools", t.Description)
			add("tools", t.Function.Description)
		}
	case EndpointCompletions, EndpointImages:
		for _, p := range req.Prompt.texts {
			add("prompt", p)
		}
	case EndpointEmbeddings:
		for _, it := range req.Input {
			if it.str {
				for _, t := range it.Content {
					add("prompt", t)
				}
			}
		}
	case EndpointResponses:
		if req.Instructions != nil {
			add("system", *req.Instructions)
		}
		for _, v := range req.Prompt.vars {
			add("user", v)
		}
		for _, it := range req.Input {
			role := it.Role
			if it.Type == "function_call_output" || it.Type == "custom_tool_call_output" {
				role = "tool"
			}
			if role == "" {
				role = "user"
			}
			for _, t := range it.Content {
				add(role, t)
			}
			if it.Output != nil {
				add("tool", *it.Output)
			}
			if it.Arguments != nil {
				add("assistant", *it.Arguments)
			}
		}
		for _, t := range req.Tools {
			add("tools", t.Description)
		}
	default:
		return nil, fmt.Errorf("%w %q", errEndpoint, endpoint)
	}
	return parts, nil
}

// Response is the part of an answer body the guard reads: chat and
// completions choices and Responses API output items. Like Request, it may
// be embedded in a larger struct so the answer is decoded once.
type Response struct {
	Choices []choice        `json:"choices"`
	Output  []responsesItem `json:"output"`
}

type choice struct {
	Message *chatMessage `json:"message"`
	Text    *string      `json:"text"`
}

// ExtractResponse returns the answer texts of a response body from endpoint:
// chat completion messages (content, refusal, tool-call arguments),
// completion texts, and Responses API output items.
func ExtractResponse(endpoint string, body []byte) ([]Part, error) {
	if len(body) > MaxBody {
		return nil, errTooLarge
	}
	switch endpoint {
	case EndpointChat, EndpointCompletions, EndpointResponses:
	default:
		return nil, fmt.Errorf("%w %q", errEndpoint, endpoint)
	}
	var resp Response
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("guard: response body: %w", err)
	}
	return resp.Parts(), nil
}

// Parts returns the answer texts of a decoded answer, each with the role
// "output", at most MaxTexts of them.
func (resp *Response) Parts() []Part {
	var parts []Part
	add := func(text string) {
		if text != "" && len(parts) < MaxTexts {
			parts = append(parts, Part{Role: "output", Text: text})
		}
	}
	for _, c := range resp.Choices {
		if c.Text != nil {
			add(*c.Text)
		}
		if m := c.Message; m != nil {
			for _, t := range m.Content {
				add(t)
			}
			if m.Refusal != nil {
				add(*m.Refusal)
			}
			for _, tc := range m.ToolCalls {
				add(tc.Function.Arguments)
			}
		}
	}
	for _, it := range resp.Output {
		for _, t := range it.Content {
			add(t)
		}
		if it.Arguments != nil {
			add(*it.Arguments)
		}
	}
	return parts
}
