package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/hygiene"
	"github.com/wardenhq/warden/internal/store"
)

// KeyAuditPattern is where KeyAuditHandler is mounted on the admin API.
const KeyAuditPattern = "GET /admin/v1/audit/keys"

// maxAuditMonths bounds the usage window a request may ask for.
const maxAuditMonths = 12

// KeyAuditHandler serves the audit of every key (hygiene.Audit):
//
//	GET /admin/v1/audit/keys?months=3&unused_days=30&rotate_days=90
//
// months is the usage window (this month and the ones before it) that
// budgets are compared with.
type KeyAuditHandler struct {
	Store store.Store
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

func (h *KeyAuditHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	q := r.URL.Query()
	num := func(name string, def, lo, hi int) (int, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			Error(w, http.StatusBadRequest, "invalid", name+" must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
			return 0, false
		}
		return n, true
	}
	months, ok := num("months", 3, 1, maxAuditMonths)
	if !ok {
		return
	}
	unused, ok := num("unused_days", 30, 1, 3650)
	if !ok {
		return
	}
	rotate, ok := num("rotate_days", 90, 1, 3650)
	if !ok {
		return
	}
	ks, err := h.Store.ListKeys(r.Context(), store.KeyFilter{})
	if err != nil {
		StoreError(w, err)
		return
	}
	recs := make([]hygiene.Record, 0, len(ks))
	first := time.Date(now.UTC().Year(), now.UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, k := range ks {
		rec := hygiene.Record{Key: k}
		for i := 0; i < months; i++ {
			m := first.AddDate(0, -i, 0).Format("2006-01")
			u, err := h.Store.UsageOf(r.Context(), k.ID, m)
			if err != nil {
				StoreError(w, err)
				return
			}
			rec.Usage = append(rec.Usage, u)
		}
		recs = append(recs, rec)
	}
	day := 24 * time.Hour
	rep := hygiene.Audit(recs, now, hygiene.Options{UnusedFor: time.Duration(unused) * day, RotateAfter: time.Duration(rotate) * day})
	JSON(w, http.StatusOK, rep)
}
