package admin

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/incident"
	"github.com/wardenhq/warden/internal/store"
)

// NewIncidentsHandler serves the incidents admin API; resolve closes an
// incident (detect.Detector.Resolver in a server, detect.ResolveStored on
// a data directory), restore also lifting the detector's containment. Mount it behind admin
// authentication on both "/admin/v1/incidents" and "/admin/v1/incidents/":
//
//	GET  /admin/v1/incidents?status=open&key_id=…&limit=50   JSON array, newest first
//	GET  /admin/v1/incidents/{id}                            one incident
//	POST /admin/v1/incidents/{id}/resolve  {"note":"…","by":"…","restore":true}
func NewIncidentsHandler(st store.Incidents, resolve func(ctx context.Context, id, by, note string, restore bool) (*incident.Incident, error)) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /admin/v1/incidents", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := store.IncidentFilter{KeyID: q.Get("key_id"), Status: q.Get("status")}
		if f.Status != "" && f.Status != incident.StatusOpen && f.Status != incident.StatusResolved {
			Error(w, http.StatusBadRequest, "invalid", "status must be open or resolved")
			return
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 10000 {
				Error(w, http.StatusBadRequest, "invalid", "limit must be 0-10000")
				return
			}
			f.Limit = n
		}
		if v := q.Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				Error(w, http.StatusBadRequest, "invalid", "since must be RFC 3339")
				return
			}
			f.Since = t
		}
		list, err := st.ListIncidents(r.Context(), f)
		if err != nil {
			StoreError(w, err)
			return
		}
		JSON(w, http.StatusOK, list)
	})
	m.HandleFunc("GET /admin/v1/incidents/{id}", func(w http.ResponseWriter, r *http.Request) {
		in, err := st.IncidentByID(r.Context(), r.PathValue("id"))
		if err != nil {
			StoreError(w, err)
			return
		}
		JSON(w, http.StatusOK, in)
	})
	m.HandleFunc("POST /admin/v1/incidents/{id}/resolve", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Note    string `json:"note"`
			By      string `json:"by"`
			Restore bool   `json:"restore"`
		}
		if err := Decode(r, &body); err != nil {
			Error(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		if len(body.Note) > 2000 || len(body.By) > 200 {
			Error(w, http.StatusBadRequest, "invalid", "note or by too long")
			return
		}
		if body.By == "" {
			body.By = "admin"
		}
		body.By = By(r, body.By) // a signed-in person resolves as themselves
		in, err := resolve(r.Context(), r.PathValue("id"), body.By, body.Note, body.Restore)
		if err != nil {
			StoreError(w, err)
			return
		}
		JSON(w, http.StatusOK, in)
	})
	return m
}
