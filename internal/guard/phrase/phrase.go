// Package phrase finds every occurrence of a fixed set of phrases in a text,
// in one pass and without allocating: an Aho-Corasick automaton compiled to
// a table (one row of next states per state, over classes of bytes).
//
// The guard reads each normalised text for the phrases of its rules and of
// the intent framing at once with one Set; a general-purpose library that
// allocates an iterator and a match object per occurrence cost it more than
// the automaton itself.
package phrase

import "math"

// Match is one occurrence: phrase index (in the order given to Compile) and
// the byte range [Start, End) of the text.
type Match struct {
	Phrase, Start, End int32
}

// Set is a compiled set of phrases. It is read-only and safe for concurrent
// use.
type Set struct {
	class  [256]int32 // byte -> class; 0 for bytes in no phrase
	nclass int32
	// delta[s*nclass+c] is the state after reading a byte of class c in
	// state s; a state at which phrases end is stored complemented
	// (negative). Entries are 16 bits, not the 32 of premultiplied row
	// offsets, which would save the multiply: the guard's table is then
	// 412 KB instead of 824, and a text read on a cold cache (a gateway
	// serving other requests in between) waits for a cache line at most
	// states it enters, one after the other. Measured on 1 KB texts with
	// the guard's phrases: 37-41 µs cold instead of 54-57, 3.8 µs warm
	// instead of 3.2.
	delta []int16
	// outs[outFrom[i]:outFrom[i+1]] are the phrases that end at state i,
	// its own and those of its suffixes.
	outFrom []int32
	outs    []int32
	lens    []int32
}

// Compile builds the automaton of phrases. Phrases are matched byte for
// byte; the same phrase given twice is reported under both indexes. It
// panics on an empty phrase and on sets of more than 32,767 automaton
// states (about that many bytes of distinct phrases): the sets are the
// program's own, so either is a programming error.
func Compile(phrases []string) *Set {
	s := &Set{lens: make([]int32, len(phrases))}
	for i, p := range phrases {
		if p == "" {
			panic("phrase: empty phrase")
		}
		s.lens[i] = int32(len(p))
		for j := 0; j < len(p); j++ {
			if s.class[p[j]] == 0 {
				s.nclass++
				s.class[p[j]] = s.nclass
			}
		}
	}
	s.nclass++ // class 0
	nc := int(s.nclass)

	// The trie: goto[state*nc+class], -1 where there is no edge.
	var trie []int32
	var own [][]int32
	newState := func() int32 {
		for range nc {
			trie = append(trie, -1)
		}
		own = append(own, nil)
		return int32(len(own) - 1)
	}
	newState()
	for i, p := range phrases {
		st := int32(0)
		for j := 0; j < len(p); j++ {
			e := int(st)*nc + int(s.class[p[j]])
			if trie[e] < 0 {
				n := newState()
				trie[e] = n
			}
			st = trie[e]
		}
		own[st] = append(own[st], int32(i))
	}
	n := len(own)

	// Breadth first: failure links, the full transition table and the
	// outputs of each state (its own, then its failure state's).
	fail := make([]int32, n)
	next := make([]int32, n*nc)
	out := make([][]int32, n)
	queue := make([]int32, 1, n) // the root, then every state in breadth-first order
	out[0] = own[0]
	for c := range nc {
		if t := trie[c]; t > 0 {
			next[c] = t
			queue = append(queue, t)
		}
	}
	for head := 1; head < len(queue); head++ {
		st := queue[head]
		out[st] = append(append([]int32(nil), own[st]...), out[fail[st]]...)
		for c := range nc {
			e := int(st)*nc + c
			if t := trie[e]; t >= 0 {
				fail[t] = next[int(fail[st])*nc+c]
				next[e] = t
				queue = append(queue, t)
			} else {
				next[e] = next[int(fail[st])*nc+c]
			}
		}
	}

	if n > math.MaxInt16 {
		panic("phrase: more than 32767 states") // the guard's phrases take 5,275
	}
	// The table's rows are laid out in breadth-first order, not in the
	// order the trie made them: a text spends nearly all its bytes in the
	// root and the states a byte or two deep, and so these rows sit
	// together at the start of the table, in fewer cache lines and pages
	// than when they were scattered among the deep states of every phrase.
	id := make([]int32, n) // state -> its row
	for i, st := range queue {
		id[st] = int32(i)
	}
	s.delta = make([]int16, n*nc)
	for i, st := range queue {
		for c := range nc {
			t := next[int(st)*nc+c]
			v := int16(id[t])
			if len(out[t]) > 0 {
				v = ^v
			}
			s.delta[i*nc+c] = v
		}
	}
	s.outFrom = make([]int32, n+1)
	for i, st := range queue {
		s.outs = append(s.outs, out[st]...)
		s.outFrom[i+1] = int32(len(s.outs))
	}
	return s
}

// Append appends to dst every occurrence in b of every phrase, overlapping
// ones included, in order of their end, and returns it.
func (s *Set) Append(dst []Match, b []byte) []Match {
	s.Find(b, func(m Match) bool {
		dst = append(dst, m)
		return false
	})
	return dst
}

// Find reports whether b holds an occurrence of a phrase for which ok
// (called for each in order of its end, overlapping ones included)
// returns true, and stops at the first: the guard asks whether a text names a harm where a word
// starts, and the first answer is usually the answer.
func (s *Set) Find(b []byte, ok func(Match) bool) bool {
	st := int32(0)
	nc := s.nclass
	for i, c := range b {
		v := int32(s.delta[st*nc+s.class[c]])
		if v < 0 {
			v = ^v
			end := int32(i + 1)
			for _, p := range s.outs[s.outFrom[v]:s.outFrom[v+1]] {
				if ok(Match{Phrase: p, Start: end - s.lens[p], End: end}) {
					return true
				}
			}
		}
		st = v
	}
	return false
}

// Contains reports whether b holds any of the phrases. It stops at the
// first occurrence.
func (s *Set) Contains(b []byte) bool {
	st := int32(0)
	for _, c := range b {
		st = int32(s.delta[st*s.nclass+s.class[c]])
		if st < 0 {
			return true
		}
	}
	return false
}

// CompileFold is Compile for matching without regard to ASCII case: the
// phrases are given in lower case, and an upper-case ASCII letter of the
// text reads as its lower-case one. Folding happens in the byte classes, so
// it costs nothing per byte.
func CompileFold(phrases []string) *Set {
	s := Compile(phrases)
	for c := 'A'; c <= 'Z'; c++ {
		s.class[c] = s.class[c+'a'-'A']
	}
	return s
}

// Len returns the number of phrases.
func (s *Set) Len() int { return len(s.lens) }
