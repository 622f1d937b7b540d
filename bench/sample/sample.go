// Package sample is the audit entry Warden's benchmarks append: a chat
// completion event as the gateway records it, with its prompt and answer,
// and the key its log signs with, so that the audit log benchmarks
// (bench/audit, bench/audit/pg) and the scale-out benchmark (bench/scale)
// measure the same entry.
package sample

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/event"
)

// prompt is a 1,175-byte prompt; the answer is its first 400 bytes.
var prompt = bytes.Repeat([]byte("Summarise the quarterly figures for the board. "), 25)

// SigningKey returns a fresh checkpoint signer and its verifier key, the
// one key every instance of a benchmark's log signs with.
func SigningKey() (note.Signer, string, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "warden.example/audit/bench")
	if err != nil {
		return nil, "", err
	}
	signer, err := note.NewSigner(skey)
	return signer, vkey, err
}

// Bodies returns the prompt and answer stored with an entry.
func Bodies() *audit.Bodies {
	return &audit.Bodies{Prompt: prompt, Answer: prompt[:400]}
}

// Event returns the i-th event, recorded at: an Azure OpenAI chat
// completion from the Python SDK on one of 500 keys of 20 owners.
func Event(i int, at time.Time) *event.Event {
	t := 0.7
	return &event.Event{
		ID:           fmt.Sprintf("req-%08d", i),
		Time:         at,
		Duration:     850 * time.Millisecond,
		KeyID:        fmt.Sprintf("k_%04d", i%500),
		KeyOwner:     fmt.Sprintf("team-%02d", i%20),
		KeyKind:      "standard",
		AuthMethod:   "api-key",
		ClientIP:     "203.0.113.7",
		Client:       event.Client{UserAgent: "OpenAI/Python 1.54.3", HeaderNames: []string{"host", "content-type", "api-key", "user-agent", "x-stainless-lang"}, SDKHeaders: true, SDKLang: "python", SDKVersion: "1.54.3"},
		Fingerprint:  "fp_3b1c9a0e",
		Method:       "POST",
		Path:         "/openai/deployments/gpt-4o/chat/completions",
		Style:        "azure",
		Endpoint:     "chat.completions",
		Model:        "gpt-4o",
		Provider:     "azure",
		RequestLen:   1432,
		Features:     event.Features{MaxTokens: 400, Temperature: &t, Messages: 3, PromptChars: 1200, ConvRoot: "cr_91ab", SystemHash: "sh_77f0"},
		Status:       200,
		ResponseLen:  2210,
		PromptTokens: 310, CompletionTokens: 220, CostUSD: 0.0041,
	}
}
