package hygiene

import (
	"net/http"
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/store"
)

// Pattern is where Handler is mounted on the admin API.
const Pattern = "GET /admin/v1/audit/keys"

// maxMonths bounds the usage window a request may ask for.
const maxMonths = 12

// Handler serves the audit of every key:
//
//	GET /admin/v1/audit/keys?months=3&unused_days=30&rotate_days=90
//
// months is the usage window (this month and the ones before it) that
// budgets are compared with.
type Handler struct {
	Store store.Store
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
			admin.Error(w, http.StatusBadRequest, "invalid", name+" must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
			return 0, false
		}
		return n, true
	}
	months, ok := num("months", 3, 1, maxMonths)
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
		admin.StoreError(w, err)
		return
	}
	recs := make([]Record, 0, len(ks))
	first := time.Date(now.UTC().Year(), now.UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, k := range ks {
		rec := Record{Key: k}
		for i := 0; i < months; i++ {
			m := first.AddDate(0, -i, 0).Format("2006-01")
			u, err := h.Store.UsageOf(r.Context(), k.ID, m)
			if err != nil {
				admin.StoreError(w, err)
				return
			}
			rec.Usage = append(rec.Usage, u)
		}
		recs = append(recs, rec)
	}
	day := 24 * time.Hour
	rep := Audit(recs, now, Options{UnusedFor: time.Duration(unused) * day, RotateAfter: time.Duration(rotate) * day})
	admin.JSON(w, http.StatusOK, rep)
}
