package main

import (
	"math"

	"github.com/wardenhq/warden/internal/guard/linear"
	"github.com/wardenhq/warden/internal/guard/textnorm"
)

const (
	lmBits  = 18
	ctxBits = 16
	alpha   = 0.05 // add-alpha smoothing
	vocab   = 96   // effective alphabet of normalised text
)

// trainLM counts character 4-grams of the training split and stores the
// smoothed cost of each in bits.
func trainLM(train []*doc) *linear.CharLM {
	c4 := make([]uint32, 1<<lmBits)
	c3 := make([]uint32, 1<<ctxBits)
	var norms [][]byte
	for _, d := range train {
		if d.l.Skip {
			continue
		}
		b := textnorm.Normalize(nil, d.l.Text)
		norms = append(norms, b)
		walk(b, func(g, ctx uint32) {
			c4[key(g, lmBits)]++
			c3[key(ctx, ctxBits)]++
		})
	}
	lm := &linear.CharLM{Bits: lmBits, CtxBits: ctxBits, Cost: make([]uint8, 1<<lmBits), Unseen: make([]uint8, 1<<ctxBits)}
	for i, n := range c3 {
		lm.Unseen[i] = quant(-math.Log2(alpha / (float64(n) + alpha*vocab)))
	}
	for _, b := range norms {
		walk(b, func(g, ctx uint32) {
			n4 := float64(c4[key(g, lmBits)])
			n3 := float64(c3[key(ctx, ctxBits)])
			lm.Cost[key(g, lmBits)] = quant(-math.Log2((n4 + alpha) / (n3 + alpha*vocab)))
		})
	}
	return lm
}

func walk(b []byte, fn func(g, ctx uint32)) {
	var ctx uint32 = ' ' | ' '<<8 | ' '<<16
	for _, c := range b {
		fn(ctx<<8|uint32(c), ctx&0xffffff)
		ctx = (ctx<<8 | uint32(c)) & 0xffffff
	}
}

// key must agree with linear.lmKey.
func key(g uint32, bits uint) uint32 { return linear.LMKey(g, bits) }

func quant(bits float64) uint8 {
	v := math.Round(bits * linear.Quant)
	if v < 1 {
		v = 1
	}
	if v > 255 {
		v = 255
	}
	return uint8(v)
}
