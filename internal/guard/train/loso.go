package main

import (
	"context"
	"fmt"
	"log"
	"os"
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
		}
		if res.Blocked() {
			t.fpBlock++
		}
		return
	}
	t.pos++
	if res.Blocked() {
		t.blocked++
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
	return s
}

// roleReport prints, per source group of the validation split, how the
// guard with the new model and role table judges it: false positives of
// benign texts in their own role, recall of attacks and harm.
func roleReport(b *built) {
	g, err := guard.New(guard.Options{Model: b.m, Roles: b.roles})
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
	var groups []string
	for _, r := range recs {
		if !slices.Contains(groups, r.group) {
			groups = append(groups, r.group)
		}
	}
	slices.Sort(groups)
	// LOSO_ONLY (comma-separated groups) runs those groups only, in that
	// order: on a busy machine, the ones that matter first.
	if only := os.Getenv("LOSO_ONLY"); only != "" {
		groups = slices.DeleteFunc(strings.Split(only, ","), func(g string) bool { return !slices.Contains(groups, g) })
	}
	type row struct {
		name string
		t    tally
	}
	var rows []row
	for _, grp := range groups {
		b := build(recs, grp, bits, epochs)
		g, err := guard.New(guard.Options{Model: b.m, Roles: b.roles})
		if err != nil {
			log.Fatal(err)
		}
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
	fmt.Printf("loso recall (blocked) mean %.3f over %d sources, worst %.3f (%s)\n", rsum/float64(max(rn, 1)), rn, worstR, worstRName)
	fmt.Printf("loso benign flagged or blocked mean %.4f over %d sources, worst %.4f (%s)\n", fsum/float64(max(fn, 1)), fn, worstF, worstFName)
}
