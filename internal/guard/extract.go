package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = content{s}
		return nil
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

// stringOrList is a prompt or input: a string, a list of strings, or token
// arrays (skipped: token ids are not text).
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	if b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = stringOrList{v}
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, r := range raw {
		r = bytes.TrimSpace(r)
		if len(r) > 0 && r[0] == '"' {
			var v string
			if err := json.Unmarshal(r, &v); err != nil {
				return err
			}
			*s = append(*s, v)
		}
	}
	return nil
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

// responsesItem is an item of the Responses API input or output.
type responsesItem struct {
	Type      string  `json:"type"`
	Role      string  `json:"role"`
	Content   content `json:"content"`
	Output    *string `json:"output"`    // function_call_output
	Arguments *string `json:"arguments"` // function_call
}

type responsesInput []responsesItem

func (r *responsesInput) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = responsesInput{{Role: "user", Content: content{s}}}
		return nil
	}
	var items []responsesItem
	if err := json.Unmarshal(b, &items); err != nil {
		return err
	}
	*r = items
	return nil
}

type requestBody struct {
	Messages     []chatMessage   `json:"messages"`
	Tools        []tool          `json:"tools"`
	Prompt       stringOrList    `json:"prompt"`
	Input        json.RawMessage `json:"input"`
	Instructions *string         `json:"instructions"`
}

// ExtractRequest returns every text of a request body to endpoint that
// reaches the model: chat messages of every role (tool results included),
// tool-call arguments and tool descriptions; completions and image prompts;
// Responses API instructions and input items; embeddings input.
func ExtractRequest(endpoint string, body []byte) ([]Part, error) {
	if len(body) > MaxBody {
		return nil, errTooLarge
	}
	var req requestBody
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("guard: request body: %w", err)
	}
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
		for _, p := range req.Prompt {
			add("prompt", p)
		}
	case EndpointEmbeddings:
		var in stringOrList
		if len(req.Input) > 0 {
			if err := json.Unmarshal(req.Input, &in); err != nil {
				return nil, fmt.Errorf("guard: request input: %w", err)
			}
		}
		for _, p := range in {
			add("prompt", p)
		}
	case EndpointResponses:
		if req.Instructions != nil {
			add("system", *req.Instructions)
		}
		var in responsesInput
		if len(req.Input) > 0 {
			if err := json.Unmarshal(req.Input, &in); err != nil {
				return nil, fmt.Errorf("guard: request input: %w", err)
			}
		}
		for _, it := range in {
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

type responseBody struct {
	Choices []struct {
		Message *chatMessage `json:"message"`
		Text    *string      `json:"text"`
	} `json:"choices"`
	Output []responsesItem `json:"output"`
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
	var resp responseBody
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("guard: response body: %w", err)
	}
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
	return parts, nil
}
