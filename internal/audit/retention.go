package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/store"
)

// Prune deletes the retained bodies whose retention ended before now, except
// those under a legal hold, and returns how many it deleted. Entries, leaves
// and hashes stay: the tree verifies as before, and a pruned body's digests
// still prove what it was.
func (l *Log) Prune(ctx context.Context, now time.Time) (int64, error) {
	n, err := l.st.PruneAuditBodies(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	return n, nil
}

// AllKeys as a hold's KeyID holds every key's bodies.
const AllKeys = "*"

// PutHold places (or replaces) a legal hold. A hold needs an ID and a key
// (AllKeys for the whole log); zero Since/Until leave that end open.
func (l *Log) PutHold(ctx context.Context, h store.AuditHold) error {
	if h.ID == "" || len(h.ID) > 128 {
		return errors.New("audit: hold needs an id of at most 128 characters")
	}
	if h.KeyID == "" {
		return errors.New("audit: hold needs a key id (or * for every key)")
	}
	if !h.Since.IsZero() && !h.Until.IsZero() && h.Until.Before(h.Since) {
		return errors.New("audit: hold ends before it starts")
	}
	if h.Created.IsZero() {
		h.Created = l.now().UTC()
	}
	return l.st.PutAuditHold(ctx, h)
}

// DeleteHold lifts a legal hold.
func (l *Log) DeleteHold(ctx context.Context, id string) error {
	return l.st.DeleteAuditHold(ctx, id)
}

// Holds lists the legal holds.
func (l *Log) Holds(ctx context.Context) ([]store.AuditHold, error) {
	return l.st.AuditHolds(ctx)
}

// Incidents resolves an incident to the key and time range it concerns.
// The detector provides it; until it does, holds and exports take a key and
// a time range directly.
type Incidents interface {
	IncidentScope(ctx context.Context, id string) (Scope, error)
}

// IncidentsFunc adapts a function to Incidents.
type IncidentsFunc func(ctx context.Context, id string) (Scope, error)

// IncidentScope calls f.
func (f IncidentsFunc) IncidentScope(ctx context.Context, id string) (Scope, error) {
	return f(ctx, id)
}

// Scope selects a key's entries in a time range [Since, Until); zero times
// leave that end open.
type Scope struct {
	KeyID    string    `json:"key_id"`
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	Incident string    `json:"incident,omitempty"`
}

// HoldIncident places a hold on everything an incident concerns, named
// after the incident.
func (l *Log) HoldIncident(ctx context.Context, inc Incidents, id, reason string) (store.AuditHold, error) {
	if inc == nil {
		return store.AuditHold{}, errors.New("audit: no incident source configured; hold the key instead")
	}
	s, err := inc.IncidentScope(ctx, id)
	if err != nil {
		return store.AuditHold{}, fmt.Errorf("audit: incident %s: %w", id, err)
	}
	h := store.AuditHold{ID: HoldID(s.KeyID, id), KeyID: s.KeyID, Since: s.Since, Until: s.Until, Incident: id, Reason: reason}
	return h, l.PutHold(ctx, h)
}

// HoldID is the id a hold gets when none is given: "incident-<id>" for an
// incident's hold, else "key-<key id>". The CLI, the admin API and
// HoldIncident all name holds by it, so placing the same hold twice
// replaces it instead of stacking copies.
func HoldID(keyID, incident string) string {
	if incident != "" {
		return "incident-" + incident
	}
	return "key-" + keyID
}
