package scan_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/fakes"
)

func newEngine(t testing.TB) *scan.Engine {
	t.Helper()
	e, err := scan.NewEngine(scan.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func scanString(t testing.TB, e *scan.Engine, text string) []scan.Finding {
	t.Helper()
	var fs []scan.Finding
	err := e.Scan(context.Background(), strings.NewReader(text), scan.Location{Path: "t.txt"}, func(f scan.Finding) { fs = append(fs, f) })
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestEveryRuleFires checks recall on one sample per way each rule fires,
// each scanned alone, and that each yields exactly its own finding.
func TestEveryRuleFires(t *testing.T) {
	e := newEngine(t)
	fired := map[string]bool{}
	for seed := uint64(1); seed <= 20; seed++ {
		for _, s := range fakes.New(seed).Positives() {
			fs := scanString(t, e, s.Text)
			if len(fs) != 1 {
				t.Fatalf("seed %d rule %s: %d findings in %q: %+v", seed, s.RuleID, len(fs), s.Text, fs)
			}
			f := fs[0]
			if f.RuleID != s.RuleID || f.Fingerprint != scan.Fingerprint(s.Secret) {
				t.Fatalf("seed %d: got %s %s, want %s for %q", seed, f.RuleID, f.Fingerprint, s.RuleID, s.Text)
			}
			if strings.Contains(f.Secret, s.Secret) || strings.Contains(f.Secret, s.Secret[4:len(s.Secret)-4]) {
				t.Fatalf("finding leaks the secret: %q", f.Secret)
			}
			fired[s.RuleID] = true
		}
	}
	for _, r := range e.Rules() {
		if !fired[r.ID] {
			t.Errorf("rule %s has no positive sample", r.ID)
		}
	}
}

func TestNegatives(t *testing.T) {
	e := newEngine(t)
	for seed := uint64(1); seed <= 20; seed++ {
		for _, n := range fakes.New(seed).Negatives() {
			if fs := scanString(t, e, n); len(fs) != 0 {
				t.Errorf("seed %d: false positive %s (%s) in %q", seed, fs[0].RuleID, fs[0].Secret, n)
			}
		}
	}
}

func TestAzureEndpointAndContext(t *testing.T) {
	e := newEngine(t)
	g := fakes.New(7)
	key := g.Hex(32)
	fs := scanString(t, e, "AZURE_OPENAI_ENDPOINT=https://contoso.openai.azure.com/\n# deployment gpt-4o\nAZURE_OPENAI_API_KEY="+key+"\n")
	if len(fs) != 1 || fs[0].Endpoint != "https://contoso.openai.azure.com" || fs[0].Confidence != scan.High {
		t.Fatalf("got %+v", fs)
	}
	if fs[0].Line != 3 || fs[0].Column != len("AZURE_OPENAI_API_KEY=")+1 {
		t.Fatalf("line/col = %d/%d", fs[0].Line, fs[0].Column)
	}
	// Only a generic api-key name: medium confidence, no endpoint.
	fs = scanString(t, e, "headers = {\"api-key\": \""+key+"\"}\n")
	if len(fs) != 1 || fs[0].Confidence != scan.Medium || fs[0].Endpoint != "" {
		t.Fatalf("got %+v", fs)
	}
	// No context at all: nothing.
	if fs := scanString(t, e, "value = \""+key+"\"\n"); len(fs) != 0 {
		t.Fatalf("got %+v", fs)
	}
}

// TestChunkBorders puts secrets across every chunk border of a large input
// and checks each is found once, with the right line.
func TestChunkBorders(t *testing.T) {
	e := newEngine(t)
	g := fakes.New(3)
	var buf bytes.Buffer
	type want struct {
		fp   string
		line int
	}
	var wants []want
	line := 1
	filler := strings.Repeat("lorem ipsum dolor sit amet, consectetur adipiscing elit\n", 1)
	for buf.Len() < 5<<20 {
		// Step the secret positions across the 1 MiB borders.
		for buf.Len()%(1<<20) < (1<<20)-40000 && buf.Len() < 5<<20 {
			buf.WriteString(filler)
			line++
		}
		for i := 0; i < 40; i++ {
			k := g.WardenKey()
			buf.WriteString(strings.Repeat("y", i*37%200) + " key=" + k + "\n")
			wants = append(wants, want{scan.Fingerprint(k), line})
			line++
			for j := 0; j < 20; j++ {
				buf.WriteString(filler)
				line++
			}
		}
	}
	fs := scanString(t, e, buf.String())
	if len(fs) != len(wants) {
		t.Fatalf("found %d, want %d", len(fs), len(wants))
	}
	for i, f := range fs {
		if f.Fingerprint != wants[i].fp || f.Line != wants[i].line {
			t.Fatalf("finding %d: line %d fp %s, want line %d fp %s", i, f.Line, f.Fingerprint[:8], wants[i].line, wants[i].fp[:8])
		}
	}
}
