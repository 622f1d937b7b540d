package detect

import (
	"testing"

	"github.com/wardenhq/warden/internal/event"
)

func TestProbeShape(t *testing.T) {
	chat := "/openai/deployments/gpt-4o/chat/completions"
	cases := []struct {
		name   string
		e      event.Event
		want   uint16
		weight float64
	}{
		{"empty prompt", event.Event{Method: "POST", Path: chat, Features: event.Features{EmptyPrompt: true, MaxTokens: 1}}, probeEmpty, 15},
		{"hi with one token", event.Event{Method: "POST", Path: chat, Features: event.Features{PromptChars: 2, MaxTokens: 1}}, probeTiny, 5},
		{"hi with no max_tokens", event.Event{Method: "POST", Path: chat, Features: event.Features{PromptChars: 2}}, probeTiny, 5},
		{"hi with 300 tokens is a person", event.Event{Method: "POST", Path: chat, Features: event.Features{PromptChars: 2, MaxTokens: 300}}, 0, 0},
		{"listing", event.Event{Method: "GET", Path: "/openai/deployments"}, probeList, 12},
		{"model list", event.Event{Method: "GET", Path: "/v1/models", Endpoint: "models"}, probeList, 12},
		{"context length", event.Event{Method: "POST", Path: chat, Features: event.Features{EmptyPrompt: true, MaxTokens: 8200}}, probeContext, 25},
		{"context error", event.Event{Method: "POST", Path: chat, ErrorCode: "context_length_exceeded", Features: event.Features{PromptChars: 5000}}, probeContext, 25},
		{"negative max_tokens", event.Event{Method: "POST", Path: chat, Features: event.Features{MaxTokens: -1}}, probeNegative, 25},
		{"chat on an image deployment", event.Event{Method: "POST", Path: chat, ErrorCode: "OperationNotSupported"}, probeImageDeployment, 25},
		{"ordinary chat", event.Event{Method: "POST", Path: chat, Features: event.Features{PromptChars: 400, MaxTokens: 800}}, 0, 0},
		{"embeddings of a short word", event.Event{Method: "POST", Path: "/openai/deployments/e/embeddings", Endpoint: "embeddings", Features: event.Features{PromptChars: 3}}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, w, _ := probeShape(&c.e)
			if k != c.want || w != c.weight {
				t.Errorf("probeShape = %d (%v), want %d (%v)", k, w, c.want, c.weight)
			}
		})
	}
}
