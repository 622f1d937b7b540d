package identity

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/keys"
)

// TestKeylessDocExamples parses every Warden configuration in
// docs/keyless.md (YAML blocks whose first line is "# warden.yaml...") and
// provisions its identity section, so the documentation cannot drift from
// the code.
func TestKeylessDocExamples(t *testing.T) {
	b, err := os.ReadFile("../../docs/keyless.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	n := 0
	for _, m := range blocks {
		body := m[1]
		if !strings.HasPrefix(body, "# warden.yaml") {
			continue
		}
		n++
		name := strings.SplitN(body, "\n", 2)[0]
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(body), func(string) (string, bool) { return "x", true })
			if err != nil {
				t.Fatalf("%v\n%s", err, body)
			}
			_, err = New(Options{Config: cfg.Identity, DataDir: t.TempDir(),
				KeyByID: func(context.Context, string) (*keys.Key, error) { return nil, nil }})
			if err != nil {
				t.Fatalf("%v\n%s", err, body)
			}
		})
	}
	if n < 7 {
		t.Fatalf("found %d configuration examples, want at least 7", n)
	}
}
