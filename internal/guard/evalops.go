package guard

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
)

// operatingPoints collects the scores Eval needs to say what recall each
// false-positive budget buys, and the false positives of benign records per
// role under the policy that judged them.
type operatingPoints struct {
	attack, harm [2][]float64 // [0] benign, [1] positives: highest attack or harm score
	byRole       map[string]*[2]int
	// bySource counts benign records and those flagged or blocked per
	// source (its name up to a parenthesis): the per-source false-positive
	// rates the legitimate-traffic targets are about.
	bySource map[string]*[2]int
}

// OperatingFPRs are the false-positive rates on benign records at which
// Eval reports recall.
var OperatingFPRs = []float64{0.005, 0.01, 0.02}

func (o *operatingPoints) add(rec *EvalRecord, res *Result) {
	if rec.Skip {
		return
	}
	var a, h float64
	for i, c := range Categories {
		if c.IsAttack() {
			a = max(a, res.Scores[i])
		} else {
			h = max(h, res.Scores[i])
		}
	}
	switch {
	case rec.Label == 0:
		o.attack[0] = append(o.attack[0], a)
		o.harm[0] = append(o.harm[0], h)
		if o.byRole == nil {
			o.byRole = map[string]*[2]int{}
		}
		r := string(ClassOf(roleOr(rec.Role)).String())
		if o.byRole[r] == nil {
			o.byRole[r] = &[2]int{}
		}
		src := rec.Source
		if i := strings.Index(src, " ("); i > 0 {
			src = src[:i]
		}
		if o.bySource == nil {
			o.bySource = map[string]*[2]int{}
		}
		if o.bySource[src] == nil {
			o.bySource[src] = &[2]int{}
		}
		o.byRole[r][0]++
		o.bySource[src][0]++
		if res.Action != Allow {
			o.byRole[r][1]++
			o.bySource[src][1]++
		}
	case rec.Kind == "jailbreak" || rec.Kind == "prompt_injection":
		o.attack[1] = append(o.attack[1], a)
	case rec.Kind == "harm":
		o.harm[1] = append(o.harm[1], h)
	}
}

// recallAt returns the recall of positives at the score threshold that
// benign records exceed at rate fpr, and that threshold.
func recallAt(neg, pos []float64, fpr float64) (recall, threshold float64) {
	if len(neg) == 0 || len(pos) == 0 {
		return 0, 0
	}
	n := slices.Clone(neg)
	sort.Float64s(n)
	// The threshold is the smallest score that at most fpr of benign
	// records exceed.
	k := int(float64(len(n)) * (1 - fpr))
	threshold = n[min(k, len(n)-1)]
	hit := 0
	for _, s := range pos {
		if s > threshold {
			hit++
		}
	}
	return float64(hit) / float64(len(pos)), threshold
}

func (o *operatingPoints) write(w io.Writer) {
	fmt.Fprintf(w, "operating points (score threshold chosen on this file's benign records):\n")
	for _, g := range []struct {
		name string
		s    [2][]float64
	}{{"attacks (jailbreak+inject)", o.attack}, {"harmful requests", o.harm}} {
		if len(g.s[1]) == 0 || len(g.s[0]) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-28s", g.name)
		for _, f := range OperatingFPRs {
			r, t := recallAt(g.s[0], g.s[1], f)
			fmt.Fprintf(w, "  recall %.3f at %.1f%% fpr (score > %.3f)", r, 100*f, t)
		}
		fmt.Fprintln(w)
	}
	for _, r := range slices.Sorted(maps.Keys(o.byRole)) {
		c := o.byRole[r]
		fmt.Fprintf(w, "benign %-8s records %6d flagged or blocked %5d (%.4f)\n", r, c[0], c[1], ratio(c[1], c[0]))
	}
	for _, s := range slices.Sorted(maps.Keys(o.bySource)) {
		c := o.bySource[s]
		fmt.Fprintf(w, "benign source %s: records %d flagged or blocked %d (%.4f)\n", s, c[0], c[1], ratio(c[1], c[0]))
	}
}
