package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/keys"
)

// Finding is one exposed secret. It never holds the secret itself: only a
// redacted form and the SHA-256 fingerprint, so findings can be logged,
// stored and sent anywhere.
type Finding struct {
	RuleID      string     `json:"rule_id"`
	Description string     `json:"description"`
	Path        string     `json:"path,omitempty"` // file; archive members and notebook cells as outer!inner
	URL         string     `json:"url,omitempty"`
	Line        int        `json:"line"`   // 1-based
	Column      int        `json:"column"` // 1-based, in bytes
	Commit      string     `json:"commit,omitempty"`
	Author      string     `json:"author,omitempty"`
	Date        *time.Time `json:"date,omitempty"`
	Secret      string     `json:"secret"`      // redacted, keys.Redact style
	Fingerprint string     `json:"fingerprint"` // lowercase hex SHA-256 of the raw secret (of the secret part of a pair)
	Confidence  Confidence `json:"confidence"`
	Endpoint    string     `json:"endpoint,omitempty"` // e.g. the Azure endpoint found near an Azure key
	Note        string     `json:"note,omitempty"`
	// Evidence lists what set the confidence of a rule scored by evidence,
	// as label+weight words ("name:api-key+4 near:endpoint+2"): the pieces
	// found until the confidence was settled (the rest are not looked at).
	Evidence string `json:"evidence,omitempty"`

	// Set for Warden keys when a KeyLookup is available.
	KeyID     string `json:"key_id,omitempty"`
	KeyOwner  string `json:"key_owner,omitempty"`
	KeyStatus string `json:"key_status,omitempty"` // active, suspended, revoked, unknown (not in the store), canary
	Revoked   bool   `json:"revoked,omitempty"`    // revoked by this scan

	Revocation string `json:"revocation,omitempty"` // what the owner must do (provider keys)
}

// Where names the location of f for people: path:line, url:line, with commit.
func (f *Finding) Where() string {
	loc := f.Path
	if f.URL != "" {
		loc = f.URL
	}
	s := fmt.Sprintf("%s:%d", loc, f.Line)
	if f.Commit != "" {
		c := f.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (commit " + c + ")"
	}
	return s
}

// Fingerprint is the lowercase hex SHA-256 of a raw secret. For a Warden key
// it equals the key's stored hash (keys.HashOf), so a finding can be looked
// up in the store without the secret.
func Fingerprint(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// WardenRuleID is the rule whose findings are Warden's own keys.
const WardenRuleID = "warden-key"

// KeyInfo is what the key store says about a found Warden key.
type KeyInfo struct {
	ID     string
	Name   string
	Owner  string
	Status keys.Status
	Kind   keys.Kind
}

// ErrUnknownKey is returned by a KeyLookup for a hash it does not know.
var ErrUnknownKey = errors.New("scan: key not found")

// KeyLookup finds a Warden key by the SHA-256 of its secret.
//
// LookupHash returns ErrUnknownKey (possibly wrapped) when no key has that
// hash; any other error means the answer is not known. Implementations must
// be safe for concurrent use.
type KeyLookup interface {
	LookupHash(ctx context.Context, h keys.Hash) (KeyInfo, error)
}

// Status values of Finding.KeyStatus besides keys.Status.
const (
	StatusUnknown = "unknown" // well-formed, checksum valid, but not in the store
	StatusCanary  = "canary"  // a decoy key: never revoked by a scan
)

// Verify fills in the key id, owner and status of Warden-key findings by
// looking up their fingerprints. A nil lookup leaves the findings unchanged.
// It returns the first lookup error other than ErrUnknownKey, after trying
// every finding.
func Verify(ctx context.Context, lookup KeyLookup, fs []Finding) error {
	if lookup == nil {
		return nil
	}
	var firstErr error
	for i := range fs {
		f := &fs[i]
		if f.RuleID != WardenRuleID {
			continue
		}
		h, err := keys.ParseHash(f.Fingerprint)
		if err != nil {
			continue
		}
		info, err := lookup.LookupHash(ctx, h)
		switch {
		case errors.Is(err, ErrUnknownKey):
			f.KeyStatus = StatusUnknown
		case err != nil:
			if firstErr == nil {
				firstErr = fmt.Errorf("scan: looking up key: %w", err)
			}
		default:
			f.KeyID, f.KeyOwner = info.ID, info.Owner
			f.KeyStatus = string(info.Status)
			if info.Kind == keys.KindCanary {
				f.KeyStatus = StatusCanary
			}
		}
	}
	return firstErr
}
