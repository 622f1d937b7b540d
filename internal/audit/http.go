package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/admin/wire"
	"github.com/wardenhq/warden/internal/store"
)

// APIPrefix is where Handler's routes live.
const APIPrefix = "/admin/v1/audit/"

// Handler serves the audit routes of the admin API. Mount it at APIPrefix
// behind the admin authentication; it does no authentication of its own.
// inc resolves incident ids (nil: exports and holds by key only).
//
//	GET    checkpoint                       latest signed checkpoint (text/plain note)
//	POST   checkpoint                       sign one now, return it
//	GET    key                              verifier key (text/plain)
//	GET    proof/inclusion?index=N[&size=M] InclusionProof (JSON)
//	GET    proof/consistency?old=N&new=M    ConsistencyProof (JSON)
//	GET    entries?key=K[&since&until&from&limit]  entries (JSON), at most 1000
//	GET    export?key=K|incident=I[&since&until]   evidence bundle (zip)
//	POST   verify                           verify the whole log (VerifyResult)
//	GET    holds / POST holds / DELETE holds/{id}  legal holds
//	POST   prune                            prune expired bodies ({"pruned": n})
//	GET    stats                            Stats and the tree size
//
// Times are RFC 3339.
func Handler(l *Log, inc Incidents) http.Handler {
	h := &handler{l: l, inc: inc}
	mux := http.NewServeMux()
	p := APIPrefix
	mux.HandleFunc("GET "+p+"checkpoint", checkpoint(h.l.Latest))
	mux.HandleFunc("POST "+p+"checkpoint", checkpoint(h.l.Checkpoint))
	mux.HandleFunc("GET "+p+"key", h.key)
	mux.HandleFunc("GET "+p+"proof/inclusion", h.inclusion)
	mux.HandleFunc("GET "+p+"proof/consistency", h.consistency)
	mux.HandleFunc("GET "+p+"entries", h.entries)
	mux.HandleFunc("GET "+p+"export", h.export)
	mux.HandleFunc("POST "+p+"verify", h.verify)
	mux.HandleFunc("GET "+p+"holds", h.holds)
	mux.HandleFunc("POST "+p+"holds", h.putHold)
	mux.HandleFunc("DELETE "+p+"holds/{id}", h.deleteHold)
	mux.HandleFunc("POST "+p+"prune", h.prune)
	mux.HandleFunc("GET "+p+"stats", h.stats)
	return mux
}

type handler struct {
	l   *Log
	inc Incidents
}

// errBadRequest marks errors caused by the request.
var errBadRequest = errors.New("bad request")

// writeErr answers with the admin API's error shape,
// {"error": {"message": "...", "code": "..."}}.
func writeErr(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, "internal"
	var ve *VerifyError
	switch {
	case errors.Is(err, errBadRequest):
		status, code = http.StatusBadRequest, "invalid"
	case errors.Is(err, store.ErrNotFound):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, ErrReadOnly):
		status, code = http.StatusConflict, "conflict"
	case errors.As(err, &ve):
		status, code = http.StatusConflict, "tampered"
	}
	if status == http.StatusInternalServerError {
		slog.ErrorContext(r.Context(), "audit api", "path", r.URL.Path, "err", err)
	}
	wire.Error(w, status, code, err.Error())
}

func intParam(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s must be a non-negative integer", errBadRequest, name)
	}
	return n, nil
}

func timeParam(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s must be an RFC 3339 time", errBadRequest, name)
	}
	return t, nil
}

// checkpoint answers with the note of the checkpoint get returns: the
// latest one (GET) or a newly signed one (POST).
func checkpoint(get func(context.Context) (*SignedCheckpoint, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := get(r.Context())
		if err != nil {
			writeErr(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(c.Note)
	}
}

func (h *handler) key(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, h.l.VerifierKey()+"\n")
}

func (h *handler) inclusion(w http.ResponseWriter, r *http.Request) {
	index, err := intParam(r, "index", -1)
	if err == nil && index < 0 {
		err = fmt.Errorf("%w: index is required", errBadRequest)
	}
	var size int64
	if err == nil {
		size, err = intParam(r, "size", 0)
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	p, err := h.l.ProveInclusion(r.Context(), index, size)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	wire.JSON(w, http.StatusOK, p)
}

func (h *handler) consistency(w http.ResponseWriter, r *http.Request) {
	old, err := intParam(r, "old", -1)
	var nw int64
	if err == nil {
		nw, err = intParam(r, "new", -1)
	}
	if err == nil && (old < 0 || nw < 0) {
		err = fmt.Errorf("%w: old and new are required", errBadRequest)
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	p, err := h.l.ProveConsistency(r.Context(), old, nw)
	if err != nil {
		writeErr(w, r, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	wire.JSON(w, http.StatusOK, p)
}

// EntryView is an entry as the API lists it.
type EntryView struct {
	Index int64           `json:"index"`
	Mode  BodyMode        `json:"bodies"`
	Event json.RawMessage `json:"event"`
	Body  bool            `json:"body_retained"`
}

func (h *handler) entries(w http.ResponseWriter, r *http.Request) {
	f := store.AuditFilter{KeyID: r.URL.Query().Get("key"), Limit: 100, Bodies: true}
	var err error
	if f.From, err = intParam(r, "from", 0); err != nil {
		writeErr(w, r, err)
		return
	}
	limit, err := intParam(r, "limit", 100)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	f.Limit = int(min(max(limit, 1), 1000))
	if f.Since, err = timeParam(r, "since"); err == nil {
		f.Until, err = timeParam(r, "until")
	}
	if err != nil {
		writeErr(w, r, err)
		return
	}
	// Entries answered before this request are listed: integrate what
	// any instance has staged first.
	if err := h.l.Sync(r.Context()); err != nil {
		writeErr(w, r, err)
		return
	}
	out := []EntryView{}
	err = h.l.st.ScanAudit(r.Context(), f, func(e *store.AuditEntry) error {
		leaf, err := ParseLeaf(e.Leaf)
		if err != nil {
			return fmt.Errorf("entry %d: %w", e.Index, err)
		}
		out = append(out, EntryView{Index: e.Index, Mode: leaf.Mode, Event: json.RawMessage(append([]byte(nil), leaf.Event...)), Body: e.Body != nil})
		return nil
	})
	if err != nil {
		writeErr(w, r, err)
		return
	}
	wire.JSON(w, http.StatusOK, out)
}

// scopeFrom reads key or incident, since and until from the query.
func (h *handler) scopeFrom(r *http.Request) (Scope, error) {
	q := r.URL.Query()
	var s Scope
	if id := q.Get("incident"); id != "" {
		if h.inc == nil {
			return s, fmt.Errorf("%w: incidents are not available; select by key", errBadRequest)
		}
		var err error
		if s, err = h.inc.IncidentScope(r.Context(), id); err != nil {
			return s, fmt.Errorf("incident %s: %w", id, err)
		}
		s.Incident = id
	} else {
		s.KeyID = q.Get("key")
	}
	if s.KeyID == "" {
		return s, fmt.Errorf("%w: key or incident is required", errBadRequest)
	}
	for _, x := range []struct {
		name string
		dst  *time.Time
	}{{"since", &s.Since}, {"until", &s.Until}} {
		t, err := timeParam(r, x.name)
		if err != nil {
			return s, err
		}
		if !t.IsZero() {
			*x.dst = t
		}
	}
	return s, nil
}

func (h *handler) export(w http.ResponseWriter, r *http.Request) {
	s, err := h.scopeFrom(r)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	// The bundle streams; an error after the first byte can only cut it
	// short, which VerifyBundle then rejects.
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.zip"`, sanitizeName(s.KeyID)))
	if _, err := h.l.Export(r.Context(), w, s); err != nil {
		slog.ErrorContext(r.Context(), "audit export failed", "key_id", s.KeyID, "err", err)
	}
}

func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

func (h *handler) verify(w http.ResponseWriter, r *http.Request) {
	if err := h.l.Sync(r.Context()); err != nil {
		writeErr(w, r, err)
		return
	}
	res, err := Verify(r.Context(), h.l.st, h.l.verifier)
	if err != nil {
		writeErr(w, r, err)
		return
	}
	wire.JSON(w, http.StatusOK, res)
}

func (h *handler) holds(w http.ResponseWriter, r *http.Request) {
	hs, err := h.l.Holds(r.Context())
	if err != nil {
		writeErr(w, r, err)
		return
	}
	if hs == nil {
		hs = []store.AuditHold{}
	}
	wire.JSON(w, http.StatusOK, hs)
}

// HoldRequest places a hold by key (and range) or by incident.
type HoldRequest struct {
	ID       string    `json:"id,omitempty"`
	KeyID    string    `json:"key_id,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	Incident string    `json:"incident,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

func (h *handler) putHold(w http.ResponseWriter, r *http.Request) {
	var req HoldRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeErr(w, r, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	var (
		hold store.AuditHold
		err  error
	)
	if req.Incident != "" {
		hold, err = h.l.HoldIncident(r.Context(), h.inc, req.Incident, req.Reason)
	} else {
		hold = store.AuditHold{ID: req.ID, KeyID: req.KeyID, Since: req.Since, Until: req.Until, Reason: req.Reason}
		if hold.ID == "" {
			hold.ID = HoldID(req.KeyID, "")
		}
		err = h.l.PutHold(r.Context(), hold)
	}
	if err != nil {
		writeErr(w, r, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	wire.JSON(w, http.StatusCreated, hold)
}

func (h *handler) deleteHold(w http.ResponseWriter, r *http.Request) {
	if err := h.l.DeleteHold(r.Context(), r.PathValue("id")); err != nil {
		writeErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) prune(w http.ResponseWriter, r *http.Request) {
	n, err := h.l.Prune(r.Context(), h.l.now())
	if err != nil {
		writeErr(w, r, err)
		return
	}
	wire.JSON(w, http.StatusOK, map[string]int64{"pruned": n})
}

func (h *handler) stats(w http.ResponseWriter, r *http.Request) {
	size, err := h.l.st.AuditSize(r.Context())
	if err != nil {
		writeErr(w, r, err)
		return
	}
	wire.JSON(w, http.StatusOK, map[string]any{"size": size, "origin": h.l.Origin(), "stats": h.l.Stats()})
}
