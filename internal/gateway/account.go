package gateway

import (
	"context"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/clock"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/store"
)

// ledger accounts spend and last use. Requests add to memory; a flusher
// writes the sums to the store every interval, so the hot path never waits
// for a database write. Budget checks see the store's figure (refreshed at
// most every refresh interval, so other instances' spend shows up) plus
// what this instance has not flushed yet. State is sharded by key id, so
// requests on different keys rarely contend.
type ledger struct {
	store   store.Store
	refresh time.Duration
	shards  [ledgerShards]ledgerShard
}

const ledgerShards = 32

type ledgerShard struct {
	mu      sync.Mutex
	pending map[usageKey]store.Spend
	touched map[string]store.KeyUse
	stored  map[usageKey]storedSpend
}

type usageKey struct{ id, month string }

type storedSpend struct {
	spend   store.Spend
	fetched time.Time
}

func newLedger(s store.Store) *ledger {
	l := &ledger{store: s, refresh: 5 * time.Second}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.pending, sh.touched, sh.stored = map[usageKey]store.Spend{}, map[string]store.KeyUse{}, map[usageKey]storedSpend{}
	}
	return l
}

// ledgerSeed spreads key ids over the shards (hash/maphash, seeded at
// random per process).
var ledgerSeed = maphash.MakeSeed()

func (l *ledger) shard(keyID string) *ledgerShard {
	return &l.shards[maphash.String(ledgerSeed, keyID)%ledgerShards]
}

func month(t time.Time) string { return t.UTC().Format("2006-01") }

func addSpend(a, b store.Spend) store.Spend {
	return store.Spend{Requests: a.Requests + b.Requests, Tokens: a.Tokens + b.Tokens, CostUSD: a.CostUSD + b.CostUSD}
}

// Handle implements event.Sink: the ledger counts the use of every request
// made with a key that was accepted (a 401 spent nothing of the key's).
// It is subscribed synchronously, so a budget sees a request's cost before
// the key's next request is judged.
func (l *ledger) Handle(_ context.Context, e *event.Event) {
	if e.KeyID == "" || e.Status == 401 {
		return
	}
	l.add(e.KeyID, e.Time, e.ClientIP, store.Spend{Requests: 1, Tokens: int64(e.PromptTokens + e.CompletionTokens), CostUSD: e.CostUSD})
}

// add records one request's use.
func (l *ledger) add(keyID string, at time.Time, ip string, sp store.Spend) {
	k := usageKey{keyID, month(at)}
	sh := l.shard(keyID)
	sh.mu.Lock()
	sh.pending[k] = addSpend(sh.pending[k], sp)
	if u, ok := sh.touched[keyID]; !ok || at.After(u.At) {
		sh.touched[keyID] = store.KeyUse{ID: keyID, At: at, IP: ip}
	}
	sh.mu.Unlock()
}

// spent returns the key's spend in the month of at.
func (l *ledger) spent(ctx context.Context, keyID string, at time.Time) (float64, error) {
	k := usageKey{keyID, month(at)}
	sh := l.shard(keyID)
	sh.mu.Lock()
	st, ok := sh.stored[k]
	pend := sh.pending[k].CostUSD
	sh.mu.Unlock()
	if !ok || time.Since(st.fetched) > l.refresh {
		sp, err := l.store.UsageOf(ctx, keyID, k.month)
		if err != nil {
			if ok {
				return st.spend.CostUSD + pend, nil
			}
			return 0, err
		}
		sh.mu.Lock()
		sh.stored[k] = storedSpend{spend: sp, fetched: time.Now()}
		pend = sh.pending[k].CostUSD
		sh.mu.Unlock()
		st.spend = sp
	}
	return st.spend.CostUSD + pend, nil
}

// flush writes pending sums to the store.
func (l *ledger) flush(ctx context.Context) {
	var uses []store.KeyUse
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		pending, touched := sh.pending, sh.touched
		sh.pending, sh.touched = map[usageKey]store.Spend{}, map[string]store.KeyUse{}
		sh.mu.Unlock()
		for k, sp := range pending {
			err := l.store.AddUsage(ctx, k.id, k.month, sp)
			sh.mu.Lock()
			if err != nil {
				sh.pending[k] = addSpend(sh.pending[k], sp) // keep it for the next flush
			} else if st, ok := sh.stored[k]; ok {
				st.spend = addSpend(st.spend, sp)
				sh.stored[k] = st
			}
			sh.mu.Unlock()
			if err != nil {
				slog.Error("ledger: cannot record usage; will retry", "key", k.id, "err", err)
			}
		}
		for _, u := range touched {
			uses = append(uses, u)
		}
	}
	if len(uses) > 0 {
		if err := l.store.TouchKeys(ctx, uses); err != nil {
			slog.Warn("ledger: cannot record last use", "err", err)
		}
	}
}

// run flushes every interval until ctx ends, then once more.
func (l *ledger) run(ctx context.Context, every time.Duration) {
	clock.Every(every, ctx.Done(), func() { l.flush(ctx) })
	l.flush(context.Background())
}

// cost prices one request from the configured table.
func cost(prices map[string]config.Price, names []string, promptTok, complTok, images int, hd bool) float64 {
	for _, n := range names {
		p, ok := prices[n]
		if !ok {
			continue
		}
		c := float64(promptTok)/1000*p.InputPer1K + float64(complTok)/1000*p.OutputPer1K
		per := p.PerImage
		if hd && p.PerHDImage > 0 {
			per = p.PerHDImage
		}
		return c + float64(images)*per
	}
	return 0
}
