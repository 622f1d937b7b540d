package identity

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/identity/identitytest"
	"github.com/wardenhq/warden/internal/keys"
)

// BenchmarkTokenAuthenticate is the per-request cost of a short-lived
// token: Ed25519 verification, claim checks and the parent look-up (here
// straight from SQLite; the gateway passes its cache).
func BenchmarkTokenAuthenticate(b *testing.B) {
	e := newTokenEnv(b, config.Tokens{}, config.Identity{})
	_, secret := e.st.create(b, keys.Spec{Name: "bench"})
	_, tr, _ := e.exchange("127.0.0.1", "", map[string]string{"Authorization": "Bearer " + secret})
	k, _ := e.use("127.0.0.1", tr.AccessToken, nil)
	e.set.Tokens.lookup = func(context.Context, string) (*keys.Key, error) { return k, nil } // as through the gateway's cache
	r := httptest.NewRequest("POST", "http://warden.test/v1/chat/completions", nil)
	addr := netip.MustParseAddr("127.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.set.Tokens.Authenticate(context.Background(), r, tr.AccessToken, addr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOIDCVerify is the per-request cost of a workload-identity JWT
// with the issuer's keys cached.
func BenchmarkOIDCVerify(b *testing.B) {
	is := identitytest.NewIssuer(b)
	set, err := New(Options{Config: oidcConfig(is, "")})
	if err != nil {
		b.Fatal(err)
	}
	for _, kid := range []string{"rsa-1", "ec-1"} {
		tok := is.Sign(b, kid, map[string]any{"exp": time.Now().Add(time.Hour).Unix()})
		b.Run(kid, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p, err := set.OIDC.Verify(context.Background(), tok); err != nil || p == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
