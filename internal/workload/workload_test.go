package workload

import (
	"encoding/json"
	"testing"
)

// TestChatBodyN: a meeting's body is ChatBody with the reference at the end
// of the user's notes, valid JSON, different for every meeting.
func TestChatBodyN(t *testing.T) {
	type body struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Messages  []struct {
			Role, Content string
		} `json:"messages"`
	}
	var b body
	if err := json.Unmarshal([]byte(ChatBodyN(42)), &b); err != nil {
		t.Fatalf("ChatBodyN(42) is not JSON: %v", err)
	}
	if b.Model != Model || b.MaxTokens != 200 || len(b.Messages) != 2 ||
		b.Messages[0].Content != Persona || b.Messages[1].Content != Notes+" Ref M-42." {
		t.Errorf("ChatBodyN(42) = %+v", b)
	}
	if ChatBodyN(1) == ChatBodyN(2) {
		t.Error("two meetings have the same body")
	}
	var c body
	if err := json.Unmarshal([]byte(ChatBody), &c); err != nil || c.Messages[1].Content != Notes {
		t.Errorf("ChatBody = %+v, %v", c, err)
	}
}
