package live

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/admin/wire"
)

// Mounter is where View's routes go: the admin API (admin.Server), which
// authenticates the operator first.
type Mounter interface {
	Mount(pattern string, h http.Handler)
}

// Mount adds View's routes to the admin API.
func (l *View) Mount(s Mounter) {
	s.Mount("GET /admin/v1/events", http.HandlerFunc(l.recent))
	s.Mount("GET /admin/v1/events/stream", http.HandlerFunc(l.stream))
	s.Mount("GET /admin/v1/stats", http.HandlerFunc(l.stats))
	s.Mount("GET /admin/v1/activity/{key_id}", http.HandlerFunc(l.activity))
}

func intQuery(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

func (l *View) recent(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", 100, 1, maxPage)
	if err != nil {
		wire.Error(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	keyID := r.URL.Query().Get("key_id")
	onlyRefused := r.URL.Query().Get("refused") == "true"
	out := make([]json.RawMessage, 0, limit)
	l.mu.Lock()
	n := len(l.ring)
	for i := 1; i <= n && len(out) < limit; i++ {
		it := &l.ring[((l.next-i)%n+n)%n]
		if (keyID != "" && it.keyID != keyID) || (onlyRefused && !it.refused) {
			continue
		}
		out = append(out, it.encoded())
	}
	l.mu.Unlock()
	wire.JSON(w, http.StatusOK, out)
}

func (l *View) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	sub := &subscriber{keyID: r.URL.Query().Get("key_id"), ch: make(chan []byte, subBuffer)}
	l.mu.Lock()
	if len(l.subs) >= l.opt.Subscribers {
		l.mu.Unlock()
		wire.Error(w, http.StatusServiceUnavailable, "busy", "too many event streams open")
		return
	}
	l.subs[sub] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.subs, sub)
		l.mu.Unlock()
	}()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": warden live events\nretry: 2000\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	var reported int64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			l.mu.Lock()
			d := sub.dropped
			l.mu.Unlock()
			if d != reported {
				fmt.Fprintf(w, "event: dropped\ndata: %d\n\n", d)
				reported = d
			} else {
				fmt.Fprint(w, ": ping\n\n")
			}
		case data := <-sub.ch:
			fmt.Fprintf(w, "event: request\ndata: %s\n\n", data)
			// Send whatever else is queued before flushing once.
			for more := true; more; {
				select {
				case data = <-sub.ch:
					fmt.Fprintf(w, "event: request\ndata: %s\n\n", data)
				default:
					more = false
				}
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// StatsPoint is one minute of the gateway.
type StatsPoint struct {
	Time     time.Time `json:"ts,omitzero"`
	Requests int64     `json:"requests"`
	Refused  int64     `json:"refused"`
	Errors   int64     `json:"errors"`
	Tokens   int64     `json:"tokens"`
	CostUSD  float64   `json:"cost_usd"`
	Canary   int64     `json:"canary"`
}

// KeyRank is one key in a top list of the stats.
type KeyRank struct {
	KeyID    string  `json:"key_id"`
	Owner    string  `json:"key_owner,omitempty"`
	Requests int64   `json:"requests"`
	Refused  int64   `json:"refused"`
	CostUSD  float64 `json:"cost_usd"`
	Risk     float64 `json:"risk,omitempty"`
}

// Stats is the answer of GET /admin/v1/stats.
type Stats struct {
	From     time.Time    `json:"from"`
	To       time.Time    `json:"to"`
	Received int64        `json:"received"` // events since start
	Series   []StatsPoint `json:"series"`   // one point per minute of the window, zeros included
	Totals   StatsPoint   `json:"totals"`
	TopKeys  []KeyRank    `json:"top_keys"` // by risk (when known), then refusals, then spend; at most 20
}

func (l *View) stats(w http.ResponseWriter, r *http.Request) {
	window, err := intQuery(r, "minutes", 60, 1, l.opt.Minutes)
	if err != nil {
		wire.Error(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	now := l.now().UTC()
	to := now.Unix() / 60
	from := to - int64(window) + 1
	st := Stats{From: time.Unix(from*60, 0).UTC(), To: time.Unix(to*60+60, 0).UTC(), Series: make([]StatsPoint, window)}
	for i := range st.Series {
		st.Series[i].Time = time.Unix((from+int64(i))*60, 0).UTC()
	}
	ranks := map[string]*KeyRank{}
	l.mu.Lock()
	st.Received = l.received
	for _, m := range l.minutes {
		if m.Minute < from || m.Minute > to {
			continue
		}
		p := &st.Series[m.Minute-from]
		p.Requests, p.Refused, p.Errors, p.Tokens, p.CostUSD, p.Canary = m.Requests, m.Refused, m.Errors, m.Tokens, m.CostUSD, m.Canary
		for id, km := range m.keys {
			kr := ranks[id]
			if kr == nil {
				kr = &KeyRank{KeyID: id, Owner: km.owner}
				ranks[id] = kr
			}
			kr.Requests += km.requests
			kr.Refused += km.refused
			kr.CostUSD += km.cost
		}
	}
	l.mu.Unlock()
	for _, p := range st.Series {
		st.Totals.Requests += p.Requests
		st.Totals.Refused += p.Refused
		st.Totals.Errors += p.Errors
		st.Totals.Tokens += p.Tokens
		st.Totals.CostUSD += p.CostUSD
		st.Totals.Canary += p.Canary
	}
	top := make([]KeyRank, 0, len(ranks))
	for _, kr := range ranks {
		if l.opt.Risk != nil {
			kr.Risk = l.opt.Risk(kr.KeyID, now)
		}
		top = append(top, *kr)
	}
	sort.Slice(top, func(i, j int) bool {
		a, b := top[i], top[j]
		if a.Risk != b.Risk {
			return a.Risk > b.Risk
		}
		if a.Refused != b.Refused {
			return a.Refused > b.Refused
		}
		if a.CostUSD != b.CostUSD {
			return a.CostUSD > b.CostUSD
		}
		return a.KeyID < b.KeyID
	})
	if len(top) > 20 {
		top = top[:20]
	}
	st.TopKeys = top
	wire.JSON(w, http.StatusOK, st)
}

// ActivityPoint is one minute of one key.
type ActivityPoint struct {
	Time         time.Time        `json:"ts"`
	Requests     int64            `json:"requests"`
	Refused      int64            `json:"refused"`
	CostUSD      float64          `json:"cost_usd"`
	Networks     map[string]int64 `json:"networks,omitempty"`
	Fingerprints map[string]int64 `json:"fingerprints,omitempty"`
}

// Activity is the answer of GET /admin/v1/activity/{key_id}.
type Activity struct {
	KeyID        string          `json:"key_id"`
	Tracked      bool            `json:"tracked"` // false: no events of this key since start (or forgotten)
	First        *time.Time      `json:"first,omitempty"`
	Last         *time.Time      `json:"last,omitempty"`
	Requests     int64           `json:"requests"`
	Refused      int64           `json:"refused"`
	CostUSD      float64         `json:"cost_usd"`
	Series       []ActivityPoint `json:"series"` // only minutes with traffic
	Networks     []Seen          `json:"networks"`
	Fingerprints []Seen          `json:"fingerprints"`
	Models       []Seen          `json:"models"`
	HourOfWeek   []int64         `json:"hour_of_week"` // 168 counts, UTC, Monday 00:00 first
}

func (l *View) activity(w http.ResponseWriter, r *http.Request) {
	window, err := intQuery(r, "minutes", l.opt.Minutes, 1, l.opt.Minutes)
	if err != nil {
		wire.Error(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	id := r.PathValue("key_id")
	out := Activity{KeyID: id, Series: []ActivityPoint{}, Networks: []Seen{}, Fingerprints: []Seen{}, Models: []Seen{}, HourOfWeek: make([]int64, 168)}
	l.mu.Lock()
	a := l.keys[id]
	if a != nil {
		out.Tracked = true
		f, la := a.first, a.last
		out.First, out.Last = &f, &la
		out.Requests, out.Refused, out.CostUSD = a.requests, a.refusedN, a.cost
		from := l.now().Unix()/60 - int64(window) + 1
		for _, m := range a.minutes {
			if m.Minute < from {
				continue
			}
			p := ActivityPoint{Time: time.Unix(m.Minute*60, 0).UTC(), Requests: m.Requests, Refused: m.Refused, CostUSD: m.CostUSD,
				Networks: map[string]int64{}, Fingerprints: map[string]int64{}}
			for _, n := range m.nets {
				p.Networks[n.name] = n.n
			}
			for _, n := range m.fps {
				p.Fingerprints[n.name] = n.n
			}
			out.Series = append(out.Series, p)
		}
		list := func(m map[string]*Seen) []Seen {
			s := make([]Seen, 0, len(m))
			for _, v := range m {
				s = append(s, *v)
			}
			sort.Slice(s, func(i, j int) bool {
				return s[i].Requests > s[j].Requests || s[i].Requests == s[j].Requests && s[i].Value < s[j].Value
			})
			return s
		}
		out.Networks, out.Fingerprints, out.Models = list(a.networks), list(a.clients), list(a.models)
		copy(out.HourOfWeek, a.hourOfWeek[:])
	}
	l.mu.Unlock()
	wire.JSON(w, http.StatusOK, out)
}
