package config

import (
	"os"
	"regexp"
	"testing"
)

// TestDocExamplesParse decodes every YAML example in the docs that
// configure Warden, so an example cannot drift from the code.
func TestDocExamplesParse(t *testing.T) {
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	anyEnv := func(string) (string, bool) { return "x", true }
	for _, doc := range []string{"../../docs/deployment.md", "../../docs/operators.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		found := block.FindAllSubmatch(b, -1)
		if len(found) < 2 {
			t.Fatalf("%s: %d yaml examples, want at least 2", doc, len(found))
		}
		for i, m := range found {
			c, err := Parse(m[1], anyEnv)
			if err != nil {
				t.Errorf("%s: example %d: %v", doc, i+1, err)
				continue
			}
			for _, md := range c.Models {
				if len(md.Deployments) > 1 && len(c.Providers) < 2 {
					t.Errorf("%s: example %d: pool over one provider", doc, i+1)
				}
			}
		}
	}
}
