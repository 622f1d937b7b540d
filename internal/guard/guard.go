// Package guard judges prompts and answers for jailbreaks, prompt injection
// and harmful content, offline and in microseconds, and says what to do about
// them under a per-key or per-team Policy.
//
// A text is judged in layers:
//
//  1. Normalisation (package textnorm): NFKC, invisible and bidi characters
//     removed, tag characters revealed, homoglyphs and leetspeak folded,
//     spelled-out letters joined. Base64, hex, percent-encoded and rot13 spans
//     are decoded (depth-limited) and judged as well.
//  2. Rules (rules.go): a versioned list of phrases matched with one
//     Aho-Corasick automaton over the normalised text: known jailbreak
//     templates (DAN and kin), instruction-override and system-prompt
//     extraction phrases, the de3u "VERBATIM" image-prompt wrapper, the "Obey"
//     probe, chat-template tokens such as <|im_start|>, and high-precision
//     harm phrases. Rules see all texts of a request together, so a probe
//     split across the system and user messages is still caught.
//  3. Models (package linear): hashed word and character n-gram logistic
//     regressions trained in this repository (go run ./internal/guard/train)
//     on /work/shared/datasets/guard, embedded in the binary, one head per
//     category plus an "any harm" head; long texts are judged in windows so a
//     short injection in a long document is not diluted.
//
// Scores are 0..1 per Category, where 0.5 is each model head's calibrated
// operating point (see docs/guard-model-card.md). The Policy turns scores into
// an Action (allow, flag, block) per category and stage; image prompts are
// judged more strictly by default. Result.Verdict gives the event.Verdict the
// detector consumes; azure.go builds the Azure OpenAI content-filter JSON.
//
// The guard makes no network calls; external moderators (package
// guard/moderator) are optional and separate.
package guard

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/guard/linear"
	"github.com/wardenhq/warden/internal/guard/textnorm"
)

// Category is a kind of content the guard judges.
type Category string

// Categories. Harm categories follow Azure's (hate, sexual, violence,
// self_harm) with the ones Azure lacks made explicit.
const (
	Jailbreak       Category = "jailbreak"        // attempts to lift the model's rules (DAN, role-play, adversarial suffixes)
	PromptInjection Category = "prompt_injection" // instruction override, system-prompt extraction, chat-template smuggling
	Sexual          Category = "sexual"
	SexualMinors    Category = "sexual_minors"
	Violence        Category = "violence"
	SelfHarm        Category = "self_harm"
	Hate            Category = "hate"    // includes harassment
	Weapons         Category = "weapons" // incl. chemical, biological, radiological, nuclear
	Malware         Category = "malware" // malware, intrusion, cybercrime
	Illicit         Category = "illicit" // other crime: fraud, drugs, trafficking, disinformation campaigns
)

// Categories lists every category in a fixed order, the order of Scores.
var Categories = [...]Category{Jailbreak, PromptInjection, Sexual, SexualMinors, Violence, SelfHarm, Hate, Weapons, Malware, Illicit}

// NumCategories is len(Categories).
const NumCategories = len(Categories)

// Index returns c's position in Categories, or -1.
func (c Category) Index() int {
	for i, k := range Categories {
		if k == c {
			return i
		}
	}
	return -1
}

// IsAttack reports whether c is about attacks on the model rather than harmful
// content. Attacks are judged in prompts only.
func (c Category) IsAttack() bool { return c == Jailbreak || c == PromptInjection }

// Stage is where a text was found.
type Stage string

// Stages.
const (
	StagePrompt      Stage = "prompt"
	StageImagePrompt Stage = "image_prompt"
	StageAnswer      Stage = "answer"
	StageStream      Stage = "stream"
)

// Action is what a policy says to do.
type Action string

// Actions, from mildest to strongest.
const (
	Allow Action = "allow"
	Flag  Action = "flag"
	Block Action = "block"
)

func (a Action) rank() int {
	switch a {
	case Flag:
		return 1
	case Block:
		return 2
	}
	return 0
}

// Scores holds one score in 0..1 per category, in the order of Categories.
type Scores [NumCategories]float64

// Get returns the score of c.
func (s *Scores) Get(c Category) float64 {
	if i := c.Index(); i >= 0 {
		return s[i]
	}
	return 0
}

// Map returns the scores as a map keyed by category name.
func (s *Scores) Map() map[string]float64 {
	m := make(map[string]float64, NumCategories)
	for i, c := range Categories {
		m[string(c)] = round3(s[i])
	}
	return m
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// Result is the guard's judgment of the texts of one request or answer.
type Result struct {
	Stage     Stage
	Action    Action
	Scores    Scores
	Triggered []Category // categories whose rule fired (flag or block), strongest first
	Rule      string     // id of the first matched rule, if any
}

// Blocked reports whether the result is a block.
func (r *Result) Blocked() bool { return r.Action == Block }

// Verdict returns r as the event record's verdict. Allowed results carry no
// scores, to keep events small.
func (r *Result) Verdict() event.Verdict {
	v := event.Verdict{Stage: string(r.Stage), Action: string(r.Action), Rule: r.Rule}
	if len(r.Triggered) > 0 {
		v.Category = string(r.Triggered[0])
	}
	if r.Action != Allow {
		v.Scores = r.Scores.Map()
	}
	return v
}

//go:embed model/guard.wglm
var embeddedModel []byte

// Options configure New. The zero value uses the embedded model.
type Options struct {
	// Model, when set, replaces the embedded model (for experiments).
	Model *linear.Model
}

// Guard judges texts. It is safe for concurrent use.
type Guard struct {
	model *linear.Model
	rules *ruleSet
	heads headIndex
	pool  sync.Pool // *scratch
}

// headIndex maps categories to model heads (-1: no head).
type headIndex struct {
	cat     [NumCategories]int
	harmful int
}

// New returns a Guard with the embedded model.
func New(opts Options) (*Guard, error) {
	m := opts.Model
	if m == nil {
		var err error
		m, err = linear.Load(bytes.NewReader(embeddedModel))
		if err != nil {
			return nil, fmt.Errorf("guard: loading embedded model: %w", err)
		}
	}
	g := &Guard{model: m, rules: defaultRules()}
	for i, c := range Categories {
		g.heads.cat[i] = m.Head(string(c))
	}
	g.heads.harmful = m.Head("harmful")
	if g.heads.harmful < 0 {
		return nil, errors.New("guard: model has no harmful head")
	}
	g.pool.New = func() any { return newScratch(len(m.Heads)) }
	return g, nil
}

// Limits on what one Check judges. Text beyond them is not judged; the
// gateway's request size limit is the first line, these are the second.
const (
	MaxTexts     = 1024      // texts per Check
	MaxTextBytes = 256 << 10 // bytes judged per text
	MaxTotal     = 1 << 20   // bytes judged per Check
	window       = 2048      // bytes per model window
)

type scratch struct {
	norm   []byte
	acc    []int32
	tot    []int32
	logits []float32
	best   []float32
}

func newScratch(heads int) *scratch {
	return &scratch{
		norm: make([]byte, 0, 4096), acc: make([]int32, heads), tot: make([]int32, heads),
		logits: make([]float32, heads), best: make([]float32, heads),
	}
}

// Check judges texts found at stage under policy p (nil: DefaultPolicy).
// The context is accepted for symmetry with external moderators; Check does
// no I/O and finishes in microseconds.
func (g *Guard) Check(ctx context.Context, stage Stage, texts []string, p *Policy) Result {
	_ = ctx
	if p == nil {
		p = defaultPolicy
	}
	s := g.pool.Get().(*scratch)
	defer g.pool.Put(s)

	var sc Scores
	ruleID := ""
	total := 0
	rs := newRuleState(g.rules)
	for i, t := range texts {
		if i >= MaxTexts || total >= MaxTotal {
			break
		}
		if len(t) > MaxTextBytes {
			t = t[:MaxTextBytes]
		}
		total += len(t)
		g.judge(s, t, &sc, &rs)
		for _, d := range textnorm.Decode(t) {
			g.judge(s, d, &sc, &rs)
		}
	}
	if id := rs.apply(g.rules, &sc); id != "" {
		ruleID = id
	}
	return p.decide(stage, sc, ruleID)
}

// judge scores one text (already bounded) into sc and feeds the rule state.
func (g *Guard) judge(s *scratch, text string, sc *Scores, rs *ruleState) {
	s.norm = textnorm.Normalize(s.norm[:0], text)
	b := s.norm
	if len(b) == 0 {
		return
	}
	rs.scan(g.rules, b)
	m := g.model
	for j := range s.best {
		s.best[j] = -1e9
		s.tot[j] = 0
	}
	nTot := 0
	// Windows end at a space near the window size, so words stay whole.
	for start := 0; start < len(b); {
		end := start + window
		if end >= len(b) || len(b)-start < window+window/2 {
			end = len(b)
		} else if k := bytes.LastIndexByte(b[start+window/2:end], ' '); k >= 0 {
			end = start + window/2 + k
		}
		clear(s.acc)
		n := m.Accumulate(b[start:end], s.acc)
		nTot += n
		for j := range s.acc {
			s.tot[j] += s.acc[j]
		}
		if start > 0 || end < len(b) { // several windows: judge each
			m.Logits(s.acc, n, s.logits)
			maxInto(s.best, s.logits)
		}
		start = end
	}
	m.Logits(s.tot, nTot, s.logits)
	maxInto(s.best, s.logits)

	// Category heads. A harm category head alone is trained on few examples;
	// it may raise its category only as far as the any-harm head agrees
	// (gate), so that seven small heads do not add up their false positives.
	// Hate is exempt: its head is trained on hateful posts, which are not
	// requests and which the any-harm head does not learn.
	// A text of a few features is mostly bias: its scores are shrunk in
	// proportion to the evidence, so "The" or "Hi" is not judged at all.
	conf := min(1, float64(nTot)/minEvidence)
	hj := g.heads.harmful
	ph := conf * m.Probability(hj, s.best[hj])
	for i, c := range Categories {
		j := g.heads.cat[i]
		if j < 0 {
			continue
		}
		p := conf * m.Probability(j, s.best[j])
		if !c.IsAttack() && c != Hate {
			p = min(p, ph+harmGate)
		}
		sc[i] = max(sc[i], p)
	}
	// Any-harm head: when it fires, the likeliest harm category carries it.
	if ph >= 0.2 {
		bestI, bestZ := -1, float32(-1e9)
		for i, c := range Categories {
			j := g.heads.cat[i]
			if j < 0 || c.IsAttack() {
				continue
			}
			if z := s.best[j] - m.Threshold[j]; z > bestZ {
				bestI, bestZ = i, z
			}
		}
		if bestI >= 0 {
			sc[bestI] = max(sc[bestI], ph)
		}
	}
}

// minEvidence is the number of distinct features from which model scores
// count in full (a short question has about 20).
const minEvidence = 12

// harmGate is how far above the any-harm score a harm category head may go.
const harmGate = 0.15

func maxInto(dst, src []float32) {
	for j, v := range src {
		if v > dst[j] {
			dst[j] = v
		}
	}
}
