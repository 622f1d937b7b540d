package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/keys"
)

// KeyLookup returns the key record with the given id. Errors (not found
// included) refuse the request. The gateway passes a look-up through its
// key cache, which drops changed keys within a poll interval, so a
// suspended or revoked key stops everything that runs under it.
type KeyLookup func(ctx context.Context, id string) (*keys.Key, error)

// ErrNoPolicy is returned when a proven identity matches no policy.
var ErrNoPolicy = errors.New("identity: no policy matches this identity")

// policy maps identities that match to the key record they run under.
type policy struct {
	name     string
	kind     string // "oidc" or "mtls": the prefix of identity ids
	match    []matcher
	template *keys.Key // from key_spec; nil when keyID is set
	keyID    string
}

type matcher struct {
	claim   string
	pattern glob
}

// policies is every policy by name, shared by the authenticators and the
// token issuer (a token names its policy, which is re-resolved on each use,
// so a policy removed from the configuration stops its tokens).
type policies struct {
	byName map[string]*policy
	lookup KeyLookup
}

func newPolicy(kind string, i int, c config.IdentityPolicy, now time.Time) (*policy, error) {
	name := c.Name
	switch {
	case name != "":
	case c.KeySpec != nil && c.KeySpec.Name != "":
		name = c.KeySpec.Name
	default:
		name = c.KeyID
	}
	where := fmt.Sprintf("%s policy %d (%q)", kind, i, name)
	if name == "" || len(name) > 100 || strings.ContainsAny(name, "#\x00\n") {
		return nil, fmt.Errorf("identity: %s: needs a name of 1-100 characters without '#'", where)
	}
	if (c.KeySpec == nil) == (c.KeyID == "") {
		return nil, fmt.Errorf("identity: %s: set exactly one of key_spec and key_id", where)
	}
	p := &policy{name: name, kind: kind, keyID: c.KeyID}
	names := slices.Sorted(maps.Keys(c.Match))
	for _, claim := range names {
		g, err := parseGlob(c.Match[claim])
		if err != nil {
			return nil, fmt.Errorf("identity: %s: match %q: %w", where, claim, err)
		}
		p.match = append(p.match, matcher{claim: claim, pattern: g})
	}
	if s := c.KeySpec; s != nil {
		k := keys.FromSpec(keys.Spec{Name: s.Name, Owner: s.Owner, Labels: s.Labels, Models: s.Models,
			Endpoints: s.Endpoints, CIDRs: s.CIDRs, RPM: s.RPM, TPM: s.TPM, MaxConcurrent: s.MaxConcurrent,
			MonthlyBudgetUSD: s.MonthlyBudgetUSD}, keys.Hash{}, now)
		if k.Name == "" {
			k.Name = name
		}
		k.ID = kind + ":" + name
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("identity: %s: key_spec: %w", where, err)
		}
		p.template = k
	}
	return p, nil
}

func (ps *policies) add(p *policy) error {
	if ps.byName == nil {
		ps.byName = map[string]*policy{}
	}
	if _, dup := ps.byName[p.name]; dup {
		return fmt.Errorf("identity: policy name %q used twice; names must be unique across issuers and mtls", p.name)
	}
	ps.byName[p.name] = p
	return nil
}

// matches reports whether every matcher holds for the claims.
func (p *policy) matches(claims map[string]any) bool {
	for _, m := range p.match {
		if !m.pattern.matchesValue(claimAt(claims, m.claim)) {
			return false
		}
	}
	return true
}

// matchesValue compares a claim's value: strings, numbers and booleans by
// their text, lists by any element. A missing claim matches nothing, not
// even "*".
func (g glob) matchesValue(v any) bool {
	switch v := v.(type) {
	case string:
		return g.match(v)
	case float64:
		return g.match(strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		return g.match(strconv.FormatBool(v))
	case []any:
		for i, e := range v {
			if i >= 256 {
				return false
			}
			if _, nested := e.([]any); !nested && g.matchesValue(e) {
				return true
			}
		}
	case []string:
		for _, e := range v {
			if g.match(e) {
				return true
			}
		}
	}
	return false
}

// claimAt finds a claim by name, or by a dotted path into nested objects.
// Claim names may contain dots themselves ("kubernetes.io"), so at each
// level the whole remaining name is tried first, then each dot from the
// left.
func claimAt(m map[string]any, name string) any {
	if v, ok := m[name]; ok {
		return v
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '.' {
			continue
		}
		sub, ok := m[name[:i]].(map[string]any)
		if !ok {
			continue
		}
		if v := claimAt(sub, name[i+1:]); v != nil {
			return v
		}
	}
	return nil
}

// first returns the first policy of list that matches claims.
func first(list []*policy, claims map[string]any) *policy {
	for _, p := range list {
		if p.matches(claims) {
			return p
		}
	}
	return nil
}

// resolve returns the key record the identity subject runs under by
// policy p. For a key_spec policy it is a copy of the template named for
// the identity, "KIND:POLICY#SUBJECT", so limits and budgets apply per
// identity; for a key_id policy it is that key itself (status included).
func (ps *policies) resolve(ctx context.Context, p *policy, subject string) (*keys.Key, error) {
	if p.keyID != "" {
		if ps.lookup == nil {
			return nil, errors.New("identity: no key look-up configured")
		}
		k, err := ps.lookup(ctx, p.keyID)
		if err != nil {
			return nil, fmt.Errorf("identity: policy %q: key %s: %w", p.name, p.keyID, err)
		}
		if k == nil {
			return nil, fmt.Errorf("identity: policy %q: key %s not found", p.name, p.keyID)
		}
		return k, nil
	}
	k := p.template.Clone()
	k.ID = p.template.ID + "#" + subjectID(subject)
	if k.Labels == nil {
		k.Labels = map[string]string{}
	}
	k.Labels["identity"] = subject
	return k, nil
}

// subjectID makes a subject fit an id: printable, at most 120 bytes (a
// longer or odd one is replaced by a hash of itself).
func subjectID(s string) string {
	ok := len(s) > 0 && len(s) <= 120
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] > ' ' && s[i] < 0x7f
	}
	if ok {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:12])
}
