// Package redact masks credentials in free text (prompts, answers, headers)
// before Warden stores or forwards that text anywhere: a key pasted into a
// prompt must not live on in the audit log, a recording or an alert.
//
// Rules are data: each has a name, cheap keywords and a regular expression.
// The expression runs only if one of its keywords occurs in the text (ASCII
// case-insensitive), so text without any candidate costs one pass per
// keyword and no regular expression at all.
//
// A match is replaced by "[REDACTED:<rule>]", or, where a rule keeps a
// context group (the "api-key:" in front of an Azure key), by that context
// followed by the marker. Masking is deliberately eager: a false positive
// costs a few characters of an audit record, a false negative leaks a key.
package redact

import (
	"regexp"
	"strings"
)

// Rule finds one kind of credential.
type Rule struct {
	Name     string
	Keywords []string // lower-case; the rule runs if any occurs in the text
	// Re matches the credential. If it has a group named "keep", that part
	// of the match is kept in front of the marker.
	Re *regexp.Regexp
}

// Rules are the built-in rules, in the order they are applied.
var Rules = []Rule{
	{"warden", []string{"wdn_"}, regexp.MustCompile(`wdn_[0-9A-Za-z]{36}`)},
	{"anthropic", []string{"sk-ant-"}, regexp.MustCompile(`sk-ant-[A-Za-z0-9_\-]{20,}`)},
	{"openai", []string{"sk-"}, regexp.MustCompile(`sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}`)},
	// Azure OpenAI and Cognitive Services keys are 32 hex digits (84
	// base62-ish characters in the newer format) with no prefix of their
	// own, so they are masked only next to the name of the header or
	// setting that carries them.
	{"azure", []string{"key"}, regexp.MustCompile(`(?i)(?P<keep>(?:api[-_ ]?key|ocp-apim-subscription-key|azure[-_ ]?openai[-_ ]?key|subscription[-_ ]?key)["']?\s*[:=]\s*["']?)(?:[0-9a-f]{32}|[A-Za-z0-9]{84})\b`)},
	{"bearer", []string{"bearer"}, regexp.MustCompile(`(?i)(?P<keep>bearer\s+)[A-Za-z0-9._~+/\-]{16,}=*`)},
	{"aws-access-key", []string{"akia", "asia"}, regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"aws-secret", []string{"aws_secret", "secret_access_key", "secretaccesskey"}, regexp.MustCompile(`(?i)(?P<keep>(?:aws_secret_access_key|secret_?access_?key)["']?\s*[:=]\s*["']?)[A-Za-z0-9/+]{40}`)},
	{"google-api-key", []string{"aiza"}, regexp.MustCompile(`AIza[0-9A-Za-z_\-]{35}`)},
	{"github-token", []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}, regexp.MustCompile(`(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})`)},
	{"huggingface", []string{"hf_"}, regexp.MustCompile(`\bhf_[A-Za-z0-9]{34}\b`)},
	// Warden's admin token, and JWTs: workload-identity tokens and Warden's
	// own short-lived tokens ("wdt_" + JWT) are bearer credentials too.
	{"warden-admin", []string{"wadm_"}, regexp.MustCompile(`wadm_[A-Za-z0-9_\-]{20,}`)},
	{"jwt", []string{"eyj"}, regexp.MustCompile(`(?:wdt_)?eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*`)},
	{"private-key", []string{"private key-----"}, regexp.MustCompile(`-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY-----|$)`)},
}

// Bytes returns b with every credential the Rules find masked. It returns
// b itself (not a copy) when there is nothing to mask.
func Bytes(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	hit := keywordHits(b)
	for i := range Rules {
		if hit&(1<<i) == 0 {
			continue
		}
		if out, changed := mask(&Rules[i], b); changed {
			b = out
		}
	}
	return b
}

// The keyword prefilter: one pass over the text, looking up each pair of
// adjacent bytes (ASCII case folded) in a table of keyword beginnings, and
// comparing whole keywords only where a pair matches. Masking only removes
// text, so the hits found on the input stand for the whole run.
var (
	lowerASCII [256]byte
	firsts     [256]bool        // a keyword starts with this byte (either case)
	pairs      [1 << 16]uint8   // 1 + index into byPair of the keywords starting with this pair
	byPair     = [][]kwRef{nil} // byPair[0] is unused
)

type kwRef struct {
	word string
	rule int
}

func init() {
	if len(Rules) > 64 {
		panic("redact: more than 64 rules")
	}
	for i := range lowerASCII {
		c := byte(i)
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lowerASCII[i] = c
	}
	for i, r := range Rules {
		for _, k := range r.Keywords {
			if len(k) < 2 || strings.ToLower(k) != k {
				panic("redact: rule " + r.Name + ": keywords must be lower case, at least 2 bytes")
			}
			p := uint16(k[0])<<8 | uint16(k[1])
			if pairs[p] == 0 {
				byPair = append(byPair, nil)
				pairs[p] = uint8(len(byPair) - 1)
			}
			byPair[pairs[p]] = append(byPair[pairs[p]], kwRef{k, i})
			firsts[k[0]] = true
			firsts[strings.ToUpper(k[:1])[0]] = true
		}
	}
}

func keywordHits(b []byte) uint64 {
	var hit uint64
	for i := 0; i+1 < len(b); i++ {
		if !firsts[b[i]] {
			continue
		}
		x := pairs[uint16(lowerASCII[b[i]])<<8|uint16(lowerASCII[b[i+1]])]
		if x == 0 {
			continue
		}
		for _, k := range byPair[x] {
			if hasPrefixFold(b[i:], k.word) {
				hit |= 1 << k.rule
			}
		}
	}
	return hit
}

// hasPrefixFold reports whether b starts with the lower-case word, ASCII
// case-insensitively.
func hasPrefixFold(b []byte, word string) bool {
	if len(b) < len(word) {
		return false
	}
	for i := 0; i < len(word); i++ {
		if lowerASCII[b[i]] != word[i] {
			return false
		}
	}
	return true
}

// String is Bytes for strings.
func String(s string) string {
	if s == "" {
		return s
	}
	return string(Bytes([]byte(s)))
}

func mask(r *Rule, b []byte) ([]byte, bool) {
	locs := r.Re.FindAllSubmatchIndex(b, -1)
	if len(locs) == 0 {
		return b, false
	}
	keep := r.Re.SubexpIndex("keep")
	marker := "[REDACTED:" + r.Name + "]"
	out := make([]byte, 0, len(b))
	last := 0
	for _, loc := range locs {
		out = append(out, b[last:loc[0]]...)
		if keep > 0 && loc[2*keep] >= 0 {
			out = append(out, b[loc[2*keep]:loc[2*keep+1]]...)
		}
		out = append(out, marker...)
		last = loc[1]
	}
	return append(out, b[last:]...), true
}
