package gateway

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wardenhq/warden/internal/keys"
)

// seriesCount returns the number of series in reg, and the label values
// seen for label.
func seriesCount(t *testing.T, reg *prometheus.Registry, label string) (int, map[string]bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n, values := 0, map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			n++
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					values[l.GetValue()] = true
				}
			}
		}
	}
	return n, values
}

// A key (or a canary) sending made-up model names must not create series:
// only configured names are label values.
func TestMetricLabelsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarnessWith(t, nil, func(o *Options) { o.Metrics = NewMetrics(reg) })
	_, k := h.key(keys.Spec{})
	_, canary := h.key(keys.Spec{Kind: keys.KindCanary})
	send := func(key, model string) {
		h.do("POST", "/v1/chat/completions", bearer(key), `{"model":"`+model+`","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`)
	}
	send(k, "mock-echo")
	send(canary, "mock-echo")
	send(k, "warmup-unknown")
	send(canary, "warmup-unknown")
	h.do("POST", "/v1/no-such-endpoint-warmup", bearer(k), `{}`)
	before, _ := seriesCount(t, reg, "model")
	for i := range 50 {
		send(k, fmt.Sprintf("random-%d", i))
		send(canary, fmt.Sprintf("canary-random-%d", i))
		h.do("POST", fmt.Sprintf("/v1/no-such-endpoint-%d", i), bearer(k), `{}`)
		h.do("POST", fmt.Sprintf("/openai/deployments/dep-%d/chat/completions", i), map[string]string{"api-key": k}, `{"messages":[]}`)
	}
	after, models := seriesCount(t, reg, "model")
	if after != before {
		t.Errorf("series grew from %d to %d under a flood of random model names and paths", before, after)
	}
	for m := range models {
		if _, ok := h.gw.tab.Load().routes[m]; !ok && m != otherLabel && m != "" {
			t.Errorf("model label %q is neither configured nor %q", m, otherLabel)
		}
	}
	if !models[otherLabel] {
		t.Errorf("unknown models not counted as %q: %v", otherLabel, models)
	}
}

// An unknown model is refused only after the key's limits are charged, so
// probing names costs the key its rate like any request.
func TestUnknownModelChargesLimits(t *testing.T) {
	h := newHarness(t, nil)
	_, k := h.key(keys.Spec{RPM: 1})
	r := h.do("POST", "/v1/chat/completions", bearer(k), `{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}`)
	if r.status != 404 || r.errCode() != "model_not_found" {
		t.Fatalf("unknown model: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/chat/completions", bearer(k), `{"model":"mock-echo","messages":[{"role":"user","content":"hi"}]}`)
	if r.status != 429 {
		t.Fatalf("the unknown-model request was not charged to the key's rate: %d %s", r.status, r.body)
	}
}
