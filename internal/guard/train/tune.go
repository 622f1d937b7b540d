package main

import (
	"flag"
	"fmt"
	"hash/fnv"
	"log"
	"sort"
	"strings"

	"github.com/wardenhq/warden/internal/guard/labels"
	"github.com/wardenhq/warden/internal/guard/linear"
)

// innerFolds is how many parts -tune cuts the training split into; one
// part is held out and the model is fitted on the others.
const innerFolds = 4

// tuneFPR is the false-positive rate on the held-out part's benign texts
// at which -tune compares recall.
const tuneFPR = 0.005

// runTune compares training settings by inner validation on the training
// split only. For each setting ("flag=value", any flag of this command but
// -bits, which holds for the whole run) it rebuilds the training documents,
// fits on three quarters of them (cut by a hash of the text, derived
// examples going with the text they were cut from) and prints, for the
// jailbreak, prompt-injection and any-harm heads, the recall of the held-out
// quarter's positives at tuneFPR of its benign texts (raw head logits, no
// gate: the ranking the heads learned). The calibration and validation
// splits are not used, so a setting chosen here is not chosen on the
// figures the model card reports.
func runTune(recs []record, bits uint, epochs int, settings []string) {
	for _, set := range settings {
		// A setting is "flag=value" (a flag of this command) or "" for
		// the defaults; each is undone before the next.
		restore := func() {}
		if name, value, ok := strings.Cut(set, "="); ok {
			f := flag.Lookup(name)
			if f == nil {
				log.Fatalf("-tune: no flag %q", name)
			}
			old := f.Value.String()
			if err := f.Value.Set(value); err != nil {
				log.Fatalf("-tune %s: %v", set, err)
			}
			restore = func() { f.Value.Set(old) }
		}
		fitDocs, held := innerSplit(recs, bits)
		scorer = nil
		m := fit(fitDocs, bits, epochs)
		fmt.Printf("tune %-20s %s\n", set, heldRecall(m, held))
		restore()
	}
}

// innerSplit cuts the training split into the part -tune fits on and the
// part it measures on (real texts only, no derived examples).
func innerSplit(recs []record, bits uint) (fitDocs, held []*doc) {
	train, _, _ := split(recs, "", bits)
	for _, d := range train {
		text := d.l.Text
		if d.parent != "" {
			text = d.parent // derived examples go where their text goes
		}
		h := fnv.New64a()
		h.Write([]byte(text))
		if h.Sum64()>>7%innerFolds == 0 {
			if d.parent == "" {
				held = append(held, d)
			}
			continue
		}
		fitDocs = append(fitDocs, d)
	}
	return fitDocs, held
}

// heldRecall reports the recall of the jailbreak, prompt-injection and
// any-harm heads on held at tuneFPR of its benign texts.
func heldRecall(m *linear.Model, held []*doc) string {
	out := ""
	for j, h := range heads[:3] {
		var neg, pos []float64
		for _, d := range held {
			if d.l.Skip || d.y == nil || d.y[j] < 0 {
				continue
			}
			z := float64(logits(m, d.l.Text, d.l.Role)[j])
			switch {
			case d.y[j] == 1:
				pos = append(pos, z)
			case d.l.Kind == labels.Benign && d.l.Weight >= 1:
				neg = append(neg, z)
			}
		}
		sort.Float64s(neg)
		thr := neg[min(len(neg)-1, int(float64(len(neg))*(1-tuneFPR)))]
		hit := 0
		for _, z := range pos {
			if z > thr {
				hit++
			}
		}
		out += fmt.Sprintf("  %s %d/%d = %.3f (%d benign)", h, hit, len(pos), frac(hit, len(pos)), len(neg))
	}
	return out
}
