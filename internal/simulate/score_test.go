package simulate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/record"
)

var ts = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func rec(key string, at time.Time, attacker bool, phase string, body string) *record.Record {
	return &record.Record{TS: at, KeyID: key, Method: "POST", Path: chatPath("gpt-4o", "2024-10-21"), Body: json.RawMessage(body),
		Label: &record.Label{Scenario: "s-" + key, Phase: phase, Attacker: attacker}}
}

// TestScorerBudget: refusals are counted per key and stage, and the budget
// fails on guard and detector refusals, contained keys and alert rate, but
// not on limit refusals.
func TestScorerBudget(t *testing.T) {
	body := `{"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"hi"}],"max_tokens":100}`
	cases := []struct {
		name          string
		run           func(s *Scorer)
		wantViolation string // substring; "" for none
	}{
		{"clean", func(s *Scorer) {
			s.Request(rec("a", ts, false, PhaseLegit, body), 1, 200, &event.Event{KeyID: "a"})
		}, ""},
		{"limit refusals are reported, not over budget", func(s *Scorer) {
			s.Request(rec("a", ts, false, PhaseLegit, body), 1, 429, &event.Event{KeyID: "a", Refusal: "limit"})
		}, ""},
		{"guard refusal", func(s *Scorer) {
			s.Request(rec("a", ts, false, PhaseLegit, body), 1, 400, &event.Event{KeyID: "a", Refusal: "guard",
				Guard: []event.Verdict{{Stage: "prompt", Action: "block", Category: "jailbreak"}}})
		}, "refused by the guard"},
		{"answer withheld by the guard", func(s *Scorer) {
			s.Request(rec("a", ts, false, PhaseLegit, body), 1, 200, &event.Event{KeyID: "a", FinishReason: "content_filter",
				Guard: []event.Verdict{{Stage: "answer", Action: "block", Category: "violence"}}})
		}, "refused by the guard"},
		{"detector refusal", func(s *Scorer) {
			s.Request(rec("a", ts, false, PhaseLegit, body), 1, 403, &event.Event{KeyID: "a", Refusal: "detector"})
		}, "refused by the detector"},
		{"legitimate key stepped up", func(s *Scorer) {
			s.Request(rec("a", ts, false, PhaseLegit, body), 1, 200, &event.Event{KeyID: "a"})
			s.Decision(detect.Decision{Time: ts, KeyID: "a", Action: detect.ActionStepUp})
		}, "contained (step_up)"},
		{"one alert in one key-day", func(s *Scorer) {
			s.Request(rec("a", ts, false, PhaseLegit, body), 1, 200, &event.Event{KeyID: "a"})
			s.Decision(detect.Decision{Time: ts, KeyID: "a", Action: detect.ActionAlert})
		}, "alerts per legitimate key-day"},
		{"decisions after the attack do not count against legitimate traffic", func(s *Scorer) {
			s.Request(rec("v", ts, false, PhaseLegit, body), 1, 200, &event.Event{KeyID: "v"})
			s.Request(rec("v", ts.Add(time.Hour), true, PhaseProbe, `{"messages":[{"role":"user","content":""}],"max_tokens":1}`), 2, 200, &event.Event{KeyID: "v"})
			s.Decision(detect.Decision{Time: ts.Add(time.Hour), KeyID: "v", Action: detect.ActionStepUp})
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewScorer()
			c.run(s)
			v := strings.Join(s.Report().Violations(DefaultBudget), "; ")
			switch {
			case c.wantViolation == "" && v != "":
				t.Errorf("violations %q, want none", v)
			case c.wantViolation != "" && !strings.Contains(v, c.wantViolation):
				t.Errorf("violations %q, want one with %q", v, c.wantViolation)
			}
		})
	}
}

func TestScorerSamplesAndStages(t *testing.T) {
	s := NewScorer()
	body := `{"messages":[{"role":"system","content":"You are a concise, helpful assistant."},{"role":"user","content":"Meeting notes"}]}`
	s.Request(rec("a", ts, false, PhaseLegit, body), 1, 400, &event.Event{KeyID: "a", Refusal: "guard",
		Guard: []event.Verdict{{Stage: "prompt", Action: "block", Category: "prompt_injection"}}})
	s.Request(rec("a", ts.Add(time.Second), false, PhaseLegit, body), 2, 429, &event.Event{KeyID: "a", Refusal: "limit"})
	s.Request(rec("a", ts.Add(2*time.Second), false, PhaseLegit, body), 3, 200, &event.Event{KeyID: "a"})
	r := s.Report()
	if len(r.Keys) != 1 {
		t.Fatalf("keys %+v", r.Keys)
	}
	k := r.Keys[0]
	if k.Requests != 3 || k.Refused["guard"] != 1 || k.Refused["limit"] != 1 || len(k.Refused) != 2 {
		t.Errorf("key report %+v", k)
	}
	if len(k.Samples) != 2 || k.Samples[0].Category != "prompt:prompt_injection" || !strings.Contains(k.Samples[0].Text, "system: You are a concise, helpful assistant.") {
		t.Errorf("samples %+v", k.Samples)
	}
}

func TestEstimateCost(t *testing.T) {
	cases := []struct {
		name     string
		path     string
		body     string
		min, max float64
	}{
		{"400 tokens of gpt-4-32k", chatPath("gpt-4-32k", "2024-02-01"), `{"messages":[{"role":"user","content":"x"}],"max_tokens":400}`, 0.048, 0.049},
		{"default 400 tokens when unset", chatPath("gpt-4o", "2024-02-01"), `{"messages":[{"role":"user","content":"x"}]}`, 0.004, 0.0041},
		{"HD image", "/openai/deployments/dall-e-3/images/generations?api-version=2024-02-01", `{"prompt":"p","quality":"hd","n":1}`, 0.12, 0.12},
		{"standard images", "/openai/deployments/dall-e-3/images/generations", `{"prompt":"p","n":2}`, 0.16, 0.16},
		{"unknown model costs nothing", chatPath("mystery", "1"), `{"messages":[]}`, 0, 0},
		{"bad JSON costs nothing", chatPath("gpt-4o", "1"), `"not an object"`, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := EstimateCost(&record.Record{Method: "POST", Path: c.path, Body: json.RawMessage(c.body)})
			if got < c.min || got > c.max {
				t.Errorf("cost %v, want %v-%v", got, c.min, c.max)
			}
		})
	}
}
