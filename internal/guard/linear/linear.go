// Package linear is the guard's statistical model: hashed word and character
// n-grams fed to one logistic regression per category.
//
// Text reaching this package is already normalised (see textnorm). Features:
//
//   - word unigrams and bigrams (words are runs of ASCII letters and digits or
//     of non-ASCII bytes);
//   - character 4-grams over the normalised bytes, punctuation included.
//
// Each feature is hashed into 2^Bits buckets. Weights are stored as int8 with
// one scale per category, bucket-major (all categories of one bucket are
// adjacent, so one feature costs one cache line). Features are counted once
// per text (presence, not frequency). A text's logit for category c is Bias[c] + Scale[c] * sum(weights) / sqrt(max(number of features, MinFeatures)): the square
// root keeps long and short texts on one scale.
//
// The model file is little-endian binary:
//
//	"WGLM" version:u32 bits:u32 heads:u32
//	heads x { nameLen:u16 name scale:f32 bias:f32 threshold:f32 }
//	weights: (1<<bits)*heads x i8
//
// Threshold is the logit of the category's calibrated operating point;
// Probability maps it to 0.5.
package linear

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"unsafe"
)

const (
	magic = "WGLM"
	// version 2: digit runs are folded in features (see AppendFeatures);
	// version 3: names of assistants are folded too. A model of another
	// version was trained on other features and is refused.
	version = 3
	// maxBits bounds the table a model file may ask for.
	maxBits = 24
)

// Model is a trained set of per-category linear classifiers. It is read-only after Load and safe for concurrent use.
type Model struct {
	Bits      uint
	Heads     []string
	Scale     []float32
	Bias      []float32
	Threshold []float32
	Weights   []int8 // (1<<Bits) * len(Heads), bucket-major
}

var errFormat = errors.New("linear: bad model file")

// Load reads a model written by Write. On linux a large weight table is
// placed on huge pages where the kernel allows (see newTable).
func Load(r io.Reader) (*Model, error) {
	br := bufio.NewReader(r)
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("linear: reading header: %w", err)
	}
	if string(hdr[:]) != magic {
		return nil, errFormat
	}
	var ver, bits, heads uint32
	for _, p := range []*uint32{&ver, &bits, &heads} {
		if err := binary.Read(br, binary.LittleEndian, p); err != nil {
			return nil, fmt.Errorf("linear: reading header: %w", err)
		}
	}
	if ver != version || bits == 0 || bits > maxBits || heads == 0 || heads > 64 {
		return nil, fmt.Errorf("%w: version %d bits %d heads %d", errFormat, ver, bits, heads)
	}
	m := &Model{Bits: uint(bits)}
	for i := 0; i < int(heads); i++ {
		var n uint16
		if err := binary.Read(br, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("linear: reading head: %w", err)
		}
		if n > 64 {
			return nil, errFormat
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(br, name); err != nil {
			return nil, fmt.Errorf("linear: reading head: %w", err)
		}
		var v [3]float32
		if err := binary.Read(br, binary.LittleEndian, &v); err != nil {
			return nil, fmt.Errorf("linear: reading head: %w", err)
		}
		m.Heads = append(m.Heads, string(name))
		m.Scale = append(m.Scale, v[0])
		m.Bias = append(m.Bias, v[1])
		m.Threshold = append(m.Threshold, v[2])
	}
	m.Weights = newTable((1 << bits) * int(heads))
	if err := binary.Read(br, binary.LittleEndian, m.Weights); err != nil {
		return nil, fmt.Errorf("linear: reading weights: %w", err)
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
	binary.Write(bw, le, [3]uint32{version, uint32(m.Bits), uint32(len(m.Heads))})
	for i, h := range m.Heads {
		binary.Write(bw, le, uint16(len(h)))
		bw.WriteString(h)
		binary.Write(bw, le, [3]float32{m.Scale[i], m.Bias[i], m.Threshold[i]})
	}
	binary.Write(bw, le, m.Weights)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("linear: writing model: %w", err)
	}
	return nil
}

// Head returns the index of the named category, or -1.
func (m *Model) Head(name string) int {
	for i, h := range m.Heads {
		if h == name {
			return i
		}
	}
	return -1
}

// scratch is the per-call working memory of Accumulate.
type scratch struct {
	feats []uint32
	seen  []uint64 // bitset over buckets; cleared after each use
}

var scratchPool sync.Pool

// Accumulate adds the weights of the distinct features of norm to acc
// (len(acc) must be len(m.Heads)) and returns the number of distinct
// features. A feature counts once however often it occurs, so repeating a
// text does not make it weigh more.
func (m *Model) Accumulate(norm []byte, acc []int32) int {
	sp := m.getScratch()
	uniq := m.appendDistinct(sp, sp.feats[:0], norm)
	m.sum(uniq, acc)
	n := len(uniq)
	if cap(uniq) <= 1<<16 {
		sp.feats = uniq[:0]
		scratchPool.Put(sp)
	}
	return n
}

// AppendDistinct appends the distinct features of norm to dst, in order of
// first occurrence: the features Accumulate sums (the set Dedup leaves,
// without its sort).
func (m *Model) AppendDistinct(dst []uint32, norm []byte) []uint32 {
	sp := m.getScratch()
	dst = m.appendDistinct(sp, dst, norm)
	scratchPool.Put(sp)
	return dst
}

func (m *Model) getScratch() *scratch {
	sp, _ := scratchPool.Get().(*scratch)
	if sp == nil || len(sp.seen) != 1<<m.Bits/64 {
		sp = &scratch{feats: make([]uint32, 0, 4096), seen: make([]uint64, 1<<m.Bits/64)}
	}
	return sp
}

// appendDistinct appends the features of norm to dst and removes repeats
// in place with the bitset of sp, which it leaves cleared.
func (m *Model) appendDistinct(sp *scratch, dst []uint32, norm []byte) []uint32 {
	start := len(dst)
	dst = AppendFeatures(dst, norm, m.Bits)
	uniq := dst[:start]
	for _, f := range dst[start:] {
		word, bit := f>>6, uint64(1)<<(f&63)
		if sp.seen[word]&bit != 0 {
			continue
		}
		sp.seen[word] |= bit
		uniq = append(uniq, f)
	}
	for _, f := range uniq[start:] {
		sp.seen[f>>6] = 0
	}
	return uniq
}

// sum adds the rows of the buckets feats (distinct) to acc.
//
// Most of a check's time is spent here and it is mostly waiting for rows of
// the weight table, which is larger than the core's cache: one row per
// feature, at a random place. The rows are independent loads that the
// processor overlaps; what the loop itself can save is instructions, so the
// adds are done eight heads at a time in one 64-bit word (see addRows). The
// result is the same integer sum as adding weight by weight (sumSlow, which
// the tests compare it with). Touching a batch of rows before adding them,
// to have more loads in flight, measured no faster, warm or cold.
func (m *Model) sum(feats []uint32, acc []int32) {
	if len(m.Heads) > 16 {
		m.sumSlow(feats, acc)
		return
	}
	addRows(asBytes(m.Weights), len(m.Heads), feats, acc)
}

// addRows adds to acc (h <= 16 heads) the rows of w at the buckets feats,
// in SWAR: each row is read as two little-endian 64-bit words (16 bytes,
// of which the first h are the row), every byte is offset by 128 to make it
// unsigned, and the even and odd bytes are summed in 16-bit lanes of four
// accumulators. A lane gains at most 255 per row, so the lanes are flushed
// into acc every 256 rows, before they could overflow. Rows too close to
// the end of the table to read 16 bytes are added one weight at a time.
func addRows(w []byte, h int, feats []uint32, acc []int32) {
	const (
		bias  = 0x8080808080808080 // +128 on every byte
		lanes = 0x00ff00ff00ff00ff // the even bytes, as 16-bit lanes
	)
	var lo0, hi0, lo1, hi1 uint64
	rows := 0
	for _, f := range feats {
		o := int(f) * h
		if o+16 > len(w) {
			for j, v := range w[o : o+h] {
				acc[j] += int32(int8(v))
			}
			continue
		}
		a := binary.LittleEndian.Uint64(w[o:]) ^ bias
		b := binary.LittleEndian.Uint64(w[o+8:]) ^ bias
		lo0 += a & lanes
		hi0 += a >> 8 & lanes
		lo1 += b & lanes
		hi1 += b >> 8 & lanes
		if rows++; rows == 256 {
			flushLanes(acc, h, rows, [4]uint64{lo0, hi0, lo1, hi1})
			lo0, hi0, lo1, hi1, rows = 0, 0, 0, 0, 0
		}
	}
	flushLanes(acc, h, rows, [4]uint64{lo0, hi0, lo1, hi1})
}

// flushLanes adds to acc the sums of rows rows held in the lanes of addRows'
// accumulators (even bytes of the first word, odd bytes of the first word,
// even and odd bytes of the second), less the offset of 128 per row.
func flushLanes(acc []int32, h, rows int, l [4]uint64) {
	for k, first := range [4]int{0, 1, 8, 9} {
		for i := 0; i < 4; i++ {
			if j := first + 2*i; j < h {
				acc[j] += int32(l[k]>>(16*i)&0xffff) - 128*int32(rows)
			}
		}
	}
}

// sumSlow is sum one weight at a time.
func (m *Model) sumSlow(feats []uint32, acc []int32) {
	h := len(m.Heads)
	for _, f := range feats {
		for j, v := range m.Weights[int(f)*h : int(f)*h+h] {
			acc[j] += int32(v)
		}
	}
}

// asBytes views int8 weights as bytes (the same memory, no copy), so that
// addRows can load eight of them at once.
func asBytes(w []int8) []byte {
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w))
}

// Dedup sorts feats and removes repeats, as Accumulate counts them.
func Dedup(feats []uint32) []uint32 {
	slices.Sort(feats)
	return slices.Compact(feats)
}

// Logits turns sums from Accumulate over n features into per-category logits.
func (m *Model) Logits(acc []int32, n int, out []float32) {
	inv := Inv(n)
	for j := range m.Heads {
		out[j] = m.Bias[j] + m.Scale[j]*float32(acc[j])*inv
	}
}

// Probability maps a logit of category j to 0..1 so that the calibrated
// operating point is 0.5 and the slope is the model's own.
func (m *Model) Probability(j int, logit float32) float64 {
	return 1 / (1 + math.Exp(-float64(logit-m.Threshold[j])))
}

// MinFeatures is the feature count below which texts are scaled as if they
// had this many: a two-word text must not weigh its words as heavily as a
// document's whole vocabulary.
const MinFeatures = 24

// Inv is the factor a text of n features scales its weight sum by.
func Inv(n int) float32 {
	return 1 / float32(math.Sqrt(float64(max(n, MinFeatures))))
}
