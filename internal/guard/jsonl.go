package guard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// MaxLine bounds one JSONL line read by ScoreJSONL and Eval.
const MaxLine = 16 << 20

// ScoreLine is one output line of ScoreJSONL.
type ScoreLine struct {
	Verdict    Action             `json:"verdict"`
	Scores     map[string]float64 `json:"scores"`
	Categories []Category         `json:"categories"`
	Rule       string             `json:"rule,omitempty"`
	Error      string             `json:"error,omitempty"`
}

// ScoreJSONL reads JSONL records with a "text" field from r and writes one
// ScoreLine per record to w, in the same order. A line that is not a JSON
// object with a string "text" yields a line with Error set, so output lines
// stay aligned with input lines.
func (g *Guard) ScoreJSONL(ctx context.Context, r io.Reader, w io.Writer, stage Stage, p *Policy) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var rec struct {
			Text *string `json:"text"`
			Role string  `json:"role"`
		}
		out := ScoreLine{Verdict: Allow, Categories: []Category{}}
		if err := json.Unmarshal(line, &rec); err != nil || rec.Text == nil {
			out.Error = "line is not a JSON object with a string \"text\" field"
		} else {
			res := g.Check(ctx, stage, []Part{{Role: roleOr(rec.Role), Text: *rec.Text}}, p)
			out.Verdict, out.Scores, out.Rule = res.Action, res.Scores.Map(), res.Rule
			if res.Triggered != nil {
				out.Categories = res.Triggered
			}
		}
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("guard: writing scores: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("guard: reading input: %w", err)
	}
	return bw.Flush()
}

// EvalRecord is one labelled input line of Eval. Label 1 means the text
// should be refused. Categories (optional) names the guard categories it
// belongs to; Kind (optional) is benign, jailbreak, prompt_injection or harm;
// Skip marks records outside the guard's taxonomy (reported apart).
type EvalRecord struct {
	Text       string     `json:"text"`
	Label      int        `json:"label"`
	Source     string     `json:"source,omitempty"`
	Kind       string     `json:"kind,omitempty"`
	Categories []Category `json:"categories,omitempty"`
	Skip       bool       `json:"skip,omitempty"`
	// Role (optional) is the part's role (system, user, tool, output);
	// default user.
	Role string `json:"role,omitempty"`
}

// roleOr returns role, or "user" when it is empty.
func roleOr(role string) string {
	if role == "" {
		return "user"
	}
	return role
}

// Counts are confusion counts for one group.
type Counts struct {
	TP, FP, FN, TN int
}

// Precision is TP/(TP+FP).
func (c Counts) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP/(TP+FN).
func (c Counts) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// FPR is FP/(FP+TN).
func (c Counts) FPR() float64 { return ratio(c.FP, c.FP+c.TN) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// EvalReport is what Eval measured. A prediction is positive when the
// verdict is block.
type EvalReport struct {
	Records int
	Overall Counts // label vs any block
	// Attacks: jailbreak and injection records vs a block on either
	// category; negatives are benign records.
	Attacks Counts
	// Harm: harm records (kind "harm": harmful requests) vs a block on any
	// harm category; negatives are benign records.
	Harm Counts
	// ByKind: records of each non-benign kind vs any block; negatives are
	// benign records.
	ByKind      map[string]*Counts
	ByCategory  map[Category]*Counts // weak-labelled category vs block on it; negatives are benign records
	BySource    map[string]*Counts   // label vs any block, per source
	Skipped     Counts               // records marked skip (outside the taxonomy)
	FlagsBenign int                  // benign records flagged (not blocked)

	benignSeen []bool // verdicts of benign records, for kinds first seen later
	ops        operatingPoints
}

// Eval judges every labelled record of r at stage under p.
func (g *Guard) Eval(ctx context.Context, r io.Reader, stage Stage, p *Policy) (*EvalReport, error) {
	rep := &EvalReport{ByCategory: map[Category]*Counts{}, BySource: map[string]*Counts{}, ByKind: map[string]*Counts{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	n := 0
	for sc.Scan() {
		n++
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var rec EvalRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("guard: eval input line %d: %w", n, err)
		}
		if rec.Label != 0 && rec.Label != 1 {
			return nil, fmt.Errorf("guard: eval input line %d: label %d not 0 or 1", n, rec.Label)
		}
		res := g.Check(ctx, stage, []Part{{Role: roleOr(rec.Role), Text: rec.Text}}, p)
		rep.add(&rec, &res)
		rep.ops.add(&rec, &res)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("guard: reading eval input: %w", err)
	}
	return rep, nil
}

func count(c *Counts, truth, pred bool) {
	switch {
	case truth && pred:
		c.TP++
	case truth:
		c.FN++
	case pred:
		c.FP++
	default:
		c.TN++
	}
}

func (rep *EvalReport) add(rec *EvalRecord, res *Result) {
	rep.Records++
	blocked := res.Action == Block
	truth := rec.Label == 1
	if rec.Skip {
		count(&rep.Skipped, truth, blocked)
		return
	}
	count(&rep.Overall, truth, blocked)
	src := rec.Source
	if i := strings.IndexAny(src, " ("); i > 0 {
		src = src[:i]
	}
	if rep.BySource[src] == nil {
		rep.BySource[src] = &Counts{}
	}
	count(rep.BySource[src], truth, blocked)
	benign := rec.Label == 0
	if benign && res.Action == Flag {
		rep.FlagsBenign++
	}
	blockedOn := func(pred func(Category) bool) bool {
		if !blocked {
			return false
		}
		// Triggered is strongest first; blocks come before flags.
		for _, c := range res.Triggered {
			if res.Scores.Get(c) >= 0 && pred(c) {
				return true
			}
		}
		return false
	}
	isAttack := rec.Kind == "jailbreak" || rec.Kind == "prompt_injection"
	isHarm := rec.Kind == "harm"
	if isAttack || benign {
		count(&rep.Attacks, isAttack, blockedOn(Category.IsAttack))
	}
	if isHarm || benign {
		count(&rep.Harm, isHarm, blockedOn(func(c Category) bool { return !c.IsAttack() }))
	}
	if rec.Kind != "" && rec.Kind != "benign" {
		if rep.ByKind[rec.Kind] == nil {
			k := &Counts{}
			for _, b := range rep.benignSeen {
				count(k, false, b)
			}
			rep.ByKind[rec.Kind] = k
		}
		count(rep.ByKind[rec.Kind], true, blocked)
	} else if benign {
		for _, k := range rep.ByKind {
			count(k, false, blocked)
		}
		rep.benignSeen = append(rep.benignSeen, blocked)
	}
	for _, c := range Categories {
		has := slices.Contains(rec.Categories, c)
		if !has && !benign {
			continue
		}
		if rep.ByCategory[c] == nil {
			rep.ByCategory[c] = &Counts{}
		}
		count(rep.ByCategory[c], has, blockedOn(func(k Category) bool { return k == c }))
	}
}

// WriteText prints the report as a table.
func (rep *EvalReport) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	line := func(name string, c Counts) {
		fmt.Fprintf(bw, "%-28s %6d %6d %9.3f %7.3f %7.4f\n", name, c.TP+c.FN, c.FP+c.TN, c.Precision(), c.Recall(), c.FPR())
	}
	fmt.Fprintf(bw, "records %d (prediction = block)\n", rep.Records)
	fmt.Fprintf(bw, "%-28s %6s %6s %9s %7s %7s\n", "group", "pos", "neg", "precision", "recall", "fpr")
	line("overall", rep.Overall)
	line("attacks (jailbreak+inject)", rep.Attacks)
	line("harmful requests", rep.Harm)
	kinds := make([]string, 0, len(rep.ByKind))
	for k := range rep.ByKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		line("kind "+k+" (any block)", *rep.ByKind[k])
	}
	for _, c := range Categories {
		if k := rep.ByCategory[c]; k != nil {
			line("  "+string(c), *k)
		}
	}
	srcs := make([]string, 0, len(rep.BySource))
	for s := range rep.BySource {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, s := range srcs {
		line("source "+s, *rep.BySource[s])
	}
	if rep.Skipped != (Counts{}) {
		line("skipped (outside taxonomy)", rep.Skipped)
	}
	fmt.Fprintf(bw, "benign records flagged (not blocked): %d\n", rep.FlagsBenign)
	rep.ops.write(bw)
	return bw.Flush()
}
