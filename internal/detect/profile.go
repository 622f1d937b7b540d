package detect

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/incident"
)

// Capacities of the bounded per-key sets.
const (
	maxNets    = 16
	maxFPs     = 16
	maxModels  = 12
	sketchBits = 512 // linear-counting sketch of distinct values per hour
)

// entry is one member of a capped set: a hashed value with its use counts.
// Times are minutes since the Unix epoch, which fits in 32 bits for millennia.
type entry struct {
	H     uint64 `json:"h"`
	N     uint32 `json:"n"`
	First uint32 `json:"f"`
	Last  uint32 `json:"l"`
	Taint bool   `json:"t,omitempty"` // seen during an incident: never becomes known
	Own   bool   `json:"o,omitempty"` // the key's first client, or inherited from its rotation predecessor: known at once
}

// capSet is a small set with least-recently-used eviction that prefers to
// evict members that are not yet known, so an attacker cycling through many
// networks cannot push the owner's networks out.
type capSet struct {
	E []entry `json:"e"`
}

func (s *capSet) find(h uint64) *entry {
	for i := range s.E {
		if s.E[i].H == h {
			return &s.E[i]
		}
	}
	return nil
}

// add records a use of h at minute m and returns the entry as it was before
// (zero if new).
func (s *capSet) add(h uint64, m uint32, max int, kn knownRule) entry {
	if e := s.find(h); e != nil {
		before := *e
		e.N++
		e.Last = m
		return before
	}
	if len(s.E) < max {
		s.E = append(s.E, entry{H: h, N: 1, First: m, Last: m})
		return entry{}
	}
	victim, victimKnown := 0, true
	for i, e := range s.E {
		k := kn.known(e)
		if (victimKnown && !k) || (victimKnown == k && e.Last < s.E[victim].Last) {
			victim, victimKnown = i, k
		}
	}
	s.E[victim] = entry{H: h, N: 1, First: m, Last: m}
	return entry{}
}

type knownRule struct {
	requests uint32
	minutes  uint32
}

func (r knownRule) known(e entry) bool {
	return !e.Taint && (e.Own || (e.N >= r.requests && e.Last-e.First >= r.minutes))
}

// sketch counts distinct values approximately in sketchBits bits (linear
// counting: n ≈ -m ln(zero/m)); accurate to a few percent up to ~1000.
type sketch [sketchBits / 64]uint64

func (s *sketch) add(h uint64) bool {
	i := (h >> 7) % sketchBits
	w, b := i/64, uint64(1)<<(i%64)
	if s[w]&b != 0 {
		return false
	}
	s[w] |= b
	return true
}

func (s *sketch) count() float64 {
	ones := 0
	for _, w := range s {
		ones += bits.OnesCount64(w)
	}
	zero := sketchBits - ones
	if zero == 0 {
		zero = 1
	}
	return -sketchBits * math.Log(float64(zero)/sketchBits)
}

// profile is what the detector knows of one key. Everything is fixed-size
// or capped, so memory per key is bounded (see docs/detection.md for the
// measured figure). Fields are exported only for the JSON encoding that
// persists profiles.
type profile struct {
	V      int     `json:"v"` // encoding version
	KeyID  string  `json:"key_id"`
	Owner  string  `json:"owner,omitempty"`
	First  int64   `json:"first"` // event time, ns
	Last   int64   `json:"last"`
	N      uint32  `json:"n"`
	SDK    uint32  `json:"sdk"`    // requests with SDK headers
	UA     uint32  `json:"ua"`     // requests with a user agent
	Filled uint32  `json:"filled"` // requests with every sampling default filled in
	HD     uint32  `json:"hd"`     // HD image requests
	Flags  uint32  `json:"flags"`  // requests with a guard flag or content filter
	CostN  uint32  `json:"cost_n"` // requests with a cost
	CostS  float64 `json:"cost_s"` // their total cost

	Nets   capSet `json:"nets"`
	FPs    capSet `json:"fps"`
	Models capSet `json:"models"`

	Week [168]uint16 `json:"week"` // requests per hour of week (Monday 00:00 UTC first), saturating

	// The current hour and the baselines it folds into when it ends.
	Hour        int64     `json:"hour"` // unix hour of the current bucket
	HourReq     uint32    `json:"hour_req"`
	HourCost    float64   `json:"hour_cost"`
	Roots       sketch    `json:"roots"`
	Users       sketch    `json:"users"`
	Shared      [4]uint64 `json:"shared"` // distinct roots shared with other owners this hour
	Fired       uint32    `json:"fired"`  // once-per-hour signals already raised this hour (bit per kind)
	RootPeak    float64   `json:"root_peak"`
	UserPeak    float64   `json:"user_peak"`
	CostPeak    float64   `json:"cost_peak"`
	Active24    uint32    `json:"active24"` // bit i: active in hour Hour-i
	Day         int64     `json:"day"`      // unix day of DayMask[Day%7]
	DayMask     [7]uint32 `json:"day_mask"` // hours of day with activity, per day of the last week
	Last429Root uint64    `json:"last429_root"`

	Last429    int64  `json:"last429"`
	RetryAfter int64  `json:"retry_after"`
	Streak     uint16 `json:"streak"` // consecutive flagged requests
	LastProbe  int64  `json:"last_probe"`
	ProbeKinds uint16 `json:"probe_kinds"` // probe kinds seen from unknown clients in the last hour
	ProbeAt    int64  `json:"probe_at"`

	// Risk: one decaying score per signal kind, as of ScoreAt.
	Score   [numKinds]float64 `json:"score"`
	ScoreAt int64             `json:"score_at"`

	// Response state of the current incident.
	Level       int    `json:"level"` // 0 none, 1 alert, 2 throttle/step-up, 3 suspend, 4 revoke
	ActionUntil int64  `json:"action_until"`
	IncidentID  string `json:"incident_id,omitempty"`

	// TrustFirst: the key's first client is its owner (set when the
	// profile is created, unless the key was already reported leaked).
	TrustFirst bool `json:"trust_first,omitempty"`
	FirstDone  bool `json:"first_done,omitempty"` // the first client was seen (and owned if TrustFirst)
	// Inherited names the rotation predecessor whose profile this one
	// started from.
	Inherited string `json:"inherited,omitempty"`
	// Lineage is the first key of its rotation chain (empty: this key).
	Lineage string `json:"lineage,omitempty"`

	inc          *incident.Incident // open incident, loaded lazily
	trustChecked bool               // TrustFirst was decided in this process
	pending      []Signal           // recent signals before an incident opened (capped)
	dirty        bool
}

const profileVersion = 1

func (p *profile) encode() ([]byte, error) {
	p.V = profileVersion
	return json.Marshal(p)
}

func decodeProfile(b []byte) (*profile, error) {
	p := new(profile)
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("detect: decode profile: %w", err)
	}
	if p.V != profileVersion {
		return nil, fmt.Errorf("detect: profile version %d, want %d", p.V, profileVersion)
	}
	if len(p.Nets.E) > maxNets || len(p.FPs.E) > maxFPs || len(p.Models.E) > maxModels {
		return nil, fmt.Errorf("detect: profile of %s exceeds its caps", p.KeyID)
	}
	return p, nil
}

// fnv returns the 64-bit FNV-1a hash of s: deterministic across runs, so
// replays give the same sketches and the same decisions.
func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// netOf returns the client network: /24 for IPv4, /48 for IPv6.
func netOf(ip netip.Addr) netip.Prefix {
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p
}

func netHash(p netip.Prefix) uint64 {
	if !p.IsValid() {
		return 0
	}
	b, _ := p.Addr().MarshalBinary()
	return fnv(string(b)) ^ uint64(p.Bits())
}

// FingerprintOf returns a stable hash of what a request tells about its
// client software. The gateway fills event.Event.Fingerprint with its own
// hash; this one is used when that field is empty.
func FingerprintOf(c event.Client) string {
	var b strings.Builder
	b.WriteString(c.UserAgent)
	b.WriteByte(0)
	for _, h := range c.HeaderNames {
		b.WriteString(h)
		b.WriteByte(',')
	}
	b.WriteByte(0)
	b.WriteString(c.SDKLang)
	b.WriteByte(0)
	b.WriteString(c.SDKVersion)
	b.WriteByte(0)
	b.WriteString(c.APIVersion)
	return fmt.Sprintf("%016x", fnv(b.String()))
}

func minutes(t int64) uint32 { return uint32(t / int64(time.Minute)) }

// age is how long the key has been seen, in event time.
func (p *profile) age() time.Duration { return time.Duration(p.Last - p.First) }
