package keys

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestGenerateParse(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s, err := Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		k := s.Reveal()
		if len(k) != Len || !strings.HasPrefix(k, Prefix) || seen[k] {
			t.Fatalf("bad or repeated key %q", k)
		}
		seen[k] = true
		p, err := Parse(k)
		if err != nil || !p.Hash().Equal(s.Hash()) {
			t.Fatalf("Parse(%q) = %v", k, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	s, _ := Generate(nil)
	k := s.Reveal()
	flip := func(i int) string {
		b := []byte(k)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrFormat},
		{"short", k[:Len-1], ErrFormat},
		{"long", k + "a", ErrFormat},
		{"other prefix", "sk-_" + k[4:], ErrFormat},
		{"bad char", k[:10] + "-" + k[11:], ErrFormat},
		{"random part changed", flip(10), ErrChecksum},
		{"checksum changed", flip(Len - 1), ErrChecksum},
		{"all zeros", Prefix + strings.Repeat("0", Len-len(Prefix)), ErrChecksum},
	}
	for _, tt := range tests {
		if _, err := Parse(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s, _ := Generate(nil)
	k := s.Reveal()
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "key", s)
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %s", s, s), b.String()} {
		if strings.Contains(out, k[4:]) || strings.Contains(out, k[8:20]) {
			t.Errorf("secret leaked: %q", out)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{"": "", "short": "[REDACTED]", "wdn_abcdefghijklmnop": "wdn_…mnop"} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	s, _ := Generate(nil)
	f.Add(s.Reveal())
	f.Add("wdn_")
	f.Add(strings.Repeat("z", Len))
	f.Fuzz(func(t *testing.T, in string) {
		sec, err := Parse(in)
		if err == nil {
			if sec.Reveal() != in || !ValidChecksum(in) {
				t.Fatalf("accepted %q inconsistently", in)
			}
		}
	})
}
