package textnorm

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits of Decode. They bound the work one input can cause.
const (
	// MaxDepth is how many times decoded text is decoded again.
	MaxDepth = 2
	// MaxSpans is the most decoded pieces Decode returns for one input.
	MaxSpans = 16
	// MaxDecoded bounds the total bytes of decoded text Decode returns.
	MaxDecoded = 64 << 10
	// minSpan is the shortest encoded run worth decoding.
	minSpan = 16
)

// Decode returns the plain text hidden in s as base64, hex, percent-encoding
// or rot13, each piece decoded and decoded again up to MaxDepth times. It
// returns nil when s hides nothing, which is the common case and allocates
// nothing.
func Decode(s string) []string {
	var out []string
	budget := MaxDecoded
	decodeInto(&out, s, 0, &budget)
	return out
}

func decodeInto(out *[]string, s string, depth int, budget *int) {
	if depth >= MaxDepth+1 || len(*out) >= MaxSpans || *budget <= 0 {
		return
	}
	add := func(p string) {
		if len(*out) >= MaxSpans || *budget <= 0 || len(p) == 0 {
			return
		}
		if len(p) > *budget {
			p = p[:*budget]
		}
		*budget -= len(p)
		*out = append(*out, p)
		decodeInto(out, p, depth+1, budget)
	}
	// base64 and hex runs.
	for i := 0; i < len(s); {
		if !isB64(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isB64(s[j]) {
			j++
		}
		run := s[i:j]
		i = j
		if len(run) < minSpan {
			continue
		}
		if p, ok := decodeHex(run); ok {
			add(p)
			continue
		}
		if p, ok := decodeB64(run); ok {
			add(p)
		}
	}
	// Percent-encoding.
	if strings.Count(s, "%") >= 3 {
		if p, err := url.QueryUnescape(s); err == nil && p != s && printable(p) {
			add(p)
		} else if p, err := url.PathUnescape(s); err == nil && p != s && printable(p) {
			add(p)
		}
	}
	// rot13: decode when the rotated text reads as English and the text does not.
	if p, ok := decodeRot13(s); ok {
		add(p)
	}
}

func isB64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '+' || c == '/' || c == '=' || c == '-' || c == '_'
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func decodeHex(run string) (string, bool) {
	if len(run)%2 != 0 {
		return "", false
	}
	for i := 0; i < len(run); i++ {
		if !isHexDigit(run[i]) {
			return "", false
		}
	}
	b, err := hex.DecodeString(run)
	if err != nil || !printable(string(b)) {
		return "", false
	}
	return string(b), true
}

func decodeB64(run string) (string, bool) {
	// A base64 run of plain words ("Supercalifragilistic") is not base64:
	// require a digit, '+', '/', '=' or mixed case in an unusual pattern.
	upper, lower, other := 0, 0, 0
	for i := 0; i < len(run); i++ {
		c := run[i]
		switch {
		case 'A' <= c && c <= 'Z':
			upper++
		case 'a' <= c && c <= 'z':
			lower++
		default:
			other++
		}
	}
	if upper == 0 || lower == 0 {
		return "", false
	}
	trimmed := strings.TrimRight(run, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(trimmed)
		if err == nil && printable(string(b)) {
			return string(b), true
		}
	}
	return "", false
}

// printable reports whether b reads as text: valid UTF-8, at least 8 bytes,
// almost no control characters, and some letters and spaces.
func printable(s string) bool {
	if len(s) < 8 || !utf8.ValidString(s) {
		return false
	}
	letters, spaces, bad := 0, 0, 0
	for _, r := range s {
		switch {
		case r == ' ' || r == '\n' || r == '\t':
			spaces++
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			bad++
		case 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
			letters++
		}
	}
	return bad == 0 && letters*2 >= len(s) && spaces > 0
}

// isCommon reports the frequent short English words (lower case); rot13
// text has few of them and its rotation has many. A switch, not a map: it is
// asked twice for every word of every text.
func isCommon(w []byte) bool {
	if len(w) > 5 {
		return false
	}
	switch string(w) {
	case "the", "and", "you", "to", "of", "is", "how",
		"a", "in", "it", "for", "what", "that", "this",
		"with", "are", "me", "my", "i", "do", "can",
		"make", "tell", "your", "all", "not", "be", "on",
		"an", "or", "give", "from", "write", "now":
		return true
	}
	return false
}

func decodeRot13(s string) (string, bool) {
	if len(s) < 12 {
		return "", false
	}
	plain, rotated := 0, 0
	var buf [8]byte
	words := 0
	for i := 0; i < len(s) && words < 400; {
		if !isLetter(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isLetter(s[j]) {
			j++
		}
		w := s[i:j]
		i = j
		words++
		if len(w) > len(buf) {
			continue
		}
		for k := 0; k < len(w); k++ {
			buf[k] = lowerByte(w[k])
		}
		if isCommon(buf[:len(w)]) {
			plain++
		}
		for k := 0; k < len(w); k++ {
			buf[k] = rot13(buf[k])
		}
		if isCommon(buf[:len(w)]) {
			rotated++
		}
	}
	if rotated < 3 || rotated < 3*plain+1 {
		return "", false
	}
	b := []byte(s)
	for k := range b {
		b[k] = rot13(b[k])
	}
	return string(b), true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func rot13(c byte) byte {
	switch {
	case 'a' <= c && c <= 'z':
		return 'a' + (c-'a'+13)%26
	case 'A' <= c && c <= 'Z':
		return 'A' + (c-'A'+13)%26
	}
	return c
}
