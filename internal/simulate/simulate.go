// Package simulate generates labelled traffic from the threat model
// (/work/shared/THREAT-MODEL.md, docs/detection.md) in the record format,
// and scores what the detector made of it.
//
// The traffic mixes every legitimate profile the detector must never punish
// (an enterprise chatbot on the official SDK in office hours, a nightly
// batch, a companion app with thousands of users, an app in five regions, a
// health monitor saying "hi" every five minutes, a developer with curl from
// home, a key rotation, an SDK upgrade, a marketing team making images, a
// support agent with tools and retrieved documents, an embeddings app, a key
// created mid-run) and what real apps send (texts.go: personas, format, tool
// and safety rules, long RAG prompts, character cards, code, JSON mode) with
// the LLMjacking timeline on other keys: leak, key-checker probes, reverse
// proxy set-up with hourly checks, resale through a pool of keys of
// different owners, de3u image abuse, a low-and-slow variant that spoofs an
// SDK, and use of a canary key.
//
// Generation is deterministic for a seed. Records carry key_id (no secrets)
// and a label with the scenario, phase and whether an attacker sent it.
package simulate

import (
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/record"
)

// Options of a simulation.
type Options struct {
	Seed  uint64
	Days  int       // at least 2; the leak happens on the second day
	Start time.Time // midnight UTC of the first day; zero: Monday 2 March 2026
	// Scale multiplies the legitimate request rates (default 1).
	Scale float64
}

// Phases of the attack, as labelled.
const (
	PhaseLegit      = "legit"
	PhaseProbe      = "probe"
	PhaseORPSetup   = "orp_setup"
	PhaseResale     = "resale"
	PhaseImageAbuse = "image_abuse"
	PhaseLowSlow    = "low_and_slow"
	PhaseCanary     = "canary"
)

// gen accumulates records.
type gen struct {
	opt  Options
	recs []*record.Record
	ord  []int // scenario order, to sort ties stably
}

type key struct {
	id, owner, kind string
	from            string // the key it replaced in a rotation
}

// Generate returns the records of a simulation, in time order.
func Generate(opt Options) ([]*record.Record, error) {
	if opt.Days < 2 || opt.Days > 60 {
		return nil, fmt.Errorf("simulate: days must be 2-60, got %d", opt.Days)
	}
	if opt.Start.IsZero() {
		opt.Start = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	}
	if opt.Scale <= 0 {
		opt.Scale = 1
	}
	g := &gen{opt: opt}
	scenarios := []func(*gen, *rand.Rand){
		enterpriseChatbot, nightlyBatch, companionApp, fiveRegions, healthMonitor, developerCurl,
		keyRotation, sdkUpgrade, marketingImages, victims, attack, helpdeskAgent, docSearch, newKeyLaunch,
	}
	for i, s := range scenarios {
		n := len(g.recs)
		s(g, rand.New(rand.NewPCG(opt.Seed, uint64(i)*0x9e3779b97f4a7c15+1)))
		for range g.recs[n:] {
			g.ord = append(g.ord, i)
		}
	}
	idx := make([]int, len(g.recs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := g.recs[a].TS.Compare(g.recs[b].TS); c != 0 {
			return c
		}
		return g.ord[a] - g.ord[b]
	})
	out := make([]*record.Record, len(idx))
	for i, j := range idx {
		out[i] = g.recs[j]
	}
	return out, nil
}

func (g *gen) end() time.Time { return g.opt.Start.Add(time.Duration(g.opt.Days) * 24 * time.Hour) }

// leak is when the attacked keys appear in public: 10:00 on the second day.
func (g *gen) leak() time.Time { return g.opt.Start.Add(34 * time.Hour) }

// add appends one request.
func (g *gen) add(at time.Time, k key, ip string, c clientKind, method, path string, body any, scenario, phase string, attacker bool) {
	if at.Before(g.opt.Start) || !at.Before(g.end()) {
		return
	}
	var raw json.RawMessage
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	g.recs = append(g.recs, &record.Record{
		TS: at.UTC(), ClientIP: ip, Method: method, Path: path,
		Headers: c.headers("", "sim", len(raw)), Body: raw,
		KeyID: k.id, KeyOwner: k.owner, KeyKind: k.kind, KeyRotatedFrom: k.from,
		Label: &record.Label{Scenario: scenario, Phase: phase, Attacker: attacker},
	})
}

// Poisson arrivals: the next arrival after t at rate per minute.
func next(r *rand.Rand, t time.Time, perMin float64) time.Time {
	if perMin <= 0 {
		return t.Add(time.Hour)
	}
	return t.Add(time.Duration(r.ExpFloat64() / perMin * float64(time.Minute)))
}

// arrivals yields Poisson arrivals from from until until at rate(t) per
// minute; where the rate is 0 (outside office hours) it looks again every
// 10 minutes. The last arrival may lie past until: g.add drops it.
func arrivals(r *rand.Rand, from, until time.Time, rate func(time.Time) float64) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		for t := from; t.Before(until); {
			perMin := rate(t)
			if perMin == 0 {
				t = t.Add(10 * time.Minute)
				continue
			}
			t = next(r, t, perMin)
			if !yield(t) {
				return
			}
		}
	}
}

// office is officeRate as a rate for arrivals.
func office(utcOffset int, peak float64) func(time.Time) float64 {
	return func(t time.Time) float64 { return officeRate(t, utcOffset, peak) }
}

// officeRate is a weekday 8-18 shape around a local UTC offset.
func officeRate(t time.Time, utcOffset int, peak float64) float64 {
	l := t.Add(time.Duration(utcOffset) * time.Hour)
	if wd := l.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return 0
	}
	h := float64(l.Hour()) + float64(l.Minute())/60
	if h < 8 || h >= 18 {
		return 0
	}
	return peak * (0.5 + 0.5*math.Sin(math.Pi*(h-8)/10))
}

func chatPath(deployment, apiVersion string) string {
	return "/openai/deployments/" + deployment + "/chat/completions?api-version=" + apiVersion
}

type msg struct {
	Role       string `json:"role"`
	Content    string `json:"content"`
	ToolCallID string `json:"tool_call_id,omitempty"`
	ToolCalls  []any  `json:"tool_calls,omitempty"`
}

func chatBody(system, first string, turns int, r *rand.Rand, extra map[string]any) map[string]any {
	msgs := []msg{}
	if system != "" {
		msgs = append(msgs, msg{Role: "system", Content: system})
	}
	msgs = append(msgs, msg{Role: "user", Content: first})
	for i := 1; i < turns; i++ {
		msgs = append(msgs, msg{Role: "assistant", Content: pick(r, assistantTurns)}, msg{Role: "user", Content: pick(r, followUps)})
	}
	b := map[string]any{"messages": msgs}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

var topics = []string{"the quarterly sales report", "our travel policy", "a customer complaint", "the onboarding checklist",
	"a SQL query for churn", "the release notes", "a job description", "the holiday schedule", "a contract clause", "GDPR retention rules"}

func topic(r *rand.Rand) string {
	if r.IntN(2) == 0 {
		return pick(r, userMessages)
	}
	return fmt.Sprintf("Please help me with %s, case %d.", topics[r.IntN(len(topics))], r.IntN(100000))
}

var assistantTurns = []string{
	"Sure. Here are the main points: first, check the settings page; second, restart the app; third, contact support if it persists.",
	"I can't help with that part, but here is what I can do: I can open a ticket for you or explain the policy.",
	"Here is a draft:\n\nHi Sam,\n\nJust a friendly reminder that invoice 2231 is now 14 days overdue. Could you let me know when we can expect payment?\n\nThanks,\nLena",
	"The error means the variable is not declared in this scope. Pass ctx into the function or create it with context.Background().",
}

var followUps = []string{
	"thanks! can you make it shorter?", "ok and what if that doesn't work", "great, now in spanish please",
	"can you explain the second point", "perfect, thank you", "and how long does that take?",
}
