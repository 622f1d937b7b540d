package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestDemoScenes(t *testing.T) {
	var out bytes.Buffer
	ctx := context.Background()
	env, stop, err := startDemo(ctx, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, sc := range demoScenes {
		if err := sc.run(ctx, env); err != nil {
			t.Fatalf("scene %q: %v", sc.title, err)
		}
	}
	for _, want := range []string{"answer \"Hello, Warden!\"", "403 model_not_allowed", "429 rate_limit_exceeded", "401 invalid_api_key", "revoked: true", "The next use of the leaked key: 401", "step_up"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "wdn_") && strings.Count(out.String(), "wdn_…") != strings.Count(out.String(), "wdn_") {
		t.Errorf("demo printed a whole secret:\n%s", out.String())
	}
}
