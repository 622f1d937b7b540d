package main

import (
	"encoding/json"
	"fmt"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/guard/moderator"
	"github.com/wardenhq/warden/internal/keys"
)

// newGuard provisions the guard and its policy resolver from the config.
// A disabled guard returns nils: the gateway then inspects nothing.
func newGuard(c config.Guard) (*guard.Guard, func(*keys.Key) *guard.Policy, error) {
	if c.Disabled {
		return nil, nil, nil
	}
	g, err := guard.New(guard.Options{})
	if err != nil {
		return nil, nil, err
	}
	r := &guard.Resolver{Teams: map[string]*guard.Policy{}}
	decode := func(doc map[string]any) (*guard.Policy, error) {
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		return guard.DecodePolicy(b)
	}
	if c.Policy != nil {
		if r.Default, err = decode(c.Policy); err != nil {
			return nil, nil, fmt.Errorf("config: guard.policy: %w", err)
		}
	}
	for team, doc := range c.Teams {
		p, err := decode(doc)
		if err != nil {
			return nil, nil, fmt.Errorf("config: guard.teams.%s: %w", team, err)
		}
		r.Teams[team] = p
	}
	return g, r.Policy, nil
}

// newModerators builds the chain of external moderators, or nil when the
// config names none.
func newModerators(g *guard.Guard, c config.Guard) (*moderator.Chain, error) {
	if g == nil || len(c.Moderators) == 0 {
		return nil, nil
	}
	ch, err := moderator.NewChain(g, c.Moderators, nil)
	if err != nil {
		return nil, fmt.Errorf("config: guard.moderators: %w", err)
	}
	return ch, nil
}
