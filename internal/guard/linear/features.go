package linear

import (
	"bytes"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/guard/textnorm"
)

// Feature kinds, mixed into the hash so that a word and a 4-gram that
// happen to share bytes do not share a bucket.
const (
	kindWord   = 0x9e3779b97f4a7c15
	kindBigram = 0xc2b2ae3d27d4eb4f
	kindChar4  = 0x165667b19e3779f9
)

// mix is the splitmix64 finaliser: a fast, well-spread 64-bit hash of x.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c >= utf8.RuneSelf
}

// AppendFeatures appends the bucket of every feature of the normalised text b
// to dst, for a table of 2^bits buckets.
//
// Every run of ASCII digits counts as one digit "0", in words and in
// character 4-grams alike: "case 94075" and "case 17" give the same features.
// Without this, the particular numbers of the training data (access codes in
// prompt-injection sets) became evidence of their own, and ordinary requests
// carrying a ticket or case number read as injection.
//
// The names of assistants and their makers ("chatgpt", "openai", "claude")
// count as one word, "model": see foldNames.
func AppendFeatures(dst []uint32, b []byte, bits uint) []uint32 {
	if folded, ok := foldNames(b); ok {
		b = folded
	}
	shift := 64 - bits
	// Words and bigrams.
	var prev uint64
	havePrev := false
	for i := 0; i < len(b); {
		if !isWordByte(b[i]) {
			i++
			continue
		}
		j := i
		h := uint64(14695981039346656037)
		for j < len(b) && isWordByte(b[j]) {
			c := b[j]
			j++
			if isDigit(c) {
				for j < len(b) && isDigit(b[j]) {
					j++
				}
				c = '0'
			}
			h ^= uint64(c)
			h *= 1099511628211
		}
		i = j
		dst = append(dst, uint32(mix(h^kindWord)>>shift))
		if havePrev {
			dst = append(dst, uint32(mix(prev*31+h^kindBigram)>>shift))
		}
		prev, havePrev = h, true
	}
	// Character 4-grams, with the text padded by a space at both ends.
	// n counts the bytes of b shifted in, after folding digit runs.
	var g uint32 = ' '
	n := 0
	for i := 0; i <= len(b); i++ {
		c := byte(' ')
		if i < len(b) {
			c = b[i]
			if isDigit(c) {
				if i > 0 && isDigit(b[i-1]) {
					continue
				}
				c = '0'
			}
		}
		g = g<<8 | uint32(c)
		n++
		if n >= 4 || i == len(b) {
			dst = append(dst, uint32(mix(uint64(g)^kindChar4)>>shift))
		}
	}
	return dst
}

// modelNames are the names of assistants and of the companies that make
// them. Jailbreak templates name their target ("Hello ChatGPT", "OpenAI's
// content policy"), and so do ordinary system prompts ("You are ChatGPT, a
// large language model trained by OpenAI"); as features the names taught the
// models which dataset a text came from, not what makes it an attack. They
// are all folded into the word "model".
var modelNames = [][]byte{
	[]byte("chatgpt"), []byte("openai"), []byte("gpt"), []byte("gpts"), []byte("claude"), []byte("anthropic"),
	[]byte("gemini"), []byte("bard"), []byte("llama"), []byte("mistral"), []byte("copilot"), []byte("bing"),
}

var modelWord = []byte("model")

// foldNames returns b with every whole word of modelNames replaced by
// "model", and whether it replaced any (when not, b is returned as is and
// nothing is allocated).
func foldNames(b []byte) ([]byte, bool) {
	var out []byte
	last := 0
	for i, j := textnorm.NextRun(b, 0, isWordByte); i < j; i, j = textnorm.NextRun(b, j, isWordByte) {
		if j-i >= 3 && j-i <= 9 && isName(b[i:j]) {
			if out == nil {
				out = make([]byte, 0, len(b))
			}
			out = append(out, b[last:i]...)
			out = append(out, modelWord...)
			last = j
		}
	}
	if out == nil {
		return b, false
	}
	return append(out, b[last:]...), true
}

// nameLens holds, per first byte, the lengths (as bits) of the names of
// modelNames that start with it, so that isName rejects almost every word
// with one look-up: foldNames sees every word of every text.
var nameLens = func() (t [256]uint16) {
	for _, n := range modelNames {
		if len(n) >= 16 {
			panic("linear: a model name of 16 bytes or more does not fit nameLens")
		}
		t[n[0]] |= 1 << len(n)
	}
	return t
}()

func isName(w []byte) bool {
	if nameLens[w[0]]&(1<<len(w)) == 0 {
		return false
	}
	for _, n := range modelNames {
		if bytes.Equal(w, n) {
			return true
		}
	}
	return false
}
