package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"

	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/guard/labels"
)

// tally counts how the guard (model, rules and role thresholds, under the
// default policy) judged one group of records.
type tally struct {
	pos, blocked, flaggedPos int // positives: blocked; flagged or blocked
	sysPos, sysBlocked       int // jailbreaks placed in a system message: blocked
	neg, fpAny, fpBlock      int // benign: flagged or blocked; blocked
	// sweep counts, at each of sweepPoints as the harm categories' block
	// threshold (flag 0.15 below), positives blocked and benign texts
	// flagged or blocked: the held-out trade-off curve of the harm heads.
	sweep [len(sweepPoints)]struct{ blocked, fpAny int }
}

// sweepPoints are the harm block thresholds of tally's sweep (0.5 is the
// calibrated operating point).
var sweepPoints = [...]float64{0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}

// sweepPolicies are the default policy with the harm categories' thresholds
// at each of sweepPoints.
var sweepPolicies = func() (ps [len(sweepPoints)]*guard.Policy) {
	for i, t := range sweepPoints {
		var yaml strings.Builder
		yaml.WriteString("categories:\n")
		for _, c := range guard.Categories {
			if c == guard.Jailbreak || c == guard.PromptInjection || c == guard.SexualMinors {
				continue
			}
			fmt.Fprintf(&yaml, "  %s: {action: block, threshold: %g, flag_threshold: %g}\n", c, t, t-0.15)
		}
		p, err := guard.DecodePolicy([]byte(yaml.String()))
		if err != nil {
			panic(err)
		}
		ps[i] = p
	}
	return ps
}()

func (t *tally) addSweep(g *guard.Guard, role, text string, benign bool) {
	for i, p := range sweepPolicies {
		res := g.Check(context.Background(), guard.StagePrompt, []guard.Part{{Role: role, Text: text}}, p)
		switch {
		case benign && res.Action != guard.Allow:
			t.sweep[i].fpAny++
		case !benign && res.Blocked():
			t.sweep[i].blocked++
		}
	}
}

func (t *tally) add(g *guard.Guard, l labels.Labelled) {
	if l.Skip || (l.Kind == labels.Benign && l.Label == 1) {
		return // outside the taxonomy; offensive-not-hateful posts
	}
	role := l.Role
	if role == "" {
		role = "user"
	}
	res := g.Check(context.Background(), guard.StagePrompt, []guard.Part{{Role: role, Text: l.Text}}, nil)
	if sweepOn {
		t.addSweep(g, role, l.Text, l.Kind == labels.Benign)
	}
	if l.Kind == labels.Benign {
		t.neg++
		if res.Action != guard.Allow {
			t.fpAny++
			if debugHead == "fp:"+role {
				txt := l.Text
				if len(txt) > 200 {
					txt = txt[:200]
				}
				fmt.Printf("FP %s %v %s %v | %q\n", role, res.Action, res.Rule, res.Triggered, txt)
			}
			if debugHead == "why:"+role && debugModel != nil && len(res.Triggered) > 0 {
				fmt.Printf("WHY %s %q:%s\n", res.Triggered[0], l.Text, explain(debugModel, l.Text, string(res.Triggered[0]), 10))
			}
		}
		if res.Blocked() {
			t.fpBlock++
		}
		return
	}
	t.pos++
	if res.Blocked() {
		t.blocked++
	} else if debugHead == "miss" {
		fmt.Printf("MISS %v %v | %q\n", res.Action, res.Triggered, l.Text)
	}
	if res.Action != guard.Allow {
		t.flaggedPos++
	}
	if l.Kind == labels.Jailbreak {
		t.sysPos++
		r := g.Check(context.Background(), guard.StagePrompt, []guard.Part{{Role: "system", Text: l.Text}}, nil)
		if r.Blocked() {
			t.sysBlocked++
		}
	}
}

func (t *tally) line(name string) string {
	s := fmt.Sprintf("%-38s", name)
	if t.pos > 0 {
		s += fmt.Sprintf(" pos %5d blocked %.3f flag+ %.3f", t.pos, frac(t.blocked, t.pos), frac(t.flaggedPos, t.pos))
		if t.sysPos > 0 {
			s += fmt.Sprintf(" as-system %.3f", frac(t.sysBlocked, t.sysPos))
		}
	}
	if t.neg > 0 {
		s += fmt.Sprintf(" benign %5d flag+ %.4f blocked %.4f", t.neg, frac(t.fpAny, t.neg), frac(t.fpBlock, t.neg))
	}
	if sweepOn {
		s += " sweep"
		for i, p := range sweepPoints {
			if t.pos > 0 {
				s += fmt.Sprintf(" r@%.1f=%.3f", p, frac(t.sweep[i].blocked, t.pos))
			}
			if t.neg > 0 {
				s += fmt.Sprintf(" f@%.1f=%.4f", p, frac(t.sweep[i].fpAny, t.neg))
			}
		}
	}
	return s
}

// roleReport prints, per source group of the validation split, how the
// guard with the new model and role table judges it: false positives of
// benign texts in their own role, recall of attacks and harm.
func roleReport(b *built) {
	g, err := guard.New(guard.Options{Model: b.m, Second: b.second, Roles: b.roles})
	if err != nil {
		log.Fatal(err)
	}
	by := map[string]*tally{}
	for _, d := range b.val {
		t := by[d.group]
		if t == nil {
			t = &tally{}
			by[d.group] = t
		}
		t.add(g, d.l)
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Println("val " + by[k].line(k))
	}
}

// runLOSO trains once per source group with the group held out entirely
// and judges every record of the held-out group. It prints one line per
// group and the mean and worst recall (attack and harm groups) and
// false-positive rate (benign groups, flagged or blocked).
func runLOSO(recs []record, bits uint, epochs int) {
	groups := heldOutGroups(recs)
	type row struct {
		name string
		t    tally
	}
	var rows []row
	for _, grp := range groups {
		b := build(recs, grp, bits, epochs)
		g, err := guard.New(guard.Options{Model: b.m, Second: b.second, Roles: b.roles})
		if err != nil {
			log.Fatal(err)
		}
		debugModel = b.m
		var t tally
		for _, r := range recs {
			if r.group == grp {
				t.add(g, labels.Label(r.Record))
			}
		}
		fmt.Println("loso " + t.line(grp))
		rows = append(rows, row{grp, t})
	}
	var rsum, fsum float64
	var rn, fn int
	worstR, worstF := 2.0, -1.0
	var worstRName, worstFName string
	for _, r := range rows {
		if r.t.pos > 0 {
			x := frac(r.t.blocked, r.t.pos)
			rsum += x
			rn++
			if x < worstR {
				worstR, worstRName = x, r.name
			}
		}
		if r.t.neg > 0 {
			x := frac(r.t.fpAny, r.t.neg)
			fsum += x
			fn++
			if x > worstF {
				worstF, worstFName = x, r.name
			}
		}
	}
	if sweepOn {
		for i, p := range sweepPoints {
			var hr, fp float64
			var nh, nf int
			for _, r := range rows {
				if r.t.pos > 0 && strings.HasPrefix(r.name, "harm_") {
					hr += frac(r.t.sweep[i].blocked, r.t.pos)
					nh++
				}
				if r.t.neg > 0 {
					fp += frac(r.t.sweep[i].fpAny, r.t.neg)
					nf++
				}
			}
			fmt.Printf("loso sweep harm threshold %.1f: harm recall mean %.3f over %d, benign flagged or blocked mean %.4f over %d\n", p, hr/float64(max(nh, 1)), nh, fp/float64(max(nf, 1)), nf)
		}
	}
	fmt.Printf("loso recall (blocked) mean %.3f over %d sources, worst %.3f (%s)\n", rsum/float64(max(rn, 1)), rn, worstR, worstRName)
	fmt.Printf("loso benign flagged or blocked mean %.4f over %d sources, worst %.4f (%s)\n", fsum/float64(max(fn, 1)), fn, worstF, worstFName)
}
