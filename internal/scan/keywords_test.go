package scan

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

type kwHit struct{ word, start int }

// naiveHits is the reference: every case-insensitive occurrence of every word.
func naiveHits(words []string, text []byte) []kwHit {
	low := make([]byte, len(text))
	for i, c := range text {
		low[i] = lower(c) // ASCII only, as the scanner matches
	}
	var out []kwHit
	for wi, w := range words {
		w = strings.ToLower(w)
		for i := 0; i+len(w) <= len(low); i++ {
			if string(low[i:i+len(w)]) == w {
				out = append(out, kwHit{wi, i})
			}
		}
	}
	return out
}

func indexHits(k *keywordIndex, text []byte) []kwHit {
	var out []kwHit
	k.find(text, func(w, s int) { out = append(out, kwHit{w, s}) })
	return out
}

func sortHits(h []kwHit) []kwHit {
	slices.SortFunc(h, func(a, b kwHit) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return a.word - b.word
	})
	return h
}

func builtinKeywords(t testing.TB) []string {
	var words []string
	for _, s := range Builtin() {
		for _, k := range s.Keywords {
			if !slices.Contains(words, strings.ToLower(k)) {
				words = append(words, strings.ToLower(k))
			}
		}
	}
	return words
}

// TestKeywordIndexMatchesNaive: the index finds exactly what a naive
// search finds, overlapping and nested keywords and mixed case included.
func TestKeywordIndexMatchesNaive(t *testing.T) {
	words := builtinKeywords(t)
	k := newKeywordIndex(words)
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := "aAzZpPiI-_kKeEyY.oOcCsS3jJqQ9 \n"
	for n := 0; n < 2000; n++ {
		var b []byte
		for len(b) < 300 {
			if r.IntN(4) == 0 {
				w := []byte(words[r.IntN(len(words))])
				for i := range w {
					if r.IntN(2) == 0 {
						w[i] = bytes.ToUpper(w[i : i+1])[0]
					}
				}
				b = append(b, w...)
			} else {
				b = append(b, alphabet[r.IntN(len(alphabet))])
			}
		}
		got, want := sortHits(indexHits(k, b)), sortHits(naiveHits(words, b))
		if !slices.Equal(got, want) {
			t.Fatalf("text %q:\ngot  %v\nwant %v", b, got, want)
		}
	}
}

func FuzzKeywordIndex(f *testing.F) {
	words := builtinKeywords(f)
	k := newKeywordIndex(words)
	f.Add([]byte("AZURE_OPENAI_API_KEY=x api-keyapi_key"))
	f.Add([]byte("xoxb-wdn_JQQJ9"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := sortHits(indexHits(k, b)), sortHits(naiveHits(words, b))
		if !slices.Equal(got, want) {
			t.Fatalf("got %v want %v", got, want)
		}
	})
}

// BenchmarkKeywordIndex measures the keyword pass alone, over Go source.
func BenchmarkKeywordIndex(b *testing.B) {
	text := bytes.Repeat([]byte("func (s *Server) handle(w http.ResponseWriter, r *http.Request) { // serve the request\n\tif err := s.check(r); err != nil { return }\n"), 1<<13)
	k := newKeywordIndex(builtinKeywords(b))
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		k.find(text, func(int, int) { n++ })
	}
}

func TestMaxMatchLen(t *testing.T) {
	for _, c := range []struct {
		expr string
		want int
	}{
		{`[0-9a-f]{32}`, 128}, // a class counts as up to 4 bytes (UTF-8)
		{`wdn_[0-9A-Za-z]{36}`, 4 + 36*4},
		{`ab|abcd`, 4},
		{`a+`, 0},
		{`a{2,}`, 0},
		{`^abc`, 0},
		{`\babc`, 0},
		{`[a-z]{1000}`, 0}, // longer than maxPieceMatch
	} {
		if got := maxMatchLen(c.expr); got != c.want {
			t.Errorf("%s: %d, want %d", c.expr, got, c.want)
		}
	}
}

// TestPiecesFindWhatWholeWindowsFind: a keyword-dense log longer than a
// piece yields the same findings as when each line is scanned alone.
func TestPiecesFindWhatWholeWindowsFind(t *testing.T) {
	e, err := NewEngine(Builtin(), MinConfidence(Low))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	hex := func() string {
		b := make([]byte, 32)
		for i := range b {
			b[i] = "0123456789abcdef"[r.IntN(16)]
		}
		return string(b)
	}
	var text strings.Builder
	want := 0
	for text.Len() < 40<<10 {
		pad := strings.Repeat("x", r.IntN(60))
		fmt.Fprintf(&text, "%s api_key=%s trace=%s\n", pad, hex(), hex())
		want += 2
	}
	got := 0
	e.ScanText([]byte(text.String()), Location{}, nil, func(Finding) { got++ })
	if got != want {
		t.Fatalf("found %d of %d candidates", got, want)
	}
}

func TestRequiredLiterals(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`(?i)https?://[a-z0-9-]+\.(?:openai|cognitiveservices|services\.ai)\.azure\.com`, []string{".azure.com"}},
		{`(?i)azure[_-]?openai|azure[_-]?endpoint`, []string{"openai", "endpoint"}}, // the most selective part
		{`(?i)api[_-]?key|ocp-apim-subscription-key`, nil},                          // k, s fold to non-ASCII
		{`foo|[a-z]+`, nil},
		{`ab`, nil},
		{`Openai`, []string{"openai"}},
	} {
		got := requiredLiterals(c.expr)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.expr, got, c.want)
		}
	}
	// A region without the literal is not searched, and the answer is the same.
	nr := newNearRe(regexp.MustCompile(`(?i)azure[_-]?openai`))
	for _, text := range []string{"x AZURE-OpenAI y", "nothing here", "azure only"} {
		if got, want := (nearCache{}).match(nr, []byte(text), 0, len(text)), nr.re.MatchString(text); got != want {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}
