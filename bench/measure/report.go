package measure

import (
	"errors"
	"os"
	"strings"
)

// WriteSection puts section, which starts with heading (a "## " line),
// into the Markdown file at path: in place of the part from heading to the
// next "## " heading, or at the end.
func WriteSection(path, heading, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc := string(old)
	if doc == "" {
		doc = "# Benchmarks\n\n"
	}
	if i := strings.Index(doc, heading); i >= 0 {
		rest := doc[i+len(heading):]
		end := len(doc)
		if j := strings.Index(rest, "\n## "); j >= 0 {
			end = i + len(heading) + j + 1
		}
		doc = doc[:i] + section + "\n" + doc[end:]
	} else {
		if !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		doc += section
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
