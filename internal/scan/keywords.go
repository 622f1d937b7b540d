package scan

import "strings"

// keywordIndex finds every ASCII case-insensitive occurrence of a set of
// keywords in one pass, faster than a general automaton for this job.
//
// Each keyword is anchored at its rarest pair of adjacent bytes (by the
// byte frequencies of source code, byteFreq). The pass reads each pair of
// adjacent bytes of the text as a 16-bit number and tests it in an 8 KiB bit
// set of the anchor pairs in every letter case: one load and one bit test
// per byte, a table that stays in L1 cache. Only at a set bit, a fraction
// of a percent of positions in source text, are the keywords with that
// anchor compared. Every occurrence is reported, overlapping ones included.
type keywordIndex struct {
	bits    [1 << 16 / 64]uint64
	anchors map[uint16][]anchor // by the lower-cased pair
	words   []string            // lower-cased
}

type anchor struct {
	word int // index into words
	off  int // offset of the pair within the word
}

// byteFreq is how often each byte occurs in source text, per mille of
// lower-cased Go and Python source; bytes not listed count as 1.
var byteFreq = func() [256]int {
	var f [256]int
	for i := range f {
		f[i] = 1
	}
	for _, p := range strings.Fields("e:69 t:52 r:49 n:39 s:38 a:36 i:35 o:35 ':27 l:26 ,:26 c:24 d:21 p:18 u:18 f:15 m:14 \":14 .:13 h:12 (:11 ):11 g:11 b:8 _:7 ::7 y:6 w:6 /:6 =:5 -:5 0:5 v:5 k:5 x:5 \\:4 {:4 }:4 1:2 2:2 [:2 ]:2 |:2 *:2") {
		c, n := p[0], 0
		for _, d := range p[2:] {
			n = n*10 + int(d-'0')
		}
		f[c] = n
	}
	f[' '] = 150
	f['\n'], f['\t'] = 30, 30
	return f
}()

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// newKeywordIndex indexes words; each must be at least 2 bytes.
func newKeywordIndex(words []string) *keywordIndex {
	k := &keywordIndex{anchors: map[uint16][]anchor{}}
	for wi, w := range words {
		w = strings.ToLower(w)
		k.words = append(k.words, w)
		best, bestCost := 0, -1
		for i := 0; i+1 < len(w); i++ {
			if c := byteFreq[w[i]] * byteFreq[w[i+1]]; bestCost < 0 || c < bestCost {
				best, bestCost = i, c
			}
		}
		a, b := w[best], w[best+1]
		key := uint16(a)<<8 | uint16(b)
		k.anchors[key] = append(k.anchors[key], anchor{wi, best})
		for _, x := range caseVariants(a) {
			for _, y := range caseVariants(b) {
				h := uint16(x)<<8 | uint16(y)
				k.bits[h>>6] |= 1 << (h & 63)
			}
		}
	}
	return k
}

func caseVariants(c byte) []byte {
	if 'a' <= c && c <= 'z' {
		return []byte{c, c - 'a' + 'A'}
	}
	return []byte{c}
}

// find calls hit with the word index and start of every occurrence in b,
// in order of the anchor's position.
func (k *keywordIndex) find(b []byte, hit func(word, start int)) {
	if len(b) < 2 {
		return
	}
	bits := &k.bits
	h := uint16(b[0])
	for i := 1; i < len(b); i++ {
		h = h<<8 | uint16(b[i])
		if bits[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		for _, a := range k.anchors[uint16(lower(b[i-1]))<<8|uint16(lower(b[i]))] {
			w := k.words[a.word]
			s := i - 1 - a.off
			if s < 0 || s+len(w) > len(b) || !equalFold(b[s:s+len(w)], w) {
				continue
			}
			hit(a.word, s)
		}
	}
}

// equalFold compares b with the lower-case ASCII word w, ignoring case.
func equalFold(b []byte, w string) bool {
	for i := 0; i < len(w); i++ {
		if lower(b[i]) != w[i] {
			return false
		}
	}
	return true
}
