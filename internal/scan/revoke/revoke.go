// Package revoke acts on leaked Warden keys: it looks found keys up in the
// key store and revokes the active ones, recording where each was found.
//
// Provider keys (OpenAI, Azure, AWS, ...) cannot be revoked by Warden; their
// findings carry the provider's revocation steps instead (see the rules
// data) and are left alone here.
//
// Canary (decoy) keys are never revoked by a scan: they are planted to be
// found, and every use of one is already an alarm.
package revoke

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/source"
	"github.com/wardenhq/warden/internal/store"
)

// Revoker revokes one Warden key.
//
// Revoke must be idempotent: revoking a key that is already revoked
// succeeds. reason says why (for the key's status_reason), where names the
// place the key was found (path:line, URL, commit). Implementations must be
// safe for concurrent use.
type Revoker interface {
	Revoke(ctx context.Context, keyID, reason, where string) error
}

// RevokerFunc adapts a function to a Revoker.
type RevokerFunc func(ctx context.Context, keyID, reason, where string) error

// Revoke calls f.
func (f RevokerFunc) Revoke(ctx context.Context, keyID, reason, where string) error {
	return f(ctx, keyID, reason, where)
}

// Revocation describes one key revoked, for incident records and alerts.
type Revocation struct {
	KeyID  string
	Owner  string
	Reason string
	Where  string
	At     time.Time
}

// Store looks keys up in and revokes them through a store.Keys. It
// implements both scan.KeyLookup and Revoker.
type Store struct {
	Keys store.Keys
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnRevoke, when not nil, is called after each key this Store actually
	// revoked (not for keys already revoked): the place to record an
	// incident and notify the owner through the alert sinks. Its error is
	// returned from Revoke, after the key is revoked.
	OnRevoke func(ctx context.Context, r Revocation) error
}

// LookupHash implements scan.KeyLookup.
func (s *Store) LookupHash(ctx context.Context, h keys.Hash) (scan.KeyInfo, error) {
	k, err := s.Keys.KeyByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return scan.KeyInfo{}, scan.ErrUnknownKey
	}
	if err != nil {
		return scan.KeyInfo{}, fmt.Errorf("revoke: %w", err)
	}
	return scan.KeyInfo{ID: k.ID, Name: k.Name, Owner: k.Owner, Status: k.Status, Kind: k.Kind}, nil
}

// Revoke implements Revoker: it marks the key revoked by "scanner" with the
// reason and place in its status_reason.
func (s *Store) Revoke(ctx context.Context, keyID, reason, where string) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now().UTC()
	changed := false
	var owner string
	_, err := s.Keys.UpdateKey(ctx, keyID, func(k *keys.Key) error {
		owner = k.Owner
		if k.Status == keys.StatusRevoked {
			return nil
		}
		changed = true
		k.Status = keys.StatusRevoked
		k.StatusBy = "scanner"
		k.StatusReason = truncate(reason+": "+where, 500)
		k.StatusAt = &at
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke: key %s: %w", keyID, err)
	}
	if changed && s.OnRevoke != nil {
		return s.OnRevoke(ctx, Revocation{KeyID: keyID, Owner: owner, Reason: reason, Where: where, At: at})
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Reason is the reason recorded for keys a scan revokes.
const Reason = "leaked: found by warden scan"

// Findings revokes every active Warden key among fs (each key once) and
// marks those findings Revoked and their status revoked. fs must have been
// through scan.Verify. It returns how many keys it revoked and the errors
// of those it could not revoke.
func Findings(ctx context.Context, r Revoker, fs []scan.Finding) (int, error) {
	done := map[string]bool{}
	var errs []error
	for i := range fs {
		f := &fs[i]
		if f.RuleID != scan.WardenRuleID || f.KeyID == "" || f.KeyStatus != string(keys.StatusActive) && f.KeyStatus != string(keys.StatusSuspended) {
			continue
		}
		if !done[f.KeyID] {
			if err := r.Revoke(ctx, f.KeyID, Reason, f.Where()); err != nil {
				errs = append(errs, err)
				continue
			}
			done[f.KeyID] = true
		}
		f.Revoked = true
		f.KeyStatus = string(keys.StatusRevoked)
	}
	return len(done), errors.Join(errs...)
}

// Sweep scans targets, looks every Warden key found up in st and revokes
// the active ones. It is the whole of `warden scan --revoke` in one call,
// for `warden demo` and tests: a key pasted into a web page is found by the
// crawl, revoked, and from then on refused by the gateway.
func Sweep(ctx context.Context, sc *source.Scanner, st *Store, targets ...string) ([]scan.Finding, int, error) {
	fs, err := sc.Collect(ctx, targets...)
	if err != nil {
		return fs, 0, err
	}
	if err := scan.Verify(ctx, st, fs); err != nil {
		return fs, 0, err
	}
	n, err := Findings(ctx, st, fs)
	return fs, n, err
}
