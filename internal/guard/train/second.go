package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/guard/labels"
	"github.com/wardenhq/warden/internal/guard/linear"
	"github.com/wardenhq/warden/internal/guard/neural"
	"github.com/wardenhq/warden/internal/guard/textnorm"
)

// secondHeads are the heads the second stage judges: held out by source,
// the network beat the linear heads on attacks and not on harm (mlp.go).
var secondHeads = []string{"jailbreak", "prompt_injection"}

// second trains the guard's second stage (package neural) on the training
// split and sets each head's operating point as calibrate does for the
// linear heads' user class: the same share of benign user-side
// calibration texts, scored on the bytes Check gives it, the same margin.
func second(train, calib []*doc, bits uint) *neural.Model {
	net := fitMLP(train, bits, *flagMLPEpochs)
	m := &neural.Model{Bits: uint(*flagMLPBits), Shift: net.shift, Dim: mlpDim, Hidden: mlpHidden,
		W1: net.w1, B1: net.b1}
	m.E, m.Scale = neural.Quantize(net.e, mlpDim)
	for _, h := range secondHeads {
		j := indexOf(heads, h)
		m.Heads = append(m.Heads, h)
		m.Bias = append(m.Bias, net.b2[j])
		m.W2 = append(m.W2, net.w2[j*mlpHidden:(j+1)*mlpHidden]...)
	}
	m.Threshold = make([]float32, len(m.Heads))
	neg := make([][]float64, len(m.Heads))
	s, out := m.NewScratch(), make([]float32, len(m.Heads))
	for _, d := range calib {
		if d.l.Kind != labels.Benign || d.l.Weight < 1 || guard.ClassOf(d.l.Role) == guard.RoleSystem {
			continue
		}
		norm := textnorm.Normalize(nil, d.l.Text)
		if len(norm) > guard.SecondMaxBytes {
			norm = norm[:guard.SecondMaxBytes]
		}
		m.Logits(linear.Dedup(linear.AppendFeatures(nil, norm, bits)), s, out)
		for j := range out {
			neg[j] = append(neg[j], float64(out[j]))
		}
	}
	for j, h := range m.Heads {
		m.Threshold[j] = float32(quantile(neg[j], 1-targetFPR[h]) + *userMargin)
		log.Printf("calibrate second stage %-16s user %.3f (%d benign)", h, m.Threshold[j], len(neg[j]))
	}
	return m
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	panic(fmt.Sprintf("no head %q", v))
}

func writeSecond(path string, m *neural.Model) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := m.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
