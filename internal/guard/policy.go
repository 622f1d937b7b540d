package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"gopkg.in/yaml.v3"
)

// Rule says what to do with one category: Action when the score reaches
// Threshold; otherwise flag when the score reaches FlagThreshold (0: never).
type Rule struct {
	Action        Action  `json:"action" yaml:"action"`
	Threshold     float64 `json:"threshold" yaml:"threshold"`
	FlagThreshold float64 `json:"flag_threshold,omitempty" yaml:"flag_threshold,omitempty"`
}

// Policy is the guard configuration of a key or team.
//
// Example (YAML; JSON has the same fields):
//
//	categories:
//	  jailbreak: {action: block, threshold: 0.5, flag_threshold: 0.35}
//	  hate:      {action: flag,  threshold: 0.5}
//	  malware:   {action: allow, threshold: 1}
//	image_prompt:
//	  sexual:    {action: block, threshold: 0.3}
//	image_factor: 0.7
//
// Categories missing from Categories take DefaultPolicy's rule. For image
// prompts, ImagePrompt overrides a category's rule; categories it does not
// name have their thresholds multiplied by ImageFactor (stricter when < 1).
// Answers and streams are judged on harm categories only: jailbreak and
// injection are attacks on the model, found in prompts.
type Policy struct {
	Categories  map[Category]Rule `json:"categories,omitempty" yaml:"categories,omitempty"`
	ImagePrompt map[Category]Rule `json:"image_prompt,omitempty" yaml:"image_prompt,omitempty"`
	ImageFactor float64           `json:"image_factor,omitempty" yaml:"image_factor,omitempty"`

	// resolved rules per stage kind, filled by compile.
	text, image [NumCategories]Rule
}

// DefaultImageFactor is how much lower thresholds are for image prompts.
const DefaultImageFactor = 0.7

// DefaultPolicy blocks every category at the calibrated operating point (0.5)
// and flags from 0.35; sexual content involving minors is blocked from 0.3.
// Image prompts: thresholds x0.7, sexual and violence blocked from 0.3.
func DefaultPolicy() *Policy {
	p := &Policy{Categories: map[Category]Rule{}, ImagePrompt: map[Category]Rule{}, ImageFactor: DefaultImageFactor}
	for _, c := range Categories {
		p.Categories[c] = Rule{Action: Block, Threshold: 0.5, FlagThreshold: 0.35}
	}
	p.Categories[SexualMinors] = Rule{Action: Block, Threshold: 0.3, FlagThreshold: 0.2}
	p.ImagePrompt[Sexual] = Rule{Action: Block, Threshold: 0.3, FlagThreshold: 0.2}
	p.ImagePrompt[SexualMinors] = Rule{Action: Block, Threshold: 0.2, FlagThreshold: 0.1}
	p.ImagePrompt[Violence] = Rule{Action: Block, Threshold: 0.3, FlagThreshold: 0.2}
	if err := p.compile(); err != nil {
		panic(err) // the default policy is a constant
	}
	return p
}

var defaultPolicy = DefaultPolicy()

// DecodePolicy reads a policy from JSON or YAML (detected by the first
// non-space byte), rejecting unknown fields, categories and actions.
func DecodePolicy(data []byte) (*Policy, error) {
	var p Policy
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("guard: policy: %w", err)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("guard: policy: %w", err)
		}
	}
	if err := p.compile(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks p and prepares it for use. Call it after building a Policy
// in code; DecodePolicy and DefaultPolicy call it.
func (p *Policy) Validate() error { return p.compile() }

func (p *Policy) compile() error {
	def := defaultRulesTable()
	if p.ImageFactor == 0 {
		p.ImageFactor = DefaultImageFactor
	}
	if p.ImageFactor < 0 || p.ImageFactor > 1 {
		return fmt.Errorf("guard: policy: image_factor %v not in (0,1]", p.ImageFactor)
	}
	for _, m := range []map[Category]Rule{p.Categories, p.ImagePrompt} {
		for _, c := range sortedKeys(m) {
			if c.Index() < 0 {
				return fmt.Errorf("guard: policy: unknown category %q", c)
			}
			if err := m[c].check(); err != nil {
				return fmt.Errorf("guard: policy: category %s: %w", c, err)
			}
		}
	}
	for i, c := range Categories {
		r, ok := p.Categories[c]
		if !ok {
			r = def[i]
		}
		p.text[i] = r
		if ir, ok := p.ImagePrompt[c]; ok {
			p.image[i] = ir
		} else {
			r.Threshold *= p.ImageFactor
			r.FlagThreshold *= p.ImageFactor
			p.image[i] = r
		}
	}
	return nil
}

func (r Rule) check() error {
	switch r.Action {
	case Allow, Flag, Block:
	default:
		return fmt.Errorf("unknown action %q (want allow, flag or block)", r.Action)
	}
	if r.Threshold < 0 || r.Threshold > 1 || r.FlagThreshold < 0 || r.FlagThreshold > 1 {
		return errors.New("thresholds must be within 0..1")
	}
	return nil
}

func defaultRulesTable() [NumCategories]Rule {
	var t [NumCategories]Rule
	for i, c := range Categories {
		t[i] = Rule{Action: Block, Threshold: 0.5, FlagThreshold: 0.35}
		if c == SexualMinors {
			t[i] = Rule{Action: Block, Threshold: 0.3, FlagThreshold: 0.2}
		}
	}
	return t
}

func sortedKeys(m map[Category]Rule) []Category {
	keys := make([]Category, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// decide applies the policy to scores.
func (p *Policy) decide(stage Stage, sc Scores, ruleID string) Result {
	if !p.compiledOK() {
		// Not validated: judge with a validated copy, never mutate p here
		// (it may be shared between goroutines).
		cp := *p
		if err := cp.compile(); err != nil {
			cp = *defaultPolicy
		}
		p = &cp
	}
	table := &p.text
	if stage == StageImagePrompt {
		table = &p.image
	}
	res := Result{Stage: stage, Action: Allow, Scores: sc, Rule: ruleID}
	type hit struct {
		i    int
		rank int
		s    float64
	}
	var hits [NumCategories]hit
	n := 0
	for i, c := range Categories {
		if c.IsAttack() && (stage == StageAnswer || stage == StageStream) {
			continue
		}
		r := table[i]
		a := Allow
		switch {
		case r.Action != Allow && sc[i] >= r.Threshold:
			a = r.Action
		case r.FlagThreshold > 0 && sc[i] >= r.FlagThreshold:
			a = Flag
		}
		if a == Allow {
			continue
		}
		hits[n] = hit{i, a.rank(), sc[i]}
		n++
		if a.rank() > res.Action.rank() {
			res.Action = a
		}
	}
	if n > 0 {
		hs := hits[:n]
		sort.Slice(hs, func(a, b int) bool {
			if hs[a].rank != hs[b].rank {
				return hs[a].rank > hs[b].rank
			}
			return hs[a].s > hs[b].s
		})
		res.Triggered = make([]Category, n)
		for k, h := range hs {
			res.Triggered[k] = Categories[h.i]
		}
	}
	return res
}

// compiledOK reports whether compile has run (a zero Rule has no action).
func (p *Policy) compiledOK() bool { return p.text[0].Action != "" }
