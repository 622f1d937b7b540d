// Package incident defines the Incident: related detector signals on one key
// grouped into one record with a timeline, evidence, spend so far and the
// action taken. The detector (package detect) opens and extends incidents;
// the store keeps them; operators list, read and resolve them with
// `warden incidents` or the admin API.
//
// # Format
//
// An incident is JSON:
//
//	{"id":"inc_…","key_id":"key_…","key_owner":"acme","status":"open",
//	 "severity":"high","action":"step_up","title":"probe shapes from a new client",
//	 "opened_at":"…","updated_at":"…","risk":72.5,"requests":12,"spend_usd":0.42,
//	 "timeline":[{"ts":"…","kind":"signal","name":"probe","severity":"medium",
//	              "reason":"…","weight":15,"risk":40}, {"kind":"action",…}],
//	 "evidence":{"networks":["203.0.113.0/24"],"fingerprints":["…"],
//	             "user_agents":["python-requests/2.31"],"samples":[<event.Event>,…]}}
//
// Timelines and evidence lists are capped (MaxTimeline, MaxSamples, ...), so
// an incident on a key under sustained abuse stays a bounded record.
package incident

import (
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/event"
)

// Caps on the lists of one incident.
const (
	MaxTimeline = 100
	MaxSamples  = 10
	MaxValues   = 20 // networks, fingerprints, user agents
)

// Status of an incident.
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
)

// Severity levels, in increasing order.
const (
	SevInfo     = "info"
	SevLow      = "low"
	SevMedium   = "medium"
	SevHigh     = "high"
	SevCritical = "critical"
)

// SeverityRank orders severities; unknown ones rank 0.
func SeverityRank(s string) int {
	return slices.Index([]string{SevInfo, SevLow, SevMedium, SevHigh, SevCritical}, s) + 1
}

// Incident is one case of suspected abuse of one key.
type Incident struct {
	ID       string `json:"id"`
	KeyID    string `json:"key_id"`
	KeyOwner string `json:"key_owner,omitempty"`
	KeyKind  string `json:"key_kind,omitempty"`
	Status   string `json:"status"`
	Severity string `json:"severity"`
	Action   string `json:"action"` // strongest action taken: alert, throttle, step_up, suspend, revoke
	Title    string `json:"title"`

	OpenedAt   time.Time  `json:"opened_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	Resolution string     `json:"resolution,omitempty"`

	Risk     float64 `json:"risk"`
	Requests int64   `json:"requests"`  // requests on the key since the incident opened
	Refused  int64   `json:"refused"`   // of which refused
	SpendUSD float64 `json:"spend_usd"` // spent on the key since the incident opened

	Timeline []Entry  `json:"timeline"`
	Evidence Evidence `json:"evidence"`
}

// Entry is one line of the timeline: a signal, an action or a note.
type Entry struct {
	TS       time.Time         `json:"ts"`
	Kind     string            `json:"kind"` // signal, action, note
	Name     string            `json:"name"` // signal name or action
	Severity string            `json:"severity,omitempty"`
	Reason   string            `json:"reason"`
	Weight   float64           `json:"weight,omitempty"`
	Risk     float64           `json:"risk,omitempty"`
	Evidence map[string]string `json:"evidence,omitempty"`
}

// Evidence is what was seen of the clients involved.
type Evidence struct {
	Networks     []string       `json:"networks,omitempty"`
	Fingerprints []string       `json:"fingerprints,omitempty"`
	UserAgents   []string       `json:"user_agents,omitempty"`
	Samples      []*event.Event `json:"samples,omitempty"`
}

// AddEntry appends e to the timeline, dropping the oldest signal entries
// (never actions) beyond MaxTimeline.
func (in *Incident) AddEntry(e Entry) {
	in.Timeline = append(in.Timeline, e)
	for len(in.Timeline) > MaxTimeline {
		i := slices.IndexFunc(in.Timeline, func(x Entry) bool { return x.Kind == "signal" })
		if i < 0 {
			i = 0
		}
		in.Timeline = slices.Delete(in.Timeline, i, i+1)
	}
	if SeverityRank(e.Severity) > SeverityRank(in.Severity) {
		in.Severity = e.Severity
	}
	if e.TS.After(in.UpdatedAt) {
		in.UpdatedAt = e.TS
	}
}

// AddSample keeps a copy of e as evidence, up to MaxSamples.
func (in *Incident) AddSample(e *event.Event) {
	if len(in.Evidence.Samples) >= MaxSamples {
		return
	}
	c := *e
	c.Guard = slices.Clone(e.Guard)
	c.Client.HeaderNames = slices.Clone(e.Client.HeaderNames)
	c.Features.Phrases = slices.Clone(e.Features.Phrases)
	in.Evidence.Samples = append(in.Evidence.Samples, &c)
}

// AddValue adds v to a capped, duplicate-free evidence list.
func AddValue(list []string, v string) []string {
	if v == "" || len(list) >= MaxValues || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}
