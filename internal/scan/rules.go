package scan

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

//go:embed builtin.toml
var builtinTOML string

// Limits on rules data, so a hostile or mistaken rules file cannot make the
// engine unbounded.
const (
	maxRules       = 1000
	maxKeywords    = 64 // per rule
	maxRegexLen    = 4096
	maxReach       = 4096 // bytes either side of a keyword hit
	defaultReach   = 100
	maxDistance    = 4096
	endpointReach  = 2000
	maxRulesFileSz = 4 << 20
)

// Confidence says how sure a rule is that a match is a live secret.
type Confidence string

const (
	Low    Confidence = "low"
	Medium Confidence = "medium"
	High   Confidence = "high"
)

// ParseConfidence reads low, medium or high.
func ParseConfidence(s string) (Confidence, error) {
	c := Confidence(strings.ToLower(strings.TrimSpace(s)))
	if c.rank() == 0 {
		return "", fmt.Errorf("scan: confidence %q: want low, medium or high", s)
	}
	return c, nil
}

func (c Confidence) rank() int {
	switch c {
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// RuleSpec is one rule as written in a rules file. See the package doc for
// the meaning of each field.
type RuleSpec struct {
	ID          string         `toml:"id"`
	Description string         `toml:"description"`
	Keywords    []string       `toml:"keywords"`
	Regex       string         `toml:"regex"`
	Reach       int            `toml:"reach"`
	Boundary    string         `toml:"boundary"`
	Validate    string         `toml:"validate"`
	Entropy     float64        `toml:"entropy"`
	Allow       []string       `toml:"allow"`
	DenyBefore  string         `toml:"deny_before"`
	Context     []ContextSpec  `toml:"context"`
	Pair        *PairSpec      `toml:"pair"`
	Endpoint    string         `toml:"endpoint"`
	Evidence    []EvidenceSpec `toml:"evidence"`
	Score       *ScoreSpec     `toml:"score"`
	Confidence  Confidence     `toml:"confidence"`
	Revocation  string         `toml:"revocation"`
}

// ContextSpec requires text near a match: a rule with contexts reports a
// match only when one of them occurs within Distance bytes, and takes the
// confidence of the best one found.
type ContextSpec struct {
	Regex      string     `toml:"regex"`
	Distance   int        `toml:"distance"`
	Confidence Confidence `toml:"confidence"`
}

// PairSpec requires a second secret near the match (the AWS secret access
// key next to its key id). The fingerprint is taken of the pair's part.
type PairSpec struct {
	Regex    string `toml:"regex"`
	Boundary string `toml:"boundary"`
	Distance int    `toml:"distance"`
}

// RulesFile is the document a rules file holds.
type RulesFile struct {
	Rules []RuleSpec `toml:"rule"`
}

// Rule is a validated, compiled rule.
type Rule struct {
	ID          string
	Description string
	Keywords    []string
	Confidence  Confidence
	Revocation  string

	re         *regexp.Regexp
	maxLen     int // longest match of re, 0 if unbounded or longer than maxPieceMatch
	secretIdx  int // submatch index of the secret, 0 for the whole match
	reach      int
	boundary   [256]bool
	validate   validator
	entropy    float64
	allow      []*regexp.Regexp
	denyBefore *regexp.Regexp
	contexts   []compiledContext
	pair       *compiledPair
	endpoint   *regexp.Regexp
	evidence   []compiledEvidence // cheapest first
	restPos    []int              // restPos[i]: sum of the positive weights of evidence[i:]
	restNeg    []int              // restNeg[i]: sum of the negative weights of evidence[i:]
	score      ScoreSpec
	scored     bool // confidence comes from the evidence score
}

type compiledContext struct {
	re         nearRe
	distance   int
	confidence Confidence
}

type compiledPair struct {
	re       *regexp.Regexp
	boundary [256]bool
	distance int
}

// Builtin returns the rule specs shipped with Warden.
func Builtin() []RuleSpec {
	specs, err := ParseRules(strings.NewReader(builtinTOML))
	if err != nil {
		panic("scan: built-in rules are invalid: " + err.Error()) // broken invariant, caught by tests
	}
	return specs
}

// LoadRules reads a rules file.
func LoadRules(path string) ([]RuleSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scan: rules: %w", err)
	}
	defer f.Close()
	specs, err := ParseRules(f)
	if err != nil {
		return nil, fmt.Errorf("scan: rules file %s: %w", path, err)
	}
	return specs, nil
}

// ParseRules decodes a rules document strictly: unknown fields are errors.
// It validates every rule (see Compile) so mistakes surface at load time.
func ParseRules(r io.Reader) ([]RuleSpec, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxRulesFileSz+1))
	if err != nil {
		return nil, fmt.Errorf("scan: rules: %w", err)
	}
	if len(b) > maxRulesFileSz {
		return nil, errors.New("scan: rules: file larger than 4 MiB")
	}
	var doc RulesFile
	md, err := toml.Decode(string(b), &doc)
	if err != nil {
		return nil, fmt.Errorf("scan: rules: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("scan: rules: unknown field %q", und[0].String())
	}
	if len(doc.Rules) > maxRules {
		return nil, fmt.Errorf("scan: rules: more than %d rules", maxRules)
	}
	for i := range doc.Rules {
		if _, err := Compile(doc.Rules[i]); err != nil {
			return nil, err
		}
	}
	return doc.Rules, nil
}

// Compile validates a rule spec and compiles its expressions. Errors name the rule.
func Compile(s RuleSpec) (*Rule, error) {
	fail := func(format string, a ...any) (*Rule, error) {
		return nil, fmt.Errorf("scan: rule %q: %s", s.ID, fmt.Sprintf(format, a...))
	}
	if s.ID == "" || len(s.ID) > 100 || strings.ContainsAny(s.ID, " \t\n\"") {
		return fail("id must be 1-100 characters without spaces or quotes")
	}
	if len(s.Keywords) == 0 {
		return fail("needs at least one keyword (the regex runs only near a keyword)")
	}
	if len(s.Keywords) > maxKeywords {
		return fail("more than %d keywords", maxKeywords)
	}
	r := &Rule{
		ID:          s.ID,
		Description: s.Description,
		Confidence:  s.Confidence,
		Revocation:  strings.TrimSpace(s.Revocation),
		reach:       s.Reach,
		entropy:     s.Entropy,
	}
	for _, k := range s.Keywords {
		if len(k) < 3 || len(k) > 64 {
			return fail("keyword %q must be 3-64 bytes", k)
		}
		r.Keywords = append(r.Keywords, strings.ToLower(k))
	}
	if r.Confidence == "" {
		r.Confidence = Medium
	}
	if r.Confidence.rank() == 0 {
		return fail("confidence must be low, medium or high")
	}
	if r.reach == 0 {
		r.reach = defaultReach
	}
	if r.reach < 0 || r.reach > maxReach {
		return fail("reach must be 0-%d", maxReach)
	}
	if s.Entropy < 0 || s.Entropy > 8 {
		return fail("entropy must be 0-8 bits per byte")
	}
	var err error
	if r.re, err = compileRe(s.Regex); err != nil {
		return fail("regex: %v", err)
	}
	r.maxLen = maxMatchLen(s.Regex)
	r.secretIdx = r.re.SubexpIndex("secret")
	if r.secretIdx < 0 {
		r.secretIdx = 0
	}
	b := s.Boundary
	if b == "" {
		b = "A-Za-z0-9_-"
	}
	if r.boundary, err = parseClass(b); err != nil {
		return fail("boundary: %v", err)
	}
	if s.Validate != "" {
		v, ok := validators[s.Validate]
		if !ok {
			return fail("unknown validator %q", s.Validate)
		}
		r.validate = v
	}
	for _, a := range s.Allow {
		re, err := compileRe(a)
		if err != nil {
			return fail("allow: %v", err)
		}
		r.allow = append(r.allow, re)
	}
	if s.DenyBefore != "" {
		if r.denyBefore, err = compileRe(s.DenyBefore); err != nil {
			return fail("deny_before: %v", err)
		}
	}
	for _, c := range s.Context {
		cc := compiledContext{distance: c.Distance, confidence: c.Confidence}
		re, err := compileRe(c.Regex)
		if err != nil {
			return fail("context: %v", err)
		}
		cc.re = newNearRe(re)
		if cc.distance == 0 {
			cc.distance = r.reach
		}
		if cc.distance < 0 || cc.distance > maxDistance {
			return fail("context distance must be 0-%d", maxDistance)
		}
		if cc.confidence == "" {
			cc.confidence = r.Confidence
		}
		if cc.confidence.rank() == 0 {
			return fail("context confidence must be low, medium or high")
		}
		r.contexts = append(r.contexts, cc)
	}
	if s.Pair != nil {
		p := &compiledPair{distance: s.Pair.Distance}
		if p.re, err = compileRe(s.Pair.Regex); err != nil {
			return fail("pair: %v", err)
		}
		if p.distance == 0 {
			p.distance = 300
		}
		if p.distance < 0 || p.distance > maxDistance {
			return fail("pair distance must be 0-%d", maxDistance)
		}
		pb := s.Pair.Boundary
		if pb == "" {
			pb = "A-Za-z0-9_-"
		}
		if p.boundary, err = parseClass(pb); err != nil {
			return fail("pair boundary: %v", err)
		}
		r.pair = p
	}
	if s.Endpoint != "" {
		if r.endpoint, err = compileRe(s.Endpoint); err != nil {
			return fail("endpoint: %v", err)
		}
	}
	if err := compileEvidence(r, s.Evidence, s.Score); err != nil {
		return fail("%v", err)
	}
	return r, nil
}

func compileRe(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, errors.New("empty expression")
	}
	if len(expr) > maxRegexLen {
		return nil, fmt.Errorf("longer than %d bytes", maxRegexLen)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	if re.MatchString("") {
		return nil, errors.New("matches the empty string")
	}
	return re, nil
}

// parseClass turns a character class body such as "A-Za-z0-9_-" into a byte set.
func parseClass(s string) ([256]bool, error) {
	var set [256]bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i+2 < len(s) && s[i+1] == '-' {
			hi := s[i+2]
			if hi < c {
				return set, fmt.Errorf("bad range %c-%c", c, hi)
			}
			for x := int(c); x <= int(hi); x++ {
				set[x] = true
			}
			i += 2
			continue
		}
		set[c] = true
	}
	return set, nil
}

// maxPieceMatch bounds the match length for which windows are searched in
// pieces (see pieceLen).
const maxPieceMatch = 1024

// maxMatchLen returns the longest match of expr in bytes, or 0 when it is
// unbounded (a *, + or open repeat), anchored or too long to search
// windows in pieces. Anchors and word boundaries depend on text outside a
// piece, so such expressions are searched whole.
func maxMatchLen(expr string) int {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0
	}
	n := maxLenOf(re.Simplify())
	if n <= 0 || n > maxPieceMatch {
		return 0
	}
	return n
}

// maxLenOf returns the longest match of re in bytes, or -1 when unbounded
// or context-dependent.
func maxLenOf(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return 0
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += utf8.RuneLen(r)
		}
		return n
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return utf8.UTFMax
	case syntax.OpCapture:
		return maxLenOf(re.Sub[0])
	case syntax.OpConcat, syntax.OpAlternate:
		// A sequence is as long as its parts together, a choice as its
		// longest; either is unbounded if one of its parts is.
		n := 0
		for _, s := range re.Sub {
			m := maxLenOf(s)
			if m < 0 {
				return -1
			}
			if re.Op == syntax.OpConcat {
				n += m
			} else {
				n = max(n, m)
			}
		}
		return n
	case syntax.OpQuest:
		return maxLenOf(re.Sub[0])
	case syntax.OpRepeat:
		if re.Max < 0 {
			return -1
		}
		m := maxLenOf(re.Sub[0])
		if m < 0 {
			return -1
		}
		return m * re.Max
	}
	return -1 // star, plus, anchors, word boundaries
}
