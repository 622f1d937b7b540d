package detect

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/store"
)

// ResolveFunc closes an incident; restore also lifts the detector's
// containment of the key.
type ResolveFunc func(ctx context.Context, id, by, note string, restore bool) (*incident.Incident, error)

// NewIncidentsHandler serves the incidents admin API. Mount it behind admin
// authentication on both "/admin/v1/incidents" and "/admin/v1/incidents/":
//
//	GET  /admin/v1/incidents?status=open&key_id=…&limit=50   JSON array, newest first
//	GET  /admin/v1/incidents/{id}                            one incident
//	POST /admin/v1/incidents/{id}/resolve  {"note":"…","by":"…","restore":true}
func NewIncidentsHandler(st store.Incidents, resolve ResolveFunc) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /admin/v1/incidents", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := store.IncidentFilter{KeyID: q.Get("key_id"), Status: q.Get("status")}
		if f.Status != "" && f.Status != incident.StatusOpen && f.Status != incident.StatusResolved {
			admin.Error(w, http.StatusBadRequest, "invalid", "status must be open or resolved")
			return
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 10000 {
				admin.Error(w, http.StatusBadRequest, "invalid", "limit must be 0-10000")
				return
			}
			f.Limit = n
		}
		if v := q.Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				admin.Error(w, http.StatusBadRequest, "invalid", "since must be RFC 3339")
				return
			}
			f.Since = t
		}
		list, err := st.ListIncidents(r.Context(), f)
		if err != nil {
			admin.StoreError(w, err)
			return
		}
		admin.JSON(w, http.StatusOK, list)
	})
	m.HandleFunc("GET /admin/v1/incidents/{id}", func(w http.ResponseWriter, r *http.Request) {
		in, err := st.IncidentByID(r.Context(), r.PathValue("id"))
		if err != nil {
			admin.StoreError(w, err)
			return
		}
		admin.JSON(w, http.StatusOK, in)
	})
	m.HandleFunc("POST /admin/v1/incidents/{id}/resolve", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Note    string `json:"note"`
			By      string `json:"by"`
			Restore bool   `json:"restore"`
		}
		if err := admin.Decode(r, &body); err != nil {
			admin.Error(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		if len(body.Note) > 2000 || len(body.By) > 200 {
			admin.Error(w, http.StatusBadRequest, "invalid", "note or by too long")
			return
		}
		if body.By == "" {
			body.By = "admin"
		}
		body.By = admin.By(r, body.By) // a signed-in person resolves as themselves
		in, err := resolve(r.Context(), r.PathValue("id"), body.By, body.Note, body.Restore)
		if err != nil {
			admin.StoreError(w, err)
			return
		}
		admin.JSON(w, http.StatusOK, in)
	})
	return m
}

// IncidentsHandler is NewIncidentsHandler on the detector's store, resolving
// through the detector so its in-memory state is reset too. The detector
// needs Options.Store.
func (d *Detector) IncidentsHandler() http.Handler {
	return NewIncidentsHandler(d.opt.Store, func(ctx context.Context, id, by, note string, restore bool) (*incident.Incident, error) {
		return d.Resolve(ctx, id, by, note, restore, time.Now().UTC())
	})
}

// ResolveStored resolves an incident directly in a store, for the CLI on a
// data directory. A running server notices on its next write to the
// incident and starts a fresh one if the attack goes on.
func ResolveStored(st store.Incidents, ks store.Keys, now func() time.Time) ResolveFunc {
	return func(ctx context.Context, id, by, note string, restore bool) (*incident.Incident, error) {
		in, err := st.IncidentByID(ctx, id)
		if err != nil {
			return nil, err
		}
		if in.Status != incident.StatusResolved {
			t := now().UTC()
			in.Status, in.ResolvedBy, in.Resolution, in.ResolvedAt = incident.StatusResolved, by, note, &t
			in.AddEntry(incident.Entry{TS: t, Kind: "note", Name: "resolved", Reason: strings.TrimSpace("resolved by " + by + ": " + note)})
			if err := st.PutIncident(ctx, in); err != nil {
				return nil, fmt.Errorf("detect: resolve %s: %w", id, err)
			}
		}
		if restore && ks != nil {
			if err := RestoreKey(ctx, ks, in.KeyID); err != nil {
				return in, err
			}
		}
		return in, nil
	}
}
