package scan

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
)

// Evidence weighs what surrounds a match whose format has nothing of its own
// to recognise. A 32-hex Azure OpenAI key looks exactly like an MD5, a trace
// id, a cache key or an ETag; what tells them apart is what a person reading
// the line would look at: the name the value is assigned to, the words before
// it, what else is near, the same value named as a hash elsewhere, and the
// kind of file. Each piece of evidence found adds its weight (negative
// weights count against); the sum, against the rule's score thresholds, sets
// the finding's confidence. The words are data (rules files), the places
// they are looked for are code.
//
// Where a regex is applied:
//
//	name     the name the value is assigned to on its line: AZURE_OPENAI_KEY
//	         in `AZURE_OPENAI_KEY="…"`, api-key in `-H "api-key: …"`,
//	         cache in `GET /cache/…`
//	before   the words before that name in the same clause (up to 48 bytes,
//	         stopping at quotes, brackets and , ; | &): "cache hit for" in
//	         `cache hit for key=…`
//	near     anything within distance bytes either side (an endpoint)
//	path     the file's path or URL (lock files)
//	repeat   the name of another occurrence of the same value in the text
//	         read with it (1 MiB around it): a value named md5 elsewhere
//	crowd    fires when at least count other distinct values of the rule's
//	         shape lie within distance bytes: a log of identifiers
type EvidenceSpec struct {
	Where    string `toml:"where"`
	Regex    string `toml:"regex"`
	Weight   int    `toml:"weight"`
	Distance int    `toml:"distance"` // near and crowd; default the rule's reach
	Count    int    `toml:"count"`    // crowd; default 3
	Label    string `toml:"label"`    // shown in findings; default where
}

// ScoreSpec turns an evidence score into a confidence: at least High is
// high, at least Medium is medium, anything less is low.
type ScoreSpec struct {
	High   int `toml:"high"`
	Medium int `toml:"medium"`
}

type evidenceWhere uint8

const (
	whereName evidenceWhere = iota + 1
	whereBefore
	whereNear
	wherePath
	whereRepeat
	whereCrowd
)

var evidenceWheres = map[string]evidenceWhere{
	"name": whereName, "before": whereBefore, "near": whereNear,
	"path": wherePath, "repeat": whereRepeat, "crowd": whereCrowd,
}

type compiledEvidence struct {
	where    evidenceWhere
	re       *regexp.Regexp // nil for crowd
	near     nearRe         // for near
	weight   int
	distance int
	count    int
	label    string
}

const (
	maxEvidence   = 64
	beforeLen     = 48 // bytes of words before a name
	nameLen       = 64 // longest name considered
	maxRepeats    = 32 // other occurrences of a value examined
	maxCrowdCount = 100
)

func compileEvidence(r *Rule, specs []EvidenceSpec, score *ScoreSpec) error {
	if len(specs) > maxEvidence {
		return fmt.Errorf("more than %d evidence entries", maxEvidence)
	}
	if len(specs) > 0 && score == nil {
		return fmt.Errorf("evidence needs [rule.score] thresholds")
	}
	if score != nil {
		if score.High < score.Medium {
			return fmt.Errorf("score: high (%d) below medium (%d)", score.High, score.Medium)
		}
		r.score = *score
		r.scored = true
	}
	for i, s := range specs {
		w, ok := evidenceWheres[s.Where]
		if !ok {
			return fmt.Errorf("evidence %d: where must be name, before, near, path, repeat or crowd", i+1)
		}
		if s.Weight == 0 || s.Weight < -100 || s.Weight > 100 {
			return fmt.Errorf("evidence %d: weight must be -100..100 and not 0", i+1)
		}
		c := compiledEvidence{where: w, weight: s.Weight, distance: s.Distance, count: s.Count, label: s.Label}
		if c.label == "" {
			c.label = s.Where
		}
		if w == whereCrowd {
			if s.Regex != "" {
				return fmt.Errorf("evidence %d: crowd counts the rule's own matches and takes no regex", i+1)
			}
			if c.count == 0 {
				c.count = 3
			}
			if c.count < 1 || c.count > maxCrowdCount {
				return fmt.Errorf("evidence %d: count must be 1-%d", i+1, maxCrowdCount)
			}
		} else {
			re, err := compileRe(s.Regex)
			if err != nil {
				return fmt.Errorf("evidence %d: %w", i+1, err)
			}
			c.re = re
			c.near = newNearRe(re)
		}
		if w == whereNear || w == whereCrowd {
			if c.distance == 0 {
				c.distance = r.reach
			}
			if c.distance < 0 || c.distance > maxDistance {
				return fmt.Errorf("evidence %d: distance must be 0-%d", i+1, maxDistance)
			}
		}
		r.evidence = append(r.evidence, c)
	}
	// Cheapest first (weigh stops as soon as the outcome is settled), and
	// the most each remaining piece could still add or take away.
	slices.SortStableFunc(r.evidence, func(a, b compiledEvidence) int { return a.where.cost() - b.where.cost() })
	r.restPos = make([]int, len(r.evidence)+1)
	r.restNeg = make([]int, len(r.evidence)+1)
	for i := len(r.evidence) - 1; i >= 0; i-- {
		r.restPos[i], r.restNeg[i] = r.restPos[i+1], r.restNeg[i+1]
		if w := r.evidence[i].weight; w > 0 {
			r.restPos[i] += w
		} else {
			r.restNeg[i] += w
		}
	}
	return nil
}

// cost orders evidence kinds by the work they take per candidate.
func (w evidenceWhere) cost() int {
	switch w {
	case whereNear:
		return 1 // a regex over the text around the match
	case whereRepeat, whereCrowd:
		return 2 // a search of the chunk, a regex over 2 KB
	}
	return 0 // a regex over a name, some words or a path
}

// weigh scores the match buf[s:t] (ls is the start of its line) and returns
// the confidence and the evidence found, as "label+N" strings. ok is false
// when the confidence would be below floor; weigh then stops early.
//
// Evidence is looked at cheapest first (r.evidence is sorted by cost), and
// only while it could still change the outcome: in a log of identifiers
// the name alone settles most candidates, and the regexes around them and
// the search of the chunk for the same value never run.
func (r *Rule) weigh(buf []byte, s, t, ls int, path string, floor Confidence, memo *chunkMemo) (conf Confidence, why []string, ok bool) {
	name, before := nameBefore(buf[max(ls, s-nameLen-beforeLen-16):s])
	if n := indirectName(buf, name, s); n != nil {
		name, before = n, nil
	}
	score := 0
	var hits [maxEvidence]bool // formatted into why only if reported
	var repeats [][2][]byte
	repeatsDone := false
	for i := range r.evidence {
		lo, hi := score+r.restNeg[i], score+r.restPos[i]
		if r.band(hi).rank() < floor.rank() {
			return Low, nil, false
		}
		if r.band(lo) == r.band(hi) {
			break
		}
		e := &r.evidence[i]
		var hit bool
		switch e.where {
		case whereName:
			hit = len(name) > 0 && e.re.Match(name)
		case whereBefore:
			hit = len(before) > 0 && e.re.Match(before)
		case wherePath:
			hit = path != "" && memo.pathMatch(e.re, path)
		case whereNear:
			hit = memo.near.match(e.near, buf, max(s-e.distance, 0), min(t+e.distance, len(buf)))
		case whereRepeat:
			if !repeatsDone {
				repeats, repeatsDone = r.otherNames(buf, s, t, memo), true
			}
			for _, nb := range repeats {
				if len(nb[0]) > 0 && e.re.Match(nb[0]) {
					hit = true
					break
				}
			}
		case whereCrowd:
			hit = r.crowded(buf, s, t, e.distance, e.count, memo)
		}
		if hit {
			score += e.weight
			hits[i] = true
		}
	}
	conf = r.band(score)
	if conf.rank() < floor.rank() {
		return conf, nil, false
	}
	for i, h := range hits[:len(r.evidence)] {
		if h {
			why = append(why, fmt.Sprintf("%s%+d", r.evidence[i].label, r.evidence[i].weight))
		}
	}
	return conf, why, true
}

// band maps an evidence score to a confidence.
func (r *Rule) band(score int) Confidence {
	switch {
	case score >= r.score.High:
		return High
	case score >= r.score.Medium:
		return Medium
	}
	return Low
}

// otherNames returns the name and preceding words of other occurrences of
// buf[s:t] in buf as a whole token, up to maxRepeats of them.
func (r *Rule) otherNames(buf []byte, s, t int, memo *chunkMemo) [][2][]byte {
	var out [][2][]byte
	for _, i := range r.occurrences(buf, s, t, memo) {
		ls := max(i-nameLen-beforeLen-16, 0)
		if j := bytes.LastIndexByte(buf[ls:i], '\n'); j >= 0 {
			ls += j + 1
		}
		n, b := nameBefore(buf[ls:i])
		out = append(out, [2][]byte{n, b})
	}
	return out
}

// crowded reports whether at least count other distinct matches of the
// rule's regex (boundaries respected) lie within distance of buf[s:t].
func (r *Rule) crowded(buf []byte, s, t, distance, count int, memo *chunkMemo) bool {
	lo, hi := max(s-distance, 0), min(t+distance, len(buf))
	val := buf[s:t]
	var seen [][]byte
	others := func(a, b int) bool { // reports whether the count is reached
		v := buf[a:b]
		if bytes.EqualFold(v, val) {
			return false
		}
		for _, x := range seen {
			if bytes.EqualFold(x, v) {
				return false
			}
		}
		seen = append(seen, v)
		return len(seen) >= count
	}
	if ix := memo.index(r, buf); ix != nil {
		i, _ := slices.BinarySearchFunc(ix.pos, lo, func(p [2]int, lo int) int { return p[0] - lo })
		for ; i < len(ix.pos) && ix.pos[i][1] <= hi; i++ {
			if others(ix.pos[i][0], ix.pos[i][1]) {
				return true
			}
		}
		return false
	}
	for _, loc := range r.re.FindAllIndex(buf[lo:hi], -1) {
		a, b := loc[0]+lo, loc[1]+lo
		if r.wholeToken(buf, a, b) && others(a, b) {
			return true
		}
	}
	return false
}

// nameBefore splits the text before a value on its line into the name the
// value is assigned to and the words of the clause before that name:
//
//	`export AZURE_OPENAI_KEY="`  -> AZURE_OPENAI_KEY, "export "
//	`-H "api-key: `              -> api-key, ""
//	`cache hit for key=`         -> key, "cache hit for "
//	`GET /cache/`                -> cache, "GET /"
func nameBefore(pre []byte) (name, before []byte) {
	i := len(pre)
	for n := 0; i > 0 && n < 8 && isAssignByte(pre[i-1]); n++ {
		i--
	}
	j := i
	for j > 0 && i-j < nameLen && isNameByte(pre[j-1]) {
		j--
	}
	name = pre[j:i]
	k := j
	for k > 0 && j-k < beforeLen && !isClauseEnd(pre[k-1]) {
		k--
	}
	return name, pre[k:j]
}

// valueWordRe and keyNameRe find the real name of a value written as a
// key/value pair: `<add key="AzureOpenAIKey" value="…"/>` in .NET config,
// `- name: AZURE_OPENAI_KEY` / `  value: "…"` in Kubernetes env lists.
var (
	valueWordRe = regexp.MustCompile(`^(?i:value|val)$`)
	keyNameRe   = regexp.MustCompile(`(?i:key|name)\s*[:=]\s*["']?([A-Za-z0-9_.-]{1,64})["']?[^\n]*\n?[^\n]*$`)
)

// indirectName returns the name a "value" is the value of, from the key or
// name written before it on its line or the line before, or nil.
func indirectName(buf, name []byte, s int) []byte {
	if !valueWordRe.Match(name) {
		return nil
	}
	lo := max(s-200, 0)
	if m := keyNameRe.FindSubmatchIndex(buf[lo:s]); m != nil {
		return buf[lo+m[2] : lo+m[3]]
	}
	return nil
}

// isAssignByte: what may stand between a name and its value.
func isAssignByte(c byte) bool {
	switch c {
	case ' ', '\t', '"', '\'', '`', '=', ':', '(', '[', ']', '{', '>', '/', '#', '@', ',', '\\':
		return true // '\\': JSON-escaped quotes, as in source maps and notebooks read as text
	}
	return false
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
}

func isClauseEnd(c byte) bool {
	switch c {
	case '"', '\'', '`', ',', ';', '|', '&', '{', '}', '(', ')', '[', ']', '<', '>', '\n':
		return true
	}
	return false
}
