package keys

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Status is where a key stands in its lifecycle.
type Status string

const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended" // reversible: an operator or the detector may resume it
	StatusRevoked   Status = "revoked"   // final
)

// Kind tells ordinary keys from decoys.
type Kind string

const (
	KindStandard Kind = "standard"
	// KindCanary is a decoy: it is never given to a real client, so every use
	// is an attacker's.
	KindCanary Kind = "canary"
)

// Action is a containment measure the detector (or an operator) has put on a
// key short of suspending it.
type Action string

const (
	ActionNone     Action = ""
	ActionThrottle Action = "throttle" // limits cut to a fraction
	ActionStepUp   Action = "step_up"  // only known networks and fingerprints pass
)

// Key is the record Warden keeps for one key: identity, scope, limits and
// lifecycle. It never holds the secret, only its Hash.
type Key struct {
	ID     string            `json:"id"`
	Hash   Hash              `json:"-"`
	Name   string            `json:"name"`
	Owner  string            `json:"owner,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Kind   Kind              `json:"kind"`

	// Scope. Empty means no restriction.
	Models    []string `json:"models,omitempty"`    // client-facing model or deployment names
	Endpoints []string `json:"endpoints,omitempty"` // endpoint names, see gateway's Endpoint constants
	CIDRs     []string `json:"cidrs,omitempty"`     // allowed client networks

	// Limits. Zero means unlimited.
	RPM              int     `json:"rpm,omitempty"`
	TPM              int     `json:"tpm,omitempty"`
	MaxConcurrent    int     `json:"max_concurrent,omitempty"`
	MonthlyBudgetUSD float64 `json:"monthly_budget_usd,omitempty"`

	ExpiresAt *time.Time `json:"expires_at,omitempty"`

	Status       Status     `json:"status"`
	StatusReason string     `json:"status_reason,omitempty"`
	StatusBy     string     `json:"status_by,omitempty"` // "admin", "cli", "detector", "scanner", ...
	StatusAt     *time.Time `json:"status_at,omitempty"`

	// Containment short of suspension, set by the detector.
	Action       Action     `json:"action,omitempty"`
	ActionReason string     `json:"action_reason,omitempty"`
	ActionUntil  *time.Time `json:"action_until,omitempty"`

	// Rotation: a rotated key keeps working until GraceUntil.
	RotatedTo   string     `json:"rotated_to,omitempty"`
	RotatedFrom string     `json:"rotated_from,omitempty"`
	GraceUntil  *time.Time `json:"grace_until,omitempty"`

	// Policies of later features, kept as opaque documents per domain
	// (guard policy, audit retention, ...), so the key record need not change
	// when a domain adds a field.
	Policies map[string]any `json:"policies,omitempty"`

	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	LastUsedIP string     `json:"last_used_ip,omitempty"`
}

// NewID returns a fresh public key identifier such as key_7kq2m4x9c3va5tbe.
// Ids are not secret; they name a key in logs, events and the admin API.
func NewID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("keys: crypto/rand failed: " + err.Error()) // broken invariant of the OS
	}
	return "key_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Usable reports whether the key may authenticate a request at now, and if
// not, why. Expired and revoked keys are not usable; a rotated key is usable
// until its grace period ends.
func (k *Key) Usable(now time.Time) (bool, string) {
	switch k.Status {
	case StatusActive:
	case StatusSuspended:
		return false, "key is suspended"
	case StatusRevoked:
		return false, "key is revoked"
	default:
		return false, "key has an unknown status"
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return false, "key has expired"
	}
	if k.GraceUntil != nil && !now.Before(*k.GraceUntil) {
		return false, "key was rotated and its grace period has ended"
	}
	return true, ""
}

// AllowsModel reports whether the key may use the client-facing model name.
func (k *Key) AllowsModel(model string) bool {
	return len(k.Models) == 0 || slices.Contains(k.Models, model) || slices.Contains(k.Models, "*")
}

// AllowsEndpoint reports whether the key may call the named endpoint.
func (k *Key) AllowsEndpoint(endpoint string) bool {
	return len(k.Endpoints) == 0 || slices.Contains(k.Endpoints, endpoint)
}

// AllowsAddr reports whether a client at addr may use the key.
func (k *Key) AllowsAddr(addr netip.Addr) bool {
	if len(k.CIDRs) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, c := range k.CIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			continue // validated on write; a bad entry grants nothing
		}
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Validate checks a key record before it is stored.
func (k *Key) Validate() error {
	if k.ID == "" {
		return errors.New("keys: missing id")
	}
	if strings.TrimSpace(k.Name) == "" {
		return errors.New("keys: missing name")
	}
	if len(k.Name) > 200 {
		return errors.New("keys: name longer than 200 characters")
	}
	for _, c := range k.CIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			return fmt.Errorf("keys: bad CIDR %q: %w", c, err)
		}
	}
	if k.RPM < 0 || k.TPM < 0 || k.MaxConcurrent < 0 || k.MonthlyBudgetUSD < 0 {
		return errors.New("keys: limits must not be negative")
	}
	switch k.Status {
	case StatusActive, StatusSuspended, StatusRevoked:
	default:
		return fmt.Errorf("keys: unknown status %q", k.Status)
	}
	switch k.Kind {
	case KindStandard, KindCanary:
	default:
		return fmt.Errorf("keys: unknown kind %q", k.Kind)
	}
	return nil
}

// Clone returns a deep copy, so cached records can be handed out safely.
func (k *Key) Clone() *Key {
	c := *k
	c.Models = slices.Clone(k.Models)
	c.Endpoints = slices.Clone(k.Endpoints)
	c.CIDRs = slices.Clone(k.CIDRs)
	if k.Labels != nil {
		c.Labels = make(map[string]string, len(k.Labels))
		for a, b := range k.Labels {
			c.Labels[a] = b
		}
	}
	if k.Policies != nil {
		c.Policies = make(map[string]any, len(k.Policies))
		for a, b := range k.Policies {
			c.Policies[a] = b
		}
	}
	return &c
}
