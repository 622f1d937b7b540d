package main

import (
	"encoding/json"
	"flag"
	"log"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/guard/labels"
	"github.com/wardenhq/warden/internal/guard/linear"
)

// targetFPR is, per head, the share of benign user calibration texts allowed
// to reach the head's flag point; systemFPR the same for system prompts.
var targetFPR = map[string]float64{
	"jailbreak": 0.005, "prompt_injection": 0.008, "harmful": 0.008,
}

const (
	defaultHeadFPR = 0.002
	systemFPR      = 0.002
)

// flagMargin is how far, in logits, the default policy's flag point (score
// 0.35) lies below its block point (0.5). Thresholds are set so that the
// flag point, not only the block point, meets the target rate: a flagged
// legitimate request feeds the detector's streaks.
var userMargin = flag.Float64("usermargin", 0.62, "logits added to user thresholds above the target quantile")

// harmMargin raises the harm heads' user thresholds a little above the
// attack heads'. The intent pair (intent.Pair) separates harmful requests
// from benign ones better, but it also lifts the few benign texts that pair
// a request with a harm word ("i need to report my stolen card"); with the
// margin, held-out benign sources are flagged no more often than without the
// pair (docs/guard-model-card.md, "Intent and target"). Since the harm
// heads' stronger L2 (-harml2) it is 0.2: the held-out trade-off curve
// rose, and the margin keeps held-out benign sources flagged about as often
// as before while the recall is taken (model card, "Eighth round").
var harmMargin = flag.Float64("harmmargin", 0.2, "logits added to the harm heads' user thresholds on top of -usermargin")

var flagMargin = flag.Float64("flagmargin", -math.Log(0.35/0.65), "logits between the flag point and the threshold")

// calibrate sets each head's threshold per role class: for the user class
// (the model's own Threshold) from every benign calibration text that is not
// a system prompt, for the system class from the system prompts. Documents
// and answers use the user thresholds.
func calibrate(m *linear.Model, calib []*doc) *guard.Roles {
	negUser := make([][]float64, len(heads))
	negSys := make([][]float64, len(heads))
	for _, d := range calib {
		if d.l.Kind != labels.Benign || d.l.Weight < 1 {
			continue
		}
		// The attack heads are calibrated on every benign text, as the
		// model scores it, although Check does not let a short text
		// without a cue reach their flag point (guard.AttackHeadsOpen).
		// Both ways of taking that gate into account were tried in
		// 2026-12: counting such texts as negatives the head gets right
		// moved the whole budget onto long texts (long benign
		// conversations flagged 8% instead of 4%, "summarise the notes
		// below" with a document flagged as injection); setting the rate
		// on long and cued texts alone raised the thresholds until attack
		// recall fell to 81%. So the gate only removes false positives.
		z := logits(m, d.l.Text, d.l.Role)
		neg := negUser
		if guard.ClassOf(d.l.Role) == guard.RoleSystem {
			neg = negSys
		}
		for j := range heads {
			neg[j] = append(neg[j], float64(z[j]))
		}
	}
	roles := &guard.Roles{Thresholds: map[string]map[string]float32{"user": {}, "system": {}},
		Note: "threshold logits per role class and head, set by go run ./internal/guard/train on the calibration split"}
	for j, h := range heads {
		fpr, ok := targetFPR[h]
		if !ok {
			fpr = defaultHeadFPR
		}
		u := quantile(negUser[j], 1-fpr) + *userMargin
		if !attackHead(h) {
			u += *harmMargin
		}
		m.Threshold[j] = float32(u)
		roles.Thresholds["user"][h] = float32(u)
		sy := u
		if len(negSys[j]) > 0 {
			sy = max(u, quantile(negSys[j], 1-systemFPR)+*flagMargin)
		}
		roles.Thresholds["system"][h] = float32(sy)
		log.Printf("calibrate %-16s user %.3f (%d benign)  system %.3f (%d benign)", h, u, len(negUser[j]), sy, len(negSys[j]))
	}
	return roles
}

// quantile returns the q-quantile of s (sorted in place), the largest value
// when s is too short to resolve q.
func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	sort.Float64s(s)
	k := int(math.Ceil(float64(len(s)) * q))
	return s[min(k, len(s)-1)]
}

func writeRoles(path string, r *guard.Roles) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// openings returns a system prompt's first sentence and first line, when
// they are shorter than the prompt.
func openings(text string) []string {
	t := strings.TrimSpace(text)
	var out []string
	if i := strings.IndexByte(t, '\n'); i > 0 {
		out = append(out, strings.TrimSpace(t[:i]))
	}
	if i := strings.Index(t, ". "); i > 0 && (len(out) == 0 || i+1 < len(out[0])) {
		out = append(out, t[:i+1])
	}
	return out
}
