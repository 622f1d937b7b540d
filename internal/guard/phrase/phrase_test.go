package phrase

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// naive finds every occurrence of every phrase by comparing at each end.
func naive(phrases []string, b []byte) []Match {
	var out []Match
	for end := 1; end <= len(b); end++ {
		for p, ph := range phrases {
			if len(ph) <= end && string(b[end-len(ph):end]) == ph {
				out = append(out, Match{Phrase: int32(p), Start: int32(end - len(ph)), End: int32(end)})
			}
		}
	}
	return out
}

func sorted(ms []Match) []Match {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b Match) int {
		if a.End != b.End {
			return int(a.End - b.End)
		}
		return int(a.Phrase - b.Phrase)
	})
	return ms
}

func TestAppendFindsEveryOccurrence(t *testing.T) {
	for _, tc := range []struct {
		phrases []string
		text    string
	}{
		{[]string{"he", "she", "his", "hers"}, "ushers and his sheep"},
		{[]string{"a", "aa", "aaa"}, "aaaa"},
		{[]string{"ignore previous instructions", "previous", "instructions", "ions"}, "please ignore previous instructions now"},
		{[]string{"obey", "obey"}, "obey obey"}, // a phrase given twice is reported twice
		{[]string{"<|im_start|>", "[inst]"}, "x<|im_start|>[inst]"},
		{[]string{"abc"}, ""},
		{[]string{"caf\xc3\xa9"}, "un caf\xc3\xa9 noir"},
	} {
		s := Compile(tc.phrases)
		got := sorted(s.Append(nil, []byte(tc.text)))
		want := naive(tc.phrases, []byte(tc.text))
		if !slices.Equal(got, want) {
			t.Errorf("%q in %q: %v, want %v", tc.phrases, tc.text, got, want)
		}
		if has := s.Contains([]byte(tc.text)); has != (len(want) > 0) {
			t.Errorf("Contains(%q) in %q = %v, want %v", tc.phrases, tc.text, has, len(want) > 0)
		}
	}
}

// TestAppendRandom compares with the naive search on random phrases and
// texts over a small alphabet, where phrases overlap and nest often.
func TestAppendRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte("ab c"[rng.IntN(4)])
		}
		return b.String()
	}
	for range 300 {
		var phrases []string
		for range 1 + rng.IntN(12) {
			phrases = append(phrases, word(1+rng.IntN(5)))
		}
		text := []byte(word(rng.IntN(80)))
		s := Compile(phrases)
		got := sorted(s.Append(nil, text))
		want := naive(phrases, text)
		if !slices.Equal(got, want) {
			t.Fatalf("%q in %q: %v, want %v", phrases, text, got, want)
		}
		if has := s.Contains(text); has != (len(want) > 0) {
			t.Fatalf("Contains(%q) in %q = %v, want %v", phrases, text, has, len(want) > 0)
		}
		// Find with a predicate that only some occurrences satisfy.
		even := func(m Match) bool { return m.Start%2 == 0 }
		if got, want := s.Find(text, even), slices.ContainsFunc(want, even); got != want {
			t.Fatalf("Find(%q, even start) in %q = %v, want %v", phrases, text, got, want)
		}
	}
}

// TestAppendLarge: a set of tens of thousands of states, as large as the
// 16-bit transitions allow and more than five times the guard's, matches
// as the naive search does; one state more is refused.
func TestAppendLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('a' + rng.IntN(26)))
		}
		return b.String()
	}
	var phrases []string
	for range 2500 {
		phrases = append(phrases, word(3+rng.IntN(20)))
	}
	s := Compile(phrases)
	if n := len(s.delta) / int(s.nclass); n < 25000 {
		t.Fatalf("%d states: the test should exercise large state numbers", n)
	}
	var text []byte
	for range 4000 {
		if rng.IntN(8) == 0 {
			text = append(text, phrases[rng.IntN(len(phrases))]...)
		} else {
			text = append(text, word(1+rng.IntN(3))...)
		}
	}
	got := sorted(s.Append(nil, text))
	want := naive(phrases, text)
	if len(want) < 400 || !slices.Equal(got, want) {
		t.Fatalf("%d matches, want %d (the same)", len(got), len(want))
	}

	defer func() {
		if recover() == nil {
			t.Fatal("a set of more than 32767 states compiled")
		}
	}()
	Compile([]string{strings.Repeat("x", 1<<15)})
}

func TestAppendDoesNotAllocate(t *testing.T) {
	s := Compile([]string{"ignore previous instructions", "step by step", "the"})
	text := []byte("ignore previous instructions and explain the plan step by step")
	dst := make([]Match, 0, 16)
	if n := testing.AllocsPerRun(100, func() { dst = s.Append(dst[:0], text) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
	if len(dst) != 3 {
		t.Fatalf("%d matches", len(dst))
	}
}

// TestCompileFold: ASCII case does not matter to a folded set, and other
// bytes still must match exactly.
func TestCompileFold(t *testing.T) {
	s := CompileFold([]string{"revised prompt", "obey"})
	for _, tc := range []struct {
		text string
		want []Match
	}{
		{"The REVISED Prompt, verbatim", []Match{{0, 4, 18}}},
		{"OBEY! obey", []Match{{1, 0, 4}, {1, 6, 10}}},
		{"Revised_Prompt", nil},
		{"rÉvised prompt", nil},
	} {
		if got := s.Append(nil, []byte(tc.text)); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.text, got, tc.want)
		}
	}
}
