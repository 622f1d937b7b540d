package gateway

import (
	"testing"

	"github.com/wardenhq/warden/internal/provider"
)

func inspectForBench(b *testing.B, e provider.Endpoint, raw []byte) {
	body, apiErr := parseBody(e, raw)
	if apiErr != nil || len(body.parts) == 0 {
		b.Fatal(apiErr)
	}
	if out, _ := body.rewrite(e, "up", "warden-u"); len(out) == 0 {
		b.Fatal("empty")
	}
}

func inspectAnswerForBench(b *testing.B, raw []byte) {
	a, err := parseAnswer(raw)
	if err != nil || a.Usage == nil || len(a.Parts()) == 0 {
		b.Fatal(err)
	}
}
