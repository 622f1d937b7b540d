// Package neural is the guard's second stage: a small network over the same
// hashed features as the linear heads (package linear), for the texts the
// linear heads are unsure of.
//
// Held out by source, a linear head learns the words of the sources it was
// trained on; a hidden layer over a learned embedding of the same features
// learns which combinations carry an attack, and judged sources it had
// never seen better (docs/guard-model-card.md, "A second stage"). It costs
// more per text than the linear heads, so the guard runs it only where
// their score falls in a band below the block point.
//
// The network: each feature bucket has an embedding of Dim int8 values
// (one scale per dimension); a text's input is the sum of its features'
// embeddings over the square root of their number (as the linear heads
// scale theirs), then one hidden layer of Hidden ReLU units and one logistic
// output per head.
//
// The model file is little-endian binary:
//
//	"WGNN" version:u32 bits:u32 shift:u32 dim:u32 hidden:u32 heads:u32
//	heads x { nameLen:u16 name bias:f32 threshold:f32 }
//	scale: dim x f32
//	w1: hidden*dim x f32, b1: hidden x f32
//	w2: heads*hidden x f32
//	embedding: (1<<bits)*dim x i8
package neural

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/wardenhq/warden/internal/guard/linear"
)

const (
	magic   = "WGNN"
	version = 1
	// maxBits, maxDim and maxHidden bound what a model file may ask for.
	maxBits, maxDim, maxHidden = 20, 64, 256
)

// Model is a trained network. It is read-only after Load and safe for
// concurrent use; the caller brings the scratch space (Scratch).
type Model struct {
	Bits   uint // embedding buckets: 2^Bits
	Shift  uint // a feature index of package linear, shifted right by Shift, is a bucket
	Dim    int
	Hidden int
	Heads  []string
	Bias   []float32 // per head, the output bias
	// Threshold is each head's calibrated operating point (logit), as in
	// package linear.
	Threshold []float32
	Scale     []float32 // per embedding dimension
	W1, B1    []float32 // Hidden x Dim, Hidden
	W2        []float32 // len(Heads) x Hidden
	E         []int8    // (1<<Bits) x Dim, bucket-major
}

var errFormat = errors.New("neural: bad model file")

// Head returns the index of the named head, or -1.
func (m *Model) Head(name string) int {
	for i, h := range m.Heads {
		if h == name {
			return i
		}
	}
	return -1
}

// Scratch is the working space of one Logits call at a time.
type Scratch struct {
	sum    []int32
	x, hid []float32
}

// NewScratch returns scratch space for m.
func (m *Model) NewScratch() *Scratch {
	return &Scratch{sum: make([]int32, m.Dim), x: make([]float32, m.Dim), hid: make([]float32, m.Hidden)}
}

// Logits writes each head's logit for a text of the given distinct
// features (linear.AppendFeatures and linear.Dedup, at the linear model's
// bits) into out.
func (m *Model) Logits(feats []uint32, s *Scratch, out []float32) {
	clear(s.sum)
	for _, f := range feats {
		i := int(f>>m.Shift) * m.Dim
		row := m.E[i : i+m.Dim]
		for k, v := range row {
			s.sum[k] += int32(v)
		}
	}
	inv := linear.Inv(len(feats))
	for k, v := range s.sum {
		s.x[k] = float32(v) * m.Scale[k] * inv
	}
	for i := range s.hid {
		z := m.B1[i]
		row := m.W1[i*m.Dim : (i+1)*m.Dim]
		for k, w := range row {
			z += w * s.x[k]
		}
		s.hid[i] = max(z, 0)
	}
	for j := range m.Heads {
		z := m.Bias[j]
		row := m.W2[j*m.Hidden : (j+1)*m.Hidden]
		for i, w := range row {
			z += w * s.hid[i]
		}
		out[j] = z
	}
}

// Quantize returns the int8 embedding and per-dimension scales of a float
// embedding of dim columns.
func Quantize(e []float32, dim int) ([]int8, []float32) {
	scale := make([]float32, dim)
	for i, v := range e {
		scale[i%dim] = max(scale[i%dim], float32(math.Abs(float64(v))))
	}
	for k := range scale {
		scale[k] /= 127
		if scale[k] == 0 {
			scale[k] = 1
		}
	}
	q := make([]int8, len(e))
	for i, v := range e {
		q[i] = int8(math.Round(float64(v / scale[i%dim])))
	}
	return q, scale
}

// Load reads a model written by Write.
func Load(r io.Reader) (*Model, error) {
	br := bufio.NewReader(r)
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("neural: reading header: %w", err)
	}
	if string(hdr[:]) != magic {
		return nil, errFormat
	}
	var h [6]uint32
	if err := binary.Read(br, binary.LittleEndian, &h); err != nil {
		return nil, fmt.Errorf("neural: reading header: %w", err)
	}
	ver, bits, shift, dim, hidden, heads := h[0], h[1], h[2], h[3], h[4], h[5]
	if ver != version || bits == 0 || bits > maxBits || shift > 32 || dim == 0 || dim > maxDim ||
		hidden == 0 || hidden > maxHidden || heads == 0 || heads > 64 {
		return nil, fmt.Errorf("%w: version %d bits %d dim %d hidden %d heads %d", errFormat, ver, bits, dim, hidden, heads)
	}
	m := &Model{Bits: uint(bits), Shift: uint(shift), Dim: int(dim), Hidden: int(hidden)}
	for range heads {
		var n uint16
		if err := binary.Read(br, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("neural: reading head: %w", err)
		}
		if n > 64 {
			return nil, errFormat
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(br, name); err != nil {
			return nil, fmt.Errorf("neural: reading head: %w", err)
		}
		var v [2]float32
		if err := binary.Read(br, binary.LittleEndian, &v); err != nil {
			return nil, fmt.Errorf("neural: reading head: %w", err)
		}
		m.Heads = append(m.Heads, string(name))
		m.Bias = append(m.Bias, v[0])
		m.Threshold = append(m.Threshold, v[1])
	}
	m.Scale = make([]float32, dim)
	m.W1, m.B1 = make([]float32, hidden*dim), make([]float32, hidden)
	m.W2 = make([]float32, int(heads)*int(hidden))
	m.E = make([]int8, (1<<bits)*int(dim))
	for _, p := range []any{m.Scale, m.W1, m.B1, m.W2, m.E} {
		if err := binary.Read(br, binary.LittleEndian, p); err != nil {
			return nil, fmt.Errorf("neural: reading weights: %w", err)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data", errFormat)
	}
	return m, nil
}

// Write stores m in the format Load reads.
func (m *Model) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(magic)
	le := binary.LittleEndian
	binary.Write(bw, le, [6]uint32{version, uint32(m.Bits), uint32(m.Shift), uint32(m.Dim), uint32(m.Hidden), uint32(len(m.Heads))})
	for i, h := range m.Heads {
		binary.Write(bw, le, uint16(len(h)))
		bw.WriteString(h)
		binary.Write(bw, le, [2]float32{m.Bias[i], m.Threshold[i]})
	}
	for _, p := range []any{m.Scale, m.W1, m.B1, m.W2, m.E} {
		binary.Write(bw, le, p)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("neural: writing model: %w", err)
	}
	return nil
}
