package identity

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/identity/identitytest"
	"github.com/wardenhq/warden/internal/keys"
)

// FuzzOIDCVerify: no input panics or hangs, and nothing but a token the
// issuer signed is admitted.
func FuzzOIDCVerify(f *testing.F) {
	t := f
	is := identitytest.NewIssuer(t)
	defer is.Close()
	set, err := New(Options{Config: oidcConfig(is, "")})
	if err != nil {
		f.Fatal(err)
	}
	good := is.Sign(t, "rsa-1", nil)
	f.Add(good)
	f.Add(is.Sign(t, "ec-1", map[string]any{"kubernetes.io": map[string]any{"namespace": "ml"}, "groups": []any{"ml-x", 1.5, true, []any{"x"}}}))
	f.Add(tamper(good))
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	f.Add("eyJ.eyJ.x")
	f.Add("")
	f.Fuzz(func(t *testing.T, cred string) {
		p, err := set.OIDC.Verify(context.Background(), cred)
		if p != nil && (err != nil || !strings.HasPrefix(p.Key.ID, "oidc:")) {
			t.Fatalf("odd result %+v %v", p, err)
		}
	})
}

// FuzzTokenAuthenticate: arbitrary tokens and DPoP proofs never panic,
// and only tokens this server signed are admitted.
func FuzzTokenAuthenticate(f *testing.F) {
	t := f
	e := newTokenEnv(t, config.Tokens{}, config.Identity{})
	_, secret := e.st.create(t, keys.Spec{Name: "fuzz"})
	_, tr, _ := e.exchange("127.0.0.1", "", map[string]string{"Authorization": "Bearer " + secret})
	dk := identitytest.NewDPoPKey(t)
	f.Add(tr.AccessToken, "Bearer", "")
	f.Add(tr.AccessToken, "DPoP", dk.Proof(t, "POST", "http://warden.test/v1/chat/completions", tr.AccessToken, time.Now()))
	f.Add("wdt_eyJ.eyJ.x", "Bearer", "x.y.z")
	f.Add(retarget(tr.AccessToken, "0.0.0.0/0"), "Bearer", "")
	f.Fuzz(func(t *testing.T, tok, scheme, proof string) {
		r := httptest.NewRequest("POST", "http://warden.test/v1/chat/completions", nil)
		r.Header["Authorization"] = []string{scheme + " " + tok}
		if proof != "" {
			r.Header["Dpop"] = []string{proof}
		}
		k, err := e.set.Tokens.Authenticate(context.Background(), r, tok, netip.MustParseAddr("127.0.0.1"))
		if k != nil && (err != nil || !strings.HasPrefix(tok, TokenPrefix)) {
			t.Fatalf("admitted %q: %+v %v", tok, k, err)
		}
	})
}

// FuzzDPoPProof: arbitrary proofs never panic.
func FuzzDPoPProof(f *testing.F) {
	t := f
	dk := identitytest.NewDPoPKey(t)
	f.Add(dk.Proof(t, "POST", "https://w.test/x", "", time.Now()))
	f.Add(dk.Proof(t, "POST", "https://w.test/x", "tok", time.Now()))
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiZHBvcCtqd3QifQ.e30.")
	target, _ := url.Parse("https://w.test/x")
	f.Fuzz(func(t *testing.T, proof string) {
		v := newDPoPVerifier(0)
		v.verify(proof, "POST", target, "", time.Now())
	})
}

// FuzzGlob compares glob matching with an equivalent regular expression
// on ASCII input.
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{{"repo:acme/*", "repo:acme/app"}, {"a*b?c", "aXXbYc"}, {"**", ""}, {"?", "é"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		if len(pat) > 64 || len(s) > 256 || !ascii(pat) || !ascii(s) {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)\A`)
		for _, c := range pat {
			switch c {
			case '*':
				re.WriteString(".*")
			case '?':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString(`\z`)
		want := regexp.MustCompile(re.String()).MatchString(s)
		if got := glob(pat).match(s); got != want {
			t.Fatalf("%q ~ %q = %v, regexp says %v", pat, s, got, want)
		}
	})
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzPolicyMatch: arbitrary claim documents never panic the matcher.
func FuzzPolicyMatch(f *testing.F) {
	f.Add(`{"sub":"repo:acme/app","kubernetes.io":{"namespace":"ml"},"groups":["ml-a",2,true,null,[1]]}`, "kubernetes.io.namespace", "m*")
	f.Add(`{"a":{"b":{"c":"d"}}}`, "a.b.c", "d")
	f.Fuzz(func(t *testing.T, doc, claim, pat string) {
		var claims map[string]any
		if json.Unmarshal([]byte(doc), &claims) != nil {
			return
		}
		p := &policy{match: []matcher{{claim: claim, pattern: glob(pat)}}}
		p.matches(claims)
	})
}
