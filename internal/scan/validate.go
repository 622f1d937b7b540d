package scan

import (
	"hash/crc32"
	"math"
	"strings"

	"github.com/wardenhq/warden/internal/keys"
)

// A validator checks the structure of a candidate beyond its regex: a
// checksum or fixed markers. It returns false to drop the candidate and may
// return a note to attach to the finding. Validators are named in rules data
// ("validate = ...") and implemented here, because checksums are code.
type validator struct {
	// checksum is true when the validator verifies a checksum; such matches
	// skip the placeholder heuristics, since a valid checksum is evidence
	// enough.
	checksum bool
	fn       func(secret string) (ok bool, note string)
}

var validators = map[string]validator{
	"warden":          {checksum: true, fn: validWarden},
	"github":          {checksum: true, fn: validGitHub},
	"azure_annotated": {fn: validAzureAnnotated},
}

func validWarden(s string) (bool, string) {
	_, err := keys.Parse(s)
	return err == nil, ""
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// GitHubChecksum returns the six base62 characters GitHub appends to a
// classic token: the CRC-32 (IEEE) of the 30 random characters after the
// prefix, base62-encoded and zero-padded on the left. See GitHub's post
// "Behind GitHub's new authentication token formats" (April 2021).
func GitHubChecksum(random string) string {
	v := uint64(crc32.ChecksumIEEE([]byte(random)))
	var c [6]byte
	for i := 5; i >= 0; i-- {
		c[i] = base62[v%62]
		v /= 62
	}
	return string(c[:])
}

func validGitHub(s string) (bool, string) {
	if len(s) != 40 || s[3] != '_' {
		return false, ""
	}
	return GitHubChecksum(s[4:34]) == s[34:], ""
}

// azureProviders names the provider signatures seen at offset 76 of the
// 84-character annotated keys Azure issues.
var azureProviders = map[string]string{
	"ACOG": "Azure AI services / Azure OpenAI",
	"AZSE": "Azure AI Search",
	"AZDO": "Azure DevOps",
	"AZEG": "Azure Event Grid",
	"AZFD": "Azure Functions",
	"AZRC": "Azure Relay / Service Bus",
	"APIM": "Azure API Management",
}

// validAzureAnnotated checks the fixed parts of Microsoft's "common annotated
// security key" layout (public in microsoft/security-utilities):
//
//	52 base62 random | JQQJ9 + 9|D|H | year (base64 digit, years since 2024) |
//	month A-L | 12 platform-reserved | 4 provider-reserved | 4 provider signature |
//	4 checksum
//
// The regex already pins the marker, month and character classes; here the
// year must be plausible (2024-2049). The trailing checksum is a Marvin32 hash
// whose seed Microsoft documents for keys its library generates, but service-
// issued keys are classified "legacy" by Microsoft's own scanner and matched
// by shape only, so Warden does not reject on it (that could drop a real key).
func validAzureAnnotated(s string) (bool, string) {
	if len(s) != 84 || s[52:57] != "JQQJ9" {
		return false, ""
	}
	if y := s[58]; y < 'A' || y > 'Z' {
		return false, ""
	}
	sig := s[76:80]
	if name, ok := azureProviders[sig]; ok {
		return true, "provider signature " + sig + " (" + name + ")"
	}
	return true, "provider signature " + sig
}

// entropy returns the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// placeholderWords mark documentation examples and redacted values. They are
// at least five letters so that a random key contains one by chance less
// than once in a million.
var placeholderWords = []string{"example", "xxxxx", "your_", "your-", "yourkey", "yourapi", "redacted", "placeholder", "dummy", "sample", "changeme", "insert", "replace", "0123456789", "123456789", "abcdefghij"}

// isPlaceholder reports whether a candidate looks like a stand-in rather than
// a secret: a documentation word, or far too few distinct characters in its
// last 20 (sk-xxxx..., all-zero keys). A random key over base16 has about 12
// distinct characters in 20; fewer than 6 happens about once in three million.
func isPlaceholder(s string) bool {
	low := strings.ToLower(s)
	for _, w := range placeholderWords {
		if strings.Contains(low, w) {
			return true
		}
	}
	tail := s
	if len(tail) > 20 {
		tail = tail[len(tail)-20:]
	}
	var seen [256]bool
	distinct := 0
	for i := 0; i < len(tail); i++ {
		if !seen[tail[i]] {
			seen[tail[i]] = true
			distinct++
		}
	}
	return len(tail) >= 12 && distinct < 6
}
