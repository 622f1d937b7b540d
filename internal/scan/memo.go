package scan

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// chunkMemo remembers, for the chunk being scanned, what costly evidence
// has searched already, so a chunk dense with candidates (a log with a
// 32-hex id on every line next to api_key words) is not searched again for
// each of them: the work per chunk stays near linear. It is reset for each
// chunk; results do not depend on it, only the time they take.
type chunkMemo struct {
	near   nearCache
	path   map[*regexp.Regexp]bool // path evidence: the path is the same for the whole chunk
	tokens map[*Rule]*tokenIndex
	direct map[*Rule]int // direct searches of the chunk so far, per rule
}

// directSearches candidates per chunk and rule search the chunk directly
// (a memchr-speed scan, cheap for the one key in a file); past that the
// chunk's tokens are indexed once with the rule's regex.
const directSearches = 16

func newChunkMemo() *chunkMemo {
	return &chunkMemo{near: nearCache{}, path: map[*regexp.Regexp]bool{}, tokens: map[*Rule]*tokenIndex{}, direct: map[*Rule]int{}}
}

func (m *chunkMemo) reset() {
	clear(m.near)
	clear(m.path)
	clear(m.tokens)
	clear(m.direct)
}

// pathMatch reports whether re matches path, once per chunk.
func (m *chunkMemo) pathMatch(re *regexp.Regexp, path string) bool {
	hit, ok := m.path[re]
	if !ok {
		hit = re.MatchString(path)
		m.path[re] = hit
	}
	return hit
}

// tokenIndex holds every whole-token match of a rule's regex in a chunk.
type tokenIndex struct {
	pos     [][2]int         // [start, end), in order
	byValue map[string][]int // value -> indexes into pos
}

// index returns the token index of r over buf, building it once the direct
// searches of this chunk are spent, or nil while they are not.
func (m *chunkMemo) index(r *Rule, buf []byte) *tokenIndex {
	if ix := m.tokens[r]; ix != nil {
		return ix
	}
	if m.direct[r] < directSearches {
		m.direct[r]++
		return nil
	}
	ix := &tokenIndex{byValue: map[string][]int{}}
	r.findAll(buf, 0, len(buf), func(a, b int) {
		if r.wholeToken(buf, a, b) {
			v := string(buf[a:b])
			ix.byValue[v] = append(ix.byValue[v], len(ix.pos))
			ix.pos = append(ix.pos, [2]int{a, b})
		}
	})
	m.tokens[r] = ix
	return ix
}

// occurrences returns the starts of other whole-token occurrences of
// buf[s:t] in buf, up to maxRepeats.
func (r *Rule) occurrences(buf []byte, s, t int, memo *chunkMemo) []int {
	var out []int
	if ix := memo.index(r, buf); ix != nil {
		for _, i := range ix.byValue[string(buf[s:t])] {
			if p := ix.pos[i][0]; p != s {
				out = append(out, p)
				if len(out) >= maxRepeats {
					break
				}
			}
		}
		return out
	}
	val := buf[s:t]
	for off := 0; off < len(buf) && len(out) < maxRepeats; {
		i := bytes.Index(buf[off:], val)
		if i < 0 {
			break
		}
		i += off
		off = i + 1
		if i != s && r.wholeToken(buf, i, i+len(val)) {
			out = append(out, i)
		}
	}
	return out
}

// wholeToken reports whether buf[a:b] has no boundary byte beside it.
func (r *Rule) wholeToken(buf []byte, a, b int) bool {
	return !(a > 0 && r.boundary[buf[a-1]] || b < len(buf) && r.boundary[buf[b]])
}

// findAll calls fn with each match of the rule's regex in buf[lo:hi], in
// order, searching a long span in pieces when the regex's matches are
// short: Go's regexp backtracks (fast) only on inputs of a few KB and falls
// back to a slower automaton on longer ones.
func (r *Rule) findAll(buf []byte, lo, hi int, fn func(a, b int)) {
	step := hi - lo
	if r.maxLen > 0 && step > pieceLen {
		step = pieceLen
	}
	last := lo
	for p := lo; p < hi; p += step {
		pe := min(p+step+r.maxLen, hi)
		for _, loc := range r.re.FindAllIndex(buf[p:pe], -1) {
			a, b := loc[0]+p, loc[1]+p
			if a >= p+step || a < last {
				continue // the next piece reports it, or it overlaps the last
			}
			fn(a, b)
			last = b
		}
	}
}

// nearCache remembers where "near" regexes match in the chunk being
// scanned. Candidates of a keyword-dense text lie a few dozen bytes apart
// and their neighbourhoods overlap; one search of a region ahead serves all
// the candidates within it.
type nearCache map[*regexp.Regexp]*nearRegion

// nearRe is a regex searched around candidates, with the literals one of
// which each of its matches contains (lower case; nil when not known). A
// region holding none of them is not searched: the regex engine's
// case-insensitive alternations cost far more than a scan for a literal.
type nearRe struct {
	re   *regexp.Regexp
	lits []string
}

func newNearRe(re *regexp.Regexp) nearRe {
	return nearRe{re: re, lits: requiredLiterals(re.String())}
}

type nearRegion struct {
	lo, hi  int     // the region searched
	matches [][]int // absolute [start, end) of the matches in it
}

// nearAhead is how far past a query a region is searched.
const nearAhead = 4 << 10

// match reports whether nr matches within buf[lo:hi].
func (c nearCache) match(nr nearRe, buf []byte, lo, hi int) bool {
	rg := c[nr.re]
	if rg == nil || lo < rg.lo || hi > rg.hi {
		if rg == nil {
			rg = &nearRegion{}
			c[nr.re] = rg
		}
		rg.lo, rg.hi = lo, min(max(hi, lo+nearAhead), len(buf))
		rg.matches = rg.matches[:0]
		if nr.lits != nil && !containsAnyFold(buf[rg.lo:rg.hi], nr.lits) {
			return false
		}
		for _, m := range nr.re.FindAllIndex(buf[rg.lo:rg.hi], -1) {
			rg.matches = append(rg.matches, []int{m[0] + rg.lo, m[1] + rg.lo})
		}
	}
	for _, m := range rg.matches {
		if m[0] >= lo && m[1] <= hi {
			return true
		}
		if m[0] >= hi {
			break
		}
	}
	return false
}

// containsAnyFold reports whether b contains one of the lower-case ASCII
// literals, ignoring ASCII case.
func containsAnyFold(b []byte, lits []string) bool {
	for _, l := range lits {
		for i := 0; i+len(l) <= len(b); i++ {
			if lower(b[i]) == l[0] && equalFold(b[i:i+len(l)], l) {
				return true
			}
		}
	}
	return false
}

// requiredLiterals returns lower-case ASCII literals of at least 3 bytes one
// of which every match of expr contains, or nil when none can be named.
func requiredLiterals(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	return literalsOf(re.Simplify())
}

func literalsOf(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		b := make([]byte, 0, len(re.Rune))
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf {
				return nil
			}
			c := lower(byte(r))
			// Under (?i) k and s also match the Kelvin sign and long s,
			// which an ASCII scan would not see.
			if re.Flags&syntax.FoldCase != 0 && (c == 'k' || c == 's') {
				return nil
			}
			b = append(b, c)
		}
		if len(b) < 3 {
			return nil
		}
		return []string{string(b)}
	case syntax.OpCapture:
		return literalsOf(re.Sub[0])
	case syntax.OpConcat:
		// Any one part's literals will do; the longest shortest literal
		// is the most selective.
		var best []string
		bestLen := 0
		for _, sub := range re.Sub {
			ls := literalsOf(sub)
			if ls == nil {
				continue
			}
			short := len(ls[0])
			for _, l := range ls {
				short = min(short, len(l))
			}
			if short > bestLen {
				best, bestLen = ls, short
			}
		}
		return best
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			ls := literalsOf(sub)
			if ls == nil {
				return nil
			}
			out = append(out, ls...)
		}
		return out
	}
	return nil
}
