package detect

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const docConfig = `
policy:
  alert_at: 25
  step_up_at: 50
  throttle_at: 50
  suspend_at: 100
  revoke_at: 0
  half_life: 6h
  action_ttl: 24h
  incident_gap: 24h
  weights: {new_client: 25, probe: 15}
learning: {min_requests: 30, min_age: 6h, known_requests: 3, known_after: 10m}
allow:
  monitor_user_agents: ["UptimeRobot", "kube-probe"]
  monitor_cidrs: ["198.51.100.0/24"]
  known_cidrs: ["10.0.0.0/8"]
canary: {action: alert}
alerts:
  dedup: 1h
  sinks:
    - {type: jsonl, path: /tmp/alerts.jsonl}
`

func decodeStrict(s string) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte(s)))
	dec.KnownFields(true)
	err := dec.Decode(&c)
	return c, err
}

func TestConfigDecodesStrictly(t *testing.T) {
	c, err := decodeStrict(docConfig)
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.HalfLife != 6*time.Hour || c.Learning.KnownAfter != 10*time.Minute || c.Alerts.Dedup != time.Hour || len(c.Alerts.Sinks) != 1 {
		t.Errorf("decoded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("documented config invalid: %v", err)
	}
	if _, err := decodeStrict("policy: {alert_at: 1, typo: 2}"); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"zero is valid", Config{}, ""},
		{"falling thresholds", Config{Policy: Policy{AlertAt: 60, StepUpAt: 50}}, "rise"},
		{"revoke below suspend", Config{Policy: Policy{RevokeAt: 10}}, "revoke_at"},
		{"unknown weight", Config{Policy: Policy{Weights: map[string]float64{"nope": 1}}}, "unknown signal"},
		{"bad cidr", Config{Allow: Allow{KnownCIDRs: []string{"10.0.0.0/33"}}}, "CIDR"},
		{"bad canary action", Config{Canary: Canary{Action: "ignore"}}, "canary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
