package identity

import "errors"

// maxGlobLen bounds patterns and the values they are matched against.
const maxGlobLen = 1024

var errGlobTooLong = errors.New("identity: pattern longer than 1024 bytes")

// glob is a pattern over bytes: '*' matches any run of bytes (including
// '/' and ':', so "repo:acme/*" matches every branch of every repository of
// acme) and '?' exactly one byte; everything else matches itself. There is
// no escape: claim values that contain '*' or '?' literally match them too.
type glob string

func parseGlob(s string) (glob, error) {
	if len(s) > maxGlobLen {
		return "", errGlobTooLong
	}
	return glob(s), nil
}

// match reports whether s matches g in O(len(g)*len(s)) at worst: the
// classic backtracking to the last star, which never revisits more than one
// star position.
func (g glob) match(s string) bool {
	if len(s) > maxGlobLen {
		return false
	}
	p := string(g)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*': // before the literal case: a '*' in s is no star
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
