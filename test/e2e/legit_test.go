package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// legitCase is one record of the guard's benign test sets.
type legitCase struct{ Text, Role, Kind string }

func readLegit(t *testing.T, name string) []legitCase {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "internal", "guard", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []legitCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var c legitCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	return out
}

// TestLegitimateTrafficPasses sends what real applications send through the
// default `warden serve` (keys, limits, guard on prompts and answers,
// detector, audit log) with the official Go SDK, one key per application:
// the benign system prompts with an ordinary conversation, customer
// messages to a support bot, safe prompts with alarming words, and the
// prompt templates of RAG and evaluation frameworks with their documents,
// also as a tool result of an agent, and conversations that go on after
// the model refused or explained a harmful subject. The mock model echoes the last user
// turn, so each text is judged as a prompt and again as an answer. Not one
// request may be refused, and no key may be contained.
func TestLegitimateTrafficPasses(t *testing.T) {
	w := Start(t)
	type app struct {
		name, file string
		msgs       func(c legitCase) []openai.ChatCompletionMessageParamUnion
	}
	support := "You are the customer support assistant of Northwind Outfitters. Be friendly and brief, " +
		"never ask for full card numbers or passwords, and hand over to a human agent when the customer asks for one."
	apps := []app{
		{"assistants", "system_prompts_benign.jsonl", func(c legitCase) []openai.ChatCompletionMessageParamUnion {
			return []openai.ChatCompletionMessageParamUnion{
				openai.SystemMessage(c.Text),
				openai.UserMessage("Hi! What can you help me with?"),
				openai.AssistantMessage("Hello! Tell me what you are working on and I will do my best to help."),
				openai.UserMessage("Give me a two-line overview of what you do, then ask me one question."),
			}
		}},
		{"support-bot", "customer_messages.jsonl", func(c legitCase) []openai.ChatCompletionMessageParamUnion {
			return []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(support), openai.UserMessage(c.Text)}
		}},
		{"chat", "safe_homonyms.jsonl", func(c legitCase) []openai.ChatCompletionMessageParamUnion {
			return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(c.Text)}
		}},
		{"chat", "exaggerated_safety.jsonl", func(c legitCase) []openai.ChatCompletionMessageParamUnion {
			return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(c.Text)}
		}},
		{"chat", "protective_requests.jsonl", func(c legitCase) []openai.ChatCompletionMessageParamUnion {
			return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(c.Text)}
		}},
		{"history-refusal", "refusals.jsonl", func(c legitCase) []openai.ChatCompletionMessageParamUnion {
			// A conversation goes on after the model refused.
			return []openai.ChatCompletionMessageParamUnion{
				openai.UserMessage("Can you help me with something?"),
				openai.AssistantMessage(c.Text),
				openai.UserMessage("Okay, thanks. Can you suggest something else I could do this evening?"),
			}
		}},
		{"history-explanation", "answers_benign.jsonl", func(c legitCase) []openai.ChatCompletionMessageParamUnion {
			// ... and after it explained a harmful subject.
			return []openai.ChatCompletionMessageParamUnion{
				openai.UserMessage("Can you explain this for our team?"),
				openai.AssistantMessage(c.Text),
				openai.UserMessage("Summarise that in two sentences for a slide."),
			}
		}},
		{"companion", "roleplay_messages.jsonl", func(c legitCase) []openai.ChatCompletionMessageParamUnion {
			return []openai.ChatCompletionMessageParamUnion{
				openai.SystemMessage("You are Luna, a warm and playful companion in an ongoing fantasy story. Stay in character, keep replies short, and keep everything PG-13."),
				openai.UserMessage(c.Text),
			}
		}},
		{"rag", "app_templates.jsonl", func(c legitCase) []openai.ChatCompletionMessageParamUnion {
			return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(c.Text)}
		}},
		{"agent", "app_templates.jsonl", func(c legitCase) []openai.ChatCompletionMessageParamUnion {
			// The same texts as what a tool returned to an agent.
			call := openai.ChatCompletionMessageToolCallUnionParam{OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
				ID: "call_1", Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "fetch_page", Arguments: `{"id":"kb-17"}`}}}
			return []openai.ChatCompletionMessageParamUnion{
				openai.SystemMessage("You are a research agent. Use the tools to read pages, then answer with citations."),
				openai.UserMessage("Read page kb-17 and do what the team's template asks."),
				{OfAssistant: &openai.ChatCompletionAssistantMessageParam{ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{call}}},
				openai.ToolMessage(c.Text, "call_1"),
				openai.UserMessage("Thanks, now give me the answer in one paragraph."),
			}
		}},
	}
	tools := []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name: "fetch_page", Description: openai.String("Fetch a knowledge-base page by id"),
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"id": map[string]string{"type": "string"}}},
	})}
	for _, a := range apps {
		t.Run(a.name, func(t *testing.T) {
			id, key := w.CreateKey("--name", a.name, "--owner", "platform")
			c := client(w, key, option.WithHeader("User-Agent", "acme-"+a.name+"/2.3"))
			cases := readLegit(t, a.file)
			refused := 0
			for _, lc := range cases {
				p := openai.ChatCompletionNewParams{Model: "mock-echo", Messages: a.msgs(lc)}
				if a.name == "agent" {
					p.Tools = tools
				}
				resp, err := c.Chat.Completions.New(ctx(t), p)
				switch {
				case err != nil:
					refused++
					t.Errorf("%s %q: %v", lc.Kind, trunc(lc.Text), err)
				case len(resp.Choices) == 0 || resp.Choices[0].FinishReason == "content_filter":
					// The answer guard withheld the answer (the mock
					// echoes the last user turn).
					refused++
					t.Errorf("%s %q: answer withheld: %+v", lc.Kind, trunc(lc.Text), resp.Choices)
				}
			}
			t.Logf("%s: %d requests, %d refused", a.file, len(cases), refused)
			out, err := w.CLI("keys", "get", id, "--json")
			if err != nil {
				t.Fatal(err)
			}
			var k struct{ Status, Action string }
			if err := json.Unmarshal([]byte(out), &k); err != nil {
				t.Fatal(err)
			}
			if k.Status != "active" || k.Action != "" {
				t.Errorf("key contained after legitimate traffic: %s", out)
			}
		})
	}
	incs, err := w.CLI("incidents", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(incs), &list); err != nil {
		t.Fatalf("incidents list: %v: %s", err, incs)
	}
	if len(list) != 0 {
		t.Errorf("legitimate traffic raised %d incidents: %s", len(list), incs)
	}
}

func trunc(s string) string {
	if len(s) > 90 {
		return s[:90] + "..."
	}
	return strings.ReplaceAll(s, "\n", " ")
}
