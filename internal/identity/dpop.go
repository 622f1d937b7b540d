package identity

import (
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DPoP (RFC 9449) binds a token to a key pair the client holds: every
// request carries a fresh proof, a JWT signed with the private key whose
// public half is in the proof's header. A token carrying cnf.jkt (the
// key's RFC 7638 thumbprint) is accepted only with a proof from that key,
// so a copied token is useless without the private key.

const (
	dpopType          = "dpop+jwt"
	maxProofBytes     = 8 << 10
	defaultDPoPMaxAge = 60 * time.Second
	// dpopFutureSkew is how far in the future a proof's iat may be.
	dpopFutureSkew = 5 * time.Second
	maxReplay      = 200_000
)

// dpopAlgs are the algorithms accepted for proofs (RFC 9449 section 4.2:
// asymmetric, never none).
var dpopAlgs = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
}

var (
	errProofReplayed = errors.New("identity: DPoP proof replayed")
	errReplayFull    = errors.New("identity: DPoP replay cache full; refusing proofs until entries expire")
)

type dpopClaims struct {
	JTI string           `json:"jti"`
	HTM string           `json:"htm"`
	HTU string           `json:"htu"`
	IAT *jwt.NumericDate `json:"iat"`
	ATH string           `json:"ath"`
}

// dpopVerifier checks proofs and remembers their jti until they are too
// old to be accepted anyway. The cache is per process: instances behind a
// load balancer each keep their own, so a proof could be replayed once per
// instance within max_age (RFC 9449 section 11.1 allows this trade-off;
// keep max_age short).
type dpopVerifier struct {
	maxAge time.Duration

	mu   sync.Mutex
	seen map[string]time.Time // jkt + " " + jti: when it may be forgotten
}

func newDPoPVerifier(maxAge time.Duration) *dpopVerifier {
	if maxAge <= 0 {
		maxAge = defaultDPoPMaxAge
	}
	return &dpopVerifier{maxAge: maxAge, seen: map[string]time.Time{}}
}

// verify checks proof for a request of method to target at now. With an
// access token, the proof must carry its hash (ath). It returns the
// thumbprint of the proof's key, base64url-encoded.
func (v *dpopVerifier) verify(proof, method string, target *url.URL, accessToken string, now time.Time) (string, error) {
	if proof == "" || len(proof) > maxProofBytes {
		return "", errors.New("identity: DPoP proof missing or too long")
	}
	tok, err := jwt.ParseSigned(proof, dpopAlgs)
	if err != nil {
		return "", fmt.Errorf("identity: DPoP proof: %w", err)
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != dpopType {
		return "", fmt.Errorf("identity: DPoP proof: typ must be %s", dpopType)
	}
	jwk := h.JSONWebKey
	if jwk == nil || !usable(*jwk) || !keyFits(*jwk, h.Algorithm) {
		return "", errors.New("identity: DPoP proof: jwk header missing, private, weak or not fit for alg")
	}
	var c dpopClaims
	if err := tok.Claims(jwk.Key, &c); err != nil {
		return "", fmt.Errorf("identity: DPoP proof: %w", err)
	}
	if c.JTI == "" || len(c.JTI) > 256 {
		return "", errors.New("identity: DPoP proof: jti missing or too long")
	}
	if c.HTM != method {
		return "", fmt.Errorf("identity: DPoP proof: htm %q, request is %s", truncate(c.HTM, 16), method)
	}
	if !sameTarget(c.HTU, target) {
		return "", fmt.Errorf("identity: DPoP proof: htu %q does not name %s", truncate(c.HTU, 200), target)
	}
	if c.IAT == nil {
		return "", errors.New("identity: DPoP proof: no iat")
	}
	iat := c.IAT.Time()
	if iat.Before(now.Add(-v.maxAge)) || iat.After(now.Add(dpopFutureSkew)) {
		return "", fmt.Errorf("identity: DPoP proof: iat %s outside [now-%s, now+%s]", iat.UTC().Format(time.RFC3339), v.maxAge, dpopFutureSkew)
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if subtle.ConstantTimeCompare([]byte(c.ATH), []byte(want)) != 1 {
			return "", errors.New("identity: DPoP proof: ath does not match the access token")
		}
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("identity: DPoP proof: %w", err)
	}
	jkt := base64.RawURLEncoding.EncodeToString(tp)
	if err := v.remember(jkt+" "+c.JTI, iat.Add(v.maxAge+dpopFutureSkew), now); err != nil {
		return "", err
	}
	return jkt, nil
}

// remember records a proof id until forget; it fails if the id was seen.
func (v *dpopVerifier) remember(id string, forget, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t, ok := v.seen[id]; ok && now.Before(t) {
		return errProofReplayed
	}
	if len(v.seen) >= maxReplay {
		for k, t := range v.seen {
			if !now.Before(t) {
				delete(v.seen, k)
			}
		}
		if len(v.seen) >= maxReplay {
			return errReplayFull // fail closed: never forget a live proof
		}
	}
	v.seen[id] = forget
	return nil
}

// sameTarget compares a proof's htu with the request's URL as RFC 9449
// section 4.3 asks: scheme and host case-insensitively, default ports
// dropped, path exactly, query and fragment ignored.
func sameTarget(htu string, target *url.URL) bool {
	u, err := url.Parse(htu)
	if err != nil || target == nil {
		return false
	}
	norm := func(u *url.URL) (string, string, string) {
		scheme := strings.ToLower(u.Scheme)
		host := strings.ToLower(u.Host)
		if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
			host = host[:strings.LastIndexByte(host, ':')]
		}
		p := u.EscapedPath()
		if p == "" {
			p = "/"
		}
		return scheme, host, p
	}
	s1, h1, p1 := norm(u)
	s2, h2, p2 := norm(target)
	return s1 == s2 && h1 == h2 && p1 == p2
}
