// Package admin is Warden's control plane: a JSON API under /admin/v1/ on
// the admin listener, authenticated with the admin token (a service token
// with a configured role), a person's ID token, or a console session, and
// authorised by role (roles.go: Required). The CLI is a
// client of this API, also when it works directly on a data directory (it
// then serves the API in process), so both paths behave the same.
//
// Keys:
//
//	GET    /admin/v1/keys?status=&owner=&kind=&q=&after=&limit=   list
//	GET    /admin/v1/keys?hash=HEX         the key whose secret has this SHA-256 (a list of 0 or 1)
//	POST   /admin/v1/keys                  create; answers the record plus "key", the secret, shown once
//	GET    /admin/v1/keys/{id}             one key with this month's usage
//	PATCH  /admin/v1/keys/{id}             change name, owner, scope and limits
//	DELETE /admin/v1/keys/{id}             delete the record
//	POST   /admin/v1/keys/{id}/rotate      {"grace": "24h"}: a successor; the old key works until the grace ends
//	POST   /admin/v1/keys/{id}/suspend     {"reason": "...", "by": "..."}
//	POST   /admin/v1/keys/{id}/resume
//	POST   /admin/v1/keys/{id}/revoke      {"reason": "...", "by": "..."}: final; "by" names the actor (default the API's)
//	POST   /admin/v1/keys/{id}/action      {"action": "step_up"|"throttle"|"", "for": "1h", "reason": "..."}: put on (or lift, with "") a containment measure
//
// Errors have the shape {"error": {"message": "...", "code": "..."}}.
package admin

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/admin/wire"
	"github.com/wardenhq/warden/internal/authn"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// Server is the admin API.
type Server struct {
	// Store holds keys and usage. Required.
	Store store.Store
	// Token is the admin token. Empty disables authentication, which only
	// the in-process CLI does (it has the data directory already).
	Token string
	// By names who acts, for status changes ("admin" or "cli").
	By string
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// OnStatus, when set, is told of every status change made through the
	// API (to record incidents and alert owners). reason is what the caller
	// gave. nil tells nobody.
	OnStatus func(ctx context.Context, k *keys.Key, by, reason string)
	// OnKeyChange, when set, is told the id of every key the API changed
	// (so the local gateway honours it from the next request). nil: the
	// gateway's change feed picks it up within its poll interval.
	OnKeyChange func(ctx context.Context, id string)
	// ServiceRole is the role of Token, the shared admin token (None means
	// admin). Persons sign in with their own identity instead.
	ServiceRole authn.Role
	// Bearer, when set, accepts a person's ID token as a bearer token (see
	// authn.Provider.Bearer). nil: only Token is accepted.
	Bearer func(ctx context.Context, raw string) (authn.Principal, error)
	// OnAction, when set, is told of every write to the API, allowed or
	// refused, with who sent it (to put it in the audit log). nil tells
	// nobody.
	OnAction func(ctx context.Context, a Action)

	mux *http.ServeMux
}

// Mount adds a handler for a ServeMux pattern, e.g. "/admin/v1/audit/".
// Mounted handlers are behind the same authentication. Call before Handler.
func (s *Server) Mount(pattern string, h http.Handler) {
	s.init()
	s.mux.Handle(pattern, h)
}

func (s *Server) init() {
	if s.mux != nil {
		return
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /admin/v1/keys", s.listKeys)
	m.HandleFunc("POST /admin/v1/keys", s.createKey)
	m.HandleFunc("GET /admin/v1/keys/{id}", s.getKey)
	m.HandleFunc("PATCH /admin/v1/keys/{id}", s.patchKey)
	m.HandleFunc("DELETE /admin/v1/keys/{id}", s.deleteKey)
	m.HandleFunc("POST /admin/v1/keys/{id}/rotate", s.rotateKey)
	m.HandleFunc("POST /admin/v1/keys/{id}/suspend", s.setStatus(keys.StatusSuspended))
	m.HandleFunc("POST /admin/v1/keys/{id}/resume", s.setStatus(keys.StatusActive))
	m.HandleFunc("POST /admin/v1/keys/{id}/revoke", s.setStatus(keys.StatusRevoked))
	m.HandleFunc("POST /admin/v1/keys/{id}/action", s.setAction)
	m.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		Error(w, http.StatusNotFound, "not_found", "no such admin endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// Handler returns the authenticated API. Each request needs the role
// Required names; every write, allowed or refused, goes to OnAction.
func (s *Server) Handler() http.Handler {
	s.init()
	want := sha256.Sum256([]byte(s.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.authenticate(r, want)
		if !ok {
			Error(w, http.StatusUnauthorized, "unauthorized", "missing or wrong admin token (send Authorization: Bearer TOKEN)")
			return
		}
		need := Required(r.Method, r.URL.Path)
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		sw := &statusWriter{ResponseWriter: w}
		a := Action{Time: s.now().UTC(), Principal: p, Role: p.Role, Method: r.Method, Path: r.URL.Path, KeyID: keyOf(r.URL.Path)}
		if !p.Role.Allows(need) {
			Error(sw, http.StatusForbidden, "forbidden", fmt.Sprintf("%s %s needs the %s role; %s has %s", r.Method, r.URL.Path, need, p.Who(), p.Role))
		} else {
			r = r.WithContext(authn.With(r.Context(), p))
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if write {
				r = r.WithContext(context.WithValue(r.Context(), reasonKey{}, &a.Reason))
			}
			s.mux.ServeHTTP(sw, r)
		}
		if write {
			a.Status = sw.status
			s.act(r.Context(), a)
		}
	})
}

// reasonKey carries where a handler notes the reason it was given, for
// the action's record.
type reasonKey struct{}

func noteReason(ctx context.Context, reason string) {
	if p, ok := ctx.Value(reasonKey{}).(*string); ok {
		*p = reason
	}
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) by() string {
	if s.By != "" {
		return s.By
	}
	return "admin"
}

// JSON writes v with status (package wire: the format every handler on
// the admin API shares).
func JSON(w http.ResponseWriter, status int, v any) { wire.JSON(w, status, v) }

// Error writes an error answer.
func Error(w http.ResponseWriter, status int, code, msg string) { wire.Error(w, status, code, msg) }

// Decode reads a JSON request body strictly into v.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("bad request body: %w", err)
	}
	return nil
}

// StoreError maps a store error to an answer.
func StoreError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, store.ErrConflict):
		Error(w, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, keys.ErrFinal):
		Error(w, http.StatusConflict, "revoked", err.Error())
	default:
		Error(w, http.StatusBadRequest, "invalid", err.Error())
	}
}

// KeyView is a key as the API shows it.
type KeyView struct {
	*keys.Key
	Secret string       `json:"key,omitempty"` // only when just created or rotated
	Usage  *store.Spend `json:"usage_this_month,omitempty"`
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if hx := q.Get("hash"); hx != "" {
		h, err := keys.ParseHash(hx)
		if err != nil {
			Error(w, http.StatusBadRequest, "invalid", "hash must be 64 lowercase hex characters")
			return
		}
		k, err := s.Store.KeyByHash(r.Context(), h)
		switch {
		case errors.Is(err, store.ErrNotFound):
			JSON(w, http.StatusOK, []*keys.Key{})
		case err != nil:
			StoreError(w, err)
		default:
			JSON(w, http.StatusOK, []*keys.Key{k})
		}
		return
	}
	f := store.KeyFilter{Status: keys.Status(q.Get("status")), Owner: q.Get("owner"), Kind: keys.Kind(q.Get("kind")),
		Search: q.Get("q"), After: q.Get("after")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			Error(w, http.StatusBadRequest, "invalid", "limit must be a non-negative integer")
			return
		}
		f.Limit = n
	}
	list, err := s.Store.ListKeys(r.Context(), f)
	if err != nil {
		StoreError(w, err)
		return
	}
	if list == nil {
		list = []*keys.Key{}
	}
	JSON(w, http.StatusOK, list)
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	var spec keys.Spec
	if err := Decode(r, &spec); err != nil {
		Error(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if spec.Kind != "" && spec.Kind != keys.KindStandard && spec.Kind != keys.KindCanary {
		Error(w, http.StatusBadRequest, "invalid", "kind must be standard or canary")
		return
	}
	k, sec, err := keys.Create(r.Context(), s.Store, spec, s.now())
	if err != nil {
		StoreError(w, err)
		return
	}
	JSON(w, http.StatusCreated, KeyView{Key: k, Secret: sec.Reveal()})
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.Store.KeyByID(r.Context(), r.PathValue("id"))
	if err != nil {
		StoreError(w, err)
		return
	}
	u, err := s.Store.UsageOf(r.Context(), k.ID, s.now().UTC().Format("2006-01"))
	if err != nil {
		StoreError(w, err)
		return
	}
	JSON(w, http.StatusOK, KeyView{Key: k, Usage: &u})
}

// Patch is a partial update of a key: only the fields present change.
type Patch struct {
	Name             *string            `json:"name"`
	Owner            *string            `json:"owner"`
	Labels           *map[string]string `json:"labels"`
	Models           *[]string          `json:"models"`
	Endpoints        *[]string          `json:"endpoints"`
	CIDRs            *[]string          `json:"cidrs"`
	RPM              *int               `json:"rpm"`
	TPM              *int               `json:"tpm"`
	MaxConcurrent    *int               `json:"max_concurrent"`
	MonthlyBudgetUSD *float64           `json:"monthly_budget_usd"`
	ExpiresAt        *time.Time         `json:"expires_at"`
	Policies         *map[string]any    `json:"policies"`
	// ClearAction lifts a throttle or step-up the detector set.
	ClearAction bool `json:"clear_action"`
}

// Apply changes k by p.
func (p *Patch) Apply(k *keys.Key) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&k.Name, p.Name)
	set(&k.Owner, p.Owner)
	if p.Labels != nil {
		k.Labels = *p.Labels
	}
	if p.Models != nil {
		k.Models = *p.Models
	}
	if p.Endpoints != nil {
		k.Endpoints = *p.Endpoints
	}
	if p.CIDRs != nil {
		k.CIDRs = *p.CIDRs
	}
	for dst, v := range map[*int]*int{&k.RPM: p.RPM, &k.TPM: p.TPM, &k.MaxConcurrent: p.MaxConcurrent} {
		if v != nil {
			*dst = *v
		}
	}
	if p.MonthlyBudgetUSD != nil {
		k.MonthlyBudgetUSD = *p.MonthlyBudgetUSD
	}
	if p.ExpiresAt != nil {
		k.ExpiresAt = p.ExpiresAt
	}
	if p.Policies != nil {
		k.Policies = *p.Policies
	}
	if p.ClearAction {
		k.Action, k.ActionReason, k.ActionUntil = keys.ActionNone, "", nil
	}
}

func (s *Server) patchKey(w http.ResponseWriter, r *http.Request) {
	var p Patch
	if err := Decode(r, &p); err != nil {
		Error(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	now := s.now().UTC()
	k, err := s.Store.UpdateKey(r.Context(), r.PathValue("id"), func(k *keys.Key) error {
		p.Apply(k)
		k.UpdatedAt = now
		return nil
	})
	s.answerUpdate(w, r, k, err)
}

// answerUpdate answers a key update: the store's error, or the updated key
// after telling OnKeyChange.
func (s *Server) answerUpdate(w http.ResponseWriter, r *http.Request, k *keys.Key, err error) {
	if err != nil {
		StoreError(w, err)
		return
	}
	s.changed(r.Context(), k.ID)
	JSON(w, http.StatusOK, KeyView{Key: k})
}

func (s *Server) changed(ctx context.Context, id string) {
	if s.OnKeyChange != nil {
		s.OnKeyChange(ctx, id)
	}
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	if err := s.Store.DeleteKey(r.Context(), r.PathValue("id")); err != nil {
		StoreError(w, err)
		return
	}
	s.changed(r.Context(), r.PathValue("id"))
	JSON(w, http.StatusOK, map[string]any{"deleted": r.PathValue("id")})
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Grace string `json:"grace"`
	}
	if err := Decode(r, &req); err != nil {
		Error(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	grace := 24 * time.Hour
	if req.Grace != "" {
		d, err := ParseDuration(req.Grace)
		if err != nil || d < 0 {
			Error(w, http.StatusBadRequest, "invalid", "grace must be a duration such as 24h or 7d")
			return
		}
		grace = d
	}
	k, sec, err := keys.Rotate(r.Context(), s.Store, r.PathValue("id"), grace, s.now())
	if err != nil {
		StoreError(w, err)
		return
	}
	s.changed(r.Context(), r.PathValue("id"))
	JSON(w, http.StatusCreated, KeyView{Key: k, Secret: sec.Reveal()})
}

func (s *Server) setStatus(st keys.Status) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Reason string `json:"reason"`
			By     string `json:"by"`
		}
		if err := Decode(r, &req); err != nil {
			Error(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		by := s.by()
		if req.By != "" {
			by = truncate(req.By, 64)
		}
		by = By(r, by)
		noteReason(r.Context(), truncate(req.Reason, 1000))
		prev, err := s.Store.KeyByID(r.Context(), r.PathValue("id"))
		if err != nil {
			StoreError(w, err)
			return
		}
		k, err := keys.SetStatus(r.Context(), s.Store, r.PathValue("id"), st, truncate(req.Reason, 1000), by, s.now())
		if err != nil {
			StoreError(w, err)
			return
		}
		s.changed(r.Context(), k.ID)
		if s.OnStatus != nil && prev.Status != k.Status {
			// The hook hears the tool the caller named ("scanner" opens a
			// leak incident) even when a signed-in person ran it; the key
			// records the person.
			tool := by
			if req.By != "" {
				tool = truncate(req.By, 64)
			}
			s.OnStatus(r.Context(), k, tool, req.Reason)
		}
		JSON(w, http.StatusOK, KeyView{Key: k})
	}
}

// setAction puts a containment measure on a key by hand, as the detector
// does (step-up: only known networks and clients pass; throttle: limits
// cut), for a while; an empty action lifts the current one.
func (s *Server) setAction(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Action keys.Action `json:"action"`
		For    string      `json:"for"`
		Reason string      `json:"reason"`
	}
	if err := Decode(r, &req); err != nil {
		Error(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	d := time.Hour
	switch req.Action {
	case keys.ActionNone:
	case keys.ActionStepUp, keys.ActionThrottle:
		if req.For != "" {
			var err error
			if d, err = ParseDuration(req.For); err != nil || d <= 0 || d > 30*24*time.Hour {
				Error(w, http.StatusBadRequest, "invalid", "for must be a duration between 1s and 30d")
				return
			}
		}
	default:
		Error(w, http.StatusBadRequest, "invalid", "action must be step_up, throttle or empty (lift)")
		return
	}
	now := s.now().UTC()
	reason := truncate(req.Reason, 1000)
	noteReason(r.Context(), reason)
	k, err := s.Store.UpdateKey(r.Context(), r.PathValue("id"), func(k *keys.Key) error {
		if req.Action == keys.ActionNone {
			k.Action, k.ActionReason, k.ActionUntil = keys.ActionNone, "", nil
		} else {
			until := now.Add(d)
			k.Action, k.ActionReason, k.ActionUntil = req.Action, By(r, s.by())+": "+reason, &until
		}
		k.UpdatedAt = now
		return nil
	})
	s.answerUpdate(w, r, k, err)
}

// ParseDuration accepts Go durations plus a "d" suffix for days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
