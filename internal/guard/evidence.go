package guard

import (
	"math"
	"strings"
)

// Instruction lines: judged apart in texts of at least instructionMinText
// bytes, when they are between instructionMinLine and instructionMaxLine
// bytes long.
const (
	instructionMinText = 768
	instructionMinLine = 24
	instructionMaxLine = 600
)

// instructionLines returns the first and last non-empty lines of text when
// they are of instruction length, else "".
func instructionLines(text string) (first, last string) {
	ok := func(l string) string {
		l = strings.TrimSpace(l)
		if len(l) < instructionMinLine || len(l) > instructionMaxLine {
			return ""
		}
		return l
	}
	t := strings.TrimSpace(text)
	i := strings.IndexByte(t, '\n')
	if i < 0 {
		return "", ""
	}
	k := strings.LastIndexByte(t, '\n')
	return ok(t[:i]), ok(t[k+1:])
}

// minEvidence is the number of distinct features an instruction line needs
// to be judged on its own.
const minEvidence = 12

// Low-evidence texts. A text of a few words is mostly the models' bias, and
// the bias of a head trained on long texts says little about "a lighthouse"
// or "tell me a joke". Such a text's margin over the operating point is
// shrunk toward lowEvidenceMargin (in logit units) in proportion to its
// evidence: its words, or a eighth of its distinct features for scripts
// without spaces, counting in full from fullEvidenceWords.
const (
	fullEvidenceWords = 6
	lowEvidenceMargin = -3
)

// evidence returns the weight, in 0..1, of the model's judgment of the
// normalised text b, which has n distinct features.
func evidence(b []byte, n int) float64 {
	words := countWords(b, fullEvidenceWords)
	if words >= fullEvidenceWords {
		return 1
	}
	return min(1, float64(max(words, n/8))/fullEvidenceWords)
}

// countWords counts the words of the normalised text b (runs of letters,
// digits and non-ASCII bytes), stopping at upTo.
func countWords(b []byte, upTo int) int {
	words := 0
	in := false
	for _, c := range b {
		w := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c >= 0x80
		if w && !in {
			words++
			if words >= upTo {
				return words
			}
		}
		in = w
	}
	return words
}

// probability maps a head's logit z to a score, 0.5 at the threshold logit
// thr, shrinking its margin toward lowEvidenceMargin by the evidence weight
// conf.
func probability(z, thr float32, conf float64) float64 {
	margin := float64(z-thr)*conf + lowEvidenceMargin*(1-conf)
	return 1 / (1 + math.Exp(-margin))
}

// shiftOdds lowers the probability p by shift in logit space: the odds
// p/(1-p) divided by e^shift. A shift of 0 leaves p as it is.
func shiftOdds(p, shift float64) float64 {
	if shift == 0 || p <= 0 || p >= 1 {
		return p
	}
	return 1 / (1 + math.Exp(math.Log((1-p)/p)+shift))
}

// topicShift is how much longer the odds the harm heads need when a request
// names only topics (intent.Topics): 4 in logit space, so the flag point
// (0.35) asks what 0.97 asks of other requests. Held out by source, 2 left
// Alpaca's ordinary instructions flagged 1.02% of the time and 4 0.91%,
// for one more harmful request in about 800 (docs/guard-model-card.md,
// "Twelfth round").
const topicShift = 4

// harmGate is how far above the any-harm score a harm category head may go.
const harmGate = 0.15

func maxInto(dst, src []float32) {
	for j, v := range src {
		if v > dst[j] {
			dst[j] = v
		}
	}
}
