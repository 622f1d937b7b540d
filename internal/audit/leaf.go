package audit

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
)

// BodyMode says what the log keeps of a request's prompt and answer.
type BodyMode string

const (
	// BodyNone keeps nothing of the bodies.
	BodyNone BodyMode = "none"
	// BodyHash keeps the SHA-256 of the masked prompt and answer: enough to
	// prove later that a given text was (or was not) sent, nothing to read.
	BodyHash BodyMode = "hash"
	// BodyEncrypted keeps the masked bodies encrypted to the investigators'
	// age recipients; the server itself cannot read them back.
	BodyEncrypted BodyMode = "encrypted"
	// BodyPlaintext keeps the masked bodies in clear.
	BodyPlaintext BodyMode = "plaintext"
)

// Valid reports whether m is one of the defined modes.
func (m BodyMode) Valid() bool {
	switch m {
	case BodyNone, BodyHash, BodyEncrypted, BodyPlaintext:
		return true
	}
	return false
}

// leafHeader is the first line of every leaf; a new leaf format gets a new one.
const leafHeader = "warden-audit/v1"

// MaxLeafSize bounds a leaf: ParseLeaf rejects longer input, and Append
// refuses events whose metadata would not fit.
const MaxLeafSize = 1 << 20

// Digest is an optional SHA-256: Set is false when the leaf says "-".
type Digest struct {
	Sum [32]byte
	Set bool
}

func (d Digest) String() string {
	if !d.Set {
		return "-"
	}
	return hex.EncodeToString(d.Sum[:])
}

// Leaf is the decoded form of one leaf of the tree.
type Leaf struct {
	Mode   BodyMode
	Prompt Digest // SHA-256 of the masked prompt
	Answer Digest // SHA-256 of the masked answer
	Blob   Digest // SHA-256 of the stored body
	Event  []byte // JSON of the event.Event
}

// Marshal returns the leaf's bytes, the input of its tree hash.
func (l *Leaf) Marshal() []byte {
	b := make([]byte, 0, len(leafHeader)+len(l.Event)+220)
	b = append(b, leafHeader...)
	b = append(b, "\nbody "...)
	b = append(b, l.Mode...)
	for _, d := range []Digest{l.Prompt, l.Answer, l.Blob} {
		b = append(b, ' ')
		b = append(b, d.String()...)
	}
	b = append(b, '\n')
	b = append(b, l.Event...)
	return append(b, '\n')
}

var errLeaf = errors.New("audit: malformed leaf")

// ParseLeaf decodes a leaf. It checks the framing and the body line, and
// that the event part is one line; it does not decode the event JSON.
func ParseLeaf(b []byte) (*Leaf, error) {
	if len(b) > MaxLeafSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errLeaf, len(b), MaxLeafSize)
	}
	header, rest, ok := bytes.Cut(b, []byte{'\n'})
	if !ok || string(header) != leafHeader {
		return nil, fmt.Errorf("%w: no %s header", errLeaf, leafHeader)
	}
	body, rest, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return nil, fmt.Errorf("%w: no body line", errLeaf)
	}
	l, err := parseBodyLine(body)
	if err != nil {
		return nil, err
	}
	if len(rest) < 2 || rest[len(rest)-1] != '\n' || bytes.IndexByte(rest[:len(rest)-1], '\n') >= 0 || rest[0] != '{' {
		return nil, fmt.Errorf("%w: event must be one JSON object line", errLeaf)
	}
	l.Event = rest[:len(rest)-1]
	return l, nil
}

// parseBodyLine decodes "body <mode> <prompt> <answer> <blob>".
func parseBodyLine(line []byte) (*Leaf, error) {
	f := bytes.Split(line, []byte{' '})
	if len(f) != 5 || string(f[0]) != "body" {
		return nil, fmt.Errorf("%w: bad body line", errLeaf)
	}
	l := &Leaf{Mode: BodyMode(f[1])}
	if !l.Mode.Valid() {
		return nil, fmt.Errorf("%w: unknown body mode %.20q", errLeaf, f[1])
	}
	for i, d := range []*Digest{&l.Prompt, &l.Answer, &l.Blob} {
		s := f[2+i]
		if string(s) == "-" {
			continue
		}
		if len(s) != 64 || !isLowerHex(s) {
			return nil, fmt.Errorf("%w: bad digest %.70q", errLeaf, s)
		}
		hex.Decode(d.Sum[:], s)
		d.Set = true
	}
	// What each mode must and must not carry: a leaf that claims "none" but
	// commits to a blob is as suspicious as one that lost its hashes.
	want := modeDigests[l.Mode]
	if l.Prompt.Set != want[0] || l.Answer.Set != want[1] || l.Blob.Set != want[2] {
		return nil, fmt.Errorf("%w: digests do not fit body mode %s", errLeaf, l.Mode)
	}
	return l, nil
}

// modeDigests says which of prompt, answer and blob digest a mode carries.
var modeDigests = map[BodyMode][3]bool{
	BodyNone:      {false, false, false},
	BodyHash:      {true, true, false},
	BodyEncrypted: {true, true, true},
	BodyPlaintext: {true, true, true},
}

func isLowerHex(s []byte) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
