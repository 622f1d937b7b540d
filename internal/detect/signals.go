package detect

import (
	"time"

	"github.com/wardenhq/warden/internal/incident"
)

// kind numbers the signals; a profile keeps one decaying score per kind.
type kind uint8

const (
	sigCanary kind = iota
	sigPhrase
	sigProbe
	sigHourlyProbe
	sigNewClient
	sigStripped
	sigProxyDefaults
	sigRootExplosion
	sigUserExplosion
	sigPoolRoots
	sigPoolClient
	sigRetryIgnored
	sigFlatLoad
	sigOffHours
	sigSpend
	sigModelMix
	sigContent
	numKinds
)

// signalDef is a signal as data: its name, default weight per occurrence,
// the most its decaying score may reach, its severity, and whether it is
// strong (near-zero false positives) so that it may suspend a key alone.
// Caps of weak signals stay below the suspend threshold, so one weak signal
// never suspends a key, however often it fires.
type signalDef struct {
	name     string
	weight   float64
	cap      float64
	severity string
	strong   bool
	doc      string
}

var signalDefs = [numKinds]signalDef{
	sigCanary:        {"canary", 1000, 1000, incident.SevCritical, true, "a decoy key was used: every use is an attacker's"},
	sigPhrase:        {"attack_phrase", 60, 200, incident.SevHigh, true, "a known attacker phrase: the de3u \"VERBATIM\" wrapper or the \"Obey\" safety-prompt probe"},
	sigProbe:         {"probe", 15, 60, incident.SevMedium, false, "key-checker probe shapes (empty or 1-token prompts, deployment listing, context-length and image-deployment probes) from a client not known on the key"},
	sigHourlyProbe:   {"hourly_probe", 15, 45, incident.SevMedium, false, "tiny probes from an unknown client about an hour apart: a reseller keeping its key list fresh"},
	sigNewClient:     {"new_client", 25, 45, incident.SevLow, false, "a new network together with a new client fingerprint on a key with an established profile"},
	sigStripped:      {"headers_stripped", 30, 60, incident.SevMedium, false, "no user agent and no SDK headers on a key whose clients always sent them (reverse-proxy forwarding)"},
	sigProxyDefaults: {"proxy_defaults", 10, 20, incident.SevLow, false, "body with every sampling default filled in (temperature 1, top_p 1, penalties 0), never seen on the key"},
	sigRootExplosion: {"conv_root_explosion", 20, 40, incident.SevMedium, false, "distinct conversations per hour far above the key's own peak"},
	sigUserExplosion: {"user_explosion", 20, 40, incident.SevMedium, false, "distinct user values per hour far above the key's own peak"},
	sigPoolRoots:     {"pooling_roots", 40, 150, incident.SevHigh, true, "the same conversations on keys of different owners: a proxy rotating through a pool of stolen keys"},
	sigPoolClient:    {"pooling_client", 20, 40, incident.SevMedium, false, "one client (network and fingerprint) using keys of three or more owners"},
	sigRetryIgnored:  {"retry_ignored", 8, 24, incident.SevLow, false, "a retry within 5 s of a 429, before its Retry-After"},
	sigFlatLoad:      {"flat_load", 15, 30, incident.SevLow, false, "round-the-clock load on a key that used to rest part of the day"},
	sigOffHours:      {"off_hours", 5, 15, incident.SevLow, false, "an unknown client at an hour of the day the key is never used"},
	sigSpend:         {"spend_spike", 15, 30, incident.SevMedium, false, "hourly spend far above the key's own peak"},
	sigModelMix:      {"model_mix", 10, 20, incident.SevLow, false, "an expensive model or HD images the key never used"},
	sigContent:       {"content_streak", 12, 40, incident.SevMedium, false, "a streak of jailbreak or content-filter verdicts on a key that rarely has them"},
}

var signalByName = func() map[string]kind {
	m := make(map[string]kind, numKinds)
	for k, d := range signalDefs {
		m[d.name] = kind(k)
	}
	return m
}()

// SignalDoc describes one signal, for documentation and `warden` help.
type SignalDoc struct {
	Name     string  `json:"name"`
	Weight   float64 `json:"weight"`
	Cap      float64 `json:"cap"`
	Severity string  `json:"severity"`
	Strong   bool    `json:"strong"`
	Doc      string  `json:"doc"`
}

// Signals lists every signal the detector emits, with default weights.
func Signals() []SignalDoc {
	out := make([]SignalDoc, 0, numKinds)
	for _, d := range signalDefs {
		out = append(out, SignalDoc{d.name, d.weight, d.cap, d.severity, d.strong, d.doc})
	}
	return out
}

// Signal is one piece of evidence against a key.
type Signal struct {
	TS       time.Time         `json:"ts"`
	Name     string            `json:"name"`
	Severity string            `json:"severity"`
	Weight   float64           `json:"weight"`
	Reason   string            `json:"reason"`
	Evidence map[string]string `json:"evidence,omitempty"`
	kind     kind
}
