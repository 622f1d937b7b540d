package store

import (
	"context"
	"time"

	"github.com/wardenhq/warden/internal/incident"
)

// Profiles keeps what the detector has learned of each key (networks,
// fingerprints, activity, baselines) as opaque documents the detector
// encodes and versions itself, so the schema never follows its internals.
type Profiles interface {
	// PutProfiles inserts or replaces the given profiles in one transaction.
	PutProfiles(ctx context.Context, ps []Profile) error
	// ProfileOf returns the profile of a key, or ErrNotFound.
	ProfileOf(ctx context.Context, keyID string) (Profile, error)
}

// Profile is one key's learned profile.
type Profile struct {
	KeyID     string
	Data      []byte // the detector's encoding; at most 1 MiB
	UpdatedAt time.Time
}

// Incidents keeps incidents (see package incident).
type Incidents interface {
	// PutIncident inserts or replaces an incident by id. It fails with
	// ErrConflict if the stored incident is resolved and in is not: the
	// detector must not reopen what an operator closed.
	PutIncident(ctx context.Context, in *incident.Incident) error
	// IncidentByID returns one incident or ErrNotFound.
	IncidentByID(ctx context.Context, id string) (*incident.Incident, error)
	// ListIncidents returns incidents matching f, newest first (by opening
	// time, then id).
	ListIncidents(ctx context.Context, f IncidentFilter) ([]*incident.Incident, error)
}

// IncidentFilter selects incidents. Zero fields match everything.
type IncidentFilter struct {
	KeyID  string
	Status string // open or resolved
	Since  time.Time
	Limit  int // 0 means no limit
}

// Detect is what the detector needs of a backend.
type Detect interface {
	Profiles
	Incidents
}
