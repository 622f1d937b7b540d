package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/event"
)

// Live is what the console shows of traffic as it happens: an event.Sink
// that keeps the most recent events in a ring buffer, fans each one out to
// server-sent-event subscribers, and aggregates per-minute totals for the
// whole gateway and for each active key. It lives in memory only, bounded
// by LiveOptions; after a restart the charts start empty (the audit log and
// the store keep the durable record).
//
// Routes, mounted with (*Live).Mount on the admin API:
//
//	GET /admin/v1/events?key_id=&refused=true&limit=100   recent events, newest first (at most 1000)
//	GET /admin/v1/events/stream?key_id=                   the same as text/event-stream, one "event" per request
//	GET /admin/v1/stats?minutes=60                        per-minute totals and the keys that spent or were refused most
//	GET /admin/v1/activity/{key_id}?minutes=180           one key: per-minute series by network and fingerprint,
//	                                                      the networks, clients and models seen, an hour-of-week heat map
//
// Register it as an async sink (bus.AddAsync): it never blocks a request,
// and a slow browser only loses its own events.
type Live struct {
	opt LiveOptions

	mu       sync.Mutex
	ring     []liveItem // circular, len opt.Recent once full
	next     int        // index of the next write in ring
	subs     map[*subscriber]struct{}
	minutes  []*minuteTotals // ascending by minute, at most opt.Minutes
	keys     map[string]*keyActivity
	received int64
}

// LiveOptions bound what Live keeps. Zero fields take the defaults shown.
type LiveOptions struct {
	Recent      int // events in the ring buffer (5000)
	Minutes     int // minutes of per-minute history, gateway-wide and per key (180)
	Keys        int // keys whose activity is tracked; the least recently seen is forgotten first (2000)
	Subscribers int // concurrent event streams (32)
	// Risk, if set, gives a key's current risk (the detector's), shown with
	// the top keys. Nil means the stats carry no risk.
	Risk func(keyID string, now time.Time) float64
	// Now returns the wall clock for windows and heartbeats; nil means time.Now.
	Now func() time.Time
}

// Caps on the breakdowns of one minute of one key: the largest few networks
// and fingerprints are named, the rest count as "other".
const (
	liveBreakdown  = 6
	liveNamedLists = 50 // networks, fingerprints, models listed per key
	liveMaxPage    = 1000
	liveSubBuffer  = 512
)

type liveItem struct {
	keyID   string
	refused bool
	data    []byte // JSON of the LiveEvent
}

// LiveEvent is one request as the console shows it: the event without its
// detector-only features.
type LiveEvent struct {
	ID          string   `json:"id"`
	Time        string   `json:"ts"`
	DurationMS  float64  `json:"duration_ms"`
	KeyID       string   `json:"key_id,omitempty"`
	KeyOwner    string   `json:"key_owner,omitempty"`
	KeyKind     string   `json:"key_kind,omitempty"`
	ClientIP    string   `json:"client_ip"`
	Network     string   `json:"network,omitempty"`
	Fingerprint string   `json:"fingerprint,omitempty"`
	UserAgent   string   `json:"user_agent,omitempty"`
	Method      string   `json:"method"`
	Path        string   `json:"path"`
	Endpoint    string   `json:"endpoint,omitempty"`
	Model       string   `json:"model,omitempty"`
	Status      int      `json:"status"`
	ErrorCode   string   `json:"error_code,omitempty"`
	Refusal     string   `json:"refusal,omitempty"`
	Tokens      int      `json:"tokens,omitempty"`
	CostUSD     float64  `json:"cost_usd,omitempty"`
	Action      string   `json:"action,omitempty"`
	Guard       []string `json:"guard,omitempty"` // "stage:action:category" of non-allow verdicts
	Phrases     []string `json:"phrases,omitempty"`
}

// Refused reports whether Warden refused the request (as opposed to the
// upstream failing it).
func refused(e *event.Event) bool { return e.Refusal != "" }

// NetworkOf is the network the console groups clients by: the /24 of an
// IPv4 address, the /48 of an IPv6 one.
func NetworkOf(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// NewLive returns a Live with opt's bounds.
func NewLive(opt LiveOptions) *Live {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opt.Recent, 5000)
	def(&opt.Minutes, 180)
	def(&opt.Keys, 2000)
	def(&opt.Subscribers, 32)
	return &Live{opt: opt, subs: map[*subscriber]struct{}{}, keys: map[string]*keyActivity{}}
}

func (l *Live) now() time.Time {
	if l.opt.Now != nil {
		return l.opt.Now()
	}
	return time.Now()
}

// Handle implements event.Sink.
func (l *Live) Handle(_ context.Context, e *event.Event) {
	le := LiveEvent{
		ID: e.ID, Time: e.Time.UTC().Format(time.RFC3339Nano), DurationMS: float64(e.Duration) / 1e6,
		KeyID: e.KeyID, KeyOwner: e.KeyOwner, KeyKind: e.KeyKind, ClientIP: e.ClientIP, Network: NetworkOf(e.ClientIP),
		Fingerprint: e.Fingerprint, UserAgent: e.Client.UserAgent, Method: e.Method, Path: e.Path,
		Endpoint: e.Endpoint, Model: e.Model, Status: e.Status, ErrorCode: e.ErrorCode, Refusal: e.Refusal,
		Tokens: e.PromptTokens + e.CompletionTokens, CostUSD: e.CostUSD, Action: e.Action,
		Phrases: slices.Clone(e.Features.Phrases),
	}
	for _, v := range e.Guard {
		if v.Action != "" && v.Action != "allow" {
			le.Guard = append(le.Guard, v.Stage+":"+v.Action+":"+v.Category)
		}
	}
	data, err := json.Marshal(le)
	if err != nil {
		return
	}
	item := liveItem{keyID: e.KeyID, refused: refused(e), data: data}

	l.mu.Lock()
	defer l.mu.Unlock()
	l.received++
	if len(l.ring) < l.opt.Recent {
		l.ring = append(l.ring, item)
	} else {
		l.ring[l.next] = item
	}
	l.next = (l.next + 1) % l.opt.Recent
	for s := range l.subs {
		if s.keyID != "" && s.keyID != item.keyID {
			continue
		}
		select {
		case s.ch <- data:
		default:
			s.dropped++
		}
	}
	min := e.Time.Unix() / 60
	t := l.minuteLocked(min)
	if t != nil {
		t.add(e)
	}
	if e.KeyID != "" {
		l.keyLocked(e.KeyID, e.Time).add(e, le.Network, l.opt.Minutes)
	}
}

// minuteLocked returns the totals of minute min, creating it, or nil if min
// is older than the history kept.
func (l *Live) minuteLocked(min int64) *minuteTotals {
	n := len(l.minutes)
	if n > 0 && l.minutes[n-1].Minute == min {
		return l.minutes[n-1]
	}
	i := sort.Search(n, func(i int) bool { return l.minutes[i].Minute >= min })
	if i < n && l.minutes[i].Minute == min {
		return l.minutes[i]
	}
	if n > 0 && min < l.minutes[n-1].Minute-int64(l.opt.Minutes) {
		return nil
	}
	t := &minuteTotals{Minute: min}
	l.minutes = slices.Insert(l.minutes, i, t)
	// Drop minutes that fell out of the window.
	last := l.minutes[len(l.minutes)-1].Minute
	cut := 0
	for cut < len(l.minutes) && l.minutes[cut].Minute <= last-int64(l.opt.Minutes) {
		cut++
	}
	l.minutes = slices.Delete(l.minutes, 0, cut)
	if i < cut {
		return nil
	}
	return t
}

// keyLocked returns the activity of a key, forgetting the least recently
// seen tenth of the keys when the map is full.
func (l *Live) keyLocked(id string, t time.Time) *keyActivity {
	if a, ok := l.keys[id]; ok {
		return a
	}
	if len(l.keys) >= l.opt.Keys {
		all := make([]*keyActivity, 0, len(l.keys))
		for _, a := range l.keys {
			all = append(all, a)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].last.Before(all[j].last) })
		for _, a := range all[:max(1, len(all)/10)] {
			delete(l.keys, a.id)
		}
	}
	a := &keyActivity{id: id, first: t, networks: map[string]*Seen{}, clients: map[string]*Seen{}, models: map[string]*Seen{}}
	l.keys[id] = a
	return a
}

// minuteTotals is one minute of the whole gateway.
type minuteTotals struct {
	Minute   int64
	Requests int64
	Refused  int64
	Errors   int64 // upstream or server errors (5xx) that Warden did not refuse
	Tokens   int64
	CostUSD  float64
	Canary   int64
	keys     map[string]*keyMinute // per key, for the top lists
}

type keyMinute struct {
	requests, refused int64
	cost              float64
	owner             string
}

func (t *minuteTotals) add(e *event.Event) {
	t.Requests++
	if refused(e) {
		t.Refused++
	} else if e.Status >= 500 {
		t.Errors++
	}
	t.Tokens += int64(e.PromptTokens + e.CompletionTokens)
	t.CostUSD += e.CostUSD
	if e.KeyKind == "canary" {
		t.Canary++
	}
	if e.KeyID == "" {
		return
	}
	if t.keys == nil {
		t.keys = map[string]*keyMinute{}
	}
	km := t.keys[e.KeyID]
	if km == nil {
		if len(t.keys) >= 10000 { // a minute touching more keys still counts in the totals
			return
		}
		km = &keyMinute{owner: e.KeyOwner}
		t.keys[e.KeyID] = km
	}
	km.requests++
	if refused(e) {
		km.refused++
	}
	km.cost += e.CostUSD
}

// keyActivity is what Live knows of one key.
type keyActivity struct {
	id          string
	first, last time.Time
	minutes     []*keySeriesMinute // ascending, at most LiveOptions.Minutes
	networks    map[string]*Seen
	clients     map[string]*Seen // by fingerprint
	models      map[string]*Seen
	hourOfWeek  [168]int64 // UTC, Monday 00:00 first
	requests    int64
	refusedN    int64
	cost        float64
}

// Seen is one network, client (by fingerprint) or model seen on a key.
type Seen struct {
	Value    string    `json:"value"`
	Detail   string    `json:"detail,omitempty"` // for a fingerprint, its user agent
	Requests int64     `json:"requests"`
	Refused  int64     `json:"refused"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
}

type keySeriesMinute struct {
	Minute   int64
	Requests int64
	Refused  int64
	CostUSD  float64
	nets     []named
	fps      []named
}

type named struct {
	name string
	n    int64
}

// bump counts one for name in a capped breakdown; past the cap, "other".
func bump(list []named, name string) []named {
	if name == "" {
		name = "unknown"
	}
	for i := range list {
		if list[i].name == name {
			list[i].n++
			return list
		}
	}
	if len(list) >= liveBreakdown {
		name = "other"
		for i := range list {
			if list[i].name == name {
				list[i].n++
				return list
			}
		}
		list[len(list)-1].name = "other" // fold the last named entry into other
		list[len(list)-1].n++
		return list
	}
	return append(list, named{name, 1})
}

func note(m map[string]*Seen, value, detail string, t time.Time, ref bool) {
	if value == "" {
		return
	}
	s := m[value]
	if s == nil {
		if len(m) >= liveNamedLists {
			return
		}
		s = &Seen{Value: value, Detail: detail, First: t}
		m[value] = s
	}
	s.Requests++
	if ref {
		s.Refused++
	}
	if t.After(s.Last) {
		s.Last = t
	}
	if detail != "" {
		s.Detail = detail
	}
}

func (a *keyActivity) add(e *event.Event, network string, keep int) {
	t := e.Time.UTC()
	ref := refused(e)
	if t.After(a.last) {
		a.last = t
	}
	a.requests++
	if ref {
		a.refusedN++
	}
	a.cost += e.CostUSD
	note(a.networks, network, "", t, ref)
	note(a.clients, e.Fingerprint, e.Client.UserAgent, t, ref)
	note(a.models, e.Model, "", t, ref)
	a.hourOfWeek[(int(t.Weekday())+6)%7*24+t.Hour()]++

	min := t.Unix() / 60
	n := len(a.minutes)
	var m *keySeriesMinute
	if n > 0 && a.minutes[n-1].Minute == min {
		m = a.minutes[n-1]
	} else {
		i := sort.Search(n, func(i int) bool { return a.minutes[i].Minute >= min })
		if i < n && a.minutes[i].Minute == min {
			m = a.minutes[i]
		} else {
			if n > 0 && min <= a.minutes[n-1].Minute-int64(keep) {
				return
			}
			m = &keySeriesMinute{Minute: min}
			a.minutes = slices.Insert(a.minutes, i, m)
			last := a.minutes[len(a.minutes)-1].Minute
			cut := 0
			for cut < len(a.minutes) && a.minutes[cut].Minute <= last-int64(keep) {
				cut++
			}
			a.minutes = slices.Delete(a.minutes, 0, cut)
		}
	}
	m.Requests++
	if ref {
		m.Refused++
	}
	m.CostUSD += e.CostUSD
	m.nets = bump(m.nets, network)
	m.fps = bump(m.fps, e.Fingerprint)
}

// Mount adds Live's routes to the admin API.
func (l *Live) Mount(s *Server) {
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

func (l *Live) recent(w http.ResponseWriter, r *http.Request) {
	limit, err := intQuery(r, "limit", 100, 1, liveMaxPage)
	if err != nil {
		Error(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	keyID := r.URL.Query().Get("key_id")
	onlyRefused := r.URL.Query().Get("refused") == "true"
	out := make([]json.RawMessage, 0, limit)
	l.mu.Lock()
	n := len(l.ring)
	for i := 1; i <= n && len(out) < limit; i++ {
		it := l.ring[((l.next-i)%n+n)%n]
		if (keyID != "" && it.keyID != keyID) || (onlyRefused && !it.refused) {
			continue
		}
		out = append(out, it.data)
	}
	l.mu.Unlock()
	JSON(w, http.StatusOK, out)
}

type subscriber struct {
	keyID   string
	ch      chan []byte
	dropped int64 // guarded by Live.mu
}

func (l *Live) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	sub := &subscriber{keyID: r.URL.Query().Get("key_id"), ch: make(chan []byte, liveSubBuffer)}
	l.mu.Lock()
	if len(l.subs) >= l.opt.Subscribers {
		l.mu.Unlock()
		Error(w, http.StatusServiceUnavailable, "busy", "too many event streams open")
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

func (l *Live) stats(w http.ResponseWriter, r *http.Request) {
	window, err := intQuery(r, "minutes", 60, 1, l.opt.Minutes)
	if err != nil {
		Error(w, http.StatusBadRequest, "invalid", err.Error())
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
	JSON(w, http.StatusOK, st)
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

func (l *Live) activity(w http.ResponseWriter, r *http.Request) {
	window, err := intQuery(r, "minutes", l.opt.Minutes, 1, l.opt.Minutes)
	if err != nil {
		Error(w, http.StatusBadRequest, "invalid", err.Error())
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
	JSON(w, http.StatusOK, out)
}
