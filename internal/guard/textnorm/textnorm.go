// Package textnorm folds text into the one canonical form the guard judges,
// so that obfuscation does not hide content from rules or models.
//
// Normalize applies, in order:
//
//   - Unicode NFKC (fullwidth, mathematical and circled letters become ASCII),
//     then removal of combining marks (accents), for non-ASCII input only;
//   - removal of invisible characters: zero-width (U+200B..U+200F, U+2060..U+2064,
//     U+FEFF, U+00AD soft hyphen), bidi controls (U+202A..U+202E, U+2066..U+2069)
//     and variation selectors;
//   - Unicode tag characters (U+E0020..U+E007E, "ASCII smuggling") are mapped to
//     the ASCII they hide instead of being dropped, so the hidden text is judged;
//   - homoglyphs (Cyrillic and Greek look-alikes of Latin letters) are folded to
//     Latin, typographic apostrophes and quotes (’ ‘ “ ”) to ASCII ' and ";
//   - lower-casing, and whitespace runs collapsed to one space;
//   - leetspeak folded inside words that mix letters with 0 1 3 4 5 7 @ $
//     ("h4ck3r" -> "hacker"), numbers alone are kept;
//   - letters spelled out one by one ("b o m b", "b.o.m.b") are joined.
//
// Decode finds base64, hex and percent-encoded spans, rot13 text and
// sentences written backwards, and returns their decoded plain text, so
// callers can rescan it (with a depth limit: decoded text is decoded again
// at most MaxDepth times).
//
// The same functions are used when training the models and when judging, so
// what the model learned and what it sees agree byte for byte.
package textnorm

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// MaxInput bounds the bytes Normalize reads; the rest is ignored. Callers
// judge longer texts in pieces.
const MaxInput = 1 << 20

// Normalize appends the canonical form of s to dst and returns it.
func Normalize(dst []byte, s string) []byte {
	if len(s) > MaxInput {
		s = s[:MaxInput]
	}
	if !IsASCII(s) {
		s = foldUnicode(s)
	}
	start := len(dst)
	space := true // at start: drop leading spaces
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if asciiSpace[c] {
				if !space {
					dst = append(dst, ' ')
					space = true
				}
				continue
			}
			if c < 0x20 || c == 0x7f {
				continue
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			space = false
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case invisible(r):
			continue
		case r >= 0xE0020 && r <= 0xE007E: // tag characters hide ASCII
			c := byte(r - 0xE0000)
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			space = c == ' '
			continue
		case unicode.IsSpace(r):
			if !space {
				dst = append(dst, ' ')
				space = true
			}
			continue
		}
		if h, ok := homoglyphs[r]; ok {
			dst = append(dst, h)
			space = false
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		space = false
	}
	if n := len(dst); n > start && dst[n-1] == ' ' {
		dst = dst[:n-1]
	}
	foldLeet(dst[start:])
	return joinSpelled(dst, start)
}

var asciiSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\v': true, '\f': true}

// IsASCII reports whether s is all ASCII.
func IsASCII[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// invisible reports characters that render as nothing and are used to split
// words so that filters miss them.
func invisible(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x061C, r == 0x180E, r == 0xFEFF:
		return true
	case r >= 0x200B && r <= 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E:
		return true
	case r >= 0x2060 && r <= 0x2069:
		return true
	case r >= 0xFE00 && r <= 0xFE0F: // variation selectors
		return true
	case r == 0xE0001, r == 0xE007F: // tag begin/cancel
		return true
	case r >= 0xE0100 && r <= 0xE01EF:
		return true
	}
	return false
}

// foldUnicode applies NFKC and strips combining marks. It runs only on
// non-ASCII input, which keeps the common path free of allocations.
func foldUnicode(s string) string {
	t := transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFKC)
	out, _, err := transform.String(t, s)
	if err != nil {
		return norm.NFKC.String(s)
	}
	return out
}

// homoglyphs maps letters that look like Latin ones to the Latin letter.
// Only lower case is listed; upper case is lowered first by NFKC-folded
// ToLower below, so both are covered via the explicit upper-case entries.
var homoglyphs = map[rune]byte{
	// Cyrillic
	'а': 'a', 'А': 'a', 'в': 'b', 'В': 'b', 'е': 'e', 'Е': 'e', 'ё': 'e', 'к': 'k', 'К': 'k',
	'м': 'm', 'М': 'm', 'н': 'h', 'Н': 'h', 'о': 'o', 'О': 'o', 'р': 'p', 'Р': 'p',
	'с': 'c', 'С': 'c', 'т': 't', 'Т': 't', 'у': 'y', 'У': 'y', 'х': 'x', 'Х': 'x',
	'ѕ': 's', 'Ѕ': 's', 'і': 'i', 'І': 'i', 'ї': 'i', 'ј': 'j', 'Ј': 'j', 'ԁ': 'd',
	'ɡ': 'g', 'һ': 'h', 'ԛ': 'q', 'ԝ': 'w', 'ү': 'y', 'Ү': 'y', 'ӏ': 'l', 'Ӏ': 'l',
	// Greek
	'α': 'a', 'Α': 'a', 'β': 'b', 'Β': 'b', 'ε': 'e', 'Ε': 'e', 'ζ': 'z', 'Ζ': 'z',
	'η': 'n', 'Η': 'h', 'ι': 'i', 'Ι': 'i', 'κ': 'k', 'Κ': 'k', 'μ': 'u', 'Μ': 'm',
	'ν': 'v', 'Ν': 'n', 'ο': 'o', 'Ο': 'o', 'ρ': 'p', 'Ρ': 'p', 'τ': 't', 'Τ': 't',
	'υ': 'u', 'Υ': 'y', 'χ': 'x', 'Χ': 'x', 'ω': 'w',
	// Latin look-alikes and symbols
	'ı': 'i', 'ȷ': 'j', 'ℓ': 'l', 'ß': 's', 'ø': 'o', 'Ø': 'o', 'đ': 'd', 'ħ': 'h', 'ł': 'l', 'Ł': 'l',
	// Typographic quotes: models, word processors and phone keyboards write
	// "can’t" and “quoted”, and a phrase written with ASCII quotes ("can't
	// refuse", a refusal's "I can't") must match either spelling.
	'\u2018': '\'', '\u2019': '\'', '\u201B': '\'', '\u02BC': '\'', '\u2032': '\'',
	'\u201C': '"', '\u201D': '"', '\u201F': '"', '\u2033': '"',
}

// leet maps the characters used in leetspeak to the letters they stand for.
var leet = [256]byte{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's', '8': 'b'}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// foldLeet rewrites, in place, words of at least three characters that mix
// letters with leet characters. Numbers alone ("2024") are left alone.
func foldLeet(b []byte) {
	for i := 0; i < len(b); {
		if !isLower(b[i]) && leet[b[i]] == 0 {
			i++
			continue
		}
		j, letters, leets := i, 0, 0
		for j < len(b) && (isLower(b[j]) || leet[b[j]] != 0 || isDigit(b[j])) {
			if isLower(b[j]) {
				letters++
			} else if leet[b[j]] != 0 {
				leets++
			} else {
				leets = -1 << 20 // other digits: not leet
			}
			j++
		}
		if letters > 0 && leets > 0 && j-i >= 3 {
			for k := i; k < j; k++ {
				if l := leet[b[k]]; l != 0 {
					b[k] = l
				}
			}
		}
		i = j
	}
}

// joinSpelled joins runs of at least three single letters separated by one
// separator ("b o m b", "b.o.m.b", "b-o-m-b") in dst[start:].
func joinSpelled(dst []byte, start int) []byte {
	b := dst[start:]
	w := 0
	for i := 0; i < len(b); {
		// Try a run at i: letter, sep, letter, sep, letter...
		if isLower(b[i]) && (i == 0 || !isWordByte(b[i-1])) {
			j, n, end := i, 0, i
			for j < len(b) && isLower(b[j]) && (j+1 == len(b) || !isWordByte(b[j+1])) {
				n++
				end = j + 1
				if j+2 < len(b) && isSep(b[j+1]) {
					j += 2
					continue
				}
				break
			}
			if n >= 3 {
				for k := i; k < end; k += 2 {
					b[w] = b[k]
					w++
				}
				i = end
				continue
			}
		}
		b[w] = b[i]
		w++
		i++
	}
	return dst[:start+w]
}

func isWordByte(c byte) bool { return isLower(c) || isDigit(c) || c >= utf8.RuneSelf }
func isSep(c byte) bool {
	return c == ' ' || c == '.' || c == '-' || c == '_' || c == '*' || c == ','
}
