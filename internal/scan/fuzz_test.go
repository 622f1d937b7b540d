package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/fakes"
)

// FuzzEngine checks the engine never panics, reports sane positions and
// never puts a raw secret into a finding, whatever the input.
func FuzzEngine(f *testing.F) {
	g := fakes.New(1)
	for _, p := range g.Positives() {
		f.Add([]byte(p.Text))
	}
	for _, n := range g.Negatives() {
		f.Add([]byte(n))
	}
	f.Add([]byte("api_key\n\n\x00AKIA"))
	f.Add([]byte("env:\n - name: AZURE_OPENAI_KEY\n   value: 0123456789abcdef0123456789abcdfe md5: 0123456789abcdef0123456789abcdfe"))
	f.Add([]byte("<add key=\"AzureOpenAIKey\" value=\"a1b2c3d4e5f60718293a4b5c6d7e8f90\"/> cache hit key=a1b2c3d4e5f60718293a4b5c6d7e8f91"))
	// At Low every candidate is weighed in full: all evidence code runs.
	low, err := scan.NewEngine(scan.Builtin(), scan.MinConfidence(scan.Low))
	if err != nil {
		f.Fatal(err)
	}
	def := newEngine(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte{'\n'}) + 1
		all := map[string]scan.Confidence{}
		err := low.Scan(context.Background(), bytes.NewReader(data), scan.Location{}, func(fd scan.Finding) {
			if fd.Line < 1 || fd.Line > lines || fd.Column < 1 || len(fd.Fingerprint) != 64 {
				t.Fatalf("bad finding %+v", fd)
			}
			if len(fd.Secret) > 40 {
				t.Fatalf("secret not redacted: %q", fd.Secret)
			}
			all[fmt.Sprint(fd.RuleID, fd.Line, fd.Column)] = fd.Confidence
		})
		if err != nil {
			t.Fatal(err)
		}
		// The minimum confidence only filters: what the default engine
		// reports, the low one reports too, at the same confidence.
		def.Scan(context.Background(), bytes.NewReader(data), scan.Location{}, func(fd scan.Finding) {
			if c, ok := all[fmt.Sprint(fd.RuleID, fd.Line, fd.Column)]; !ok || c != fd.Confidence || c == scan.Low {
				t.Fatalf("default reports %+v; at low: %q, %v", fd, c, ok)
			}
		})
	})
}

// FuzzParseRules checks hostile rules files give errors, not panics.
func FuzzParseRules(f *testing.F) {
	f.Add("[[rule]]\nid = \"x\"\nkeywords = [\"abc\"]\nregex = 'abc[0-9]+'\n")
	f.Add("[[rule]]\nid = \"x\"\nkeywords = [\"abc\"]\nregex = '('\n")
	f.Add("[[rule]]\nid = \"x\"\nbogus = 1\n")
	f.Fuzz(func(t *testing.T, doc string) {
		specs, err := scan.ParseRules(strings.NewReader(doc))
		if err != nil {
			return
		}
		if len(specs) > 0 {
			if _, err := scan.NewEngine(specs); err != nil && !strings.HasPrefix(err.Error(), "scan:") {
				t.Fatalf("error without prefix: %v", err)
			}
		}
	})
}

func TestRulesFileErrorsNameTheRule(t *testing.T) {
	for _, doc := range []string{
		"[[rule]]\nid = \"mine\"\nkeywords = [\"abc\"]\nregex = '('\n",
		"[[rule]]\nid = \"mine\"\nregex = 'abc'\n",
		"[[rule]]\nid = \"mine\"\nkeywords = [\"abc\"]\nregex = 'abc'\nvalidate = \"nope\"\n",
		"[[rule]]\nid = \"mine\"\nkeywords = [\"abc\"]\nregex = 'a*'\n",
	} {
		_, err := scan.ParseRules(strings.NewReader(doc))
		if err == nil || !strings.Contains(err.Error(), `"mine"`) {
			t.Errorf("%q: err = %v", doc, err)
		}
	}
	if _, err := scan.ParseRules(strings.NewReader("[[rule]]\nid = \"x\"\nkeywords = [\"abc\"]\nregex = 'abc'\ntypo = 1\n")); err == nil {
		t.Error("unknown field accepted")
	}
	// A custom rule works alongside the built-ins.
	specs, err := scan.ParseRules(strings.NewReader("[[rule]]\nid = \"acme-token\"\nkeywords = [\"acme_\"]\nregex = 'acme_[a-z0-9]{24}'\nrevocation = \"Call ACME.\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := scan.NewEngine(append(scan.Builtin(), specs...))
	if err != nil {
		t.Fatal(err)
	}
	fs := scanString(t, e, "TOKEN=acme_"+fakes.New(2).From("abcdefghijklmnopqrstuvwxyz0123456789", 24)+"\n")
	if len(fs) != 1 || fs[0].RuleID != "acme-token" || fs[0].Revocation != "Call ACME." {
		t.Fatalf("custom rule: %+v", fs)
	}
}
