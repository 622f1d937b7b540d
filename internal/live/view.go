// Package live is what the security console shows of traffic as it
// happens: a View subscribes to the event bus (asynchronously: it never
// blocks a request), keeps the latest events in a ring, fans each one out
// to server-sent-event streams, and aggregates per-minute totals for the
// gateway and for each active key. It is memory only and bounded; the
// audit log and the store keep the durable record.
//
// The package has three parts: the subscriber and its ring (view.go), the
// per-minute aggregation (aggregate.go) and the HTTP routes with the SSE
// stream (http.go), mounted on the admin API by whoever assembles it.
package live

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/event"
)

// View is what the console shows of traffic as it happens: an event.Sink
// that keeps the most recent events in a ring buffer, fans each one out to
// server-sent-event subscribers, and aggregates per-minute totals for the
// whole gateway and for each active key. It lives in memory only, bounded
// by Options; after a restart the charts start empty (the audit log and
// the store keep the durable record).
//
// Routes, mounted with (*View).Mount on the admin API:
//
//	GET /admin/v1/events?key_id=&refused=true&limit=100   recent events, newest first (at most 1000)
//	GET /admin/v1/events/stream?key_id=                   the same as text/event-stream, one "event" per request
//	GET /admin/v1/stats?minutes=60                        per-minute totals and the keys that spent or were refused most
//	GET /admin/v1/activity/{key_id}?minutes=180           one key: per-minute series by network and fingerprint,
//	                                                      the networks, clients and models seen, an hour-of-week heat map
//
// Subscribe it with event.Async: it never blocks a request,
// and a slow browser only loses its own events.
type View struct {
	opt Options

	mu       sync.Mutex
	ring     []item // circular, len opt.Recent once full
	next     int    // index of the next write in ring
	subs     map[*subscriber]struct{}
	minutes  []*minuteTotals // ascending by minute, at most opt.Minutes
	keys     map[string]*keyActivity
	received int64
}

// Options bound what View keeps. Zero fields take the defaults shown.
type Options struct {
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
	breakdown  = 6
	namedLists = 50 // networks, fingerprints, models listed per key
	maxPage    = 1000
	subBuffer  = 512
)

type item struct {
	keyID   string
	refused bool
	ev      Event
	data    []byte // JSON of ev, once a subscriber or a reader needed it
}

// encoded returns the item's JSON, encoding it the first time.
func (it *item) encoded() []byte {
	if it.data == nil {
		it.data, _ = json.Marshal(&it.ev) // an Event always encodes
	}
	return it.data
}

// Event is one request as the console shows it: the event without its
// detector-only features.
type Event struct {
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

// New returns a View with opt's bounds.
func New(opt Options) *View {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opt.Recent, 5000)
	def(&opt.Minutes, 180)
	def(&opt.Keys, 2000)
	def(&opt.Subscribers, 32)
	return &View{opt: opt, subs: map[*subscriber]struct{}{}, keys: map[string]*keyActivity{}}
}

func (l *View) now() time.Time {
	if l.opt.Now != nil {
		return l.opt.Now()
	}
	return time.Now()
}

// Handle implements event.Sink.
func (l *View) Handle(_ context.Context, e *event.Event) {
	le := Event{
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
	// Encoded only once someone reads it: a console that is open streams
	// it, the recent-events list encodes what it lists; most events are
	// never looked at.
	it := item{keyID: e.KeyID, refused: refused(e), ev: le}

	l.mu.Lock()
	defer l.mu.Unlock()
	l.received++
	for s := range l.subs {
		if s.keyID != "" && s.keyID != it.keyID {
			continue
		}
		select {
		case s.ch <- it.encoded():
		default:
			s.dropped++
		}
	}
	if len(l.ring) < l.opt.Recent {
		l.ring = append(l.ring, it)
	} else {
		l.ring[l.next] = it
	}
	l.next = (l.next + 1) % l.opt.Recent
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
func (l *View) minuteLocked(min int64) *minuteTotals {
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
func (l *View) keyLocked(id string, t time.Time) *keyActivity {
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

type subscriber struct {
	keyID   string
	ch      chan []byte
	dropped int64 // guarded by View.mu
}
