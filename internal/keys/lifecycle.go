package keys

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is what the lifecycle needs of a key store (store.Keys has it).
type Store interface {
	CreateKey(ctx context.Context, k *Key) error
	UpdateKey(ctx context.Context, id string, fn func(*Key) error) (*Key, error)
	KeyByID(ctx context.Context, id string) (*Key, error)
}

// Spec is what an operator asks for when creating a key.
type Spec struct {
	Name             string            `json:"name"`
	Owner            string            `json:"owner,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	Models           []string          `json:"models,omitempty"`
	Endpoints        []string          `json:"endpoints,omitempty"`
	CIDRs            []string          `json:"cidrs,omitempty"`
	RPM              int               `json:"rpm,omitempty"`
	TPM              int               `json:"tpm,omitempty"`
	MaxConcurrent    int               `json:"max_concurrent,omitempty"`
	MonthlyBudgetUSD float64           `json:"monthly_budget_usd,omitempty"`
	ExpiresAt        *time.Time        `json:"expires_at,omitempty"`
	Kind             Kind              `json:"kind,omitempty"`
	Policies         map[string]any    `json:"policies,omitempty"`
}

// Create makes a new key from spec, stores its record and returns the
// secret, which exists nowhere else: it must be shown to the caller once.
func Create(ctx context.Context, s Store, spec Spec, now time.Time) (*Key, Secret, error) {
	sec, err := Generate(nil)
	if err != nil {
		return nil, Secret{}, fmt.Errorf("keys: generate: %w", err)
	}
	k := FromSpec(spec, sec.Hash(), now)
	if err := s.CreateKey(ctx, k); err != nil {
		return nil, Secret{}, err
	}
	return k, sec, nil
}

// FromSpec builds the record of a new key with the given hash.
func FromSpec(spec Spec, h Hash, now time.Time) *Key {
	kind := spec.Kind
	if kind == "" {
		kind = KindStandard
	}
	now = now.UTC()
	return &Key{
		ID: NewID(), Hash: h, Name: spec.Name, Owner: spec.Owner, Labels: spec.Labels, Kind: kind,
		Models: spec.Models, Endpoints: spec.Endpoints, CIDRs: spec.CIDRs,
		RPM: spec.RPM, TPM: spec.TPM, MaxConcurrent: spec.MaxConcurrent, MonthlyBudgetUSD: spec.MonthlyBudgetUSD,
		ExpiresAt: spec.ExpiresAt, Policies: spec.Policies,
		Status: StatusActive, CreatedAt: now, UpdatedAt: now,
	}
}

// ErrFinal is returned when a revoked key would be changed back.
var ErrFinal = errors.New("keys: key is revoked; revocation is final")

// SetStatus moves a key to status with a reason and who set it. A revoked
// key stays revoked.
func SetStatus(ctx context.Context, s Store, id string, status Status, reason, by string, now time.Time) (*Key, error) {
	return s.UpdateKey(ctx, id, func(k *Key) error {
		if k.Status == StatusRevoked && status != StatusRevoked {
			return ErrFinal
		}
		if k.Status == status && status == StatusRevoked {
			return nil
		}
		t := now.UTC()
		k.Status, k.StatusReason, k.StatusBy, k.StatusAt, k.UpdatedAt = status, reason, by, &t, t
		if status == StatusActive {
			k.Action, k.ActionReason, k.ActionUntil = ActionNone, "", nil
		}
		return nil
	})
}

// Rotate issues a successor of key id with the same scope and limits. The
// old key keeps working until now+grace, then stops.
func Rotate(ctx context.Context, s Store, id string, grace time.Duration, now time.Time) (*Key, Secret, error) {
	old, err := s.KeyByID(ctx, id)
	if err != nil {
		return nil, Secret{}, err
	}
	if ok, why := old.Usable(now); !ok {
		return nil, Secret{}, fmt.Errorf("keys: cannot rotate %s: %s", id, why)
	}
	sec, err := Generate(nil)
	if err != nil {
		return nil, Secret{}, fmt.Errorf("keys: generate: %w", err)
	}
	next := old.Clone()
	next.ID, next.Hash = NewID(), sec.Hash()
	next.CreatedAt, next.UpdatedAt = now.UTC(), now.UTC()
	next.RotatedFrom, next.RotatedTo, next.GraceUntil = old.ID, "", nil
	next.LastUsedAt, next.LastUsedIP = nil, ""
	next.StatusAt, next.StatusBy, next.StatusReason = nil, "", ""
	if err := s.CreateKey(ctx, next); err != nil {
		return nil, Secret{}, err
	}
	until := now.Add(grace).UTC()
	if _, err := s.UpdateKey(ctx, id, func(k *Key) error {
		k.RotatedTo, k.GraceUntil, k.UpdatedAt = next.ID, &until, now.UTC()
		return nil
	}); err != nil {
		return nil, Secret{}, fmt.Errorf("keys: successor %s created but %s not marked rotated: %w", next.ID, id, err)
	}
	return next, sec, nil
}
