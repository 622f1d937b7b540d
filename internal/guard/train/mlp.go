package main

import (
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/guard/labels"
	"github.com/wardenhq/warden/internal/guard/linear"
	"github.com/wardenhq/warden/internal/guard/textnorm"
)

// -mlp answers issue 19's question before any second stage is built: does
// a small neural network, trained here on the same data and the same
// hashed features, judge a source it has never seen better than the linear
// heads? For each held-out source (LOSO_ONLY chooses), it trains both on
// the same split and compares them as models alone (the whole text, no
// rules, gates or windows): each model's attack score (the larger of the
// jailbreak and injection logits) and harm score (the harmful head) get
// operating points at 0.5%, 1% and 2% of the calibration split's benign
// user-side texts, and the held-out source's recall, or its benign texts'
// rate above either point, is printed for both and for their mean (the
// mean of the two logits, with operating points of its own).
//
// The network: a 32-wide embedding per feature bucket, summed and scaled
// as the linear model's weights are (linear.Inv), one hidden layer of 64
// ReLU units, one logistic output per head; AdaGrad on the linear model's
// targets and weights.
const (
	mlpDim    = 32
	mlpHidden = 64
	mlpLR     = 0.05
)

var mlpFPRs = []float64{0.005, 0.01, 0.02}

type mlp struct {
	bits       uint
	shift      uint      // feature index >> shift: a bucket of 2^bits
	e          []float32 // (1<<bits) * mlpDim
	w1         []float32 // mlpHidden * mlpDim
	b1         []float32
	w2         []float32 // H * mlpHidden
	b2         []float32
	ge, g1, g2 []float32 // AdaGrad accumulators
	gb1, gb2   []float32
}

func newMLP(featBits, bits uint, h int) *mlp {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 1 << bits
	m := &mlp{bits: bits, shift: featBits - bits,
		e: make([]float32, n*mlpDim), w1: make([]float32, mlpHidden*mlpDim), b1: make([]float32, mlpHidden),
		w2: make([]float32, h*mlpHidden), b2: make([]float32, h),
		ge: make([]float32, n*mlpDim), g1: make([]float32, mlpHidden*mlpDim), g2: make([]float32, h*mlpHidden),
		gb1: make([]float32, mlpHidden), gb2: make([]float32, h),
	}
	for i := range m.e {
		m.e[i] = float32(rng.NormFloat64() * 0.1)
	}
	for i := range m.w1 {
		m.w1[i] = float32(rng.NormFloat64() * math.Sqrt(2.0/mlpDim))
	}
	for i := range m.w2 {
		m.w2[i] = float32(rng.NormFloat64() * math.Sqrt(1.0/mlpHidden))
	}
	return m
}

// forward fills x (input), hid (hidden activations) and z (logits) for
// the features feats.
func (m *mlp) forward(feats []uint32, x, hid, z []float32) {
	clear(x)
	inv := linear.Inv(len(feats))
	for _, f := range feats {
		i := int(f >> m.shift)
		row := m.e[i*mlpDim : i*mlpDim+mlpDim]
		for k, v := range row {
			x[k] += v
		}
	}
	for k := range x {
		x[k] *= inv
	}
	for i := range hid {
		s := m.b1[i]
		row := m.w1[i*mlpDim : i*mlpDim+mlpDim]
		for k, v := range row {
			s += v * x[k]
		}
		hid[i] = max(s, 0)
	}
	for j := range z {
		s := m.b2[j]
		row := m.w2[j*mlpHidden : j*mlpHidden+mlpHidden]
		for i, v := range row {
			s += v * hid[i]
		}
		z[j] = s
	}
}

func adagrad(w, g *float32, grad float32) {
	*g += grad * grad
	*w -= mlpLR * grad / (float32(math.Sqrt(float64(*g))) + 1e-6)
}

func fitMLP(train []*doc, bits uint, epochs int) *mlp {
	H := len(heads)
	m := newMLP(bits, min(bits, uint(*flagMLPBits)), H)
	posW := positiveWeights(train, false)
	var docs []*doc
	for _, d := range train {
		if d.y != nil && len(d.feats) > 0 {
			docs = append(docs, d)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x, hid, z := make([]float32, mlpDim), make([]float32, mlpHidden), make([]float32, H)
	dz, dh, dx := make([]float32, H), make([]float32, mlpHidden), make([]float32, mlpDim)
	for ep := range epochs {
		rng.Shuffle(len(docs), func(a, b int) { docs[a], docs[b] = docs[b], docs[a] })
		var loss float64
		for _, d := range docs {
			m.forward(d.feats, x, hid, z)
			any := false
			for j := range z {
				dz[j] = 0
				if d.y[j] < 0 {
					continue
				}
				var l float64
				dz[j], l = logLoss(z[j], d.y[j], d.w[j], posW[j])
				loss += l
				any = true
			}
			if !any {
				continue
			}
			clear(dh)
			for j, g := range dz {
				if g == 0 {
					continue
				}
				row := m.w2[j*mlpHidden : j*mlpHidden+mlpHidden]
				for i := range row {
					dh[i] += g * row[i]
					adagrad(&row[i], &m.g2[j*mlpHidden+i], g*hid[i])
				}
				adagrad(&m.b2[j], &m.gb2[j], g)
			}
			clear(dx)
			for i, g := range dh {
				if hid[i] <= 0 || g == 0 {
					continue
				}
				row := m.w1[i*mlpDim : i*mlpDim+mlpDim]
				for k := range row {
					dx[k] += g * row[k]
					adagrad(&row[k], &m.g1[i*mlpDim+k], g*x[k])
				}
				adagrad(&m.b1[i], &m.gb1[i], g)
			}
			inv := linear.Inv(len(d.feats))
			for _, f := range d.feats {
				base := int(f>>m.shift) * mlpDim
				for k, g := range dx {
					adagrad(&m.e[base+k], &m.ge[base+k], g*inv)
				}
			}
		}
		log.Printf("mlp epoch %d loss %.1f", ep+1, loss)
	}
	return m
}

// scores is a model's attack and harm logits for one text.
type scores struct{ attack, harm float32 }

func runMLP(recs []record, bits uint, epochs int) {
	groups := heldOutGroups(recs)
	jb, pi, hf := slices.Index(heads, "jailbreak"), slices.Index(heads, "prompt_injection"), slices.Index(heads, "harmful")
	for _, grp := range groups {
		train, calib, _ := split(recs, grp, bits)
		lin := fit(train, bits, epochs)
		net := fitMLP(train, bits, *flagMLPEpochs)

		acc, out := make([]int32, len(heads)), make([]float32, len(heads))
		x, hid, z := make([]float32, mlpDim), make([]float32, mlpHidden), make([]float32, len(heads))
		score := func(text string) (l, n scores) {
			norm := textnorm.Normalize(nil, text)
			clear(acc)
			k := lin.Accumulate(norm, acc)
			lin.Logits(acc, k, out)
			l = scores{max(out[jb], out[pi]), out[hf]}
			net.forward(linear.Dedup(linear.AppendFeatures(nil, norm, bits)), x, hid, z)
			n = scores{max(z[jb], z[pi]), z[hf]}
			return l, n
		}
		// Operating points on the calibration split's benign user-side texts.
		// ens is the mean of the two models' logits.
		ens := func(l, n scores) scores { return scores{(l.attack + n.attack) / 2, (l.harm + n.harm) / 2} }
		var la, lh, na, nh, ea, eh []float64
		for _, d := range calib {
			if d.l.Kind != labels.Benign || d.parent != "" || guard.ClassOf(d.l.Role) != guard.RoleUser {
				continue
			}
			l, n := score(d.l.Text)
			e := ens(l, n)
			la, lh = append(la, float64(l.attack)), append(lh, float64(l.harm))
			na, nh = append(na, float64(n.attack)), append(nh, float64(n.harm))
			ea, eh = append(ea, float64(e.attack)), append(eh, float64(e.harm))
		}
		for _, s := range [][]float64{la, lh, na, nh, ea, eh} {
			sort.Float64s(s)
		}
		at := func(s []float64, fpr float64) float32 { return float32(s[min(len(s)-1, int(float64(len(s))*(1-fpr)))]) }

		var pos, neg int
		// hit[model][positive?][operating point]: linear, network, mean
		var hit [3][2][]int
		for m := range hit {
			for k := range hit[m] {
				hit[m][k] = make([]int, len(mlpFPRs))
			}
		}
		for _, r := range recs {
			if r.group != grp {
				continue
			}
			lb := labels.Label(r.Record)
			if lb.Skip {
				continue
			}
			l, n := score(lb.Text)
			k := 1
			if lb.Kind == labels.Benign {
				k, neg = 0, neg+1
			} else {
				pos++
			}
			for i, f := range mlpFPRs {
				for m, sc := range [3]scores{l, n, ens(l, n)} {
					thA, thH := at(la, f), at(lh, f)
					switch m {
					case 1:
						thA, thH = at(na, f), at(nh, f)
					case 2:
						thA, thH = at(ea, f), at(eh, f)
					}
					var fired bool
					switch lb.Kind {
					case labels.Benign:
						fired = sc.attack >= thA || sc.harm >= thH
					case labels.Harm:
						fired = sc.harm >= thH
					default:
						fired = sc.attack >= thA
					}
					if fired {
						hit[m][k][i]++
					}
				}
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "mlp %-36s", grp)
		for i, f := range mlpFPRs {
			fmt.Fprintf(&b, " | @%.1f%%:", 100*f)
			if pos > 0 {
				fmt.Fprintf(&b, " recall linear %.3f mlp %.3f mean %.3f", frac(hit[0][1][i], pos), frac(hit[1][1][i], pos), frac(hit[2][1][i], pos))
			}
			if neg > 0 {
				fmt.Fprintf(&b, " benign linear %.4f mlp %.4f mean %.4f", frac(hit[0][0][i], neg), frac(hit[1][0][i], neg), frac(hit[2][0][i], neg))
			}
		}
		fmt.Println(b.String())
	}
}
