package simulate

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/record"
)

// Scorer measures a replay of labelled traffic: how fast each attack phase
// was detected and contained, what the attacker got before that, and what
// legitimate traffic suffered. Feed it through replay.Observer.
type Scorer struct {
	keys   map[string]*keyScore
	phases map[string]*phaseScore
	order  []string // phases in order of first appearance
}

type keyScore struct {
	attacked               bool
	firstAttack            time.Time
	days                   map[string]bool // UTC dates with legitimate traffic before the first attack
	detected               time.Time       // first decision
	contained              time.Time       // first throttle, step-up, suspend or revoke
	alerts                 int             // decisions before the first attack
	actions                []string        // actions before the first attack
	legitRefusedByDetector int
}

type phaseScore struct {
	keys map[string]*phaseKey
}

type phaseKey struct {
	first        time.Time
	requests     int // attacker requests in this phase on this key
	beforeDetect int // of which up to and including detection
	served       int
	servedCost   float64
	servedBefore int // served before containment
	costBefore   float64
}

// NewScorer returns an empty Scorer.
func NewScorer() *Scorer {
	return &Scorer{keys: map[string]*keyScore{}, phases: map[string]*phaseScore{}}
}

func (s *Scorer) key(id string) *keyScore {
	k := s.keys[id]
	if k == nil {
		k = &keyScore{days: map[string]bool{}}
		s.keys[id] = k
	}
	return k
}

// Request records one replayed request.
func (s *Scorer) Request(rec *record.Record, _ int, status int, ev *event.Event) {
	if rec.Label == nil {
		return
	}
	id := rec.KeyID
	if ev != nil && ev.KeyID != "" {
		id = ev.KeyID
	}
	if id == "" {
		return
	}
	k := s.key(id)
	served := status > 0 && status < 400
	if !rec.Label.Attacker {
		if !k.attacked {
			k.days[rec.TS.UTC().Format(time.DateOnly)] = true
		}
		if ev != nil && ev.Refusal == "detector" {
			k.legitRefusedByDetector++
		}
		return
	}
	if !k.attacked {
		k.attacked, k.firstAttack = true, rec.TS
	}
	ph := s.phases[rec.Label.Phase]
	if ph == nil {
		ph = &phaseScore{keys: map[string]*phaseKey{}}
		s.phases[rec.Label.Phase] = ph
		s.order = append(s.order, rec.Label.Phase)
	}
	pk := ph.keys[id]
	if pk == nil {
		pk = &phaseKey{first: rec.TS}
		ph.keys[id] = pk
	}
	pk.requests++
	if k.detected.IsZero() {
		pk.beforeDetect++
	}
	cost := 0.0
	if ev != nil {
		cost = ev.CostUSD
	}
	if served {
		pk.served++
		pk.servedCost += cost
		if k.contained.IsZero() {
			pk.servedBefore++
			pk.costBefore += cost
		}
	}
}

// Decision records one detector decision.
func (s *Scorer) Decision(d detect.Decision) {
	k := s.key(d.KeyID)
	if !k.attacked {
		k.alerts++
		if d.Action != detect.ActionAlert {
			k.actions = append(k.actions, d.Action)
		}
	}
	if k.detected.IsZero() {
		k.detected = d.Time
		// The request that caused the decision counts as before detection.
	}
	if k.contained.IsZero() && d.Action != detect.ActionAlert {
		k.contained = d.Time
	}
}

// PhaseReport is the outcome of one attack phase.
type PhaseReport struct {
	Phase string `json:"phase"`
	Keys  int    `json:"keys"`
	// Worst case over the phase's keys.
	RequestsToDetect         int     `json:"requests_to_detect"`
	TimeToDetectS            float64 `json:"time_to_detect_s"`
	TimeToContainS           float64 `json:"time_to_contain_s"`
	Undetected               int     `json:"undetected_keys"`
	AttackerRequests         int     `json:"attacker_requests"`
	Served                   int     `json:"served"`
	ServedBeforeContainment  int     `json:"served_before_containment"`
	DollarsBeforeContainment float64 `json:"dollars_before_containment"`
	DollarsServed            float64 `json:"dollars_served"`
}

// Report is the score of a run.
type Report struct {
	Phases               []PhaseReport `json:"phases"`
	LegitKeys            int           `json:"legit_keys"`
	LegitKeyDays         int           `json:"legit_key_days"`
	FalseAlerts          int           `json:"false_alerts"`
	AlertsPerLegitKeyDay float64       `json:"alerts_per_legit_key_day"`
	LegitKeysContained   []string      `json:"legit_keys_contained"`
	VictimLegitRefused   int           `json:"victim_legit_requests_refused"`
}

// Report computes the score.
func (s *Scorer) Report() Report {
	var r Report
	ids := make([]string, 0, len(s.keys))
	for id := range s.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		k := s.keys[id]
		r.LegitKeyDays += len(k.days)
		r.FalseAlerts += k.alerts
		if !k.attacked {
			r.LegitKeys++
		} else {
			r.VictimLegitRefused += k.legitRefusedByDetector
		}
		if len(k.actions) > 0 {
			r.LegitKeysContained = append(r.LegitKeysContained, id+" ("+strings.Join(k.actions, ",")+")")
		}
	}
	if r.LegitKeyDays > 0 {
		r.AlertsPerLegitKeyDay = float64(r.FalseAlerts) / float64(r.LegitKeyDays)
	}
	for _, name := range s.order {
		ph := s.phases[name]
		pr := PhaseReport{Phase: name, Keys: len(ph.keys)}
		never := false
		for id, pk := range ph.keys {
			k := s.keys[id]
			pr.AttackerRequests += pk.requests
			pr.Served += pk.served
			pr.ServedBeforeContainment += pk.servedBefore
			pr.DollarsServed += pk.servedCost
			pr.DollarsBeforeContainment += pk.costBefore
			if k.detected.IsZero() {
				pr.Undetected++
				continue
			}
			pr.RequestsToDetect = max(pr.RequestsToDetect, pk.beforeDetect)
			pr.TimeToDetectS = max(pr.TimeToDetectS, max(0, k.detected.Sub(pk.first).Seconds()))
			if !k.contained.IsZero() {
				pr.TimeToContainS = max(pr.TimeToContainS, max(0, k.contained.Sub(pk.first).Seconds()))
			} else {
				never = true
			}
		}
		if never {
			pr.TimeToContainS = -1
		}
		r.Phases = append(r.Phases, pr)
	}
	return r
}

// Print writes the report as a table.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%-13s %4s %9s %9s %10s %6s %8s %9s %10s\n", "phase", "keys", "req→det", "ttd", "contain", "undet", "served", "pre-cont", "$pre-cont")
	for _, p := range r.Phases {
		contain := "never"
		if p.TimeToContainS >= 0 {
			contain = (time.Duration(p.TimeToContainS) * time.Second).String()
		}
		fmt.Fprintf(w, "%-13s %4d %9d %9s %10s %6d %8d %9d %10.2f\n", p.Phase, p.Keys, p.RequestsToDetect,
			(time.Duration(p.TimeToDetectS) * time.Second).String(), contain, p.Undetected, p.Served, p.ServedBeforeContainment, p.DollarsBeforeContainment)
	}
	fmt.Fprintf(w, "legitimate keys: %d, key-days: %d, false alerts: %d (%.4f per key-day)\n", r.LegitKeys, r.LegitKeyDays, r.FalseAlerts, r.AlertsPerLegitKeyDay)
	fmt.Fprintf(w, "legitimate keys contained: %d %v\n", len(r.LegitKeysContained), r.LegitKeysContained)
	fmt.Fprintf(w, "legitimate requests on attacked keys refused by the detector: %d\n", r.VictimLegitRefused)
}
