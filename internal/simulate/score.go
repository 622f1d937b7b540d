package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
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
	// OnLegitRefused, if set, sees every legitimate request that was
	// refused (e.g. to list the texts the guard blocked).
	OnLegitRefused func(rec *record.Record, status int, ev *event.Event)

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
	legitRequests          int
	legitRefused           map[string]int // legitimate requests refused, by stage (guard, limit, detector, auth, ...)
	samples                []RefusedSample
	scenario               string
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
	unstopped    float64 // what all its requests would have cost if served
	servedBefore int     // served before containment
	costBefore   float64
}

// NewScorer returns an empty Scorer.
func NewScorer() *Scorer {
	return &Scorer{keys: map[string]*keyScore{}, phases: map[string]*phaseScore{}}
}

func (s *Scorer) key(id string) *keyScore {
	k := s.keys[id]
	if k == nil {
		k = &keyScore{days: map[string]bool{}, legitRefused: map[string]int{}}
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
		if k.scenario == "" {
			k.scenario = rec.Label.Scenario
		}
		k.legitRequests++
		// An answer the guard withheld is a 200 whose finish_reason is
		// content_filter: refused by the guard as surely as a 400.
		withheld := served && ev != nil && ev.FinishReason == "content_filter"
		if status >= 400 || status == 0 || withheld {
			stage := "error"
			switch {
			case withheld:
				stage = "guard"
			case ev != nil && ev.Refusal != "":
				stage = ev.Refusal
			case status == 0:
				stage = "none"
			}
			k.legitRefused[stage]++
			if len(k.samples) < maxSamples {
				k.samples = append(k.samples, sampleOf(rec, status, stage, ev))
			}
			if s.OnLegitRefused != nil {
				s.OnLegitRefused(rec, status, ev)
			}
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
	cost := EstimateCost(rec)
	pk.unstopped += cost
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
	// DollarsUnstopped is what every attacker request of the phase would
	// have cost had Warden served them all.
	DollarsUnstopped float64 `json:"dollars_unstopped"`
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
	// Keys lists every key with legitimate traffic: what its owner sent
	// and what Warden refused of it, by stage.
	Keys []KeyReport `json:"keys"`
	// AttackerDollars and UnstoppedDollars sum the phases; SpendRatio is
	// their ratio (goal: under 1%).
	AttackerDollars  float64 `json:"attacker_dollars"`
	UnstoppedDollars float64 `json:"unstopped_dollars"`
	SpendRatio       float64 `json:"spend_ratio"`
}

// KeyReport is what legitimate traffic on one key suffered.
type KeyReport struct {
	KeyID    string         `json:"key_id"`
	Scenario string         `json:"scenario"`
	Attacked bool           `json:"attacked"` // also carried attack traffic (a victim)
	Requests int            `json:"legit_requests"`
	Refused  map[string]int `json:"refused,omitempty"` // by stage: guard, limit, detector, auth, ...
	Alerts   int            `json:"alerts"`            // detector decisions before any attack on the key
	Actions  []string       `json:"actions,omitempty"` // throttle, step_up, suspend, revoke before any attack
	// Samples are the first refused requests, to show what was refused.
	Samples []RefusedSample `json:"samples,omitempty"`
}

// RefusedSample is one refused legitimate request.
type RefusedSample struct {
	TS       time.Time `json:"ts"`
	Status   int       `json:"status"`
	Stage    string    `json:"stage"`
	Category string    `json:"category,omitempty"` // the guard's verdict
	Text     string    `json:"text"`               // the request's texts, shortened
}

const maxSamples = 5

func sampleOf(rec *record.Record, status int, stage string, ev *event.Event) RefusedSample {
	s := RefusedSample{TS: rec.TS, Status: status, Stage: stage, Text: textsOf(rec.BodyBytes(), 400)}
	if ev != nil {
		for _, v := range ev.Guard {
			if v.Action == "block" {
				s.Category = v.Stage + ":" + v.Category
				break
			}
		}
		if s.Category == "" {
			s.Category = ev.ErrorCode
		}
	}
	return s
}

// textsOf joins the texts of a request body (messages with their roles,
// prompt, input), shortened to n bytes.
func textsOf(body []byte, n int) string {
	var b struct {
		Messages []struct {
			Role    string `json:"role"`
			Content any    `json:"content"`
		} `json:"messages"`
		Prompt any `json:"prompt"`
		Input  any `json:"input"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	var parts []string
	for _, m := range b.Messages {
		parts = append(parts, m.Role+": "+fmt.Sprint(m.Content))
	}
	if b.Prompt != nil {
		parts = append(parts, "prompt: "+fmt.Sprint(b.Prompt))
	}
	if b.Input != nil {
		parts = append(parts, "input: "+fmt.Sprint(b.Input))
	}
	t := strings.Join(parts, " | ")
	if len(t) > n {
		t = t[:n] + "…"
	}
	return t
}

// Budget is what legitimate traffic may suffer in a run (issue 13).
type Budget struct {
	MaxAlertsPerKeyDay float64
}

// DefaultBudget: no legitimate request refused by the guard or the
// detector, no legitimate key contained, at most 0.05 alerts per
// legitimate key-day.
var DefaultBudget = Budget{MaxAlertsPerKeyDay: 0.05}

// Violations lists where the run exceeded the budget; empty: within it.
func (r Report) Violations(b Budget) []string {
	var out []string
	for _, k := range r.Keys {
		for _, stage := range []string{"guard", "detector"} {
			if n := k.Refused[stage]; n > 0 {
				out = append(out, fmt.Sprintf("%s: %d legitimate requests refused by the %s", k.KeyID, n, stage))
			}
		}
		if len(k.Actions) > 0 {
			out = append(out, fmt.Sprintf("%s: legitimate key contained (%s)", k.KeyID, strings.Join(k.Actions, ",")))
		}
	}
	if r.AlertsPerLegitKeyDay > b.MaxAlertsPerKeyDay {
		out = append(out, fmt.Sprintf("%.4f alerts per legitimate key-day, budget %.4f", r.AlertsPerLegitKeyDay, b.MaxAlertsPerKeyDay))
	}
	return out
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
		if k.legitRequests > 0 {
			kr := KeyReport{KeyID: id, Scenario: k.scenario, Attacked: k.attacked, Requests: k.legitRequests,
				Alerts: k.alerts, Actions: k.actions, Samples: k.samples}
			if len(k.legitRefused) > 0 {
				kr.Refused = maps.Clone(k.legitRefused)
			}
			r.Keys = append(r.Keys, kr)
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
			pr.DollarsUnstopped += pk.unstopped
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
		r.AttackerDollars += pr.DollarsServed
		r.UnstoppedDollars += pr.DollarsUnstopped
	}
	if r.UnstoppedDollars > 0 {
		r.SpendRatio = r.AttackerDollars / r.UnstoppedDollars
	}
	return r
}

// Print writes the report as a table.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%-13s %4s %9s %9s %10s %6s %8s %9s %10s\n", "phase", "keys", "req→det", "ttd", "contain", "undet", "served", "pre-cont", "$served")
	for _, p := range r.Phases {
		contain := "never"
		if p.TimeToContainS >= 0 {
			contain = (time.Duration(p.TimeToContainS) * time.Second).String()
		}
		fmt.Fprintf(w, "%-13s %4d %9d %9s %10s %6d %8d %9d %10.2f\n", p.Phase, p.Keys, p.RequestsToDetect,
			(time.Duration(p.TimeToDetectS) * time.Second).String(), contain, p.Undetected, p.Served, p.ServedBeforeContainment, p.DollarsServed)
	}
	fmt.Fprintf(w, "attacker spend: $%.2f of $%.2f unstopped (%.2f%%; list prices, tokens estimated from the request)\n", r.AttackerDollars, r.UnstoppedDollars, 100*r.SpendRatio)
	fmt.Fprintf(w, "legitimate keys: %d, key-days: %d, false alerts: %d (%.4f per key-day)\n", r.LegitKeys, r.LegitKeyDays, r.FalseAlerts, r.AlertsPerLegitKeyDay)
	fmt.Fprintf(w, "legitimate keys contained: %d %v\n", len(r.LegitKeysContained), r.LegitKeysContained)
	fmt.Fprintf(w, "legitimate requests on attacked keys refused by the detector: %d\n", r.VictimLegitRefused)
	fmt.Fprintf(w, "\n%-22s %-20s %8s %7s %6s %9s %6s %6s %s\n", "key", "scenario", "requests", "guard", "limit", "detector", "auth", "alerts", "actions")
	for _, k := range r.Keys {
		other := 0
		for st, n := range k.Refused {
			switch st {
			case "guard", "limit", "detector", "auth":
			default:
				other += n
			}
		}
		extra := strings.Join(k.Actions, ",")
		if other > 0 {
			extra = strings.TrimSpace(fmt.Sprintf("%s (other refusals: %d)", extra, other))
		}
		name := k.KeyID
		if k.Attacked {
			name += "*"
		}
		fmt.Fprintf(w, "%-22s %-20s %8d %7d %6d %9d %6d %6d %s\n", name, k.Scenario, k.Requests, k.Refused["guard"], k.Refused["limit"],
			k.Refused["detector"], k.Refused["auth"], k.Alerts, extra)
	}
	fmt.Fprintln(w, "(* an attacked key: its owner's requests, alerts counted before the attack)")
	for _, k := range r.Keys {
		for _, sm := range k.Samples {
			fmt.Fprintf(w, "refused %s %s %d %s %s: %s\n", k.KeyID, sm.TS.Format(time.RFC3339), sm.Status, sm.Stage, sm.Category, sm.Text)
		}
	}
}
