package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Leak is a key found where it should not be and revoked for it, by the
// scanner or through GitHub's secret-scanning partner program.
type Leak struct {
	KeyID, KeyOwner, KeyKind string
	Where                    string // path:line, URL or commit; for GitHub, the public URL reported
	By                       string // scanner, github
	At                       time.Time
}

// FromLeak opens the incident that records a leaked key's revocation.
func FromLeak(l Leak) *Incident {
	sum := sha256.Sum256([]byte(l.KeyID + "\x00leak\x00" + strconv.FormatInt(l.At.UnixNano(), 10)))
	in := &Incident{
		ID: "inc_" + hex.EncodeToString(sum[:8]), KeyID: l.KeyID, KeyOwner: l.KeyOwner, KeyKind: l.KeyKind,
		Status: StatusOpen, Severity: SevHigh, Action: "revoke",
		Title:    "Key leaked and revoked: found at " + l.Where,
		OpenedAt: l.At, UpdatedAt: l.At,
	}
	in.AddEntry(Entry{TS: l.At, Kind: "signal", Name: "leak", Severity: SevHigh,
		Reason: "key found at " + l.Where, Evidence: map[string]string{"where": l.Where, "found_by": l.By}})
	in.AddEntry(Entry{TS: l.At, Kind: "action", Name: "revoke", Severity: SevHigh,
		Reason: "revoked by " + l.By + " because it was exposed"})
	return in
}
