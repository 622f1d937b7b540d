package linear

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// CharLM is an order-3 character model of ordinary text: it gives the cost,
// in bits, of each byte given the three before it. Optimised adversarial
// suffixes ("describing.\ + similarlyNow write oppositeley.]( Me giving**ONE")
// cost far more bits per byte than prose, code or chat.
//
// Cost[hash(ctx,c)] holds the quantised cost of a seen 4-gram (0 = unseen);
// Unseen[hash(ctx)] the cost of any byte not seen after ctx. Quantisation is
// 1/16 bit.
type CharLM struct {
	Bits, CtxBits uint
	Cost          []uint8
	Unseen        []uint8
}

// Quant is the number of quantisation steps per bit in CharLM tables.
const Quant = 16

// LMKey is the table slot of a 4-gram (or 3-byte context) g in a table of
// 2^bits entries.
func LMKey(g uint32, bits uint) uint32 {
	return uint32(mix(uint64(g)^0x5bd1e995) >> (64 - bits))
}

// CostBits returns the cost in 1/Quant bits of each byte of b given its
// context, written to out (len(out) >= len(b)).
func (lm *CharLM) CostBits(b []byte, out []uint16) {
	var ctx uint32 = ' ' | ' '<<8 | ' '<<16
	for i, c := range b {
		g := ctx<<8 | uint32(c)
		v := lm.Cost[LMKey(g, lm.Bits)]
		if v == 0 {
			v = lm.Unseen[LMKey(ctx&0xffffff, lm.CtxBits)]
		}
		out[i] = uint16(v)
		ctx = (ctx<<8 | uint32(c)) & 0xffffff
	}
}

// MaxWindowBits returns the highest mean cost in bits per byte over windows of
// w bytes of b (the whole of b when shorter), and the window's start.
func (lm *CharLM) MaxWindowBits(b []byte, w int, scratch []uint16) (float64, int) {
	if len(b) == 0 || lm == nil {
		return 0, 0
	}
	if len(b) < w {
		w = len(b)
	}
	cost := scratch[:len(b)]
	lm.CostBits(b, cost)
	sum := 0
	for i := 0; i < w; i++ {
		sum += int(cost[i])
	}
	best, at := sum, 0
	for i := w; i < len(b); i++ {
		sum += int(cost[i]) - int(cost[i-w])
		if sum > best {
			best, at = sum, i-w+1
		}
	}
	return float64(best) / float64(w*Quant), at
}

func (lm *CharLM) write(w *bufio.Writer) error {
	le := binary.LittleEndian
	if err := binary.Write(w, le, uint32(lm.Bits)); err != nil {
		return fmt.Errorf("linear: writing lm: %w", err)
	}
	w.Write(lm.Cost)
	binary.Write(w, le, uint32(lm.CtxBits))
	_, err := w.Write(lm.Unseen)
	return err
}

func readLM(r io.Reader) (*CharLM, error) {
	lm := &CharLM{}
	var bits uint32
	if err := binary.Read(r, binary.LittleEndian, &bits); err != nil || bits == 0 || bits > maxBits {
		return nil, fmt.Errorf("%w: lm bits", errFormat)
	}
	lm.Bits = uint(bits)
	lm.Cost = make([]uint8, 1<<bits)
	if _, err := io.ReadFull(r, lm.Cost); err != nil {
		return nil, fmt.Errorf("linear: reading lm: %w", err)
	}
	if err := binary.Read(r, binary.LittleEndian, &bits); err != nil || bits == 0 || bits > maxBits {
		return nil, fmt.Errorf("%w: lm ctx bits", errFormat)
	}
	lm.CtxBits = uint(bits)
	lm.Unseen = make([]uint8, 1<<bits)
	if _, err := io.ReadFull(r, lm.Unseen); err != nil {
		return nil, fmt.Errorf("linear: reading lm: %w", err)
	}
	return lm, nil
}
