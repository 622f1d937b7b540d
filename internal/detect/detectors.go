// The detectors: each reads one event against the key's profile as it was
// before the event and returns signals (see signals.go for their weights).

package detect

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/event"
)

// detect runs the detectors on e against the profile before e.
func (d *Detector) detect(p *profile, e *event.Event, c *client, now int64, sigs []Signal) []Signal {
	t := e.Time
	est := d.established(p)
	if ne := p.Nets.find(c.netH); ne != nil {
		c.netBefore = *ne
	}
	if fe := p.FPs.find(c.fpH); fe != nil {
		c.fpBefore = *fe
	}
	c.knownNet = d.known.known(c.netBefore) || d.allow.isKnownNet(c.ip)
	c.knownFP = d.known.known(c.fpBefore)
	if p.firstClient() && p.TrustFirst {
		c.knownNet, c.knownFP = true, true // a new key's first client is its owner (see learn)
	}
	c.monitoring = d.allow.isMonitor(e.Client.UserAgent, c.ip)
	knownClient := c.knownNet && c.knownFP
	ev := func(kv ...string) []string {
		return append([]string{"network", c.net.String(), "fingerprint", c.fp, "user_agent", e.Client.UserAgent}, kv...)
	}

	// Attacker phrases: near-zero false positives, no baseline needed.
	for _, ph := range e.Features.Phrases {
		switch ph {
		case "de3u_verbatim":
			sigs = append(sigs, d.signal(sigPhrase, t, d.weights[sigPhrase], "de3u \"VERBATIM\" revised-prompt wrapper in an image prompt", ev("phrase", ph)...))
		case "obey_probe":
			sigs = append(sigs, d.signal(sigPhrase, t, d.weights[sigPhrase], "\"Obey\" probe for an injected safety prompt", ev("phrase", ph)...))
		}
	}

	// Probe shapes from a client not known on the key.
	if pk, pw, pname := probeShape(e); pk != 0 && !knownClient && !c.monitoring {
		w := pw * d.weights[sigProbe] / signalDefs[sigProbe].weight
		if now-p.ProbeAt > int64(time.Hour) {
			p.ProbeKinds = 0
		}
		if p.ProbeKinds != 0 && p.ProbeKinds&pk == 0 {
			w += d.weights[sigProbe] // a second kind of probe: a key checker at work
		}
		p.ProbeKinds |= pk
		p.ProbeAt = now
		sigs = append(sigs, d.signal(sigProbe, t, w, pname+" from a client not known on this key", ev("probe", pname, "status", strconv.Itoa(e.Status), "error_code", e.ErrorCode)...))
		if pk&(probeTiny|probeEmpty) != 0 && p.LastProbe != 0 {
			if gap := time.Duration(now - p.LastProbe); gap >= 40*time.Minute && gap <= 80*time.Minute {
				sigs = append(sigs, d.signal(sigHourlyProbe, t, d.weights[sigHourlyProbe], "tiny probes from unknown clients about an hour apart", ev("gap", gap.Round(time.Minute).String())...))
			}
		}
		p.LastProbe = now
	}

	if est && !c.monitoring {
		if !c.knownNet && !c.knownFP {
			w, why := d.weights[sigNewClient], "a new network and a new client fingerprint on this key"
			if c.netBefore.N > 0 || c.fpBefore.N > 0 {
				w, why = w/3, "a network and client fingerprint not yet known on this key"
			}
			sigs = append(sigs, d.signal(sigNewClient, t, w, why, ev()...))
		}
		noUA := e.Client.UserAgent == ""
		switch {
		case noUA && !e.Client.SDKHeaders && float64(p.SDK) >= 0.95*float64(p.N):
			sigs = append(sigs, d.signal(sigStripped, t, d.weights[sigStripped], "no user agent and no SDK headers on a key whose clients always sent SDK headers",
				ev("headers", strings.Join(e.Client.HeaderNames, ","))...))
		case noUA && float64(p.UA) >= 0.95*float64(p.N):
			sigs = append(sigs, d.signal(sigStripped, t, d.weights[sigStripped]*2/3, "no user agent on a key whose clients always sent one",
				ev("headers", strings.Join(e.Client.HeaderNames, ","))...))
		}
		if filledDefaults(&e.Features) && float64(p.Filled) < 0.02*float64(p.N) {
			sigs = append(sigs, d.signal(sigProxyDefaults, t, d.weights[sigProxyDefaults], "temperature 1, top_p 1 and zero penalties all filled in, never seen on this key", ev()...))
		}
		if e.Features.ImageQuality == "hd" && p.HD == 0 {
			sigs = append(sigs, d.signal(sigModelMix, t, d.weights[sigModelMix], "HD images on a key that never asked for them", ev("model", e.Model, "size", e.Features.ImageSize)...))
		} else if e.Model != "" && p.Models.find(fnv(e.Model)) == nil && p.CostN > 10 && e.CostUSD > 0.05 && e.CostUSD > 5*p.CostS/float64(p.CostN) {
			sigs = append(sigs, d.signal(sigModelMix, t, d.weights[sigModelMix], "an expensive model the key never used", ev("model", e.Model, "cost_usd", fmt.Sprintf("%.4f", e.CostUSD))...))
		}
		if flagged(e) && p.Streak >= 2 && float64(p.Flags) < 0.2*float64(p.N) {
			sigs = append(sigs, d.signal(sigContent, t, d.weights[sigContent], fmt.Sprintf("%d guard or content-filter rejections in a row on a key that rarely has them", p.Streak+1), ev("category", flagCategory(e))...))
		}
	}

	// Retries that ignore Retry-After: same conversation, under 5 s, before the advertised time.
	if p.Last429 != 0 && p.RetryAfter > 0 {
		dt := now - p.Last429
		if dt >= 0 && dt < int64(5*time.Second) && dt < p.RetryAfter && fnv(e.Features.ConvRoot) == p.Last429Root {
			sigs = append(sigs, d.signal(sigRetryIgnored, t, d.weights[sigRetryIgnored],
				fmt.Sprintf("retry %v after a 429 that asked for %v", time.Duration(dt).Round(time.Millisecond), time.Duration(p.RetryAfter)), ev()...))
		}
	}

	// Baselines against the key's own history: only after a full day.
	day := p.age() >= 24*time.Hour && est
	if day && !knownClient && !c.monitoring {
		if p.restHours()&(1<<hourOfDay(now)) == 0 {
			sigs = append(sigs, d.signal(sigOffHours, t, d.weights[sigOffHours], "an unknown client at an hour of the day this key is never used", ev("hour_utc", strconv.Itoa(hourOfDay(now)))...))
		}
	}
	if e.Features.ConvRoot != "" {
		if p.Roots.add(fnv(e.Features.ConvRoot)) && day && !p.fired(sigRootExplosion) {
			if n := p.Roots.count(); n > 4*p.RootPeak+20 {
				p.Fired |= 1 << sigRootExplosion
				sigs = append(sigs, d.signal(sigRootExplosion, t, d.weights[sigRootExplosion], fmt.Sprintf("%.0f distinct conversations this hour against a peak of %.0f", n, p.RootPeak), ev()...))
			}
		}
	}
	if e.Features.User != "" {
		if p.Users.add(fnv(e.Features.User)) && day && !p.fired(sigUserExplosion) {
			if n := p.Users.count(); n > 4*p.UserPeak+20 {
				p.Fired |= 1 << sigUserExplosion
				sigs = append(sigs, d.signal(sigUserExplosion, t, d.weights[sigUserExplosion], fmt.Sprintf("%.0f distinct users this hour against a peak of %.0f", n, p.UserPeak), ev()...))
			}
		}
	}
	if day && !p.fired(sigSpend) {
		if cost := p.HourCost + e.CostUSD; cost > 4*p.CostPeak+5 {
			p.Fired |= 1 << sigSpend
			sigs = append(sigs, d.signal(sigSpend, t, d.weights[sigSpend], fmt.Sprintf("$%.2f this hour against a peak of $%.2f", cost, p.CostPeak), ev()...))
		}
	}
	if p.age() >= 72*time.Hour && !p.fired(sigFlatLoad) {
		if bits.OnesCount32(p.Active24|1) >= 22 && bits.OnesCount32(p.baseHours(2)) <= 16 && p.baseHours(2) != 0 {
			p.Fired |= 1 << sigFlatLoad
			sigs = append(sigs, d.signal(sigFlatLoad, t, d.weights[sigFlatLoad], "active in 22 or more of the last 24 hours on a key that used to rest", ev()...))
		}
	}

	// Pooling: the same conversations, or the same client, on keys of
	// different owners.
	owner := p.Owner
	if owner == "" {
		// An owner-less key is its own owner, and so is its rotation
		// lineage: a successor carrying its predecessor's conversations
		// during the overlap is not a pool.
		owner = "key:" + p.lineage()
	}
	ownerH := fnv(owner)
	// Every key's conversations are remembered, but only a client not
	// known on the key can raise the signal: common system prompts and
	// first messages ("You are a helpful assistant." + "hi") recur across
	// customers, on their own clients.
	if e.Features.ConvRoot != "" && e.Features.PromptChars >= 32 {
		rh := fnv(e.Features.ConvRoot)
		if d.pool.Touch(rh^0x9e3779b97f4a7c15, ownerH, now, int64(time.Hour)) >= 2 && !knownClient && !c.monitoring {
			if !slices.Contains(p.Shared[:], rh) {
				copy(p.Shared[1:], p.Shared[:3])
				p.Shared[0] = rh
			}
			if p.Shared[2] != 0 { // three or more distinct shared conversations this hour
				sigs = append(sigs, d.signal(sigPoolRoots, t, d.weights[sigPoolRoots], "conversations shared with keys of other owners in the last hour", ev("conv_root", e.Features.ConvRoot)...))
			}
		}
	}
	if c.ip.IsValid() && !knownClient && est {
		// Exact address, not the /24: many customers share cloud networks.
		ipb, _ := c.ip.Unmap().MarshalBinary()
		if n := d.pool.Touch(fnv(string(ipb))*31+c.fpH, ownerH, now, int64(time.Hour)); n >= 3 {
			sigs = append(sigs, d.signal(sigPoolClient, t, d.weights[sigPoolClient], fmt.Sprintf("the same client used keys of %d owners in the last hour", n), ev()...))
		}
	}
	return sigs
}

func (p *profile) fired(k kind) bool { return p.Fired&(1<<k) != 0 }

// Probe kinds (bits of profile.ProbeKinds).
const (
	probeEmpty uint16 = 1 << iota
	probeTiny
	probeNegative
	probeList
	probeContext
	probeImageDeployment
)

// probeRule is one key-checker probe shape of the threat model (steps
// 2-5): its kind bit, weight and name, and what it matches. Rules are
// tried in order; the first match wins.
type probeRule struct {
	kind   uint16
	weight float64
	name   string
	match  func(e *event.Event, chat, list bool) bool
}

var probeRules = []probeRule{
	{probeImageDeployment, 25, "chat call to an image deployment (OperationNotSupported)",
		func(e *event.Event, _, _ bool) bool { return e.ErrorCode == "OperationNotSupported" }},
	{probeNegative, 25, "negative max_tokens (validation-error probe)",
		func(e *event.Event, _, _ bool) bool { return e.Features.MaxTokens < 0 }},
	{probeContext, 25, "huge max_tokens on a tiny prompt (context-length probe)",
		func(e *event.Event, _, _ bool) bool {
			return e.ErrorCode == "context_length_exceeded" || (e.Features.MaxTokens >= 8000 && e.Features.PromptChars < 64)
		}},
	{probeList, 12, "deployment or model listing",
		func(e *event.Event, _, list bool) bool { return e.Method == "GET" && list }},
	{probeEmpty, 15, "empty prompt (validity check)",
		func(e *event.Event, chat, _ bool) bool { return chat && e.Features.EmptyPrompt }},
	{probeTiny, 5, "tiny prompt with a few tokens (validity check)",
		func(e *event.Event, chat, _ bool) bool {
			f := &e.Features
			return chat && f.PromptChars <= 4 && f.MaxTokens >= 0 && f.MaxTokens <= 5
		}},
}

// probeShape classifies e as one of probeRules and returns its kind,
// weight and name (0 if none).
func probeShape(e *event.Event) (uint16, float64, string) {
	path, _, _ := strings.Cut(e.Path, "?")
	chat := strings.Contains(e.Endpoint, "chat") || e.Endpoint == "completions" || e.Endpoint == "responses" ||
		strings.HasSuffix(path, "/completions") || strings.HasSuffix(path, "/responses")
	list := e.Endpoint == "models" || e.Endpoint == "deployments" || strings.HasSuffix(e.Endpoint, ".list") ||
		strings.HasSuffix(path, "/deployments") || strings.HasSuffix(path, "/models")
	for _, r := range probeRules {
		if r.match(e, chat, list) {
			return r.kind, r.weight, r.name
		}
	}
	return 0, 0, ""
}

func filledDefaults(f *event.Features) bool {
	return f.Temperature != nil && *f.Temperature == 1 && f.TopP != nil && *f.TopP == 1 &&
		f.PresencePen != nil && *f.PresencePen == 0 && f.FrequencyPen != nil && *f.FrequencyPen == 0
}

func flagged(e *event.Event) bool {
	switch e.ErrorCode {
	case "content_filter", "content_policy_violation", "ResponsibleAIPolicyViolation":
		return true
	}
	// A streak is made of rejections (threat model: "a streak of
	// content-filter rejections"): guard blocks, and flags only when a
	// rule matched. A model-only flag is too weak: ordinary prompts that
	// merely share vocabulary with attacks get flagged now and then.
	for _, v := range e.Guard {
		if v.Action == "block" || (v.Action == "flag" && v.Rule != "") {
			return true
		}
	}
	return false
}

func flagCategory(e *event.Event) string {
	for _, v := range e.Guard {
		if v.Category != "" {
			return v.Category
		}
	}
	return e.ErrorCode
}
