package warden

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/wardenhq/warden/internal/alert"
	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan/ghpartner"
	"github.com/wardenhq/warden/internal/scan/revoke"
	"github.com/wardenhq/warden/internal/store"
)

// addSecretScanning mounts GitHub's secret-scanning partner endpoint when
// the config names GitHub's public keys: keys reported leaked are revoked
// at once and a leak incident is opened.
func (w *Warden) addSecretScanning(extra map[string]http.Handler) {
	gh := w.Config.SecretScanning.GitHub
	if gh.PublicKeysFile == "" && gh.PublicKeysURL == "" {
		return
	}
	ks := &revoke.Store{Keys: w.Keys, OnRevoke: LeakRecorder(w.Store, "github", w.Notify)}
	extra[ghpartner.Path] = &ghpartner.Handler{Keys: &ghpartner.Keys{File: gh.PublicKeysFile, URL: gh.PublicKeysURL},
		Lookup: ks, Revoker: ks}
	w.log.Info("GitHub secret-scanning partner endpoint enabled", "path", ghpartner.Path)
}

// LeakRecorder returns what to do when a leaked key has been revoked: open
// a leak incident (by is who found it: "github", "scanner") and alert.
// notify may be nil.
func LeakRecorder(st store.Incidents, by string, notify func(alert.Alert)) func(ctx context.Context, r revoke.Revocation) error {
	return func(ctx context.Context, r revoke.Revocation) error {
		in := incident.FromLeak(incident.Leak{KeyID: r.KeyID, KeyOwner: r.Owner, KeyKind: string(keys.KindStandard),
			Where: r.Where, By: by, At: r.At})
		if err := st.PutIncident(ctx, in); err != nil {
			slog.Error("scan: cannot record the leak incident", "key", r.KeyID, "err", err)
			return err
		}
		if notify != nil {
			notify(alert.Alert{Key: in.ID + "/revoke", TS: r.At, KeyID: r.KeyID, KeyOwner: r.Owner, Severity: in.Severity,
				Action: "revoke", Reason: in.Title, IncidentID: in.ID})
		}
		return nil
	}
}
