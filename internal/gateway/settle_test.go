package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/limit"
	redislimit "github.com/wardenhq/warden/internal/limit/redis"
	"github.com/wardenhq/warden/internal/testenv"
)

// On Redis the tokens an answer really used are settled against the
// request's estimate in the background (limit.Batched), not on the answer's
// path: after the answer the key's bucket still holds the estimate's
// charge, and once the batch goes out it holds the real usage.
func TestTokenSettlementBatched(t *testing.T) {
	c, prefix := testenv.Redis(t)
	shared := redislimit.New(c, redislimit.Options{Prefix: prefix})
	t.Cleanup(func() { shared.Close() })
	batched := limit.NewBatched(shared, time.Hour) // flushed by Close below, not by time
	t.Cleanup(func() { batched.Close() })
	h := newHarnessWith(t, nil, func(o *Options) { o.Rater = batched })
	k, secret := h.key(keys.Spec{TPM: 10000})

	const maxTokens = 2000 // the estimate charges what the answer may use
	body := `{"model":"mock-echo","max_tokens":2000,"messages":[{"role":"user","content":"hi"}]}`
	start := time.Now()
	r := h.do("POST", "/v1/chat/completions", bearer(secret), body)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	e := h.lastEvent()
	used := e.PromptTokens + e.CompletionTokens
	if used <= 0 || used >= maxTokens/2 {
		t.Fatalf("the answer used %d tokens; the test needs a few", used)
	}
	// The bucket refills at 10000 a minute meanwhile.
	refilled := func() int { return int(time.Since(start).Seconds()*10000/60) + 1 }
	remaining := func() int {
		d, err := shared.Take(context.Background(), "tpm:"+k.ID, 10000, 0, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return d.Remaining
	}
	if got, most := remaining(), 10000-maxTokens+refilled(); got > most {
		t.Fatalf("%d tokens left right after the answer: the settlement was not queued (want at most %d)", got, most)
	}
	batched.Close()
	if got, want := remaining(), 10000-used; got < want || got > min(10000, want+refilled()) {
		t.Fatalf("%d tokens left once settled, want %d plus what refilled (%d used)", got, want, used)
	}
}
