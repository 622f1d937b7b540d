package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/keys"
)

const (
	// chunkSize is how much new text the engine reads at a time. Memory per
	// concurrent scan is about chunkSize + 2*overlap, whatever the input size.
	chunkSize = 1 << 20
	// overlap is carried from one chunk to the next: the last overlap bytes
	// of a chunk are scanned again with the next one, and overlap bytes
	// before them give context. It exceeds every reach, distance and line
	// expansion, so chunk borders change no result.
	overlap = 16 << 10
	// lineExpand bounds how far a keyword window grows to reach whole lines.
	lineExpand = 1024
	// pieceLen is the piece a long window is searched in, for regexes
	// whose matches are at most Rule.maxLen long.
	pieceLen = 4 << 10
	// allowMarker on the line of a match suppresses it.
	allowMarker = "warden:allow"
)

// Location says where scanned text came from. It is copied into findings.
type Location struct {
	Path   string
	URL    string
	Commit string
	Author string
	Date   *time.Time
}

// Engine finds secrets in text. Build it once with NewEngine; it is safe for
// concurrent use and keeps no state between scans.
type Engine struct {
	rules    []*Rule
	kw       *keywordIndex
	patRules [][]int // keyword index -> indexes into rules
	patLen   []int
	min      Confidence // findings below are not reported

	scratch sync.Pool // *scratch
}

// Option changes how an Engine reports.
type Option func(*Engine)

// MinConfidence makes the engine report only findings of at least c. The
// default is Medium: a 32-hex value that a person reading the line would
// call an identifier (a cache key, a trace id, a hash) is scored low and not
// reported unless Low is asked for.
func MinConfidence(c Confidence) Option {
	return func(e *Engine) {
		if c.rank() > 0 {
			e.min = c
		}
	}
}

type scratch struct {
	spans [][]span // per rule
	found []match
	buf   []byte
	memo  *chunkMemo
}

type span struct{ lo, hi int }

// match is a confirmed candidate, with offsets into the chunk.
type match struct {
	rule       *Rule
	start, end int
	secret     string
	pairSecret string
	confidence Confidence
	endpoint   string
	note       string
	evidence   []string
}

// NewEngine compiles rules into an engine. Rule ids must be unique.
func NewEngine(specs []RuleSpec, opts ...Option) (*Engine, error) {
	e := &Engine{min: Medium}
	for _, o := range opts {
		o(e)
	}
	seen := map[string]bool{}
	kwIndex := map[string]int{}
	var patterns []string
	for _, s := range specs {
		r, err := Compile(s)
		if err != nil {
			return nil, err
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("scan: duplicate rule id %q", r.ID)
		}
		seen[r.ID] = true
		ri := len(e.rules)
		e.rules = append(e.rules, r)
		for _, k := range r.Keywords {
			pi, ok := kwIndex[k]
			if !ok {
				pi = len(patterns)
				kwIndex[k] = pi
				patterns = append(patterns, k)
				e.patRules = append(e.patRules, nil)
				e.patLen = append(e.patLen, len(k))
			}
			if !slices.Contains(e.patRules[pi], ri) {
				e.patRules[pi] = append(e.patRules[pi], ri)
			}
		}
	}
	if len(e.rules) == 0 {
		return nil, errors.New("scan: no rules")
	}
	e.kw = newKeywordIndex(patterns)
	e.scratch.New = func() any { return &scratch{spans: make([][]span, len(e.rules)), memo: newChunkMemo()} }
	return e, nil
}

// Rules returns the engine's compiled rules, in rules-file order.
func (e *Engine) Rules() []*Rule { return e.rules }

// Rule returns the rule with the given id, or nil.
func (e *Engine) Rule(id string) *Rule {
	for _, r := range e.rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// Scan reads r to its end and reports each secret found to emit, in order
// of position. It reads in chunks with overlapping windows, so memory stays
// bounded however large the input is. It stops early when ctx is done.
func (e *Engine) Scan(ctx context.Context, r io.Reader, loc Location, emit func(Finding)) error {
	sc := e.scratch.Get().(*scratch)
	defer e.scratch.Put(sc)
	if cap(sc.buf) < chunkSize+2*overlap {
		sc.buf = make([]byte, 0, chunkSize+2*overlap)
	}
	buf := sc.buf[:0]
	from := 0           // owned region starts here
	lineBase := 1       // line number of buf[0]
	lastNL := int64(-1) // absolute offset of the last newline before buf[0]
	var base int64      // absolute offset of buf[0]
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return fmt.Errorf("scan: reading %s: %w", loc.name(), err)
		}
		to := len(buf)
		if !eof {
			to = len(buf) - overlap
		}
		e.scanChunk(sc, buf, from, to, loc.name(), func(m *match, line, col int) {
			emit(e.finding(m, loc, lineBase+line, col))
		}, func(start int) int {
			// column fallback when the line began before buf
			return int(base + int64(start) - lastNL)
		})
		if eof {
			sc.buf = buf
			return nil
		}
		keep := to - overlap
		lineBase += bytes.Count(buf[:keep], nlByte)
		if i := bytes.LastIndexByte(buf[:keep], '\n'); i >= 0 {
			lastNL = base + int64(i)
		}
		base += int64(keep)
		buf = buf[:copy(buf, buf[keep:])]
		from = overlap
	}
}

// ScanText scans text held in memory. lineOf, when not nil, maps a 1-based
// line of text to the line to report (diff hunks use it).
func (e *Engine) ScanText(text []byte, loc Location, lineOf func(int) int, emit func(Finding)) {
	sc := e.scratch.Get().(*scratch)
	defer e.scratch.Put(sc)
	e.scanChunk(sc, text, 0, len(text), loc.name(), func(m *match, line, col int) {
		line++
		if lineOf != nil {
			line = lineOf(line)
		}
		emit(e.finding(m, loc, line, col))
	}, func(start int) int { return start + 1 })
}

var nlByte = []byte{'\n'}

func (loc Location) name() string {
	if loc.URL != "" {
		return loc.URL
	}
	if loc.Path != "" {
		return loc.Path
	}
	return "input"
}

func (e *Engine) finding(m *match, loc Location, line, col int) Finding {
	f := Finding{
		RuleID:      m.rule.ID,
		Description: m.rule.Description,
		Path:        loc.Path,
		URL:         loc.URL,
		Line:        line,
		Column:      col,
		Commit:      loc.Commit,
		Author:      loc.Author,
		Date:        loc.Date,
		Confidence:  m.confidence,
		Endpoint:    m.endpoint,
		Note:        m.note,
	}
	if len(m.evidence) > 0 {
		f.Evidence = strings.Join(m.evidence, " ")
	}
	if m.pairSecret != "" {
		f.Secret = keys.Redact(m.secret) + ":" + keys.Redact(m.pairSecret)
		f.Fingerprint = Fingerprint(m.pairSecret)
	} else {
		f.Secret = keys.Redact(m.secret)
		f.Fingerprint = Fingerprint(m.secret)
	}
	if m.rule.ID != WardenRuleID {
		f.Revocation = m.rule.Revocation
	}
	return f
}

// scanChunk finds the secrets that start in buf[from:to]. It calls emit with
// the 0-based line (counted from buf[0]) and the 1-based column of each, in
// order of position; colFallback gives the column when the line starts
// before buf.
func (e *Engine) scanChunk(sc *scratch, buf []byte, from, to int, path string, emit func(m *match, line, col int), colFallback func(int) int) {
	if from >= to {
		return
	}
	for i := range sc.spans {
		sc.spans[i] = sc.spans[i][:0]
	}
	sc.found = sc.found[:0]
	sc.memo.reset()

	// 1. One pass of the keyword index over the chunk.
	any := false
	e.kw.find(buf, func(p, s int) {
		for _, ri := range e.patRules[p] {
			r := e.rules[ri]
			lo, hi := s-r.reach, s+e.patLen[p]+r.reach
			sp := sc.spans[ri]
			// Hits come in order of their anchor, so a start may be up to
			// a keyword's length before the previous one's: merge down too.
			if n := len(sp); n > 0 && lo <= sp[n-1].hi {
				sp[n-1].lo = min(sp[n-1].lo, lo)
				sp[n-1].hi = max(sp[n-1].hi, hi)
			} else {
				sp = append(sp, span{lo, hi})
			}
			sc.spans[ri] = sp
			any = true
		}
	})
	if !any {
		return
	}

	// 2. Each rule's regex runs only in the windows around its keywords.
	for ri, spans := range sc.spans {
		if len(spans) == 0 {
			continue
		}
		r := e.rules[ri]
		lastEnd := -1
		for i := 0; i < len(spans); i++ {
			lo, hi := expand(buf, spans[i].lo, spans[i].hi)
			// Merge windows that touch after expansion.
			for i+1 < len(spans) {
				nlo, nhi := expand(buf, spans[i+1].lo, spans[i+1].hi)
				if nlo > hi {
					break
				}
				hi = max(hi, nhi)
				i++
			}
			if hi <= from || lo >= to {
				continue
			}
			// A long window is searched in pieces when the regex's
			// matches are short: Go's regexp backtracks (fast) only on
			// inputs of a few KB and falls back to a slower automaton on
			// longer ones, such as a log dense with keywords.
			step := hi - lo
			if r.maxLen > 0 && step > pieceLen {
				step = pieceLen
			}
			for p := lo; p < hi; p += step {
				pe := min(p+step+r.maxLen, hi)
				for _, loc := range r.re.FindAllSubmatchIndex(buf[p:pe], -1) {
					s, t := loc[2*r.secretIdx], loc[2*r.secretIdx+1]
					if s < 0 || loc[0]+p >= p+step {
						continue // the next piece reports matches starting there
					}
					s, t = s+p, t+p
					if s < from || s >= to || s < lastEnd {
						continue
					}
					if m, ok := e.confirm(r, buf, s, t, path, sc.memo); ok {
						sc.found = append(sc.found, m)
						lastEnd = t
					}
				}
			}
		}
	}
	if len(sc.found) == 0 {
		return
	}

	// 3. Report in order of position, counting lines incrementally.
	slices.SortFunc(sc.found, func(a, b match) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return cmpString(a.rule.ID, b.rule.ID)
	})
	line, pos := 0, 0
	for i := range sc.found {
		m := &sc.found[i]
		line += bytes.Count(buf[pos:m.start], nlByte)
		pos = m.start
		col := 0
		if j := bytes.LastIndexByte(buf[:m.start], '\n'); j >= 0 {
			col = m.start - j
		} else {
			col = colFallback(m.start)
		}
		emit(m, line, col)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// expand clips [lo,hi) to buf and widens it to whole lines, or, for lines
// longer than lineExpand, towards the ends of the tokens it cuts. A token
// cut at a window's edge cannot become a false match: boundaries are checked
// against the whole chunk, not the window (a 40-hex commit id cut to 32
// still has a hex digit beside it).
func expand(buf []byte, lo, hi int) (int, int) {
	lo, hi = max(lo, 0), min(hi, len(buf))
	if lo >= hi {
		return lo, lo
	}
	limit := max(lo-lineExpand, 0)
	if i := bytes.LastIndexByte(buf[limit:lo], '\n'); i >= 0 {
		lo = limit + i + 1
	} else {
		for lo > limit && isTokenByte(buf[lo-1]) {
			lo--
		}
	}
	limit = min(hi+lineExpand, len(buf))
	if i := bytes.IndexByte(buf[hi:limit], '\n'); i >= 0 {
		hi += i
	} else {
		for hi < limit && isTokenByte(buf[hi]) {
			hi++
		}
	}
	return lo, hi
}

func isTokenByte(c byte) bool {
	return c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '`' && c != '<' && c != '>' && c != ',' && c != ';'
}

// confirm applies a rule's checks to a regex match at buf[s:t] of the text
// at path, and drops it when its confidence is below the engine's minimum.
func (e *Engine) confirm(r *Rule, buf []byte, s, t int, path string, memo *chunkMemo) (match, bool) {
	m := match{rule: r, start: s, end: t, confidence: r.Confidence}
	if s > 0 && r.boundary[buf[s-1]] || t < len(buf) && r.boundary[buf[t]] {
		return m, false
	}
	ls, le := lineBounds(buf, s, t)
	if bytes.Contains(buf[ls:le], []byte(allowMarker)) {
		return m, false
	}
	secret := string(buf[s:t])
	if r.validate.fn != nil {
		ok, note := r.validate.fn(secret)
		if !ok {
			return m, false
		}
		m.note = note
	}
	if !r.validate.checksum && isPlaceholder(secret) {
		return m, false
	}
	for _, a := range r.allow {
		if a.MatchString(secret) {
			return m, false
		}
	}
	if r.entropy > 0 && entropy(secret) < r.entropy {
		return m, false
	}
	if r.denyBefore != nil && r.denyBefore.Match(buf[max(ls, s-80):s]) {
		return m, false
	}
	if r.scored {
		// Weighed first: most candidates of a scored rule are settled by
		// their name, and a dropped one needs no context search.
		conf, why, ok := r.weigh(buf, s, t, ls, path, e.min, memo)
		if !ok {
			return m, false
		}
		m.confidence, m.evidence = conf, why
	}
	if len(r.contexts) > 0 {
		best := Confidence("")
		for _, c := range r.contexts {
			if c.confidence.rank() <= best.rank() {
				continue
			}
			lo, hi := max(s-c.distance, 0), min(t+c.distance, len(buf))
			if memo.near.match(c.re, buf, lo, hi) {
				best = c.confidence
			}
		}
		if best == "" {
			return m, false
		}
		if !r.scored {
			m.confidence = best
		}
	}
	if m.confidence.rank() < e.min.rank() {
		return m, false
	}
	if r.pair != nil {
		p, ok := findPair(r.pair, buf, s, t)
		if !ok {
			return m, false
		}
		m.pairSecret = p
	}
	if r.endpoint != nil {
		m.endpoint = nearest(r.endpoint, buf, s, t, endpointReach)
	}
	m.secret = secret
	return m, true
}

// lineBounds returns the line around buf[s:t], at most 4 KiB each way.
func lineBounds(buf []byte, s, t int) (int, int) {
	ls := max(s-4096, 0)
	if i := bytes.LastIndexByte(buf[ls:s], '\n'); i >= 0 {
		ls += i + 1
	}
	le := min(t+4096, len(buf))
	if i := bytes.IndexByte(buf[t:le], '\n'); i >= 0 {
		le = t + i
	}
	return ls, le
}

// findPair returns the pair secret nearest to buf[s:t] within the distance.
func findPair(p *compiledPair, buf []byte, s, t int) (string, bool) {
	lo, hi := max(s-p.distance, 0), min(t+p.distance, len(buf))
	lo, hi = expandTokens(buf, lo, hi)
	best, bestDist := "", -1
	for _, loc := range p.re.FindAllIndex(buf[lo:hi], -1) {
		a, b := loc[0]+lo, loc[1]+lo
		if a < t && b > s { // overlaps the first part
			continue
		}
		if a > 0 && p.boundary[buf[a-1]] || b < len(buf) && p.boundary[buf[b]] {
			continue
		}
		cand := string(buf[a:b])
		if isPlaceholder(cand) || isHex(cand) {
			continue
		}
		d := a - t
		if b <= s {
			d = s - b
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = cand, d
		}
	}
	return best, bestDist >= 0
}

func expandTokens(buf []byte, lo, hi int) (int, int) {
	for n := 0; lo > 0 && isTokenByte(buf[lo-1]) && n < lineExpand; n++ {
		lo--
	}
	for n := 0; hi < len(buf) && isTokenByte(buf[hi]) && n < lineExpand; n++ {
		hi++
	}
	return lo, hi
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// nearest returns the match of re closest to buf[s:t] within reach, or "".
func nearest(re interface {
	FindAllIndex([]byte, int) [][]int
}, buf []byte, s, t, reach int) string {
	lo, hi := max(s-reach, 0), min(t+reach, len(buf))
	best, bestDist := "", -1
	for _, loc := range re.FindAllIndex(buf[lo:hi], -1) {
		a, b := loc[0]+lo, loc[1]+lo
		d := a - t
		if b <= s {
			d = s - b
		}
		if d < 0 {
			d = 0
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = string(buf[a:b]), d
		}
	}
	return best
}
