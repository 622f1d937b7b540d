// Package gateway is Warden's data plane: the HTTP server that speaks the
// OpenAI and Azure OpenAI APIs and runs every request through one pipeline:
//
//	identify → authorize → read → limit → inspect prompt → forward → inspect answer → account
//
// Every request, allowed or refused, yields exactly one event.Event, which
// is published on the event bus before the answer's last byte is released.
//
// Routes (OpenAI style, "Authorization: Bearer KEY"):
//
//	POST /v1/chat/completions, /v1/completions, /v1/embeddings,
//	     /v1/images/generations, /v1/responses
//	GET  /v1/models, /v1/models/{model}
//
// Routes (Azure style, "api-key: KEY" or Bearer):
//
//	POST /openai/deployments/{deployment}/{chat/completions|completions|embeddings|images/generations}?api-version=...
//	POST /openai/responses?api-version=..., /openai/v1/{endpoint}
//	GET  /openai/deployments
//
// Anything else answers 404. No route reaches an upstream without passing
// the whole pipeline.
package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/fanout"
	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/guard/moderator"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/limit"
	"github.com/wardenhq/warden/internal/provider"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/store"
)

// Options assemble a Server. Store, Bus and Config are required.
type Options struct {
	Config *config.Config
	Store  store.Store
	Bus    *event.Bus
	// Rater and Gate enforce limits; nil means in-process limits.
	Rater limit.Rater
	Gate  limit.Gate
	// Metrics, if not nil, counts every event.
	Metrics *Metrics
	// PseudonymKey keys the HMAC that derives the stable pseudonymous user
	// id sent upstream. Instances behind one load balancer must share it.
	PseudonymKey []byte
	// Now returns the wall clock; nil means time.Now. Replay passes event
	// times per request with ServeAt instead.
	Now func() time.Time
	// StepUp, when a key is under step-up, decides whether a request from
	// this network and fingerprint may pass (known to the key's profile).
	// nil refuses every request of a key under step-up.
	StepUp func(k *keys.Key, addr netip.Addr, fingerprint string) bool
	// Guard inspects prompts, answers and streams. nil inspects nothing.
	Guard *guard.Guard
	// GuardPolicy returns the guard policy for a key (from its "guard"
	// policy document, its team's, or the server default). nil means
	// guard.DefaultPolicy for every key.
	GuardPolicy func(k *keys.Key) *guard.Policy
	// Moderators, when set, judges prompts and answers with the local
	// guard and then external moderation services (its Guard must be
	// Guard). nil: the local guard alone.
	Moderators *moderator.Chain
	// Authenticators recognise credentials other than Warden keys
	// (workload-identity JWTs, short-lived tokens, client certificates).
	// They run in order before the key look-up; none means keys only.
	Authenticators []Authenticator
	// KeyChanges runs until ctx ends and calls changed with the ids of keys
	// changed anywhere (package fanout's Watcher.Run: Redis pub/sub with a
	// poll of the store's change log), so revocations reach every instance
	// at once. nil: a fanout watcher that polls the store alone.
	KeyChanges func(ctx context.Context, changed func(ids []string)) error
	// Recorder, when set, receives every request as a replayable record
	// (warden serve --record), credentials replaced by the key id and
	// secrets in bodies masked. It must not block: queue and write elsewhere.
	Recorder func(*record.Record)
	// Journal, when set, records every event durably before its answer is
	// released (the audit log). If it fails, the client gets 503 instead of
	// the answer: no request is answered without its record. Streams are
	// recorded when they end, since their answer is already flowing.
	Journal Journal
	// Extra routes served on the main listener before the API routes, such
	// as the GitHub secret-scanning partner endpoint. They get no Event.
	Extra map[string]http.Handler
	// Tracer, when set, gives every request a server span with a span per
	// stage and sends trace context upstream (see trace.go). nil: tracing
	// off, at no cost.
	Tracer trace.TracerProvider
}

// Server is the gateway. It is safe for concurrent use.
type Server struct {
	opts     Options
	cfg      *config.Config
	tab      atomic.Pointer[table] // routes, models, prices, guard policy: swapped by Reload
	client   *http.Client          // to the upstreams
	trusted  []netip.Prefix
	cache    *keyCache
	ledger   *ledger
	rater    limit.Rater
	gate     limit.Gate
	canary   *route // where canary keys are answered: the mock, a tarpit
	seq      atomic.Uint64
	instance string
	tracer   trace.Tracer // nil: tracing off
	macs     sync.Pool    // keyed HMAC-SHA256 of PseudonymKey, reset and reused: see pseudonym
}

// route is where a client-facing model or deployment name goes.
type route struct {
	name     string
	provider provider.Provider
	provName string
	upstream string
	kind     string
}

// New provisions a Server from its options.
func New(o Options) (*Server, error) {
	if o.Config == nil || o.Store == nil || o.Bus == nil {
		return nil, errors.New("gateway: Config, Store and Bus are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	local := &limit.Local{}
	if o.Rater == nil {
		o.Rater = local
	}
	if o.Gate == nil {
		o.Gate = local
	}
	cfg := o.Config
	s := &Server{opts: o, cfg: cfg, rater: o.Rater, gate: o.Gate,
		cache: newKeyCache(o.Store, 5*time.Second, 100_000), ledger: newLedger(o.Store), instance: cfg.Instance}
	for _, p := range cfg.TrustedProxies {
		pfx, err := config.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		s.trusted = append(s.trusted, pfx)
	}
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: cfg.Limits.UpstreamTimeout,
			ExpectContinueTimeout: time.Second,
			ForceAttemptHTTP2:     true,
		},
		// Never follow redirects: an upstream redirect would resend the
		// upstream credential to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if o.Tracer != nil {
		s.tracer = o.Tracer.Tracer("github.com/wardenhq/warden/internal/gateway")
		client.Transport = &tracingTransport{base: client.Transport, tracer: s.tracer}
	}
	s.client = client
	tab, err := s.buildTable(cfg, o.GuardPolicy)
	if err != nil {
		return nil, err
	}
	s.tab.Store(tab)
	o.Bus.Subscribe("usage", s.ledger, event.Sync)
	if o.Metrics != nil {
		o.Bus.Subscribe("metrics", metricsSink{s}, event.Sync)
	}
	mp, err := provider.New(config.Provider{Name: "mock", Type: "mock"}, nil)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.canary = &route{name: "mock-lorem", provider: mp, provName: "canary-tarpit", upstream: "mock-lorem", kind: "chat"}
	return s, nil
}

// Models returns the client-facing model names.
func (s *Server) Models() []string { return s.tab.Load().models }

// Start runs the background work (key-change watcher, usage flusher) until
// ctx ends. Call it once; it returns at once.
func (s *Server) Start(ctx context.Context) (done <-chan struct{}) {
	ch := make(chan struct{})
	changes := s.opts.KeyChanges
	if changes == nil {
		// The one key-change watcher (package fanout), polling alone.
		changes = fanout.NewWatcher(s.opts.Store, nil, fanout.Options{Poll: 250 * time.Millisecond}).Run
	}
	go func() {
		err := changes(ctx, func(ids []string) { s.cache.invalidate(ctx, ids, time.Now()) })
		if err != nil && ctx.Err() == nil {
			slog.Error("gateway: key change feed stopped: cached keys now expire only by their TTL", "err", err)
		}
	}()
	go func() {
		s.ledger.run(ctx, time.Second)
		close(ch)
	}()
	return ch
}

// InvalidateKey drops a key's cached record at once, so a decision taken
// on it (a suspension, a step-up) holds from the very next request on this
// instance, without waiting for the change feed.
func (s *Server) InvalidateKey(ctx context.Context, id string) {
	s.cache.invalidate(ctx, []string{id}, time.Now())
}

// Flush writes pending usage to the store now (used by replay and tests).
func (s *Server) Flush(ctx context.Context) { s.ledger.flush(ctx) }

// ServeHTTP implements http.Handler for the main listener.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, time.Time{})
}

// ServeAt serves r as if it arrived at t: replay runs recorded traffic on
// its own timestamps, so limits, budgets and detection see event time.
func (s *Server) ServeAt(w http.ResponseWriter, r *http.Request, t time.Time) {
	s.serve(w, r, t)
}

// Journal durably records one event with the request's prompt and answer
// bodies (which it may keep, hash or drop by its own policy).
type Journal interface {
	Record(ctx context.Context, e *event.Event, prompt, answer []byte) error
}

// JournalFunc adapts a function to a Journal.
type JournalFunc func(ctx context.Context, e *event.Event, prompt, answer []byte) error

// Record calls f.
func (f JournalFunc) Record(ctx context.Context, e *event.Event, prompt, answer []byte) error {
	return f(ctx, e, prompt, answer)
}

// Authenticator recognises a credential that is not a Warden key. cred is
// the bearer or api-key value ("" if none was sent; a client certificate is
// in r.TLS). It returns (nil, nil) when the request carries nothing it
// recognises, so the next authenticator, and finally the key look-up, gets
// its turn; an error refuses the request with the one 401 answer every
// authentication failure gets (the error is logged, never sent).
//
// The returned key is the policy the request runs under: its ID names the
// identity in events and limits (e.g. "oidc:<issuer>#<subject>"). It must
// not be modified after it is returned. Implementations must be safe for
// concurrent use and must not keep r.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request, cred string, addr netip.Addr) (*keys.Key, error)
}

func (s *Server) pseudonym(keyID, user string) string {
	if len(s.opts.PseudonymKey) == 0 {
		return ""
	}
	// Every forwarded request derives one: a keyed HMAC from the pool costs
	// no key schedule and no allocation but the result.
	m, _ := s.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, s.opts.PseudonymKey)
	}
	m.Reset()
	var in [256]byte
	m.Write(append(append(append(in[:0], keyID...), 0), user...))
	var sum [sha256.Size]byte
	var out [len("warden-") + 20]byte
	copy(out[:], "warden-")
	hex.Encode(out[len("warden-"):], m.Sum(sum[:0])[:10])
	s.macs.Put(m)
	return string(out[:])
}

func (s *Server) requestID() string {
	var b [40]byte
	return string(strconv.AppendUint(append(append(b[:0], "req_"...), idPrefix...), s.seq.Add(1), 16))
}

// idPrefix makes request ids unique across instances and restarts.
var idPrefix = func() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "0000"
	}
	return hex.EncodeToString(b[:])
}()

// fingerprint hashes what a client's software reveals about itself.
func fingerprint(c *event.Client) string {
	h := sha256.New()
	h.Write([]byte(c.UserAgent))
	h.Write([]byte{0})
	h.Write([]byte(strings.Join(c.HeaderNames, ",")))
	h.Write([]byte{0})
	h.Write([]byte(c.APIVersion))
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func logErr(msg string, err error, args ...any) {
	slog.Error(msg, append(args, "err", err)...)
}
