// Command train builds the guard's embedded model from the shared datasets:
//
//	GOMAXPROCS=1 go run ./internal/guard/train
//
// It reads every *.jsonl file in the -data directories (default
// /work/shared/datasets/guard and /work/shared/datasets/legit), labels
// records with package labels, splits them by a hash of their text (70%
// train, 10% calibration, 20% validation, see labels.SplitOf), trains one
// logistic regression per head on hashed n-gram features with AdaGrad, sets
// each head's operating point per role class on the calibration split
// (system prompts for the system class, every other benign text for the
// user class), and writes the model to -out (internal/guard/model/guard.wglm)
// and the role table to -roles (internal/guard/model/roles.json). It then
// trains the second stage, a small network over the same features for the
// attack heads (package neural, second.go), calibrates it the same way and
// writes it to -second (internal/guard/model/second.wgnn). It also writes
// the validation split to -val (with the guard's weak category labels and
// roles) for `warden guard eval`.
//
// With -loso it instead trains once per source file with that file held out
// entirely (leave one source out) and prints how the guard does on it: the
// figure the model card leads with (see loso.go). With -mlp it compares the
// network with the linear heads as models alone, held out by source (mlp.go).
//
// Training is deterministic: same data, same model bytes.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/guard/intent"
	"github.com/wardenhq/warden/internal/guard/labels"
	"github.com/wardenhq/warden/internal/guard/linear"
	"github.com/wardenhq/warden/internal/guard/neural"
	"github.com/wardenhq/warden/internal/guard/textnorm"
)

// heads are the trained classifiers. "harmful" is any harm; the category
// heads say which. sexual_minors has too few examples to learn and is left to
// rules.
var heads = []string{"jailbreak", "prompt_injection", "harmful", "sexual", "violence", "self_harm", "hate", "weapons", "malware", "illicit"}

var debugHead string

// attackHead reports whether h is one of the attack heads (jailbreak,
// prompt injection), which train and calibrate apart from the harm heads.
func attackHead(h string) bool { return h == "jailbreak" || h == "prompt_injection" }

// sweepOn makes -loso also print each held-out source's recall or false
// positives at other harm thresholds (-sweep).
var sweepOn bool

// debugModel is the model of the fold being judged, for -debug why:ROLE.
var debugModel *linear.Model

var (
	flagLR        = flag.Float64("lr", 0.8, "AdaGrad learning rate of the harm heads (0.1 until 2026-12: they were underfit, training loss still falling fast at epoch 20)")
	flagAttackLR  = flag.Float64("attacklr", 0.1, "AdaGrad learning rate of the jailbreak and prompt-injection heads (at 0.8 held-out in-the-wild jailbreaks were blocked 72% instead of 62%, but validation attack recall fell a point and the simulator's embedded shop documents were blocked as jailbreaks)")
	flagL2        = flag.Float64("l2", 1e-6, "L2 penalty of the jailbreak and prompt-injection heads")
	flagHarmL2    = flag.Float64("harml2", 1e-5, "L2 penalty of the harm heads (1e-6 until 2026-12-06: held out by source, 1e-5 recalls about 2.5 points more harm at equal false positives; model card, eighth round)")
	flagPosCap    = flag.Float64("poscap", 10, "cap on the positive-class weight")
	flagHarmCap   = flag.Float64("harmposcap", 10, "cap on the positive-class weight of the harm heads (5 raised held-out harm recall 2 points and held-out benign false positives 0.8 points; 30 lowered recall 5 points)")
	flagQW        = flag.Float64("questionweight", 4, "weight of benign questions (they are rare in the benign data and common in harmful data)")
	flagTW        = flag.Float64("topicweight", 8, "weight of benign texts that use harm vocabulary (\"kill the process\")")
	flagIW        = flag.Float64("injectionweight", 0.5, "weight of prompt-injection records as negatives of the harm heads")
	flagSW        = flag.Float64("systemweight", 6, "weight of benign system prompts (few, and the texts jailbreak templates imitate)")
	flagPair      = flag.Float64("pair", float64(intent.Pair), "intent offset for a request frame with a harm target (intent.Pair)")
	flagMLPEpochs = flag.Int("mlpepochs", 8, "the second-stage network's training epochs")
	flagMLPBits   = flag.Int("mlpbits", 16, "log2 of the second-stage network's embedding buckets")
	flagSnip      = flag.Int("snippets", 3, "one benign text in this many also yields a short snippet (1-4 words) as a benign example (0: none)")
)

type doc struct {
	group string
	// parent is the text a derived example (augment) was cut from.
	parent string
	feats  []uint32
	y      []int8 // per head: 1 positive, 0 negative, -1 ignored
	w      []float32
	l      labels.Labelled
}

func main() {
	data := flag.String("data", "/work/shared/datasets/guard,/work/shared/datasets/legit", "comma-separated directories of dataset JSONL files")
	out := flag.String("out", "internal/guard/model/guard.wglm", "model file to write")
	secondOut := flag.String("second", "internal/guard/model/second.wgnn", "second-stage network to write (package neural)")
	rolesOut := flag.String("roles", "internal/guard/model/roles.json", "per-role threshold table to write")
	valOut := flag.String("val", "internal/guard/testdata/val.jsonl.gz", "where to write the validation split (.gz compresses)")
	bits := flag.Uint("bits", 18, "log2 of feature buckets (20 scores a little higher by inner validation, see -tune, at four times the table; see the model card)")
	epochs := flag.Int("epochs", 20, "training epochs")
	loso := flag.Bool("loso", false, "leave one source out: train once per source file held out and report on it; writes nothing")
	tune := flag.String("tune", "", "comma-separated settings flag=value to compare by inner validation on the training split, e.g. attacklr=0.1,attacklr=0.2 (see tune.go); writes nothing")
	flag.StringVar(&debugHead, "debug", "", "print validation errors of this head; with -loso: fp:ROLE prints held-out false positives of that role, why:ROLE also the features that weigh most on the head that fired, miss the held-out positives not blocked")
	mlpOn := flag.Bool("mlp", false, "leave one source out, comparing a small neural network with the linear heads as models alone (see mlp.go); writes nothing")
	flag.BoolVar(&sweepOn, "sweep", false, "with -loso, also print recall and false positives at harm thresholds 0.2 to 0.8")
	flag.Parse()

	recs, err := readAll(strings.Split(*data, ","))
	if err != nil {
		log.Fatal(err)
	}
	if *tune != "" {
		runTune(recs, *bits, *epochs, strings.Split(*tune, ","))
		return
	}
	if *mlpOn {
		runMLP(recs, *bits, *epochs)
		return
	}
	if *loso {
		runLOSO(recs, *bits, *epochs)
		return
	}
	b := build(recs, "", *bits, *epochs)
	report(b.m, b.val)
	roleReport(b)

	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := b.m.Write(f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	if err := writeRoles(*rolesOut, b.roles); err != nil {
		log.Fatal(err)
	}
	if err := writeSecond(*secondOut, b.second); err != nil {
		log.Fatal(err)
	}
	if err := writeVal(*valOut, b.val); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s, %s, %s and %s", *out, *secondOut, *rolesOut, *valOut)
}

// built is one trained model with its role table and the splits it came from.
type built struct {
	m      *linear.Model
	second *neural.Model
	roles  *guard.Roles
	calib  []*doc
	val    []*doc
}

// build trains a model on recs, leaving out every record of source file
// holdout (none when empty), and calibrates it per role.
func build(recs []record, holdout string, bits uint, epochs int) *built {
	train, calib, val := split(recs, holdout, bits)
	scorer = nil
	m := fit(train, bits, epochs)
	roles := calibrate(m, calib)
	return &built{m: m, second: second(train, calib, bits), roles: roles, calib: calib, val: val}
}

// split labels recs, leaving out every record of source file holdout, cuts
// them into the training, calibration and validation splits and gives the
// training and calibration documents their features, targets, weights and
// derived examples (augment).
func split(recs []record, holdout string, bits uint) (train, calib, val []*doc) {
	intent.Pair = float32(*flagPair) // calibration and Check read it
	norm := make([]byte, 0, 1<<16)
	for _, rec := range recs {
		if rec.group == holdout {
			continue
		}
		r := rec.Record
		l := labels.Label(r)
		norm = textnorm.Normalize(norm[:0], r.Text)
		d := &doc{l: l, group: rec.group}
		switch l.Split {
		case "val":
			val = append(val, d)
			continue
		case "calib":
			calib = append(calib, d)
		default:
			train = append(train, d)
		}
		if l.Skip {
			continue
		}
		d.feats = linear.Dedup(linear.AppendFeatures(nil, norm, bits))
		d.y, d.w = targets(l)
		if l.Kind == labels.Benign {
			f := float32(1)
			if isQuestion(norm) {
				f = float32(*flagQW)
			}
			if labels.HasHarmVocabulary(string(norm)) {
				f = max(f, float32(*flagTW))
			}
			for j := range d.w {
				d.w[j] *= f
			}
		}
		if l.Kind == labels.Benign && guard.ClassOf(l.Role) == guard.RoleSystem {
			for j := range d.w {
				d.w[j] *= float32(*flagSW)
			}
		}
		extra := augment(l, norm)
		for _, e := range extra {
			e.parent = l.Text
			e.feats = linear.Dedup(linear.AppendFeatures(nil, textnorm.Normalize(nil, e.l.Text), bits))
		}
		if l.Split == "calib" {
			calib = append(calib, extra...)
		} else {
			train = append(train, extra...)
		}
	}
	log.Printf("records: train %d, calib %d, val %d (held out: %q)", len(train), len(calib), len(val), holdout)
	return train, calib, val
}

// record is a dataset record and its source group: the file it came from,
// with the train and validation halves of one dataset counted as one source.
type record struct {
	labels.Record
	group string
}

func groupOf(file string) string {
	g := strings.TrimSuffix(filepath.Base(file), ".jsonl")
	g = strings.TrimSuffix(g, "_train")
	return strings.TrimSuffix(g, "_val")
}

func readAll(dirs []string) ([]record, error) {
	var files []string
	for _, dir := range dirs {
		fs, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
		if err != nil {
			return nil, err
		}
		sort.Strings(fs)
		files = append(files, fs...)
	}
	var recs []record
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var r labels.Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			recs = append(recs, record{r, groupOf(name)})
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return recs, nil
}

// targets gives each head's label and weight for one record.
func targets(l labels.Labelled) ([]int8, []float32) {
	y := make([]int8, len(heads))
	w := make([]float32, len(heads))
	for j, h := range heads {
		y[j], w[j] = 0, l.Weight
		switch h {
		case "jailbreak":
			y[j] = attackTarget(l.Kind, labels.Jailbreak, labels.Injection)
		case "prompt_injection":
			y[j] = attackTarget(l.Kind, labels.Injection, labels.Jailbreak)
		case "harmful":
			switch {
			case l.Kind == labels.Harm && strings.Contains(l.Source, "davidson"):
				// Hateful tweets are the hate head's; the harmful head
				// learns harmful requests.
				y[j] = -1
			case l.Kind == labels.Harm:
				y[j] = 1
			case l.Kind == labels.Jailbreak:
				// Templates often carry a harmful request: neither.
				y[j] = -1
			case l.Kind == labels.Injection:
				// Injections ("obey", "print the password") are not
				// harmful requests; without them as negatives the harm
				// heads fire on them.
				w[j] = float32(*flagIW) * l.Weight
			}
		default:
			switch l.Kind {
			case labels.Harm:
				if slices.Contains(l.Categories, h) {
					y[j] = 1
				} else {
					w[j] = 0.2 * l.Weight
				}
			case labels.Jailbreak:
				y[j] = -1
			case labels.Injection:
				w[j] = float32(*flagIW) * l.Weight
			}
		}
	}
	return y, w
}

// attackTarget is an attack head's label for a record of kind: 1 for the
// head's own kind, -1 (ignored) for the other attack kind, whose texts often
// say the same things ("ignore your instructions"), else 0.
func attackTarget(kind, own, other string) int8 {
	switch kind {
	case own:
		return 1
	case other:
		return -1
	}
	return 0
}

// positiveWeights balances the classes of each head: the weight of its
// positive examples, neg/pos capped at -poscap (attack heads) or
// -harmposcap.
func positiveWeights(train []*doc, logIt bool) []float32 {
	posW := make([]float32, len(heads))
	for j := range heads {
		var pos, neg float64
		for _, d := range train {
			if d.y == nil {
				continue
			}
			switch d.y[j] {
			case 1:
				pos += float64(d.w[j])
			case 0:
				neg += float64(d.w[j])
			}
		}
		limit := *flagHarmCap
		if attackHead(heads[j]) {
			limit = *flagPosCap
		}
		posW[j] = float32(math.Min(neg/math.Max(pos, 1), limit))
		if logIt {
			log.Printf("head %-16s pos %.0f neg %.0f posWeight %.1f", heads[j], pos, neg, posW[j])
		}
	}
	return posW
}

// logLoss is a head's weighted logistic loss at logit z for label y
// (0 or 1) of weight w, positives weighted posW more, and its gradient with
// respect to z.
func logLoss(z float32, y int8, w, posW float32) (grad float32, loss float64) {
	p := float32(1 / (1 + math.Exp(-float64(z))))
	if y == 1 {
		w *= posW
		loss = -float64(w) * math.Log(float64(p)+1e-9)
	} else {
		loss = -float64(w) * math.Log(float64(1-p)+1e-9)
	}
	return (p - float32(y)) * w, loss
}

// heldOutGroups is the source groups of recs in order, or those LOSO_ONLY
// names (comma-separated), in its order: on a busy machine, the ones that
// matter first.
func heldOutGroups(recs []record) []string {
	var groups []string
	for _, r := range recs {
		if !slices.Contains(groups, r.group) {
			groups = append(groups, r.group)
		}
	}
	slices.Sort(groups)
	if only := os.Getenv("LOSO_ONLY"); only != "" {
		groups = slices.DeleteFunc(strings.Split(only, ","), func(g string) bool { return !slices.Contains(groups, g) })
	}
	return groups
}

func fit(train []*doc, bits uint, epochs int) *linear.Model {
	H := len(heads)
	n := 1 << bits
	W := make([]float32, n*H)
	G := make([]float32, n*H) // AdaGrad accumulators
	bias := make([]float32, H)
	gb := make([]float32, H)
	posW := positiveWeights(train, true)
	var docs []*doc
	for _, d := range train {
		if d.y != nil && len(d.feats) > 0 {
			docs = append(docs, d)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lrs, l2s := make([]float32, H), make([]float32, H)
	for j, h := range heads {
		lrs[j], l2s[j] = float32(*flagLR), float32(*flagHarmL2)
		if attackHead(h) {
			lrs[j], l2s[j] = float32(*flagAttackLR), float32(*flagL2)
		}
	}
	z := make([]float32, H)
	for ep := 0; ep < epochs; ep++ {
		rng.Shuffle(len(docs), func(a, b int) { docs[a], docs[b] = docs[b], docs[a] })
		var loss float64
		for _, d := range docs {
			inv := linear.Inv(len(d.feats))
			copy(z, bias)
			for _, f := range d.feats {
				row := W[int(f)*H : int(f)*H+H]
				for j := range z {
					z[j] += row[j] * inv
				}
			}
			for j := range z {
				if d.y[j] < 0 {
					z[j] = 0
					continue
				}
				var l float64
				z[j], l = logLoss(z[j], d.y[j], d.w[j], posW[j]) // gradient w.r.t. logit
				loss += l
				gb[j] += z[j] * z[j]
				bias[j] -= lrs[j] * z[j] / float32(math.Sqrt(float64(gb[j]))+1e-6)
			}
			for _, f := range d.feats {
				base := int(f) * H
				for j, g := range z {
					if g == 0 {
						continue
					}
					gi := g*inv + l2s[j]*W[base+j]
					G[base+j] += gi * gi
					W[base+j] -= lrs[j] * gi / (float32(math.Sqrt(float64(G[base+j]))) + 1e-6)
				}
			}
		}
		log.Printf("epoch %d loss %.1f", ep+1, loss)
	}
	// Quantise to int8 with one scale per head.
	m := &linear.Model{Bits: bits, Heads: heads, Weights: make([]int8, n*H)}
	for j := range heads {
		var maxAbs float32
		for i := 0; i < n; i++ {
			if a := float32(math.Abs(float64(W[i*H+j]))); a > maxAbs {
				maxAbs = a
			}
		}
		scale := maxAbs / 127
		if scale == 0 {
			scale = 1
		}
		for i := 0; i < n; i++ {
			m.Weights[i*H+j] = int8(math.Round(float64(W[i*H+j] / scale)))
		}
		m.Scale = append(m.Scale, scale)
		m.Bias = append(m.Bias, bias[j])
		m.Threshold = append(m.Threshold, 0)
	}
	return m
}

// scorer judges texts with the quantised model exactly as the guard does
// (windows, instruction lines, intent offset).
var scorer *guard.Guard

func logits(m *linear.Model, text, role string) []float32 {
	if scorer == nil {
		g, err := guard.New(guard.Options{Model: m})
		if err != nil {
			log.Fatal(err)
		}
		scorer = g
	}
	z, _ := scorer.HeadLogits(text, guard.ClassOf(role))
	return z
}

// augment returns extra examples derived from one record: for one benign
// text in -snippets, a snippet of 1 to 4 of its words (so that short texts,
// "a lighthouse", "make it shorter", teach the heads that little evidence is
// no evidence); for a long harmful request, its instruction line alone (the
// line the guard also judges apart, see guard.HeadLogits).
func augment(l labels.Labelled, norm []byte) []*doc {
	h := fnv.New64a()
	h.Write([]byte(l.Text))
	x := h.Sum64()
	var out []*doc
	if l.Kind == labels.Benign && l.Weight >= 1 && *flagSnip > 0 && x%uint64(*flagSnip) == 0 {
		words := strings.Fields(string(norm))
		if len(words) > 0 {
			n := 1 + int(x>>8%4)
			n = min(n, len(words))
			k := int(x >> 16 % uint64(len(words)-n+1))
			sl := l
			sl.Text = strings.Join(words[k:k+n], " ")
			y, w := targets(sl)
			out = append(out, &doc{l: sl, y: y, w: w})
		}
	}
	if l.Kind == labels.Benign && guard.ClassOf(l.Role) == guard.RoleSystem {
		// A system prompt's opening sentence ("You are X, a Y that helps
		// with Z.") is what short system prompts consist of.
		for _, t := range openings(l.Text) {
			sl := l
			sl.Text = t
			y, w := targets(sl)
			for j := range w {
				w[j] *= float32(*flagSW)
			}
			out = append(out, &doc{l: sl, y: y, w: w})
		}
	}
	if l.Kind == labels.Harm && len(l.Text) >= 768 {
		if i := strings.IndexByte(strings.TrimSpace(l.Text), '\n'); i >= 24 && i <= 600 {
			il := l
			il.Text = strings.TrimSpace(l.Text)[:i]
			y, w := targets(il)
			out = append(out, &doc{l: il, y: y, w: w})
		}
	}
	return out
}

// report prints, per head, recall on validation positives and the
// false-positive rate on validation benign records at the operating point.
func report(m *linear.Model, val []*doc) {
	type count struct{ tp, pos, fp, neg int }
	c := make([]count, len(heads))
	for _, d := range val {
		if d.l.Skip {
			continue
		}
		z := logits(m, d.l.Text, d.l.Role)
		y, _ := targets(d.l)
		for j := range heads {
			hit := z[j] >= m.Threshold[j]
			if heads[j] == debugHead && ((y[j] == 1 && !hit) || (y[j] == 0 && hit && d.l.Kind == labels.Benign)) {
				t := d.l.Text
				if len(t) > 160 {
					t = t[:160]
				}
				fmt.Printf("%s %.2f %s | %q\n", map[bool]string{true: "FN", false: "FP"}[y[j] == 1], z[j]-m.Threshold[j], d.l.Source[:12], t)
			}
			switch {
			case y[j] == 1:
				c[j].pos++
				if hit {
					c[j].tp++
				}
			case d.l.Kind == labels.Benign && d.l.Weight >= 1:
				c[j].neg++
				if hit {
					c[j].fp++
				}
			}
		}
	}
	for j, h := range heads {
		log.Printf("val model-only %-16s recall %4d/%4d = %.3f  benign FPR %3d/%5d = %.4f",
			h, c[j].tp, c[j].pos, frac(c[j].tp, c[j].pos), c[j].fp, c[j].neg, frac(c[j].fp, c[j].neg))
	}
}

func frac(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// isQuestion reports a short benign text phrased as a question or how-to
// request, the phrasing harmful datasets favour.
func isQuestion(norm []byte) bool {
	s := string(norm)
	if len(s) > 300 {
		return false
	}
	for _, p := range []string{"how ", "what ", "why ", "can you", "can i", "where ", "which ", "is it", "should i", "ways to", "tips for", "best way"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return strings.HasSuffix(s, "?")
}
