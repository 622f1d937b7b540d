package live

import (
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/wardenhq/warden/internal/event"
)

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

// keyActivity is what View knows of one key.
type keyActivity struct {
	id          string
	first, last time.Time
	minutes     []*keySeriesMinute // ascending, at most Options.Minutes
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
	if len(list) >= breakdown {
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
		if len(m) >= namedLists {
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
