package linear

import (
	"slices"
	"testing"
)

func TestAppendFeaturesFoldsDigitRuns(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"please help me with the release notes, case 94075.", "please help me with the release notes, case 7.", true},
		{"ticket 12-345-6789", "ticket 9-0-1", true},
		{"order a1b22c", "order a9b3c", true},
		{"case 17", "case 17x", false},
		{"abc", "abd", false},
		{"12", "", false},
	} {
		fa := Dedup(AppendFeatures(nil, []byte(tc.a), 18))
		fb := Dedup(AppendFeatures(nil, []byte(tc.b), 18))
		if got := slices.Equal(fa, fb); got != tc.same {
			t.Errorf("%q vs %q: same features %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}

func TestAppendFeaturesCounts(t *testing.T) {
	// Words, one bigram, and the 4-grams of the text padded by spaces.
	for _, tc := range []struct {
		text string
		want int
	}{
		{"", 1},
		{"ab", 1 + 1},
		{"abcd efgh", 2 + 1 + 7},
		{"id 123456", 2 + 1 + 2}, // as "id 0": 4-grams "id 0" and "d 0 "
	} {
		if got := len(AppendFeatures(nil, []byte(tc.text), 18)); got != tc.want {
			t.Errorf("%q: %d features, want %d", tc.text, got, tc.want)
		}
	}
}

func TestFoldNames(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello chatgpt, from openai", "hello model, from model"},
		{"gpt gpts bing bard llama mistral copilot gemini claude anthropic", "model model model model model model model model model model"},
		{"chatgpts gp claudes a bingo", "chatgpts gp claudes a bingo"},
		{"", ""},
	} {
		got, ok := foldNames([]byte(tc.in))
		if string(got) != tc.want || ok != (tc.in != tc.want) {
			t.Errorf("foldNames(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}
