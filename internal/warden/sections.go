package warden

import (
	"encoding/json"
	"fmt"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/authn"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/guard/moderator"
	"github.com/wardenhq/warden/internal/keys"
)

// Sections are the parts of the configuration that feature packages own,
// decoded into their own types. Package config keeps them as raw
// config.Sections so it imports no feature.
type Sections struct {
	Audit      audit.Config
	Detect     detect.Config
	Moderators []moderator.Config
	Operators  authn.Config
}

// DecodeSections decodes c's feature sections as strictly as config.Parse
// decodes the rest: an unknown field in any of them is an error that names
// the section.
func DecodeSections(c *config.Config) (Sections, error) {
	var s Sections
	for _, x := range []struct {
		name string
		sec  config.Section
		into any
	}{
		{"audit", c.Audit, &s.Audit},
		{"detect", c.Detect, &s.Detect},
		{"guard.moderators", c.Guard.Moderators, &s.Moderators},
		{"operators", c.Operators, &s.Operators},
	} {
		if err := x.sec.Decode(x.into); err != nil {
			return s, fmt.Errorf("%s: %w", x.name, err)
		}
	}
	if err := s.Detect.Validate(); err != nil {
		return s, fmt.Errorf("config: detect: %w", err)
	}
	if err := s.Operators.Validate(); err != nil {
		return s, fmt.Errorf("config: %w", err)
	}
	return s, nil
}

// newGuard provisions the guard and its policy resolver from the config.
// A disabled guard returns nils: the gateway then inspects nothing.
func newGuard(c config.Guard) (*guard.Guard, func(*keys.Key) *guard.Policy, error) {
	if c.Disabled {
		return nil, nil, nil
	}
	policies, err := guardPolicies(c)
	if err != nil {
		return nil, nil, err
	}
	g, err := guard.New(guard.Options{MemoEntries: c.MemoEntries})
	if err != nil {
		return nil, nil, err
	}
	return g, policies, nil
}

// guardPolicies builds the resolver of a key's guard policy (the config's
// default and per-team policies); a reload needs only this, not a guard.
func guardPolicies(c config.Guard) (func(*keys.Key) *guard.Policy, error) {
	r := &guard.Resolver{Teams: map[string]*guard.Policy{}}
	decode := func(doc map[string]any) (*guard.Policy, error) {
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		return guard.DecodePolicy(b)
	}
	var err error
	if c.Policy != nil {
		if r.Default, err = decode(c.Policy); err != nil {
			return nil, fmt.Errorf("config: guard.policy: %w", err)
		}
	}
	for team, doc := range c.Teams {
		p, err := decode(doc)
		if err != nil {
			return nil, fmt.Errorf("config: guard.teams.%s: %w", team, err)
		}
		r.Teams[team] = p
	}
	return r.Policy, nil
}

// newModerators builds the chain of external moderators, or nil when the
// config names none.
func newModerators(g *guard.Guard, cfgs []moderator.Config) (*moderator.Chain, error) {
	if g == nil || len(cfgs) == 0 {
		return nil, nil
	}
	ch, err := moderator.NewChain(g, cfgs, nil)
	if err != nil {
		return nil, fmt.Errorf("config: guard.moderators: %w", err)
	}
	return ch, nil
}
