package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/store"
)

// ledger accounts spend and last use. Requests add to memory; a flusher
// writes the sums to the store every interval, so the hot path never waits
// for a database write. Budget checks see the store's figure (refreshed at
// most every refresh interval, so other instances' spend shows up) plus
// what this instance has not flushed yet.
type ledger struct {
	store   store.Store
	refresh time.Duration

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
	return &ledger{store: s, refresh: 5 * time.Second,
		pending: map[usageKey]store.Spend{}, touched: map[string]store.KeyUse{}, stored: map[usageKey]storedSpend{}}
}

func month(t time.Time) string { return t.UTC().Format("2006-01") }

// add records one request's use.
func (l *ledger) add(keyID string, at time.Time, ip string, sp store.Spend) {
	k := usageKey{keyID, month(at)}
	l.mu.Lock()
	p := l.pending[k]
	p.Requests += sp.Requests
	p.Tokens += sp.Tokens
	p.CostUSD += sp.CostUSD
	l.pending[k] = p
	if u, ok := l.touched[keyID]; !ok || at.After(u.At) {
		l.touched[keyID] = store.KeyUse{ID: keyID, At: at, IP: ip}
	}
	l.mu.Unlock()
}

// spent returns the key's spend in the month of at.
func (l *ledger) spent(ctx context.Context, keyID string, at time.Time) (float64, error) {
	k := usageKey{keyID, month(at)}
	l.mu.Lock()
	st, ok := l.stored[k]
	pend := l.pending[k].CostUSD
	l.mu.Unlock()
	if !ok || time.Since(st.fetched) > l.refresh {
		sp, err := l.store.UsageOf(ctx, keyID, k.month)
		if err != nil {
			if ok {
				return st.spend.CostUSD + pend, nil
			}
			return 0, err
		}
		l.mu.Lock()
		l.stored[k] = storedSpend{spend: sp, fetched: time.Now()}
		pend = l.pending[k].CostUSD
		l.mu.Unlock()
		st.spend = sp
	}
	return st.spend.CostUSD + pend, nil
}

// flush writes pending sums to the store.
func (l *ledger) flush(ctx context.Context) {
	l.mu.Lock()
	pending, touched := l.pending, l.touched
	l.pending, l.touched = map[usageKey]store.Spend{}, map[string]store.KeyUse{}
	l.mu.Unlock()
	for k, sp := range pending {
		if err := l.store.AddUsage(ctx, k.id, k.month, sp); err != nil {
			slog.Error("ledger: cannot record usage; will retry", "key", k.id, "err", err)
			l.mu.Lock()
			p := l.pending[k]
			p.Requests += sp.Requests
			p.Tokens += sp.Tokens
			p.CostUSD += sp.CostUSD
			l.pending[k] = p
			l.mu.Unlock()
			continue
		}
		l.mu.Lock()
		if st, ok := l.stored[k]; ok {
			st.spend.Requests += sp.Requests
			st.spend.Tokens += sp.Tokens
			st.spend.CostUSD += sp.CostUSD
			l.stored[k] = st
		}
		l.mu.Unlock()
	}
	if len(touched) > 0 {
		uses := make([]store.KeyUse, 0, len(touched))
		for _, u := range touched {
			uses = append(uses, u)
		}
		if err := l.store.TouchKeys(ctx, uses); err != nil {
			slog.Warn("ledger: cannot record last use", "err", err)
		}
	}
}

// run flushes every interval until ctx ends, then once more.
func (l *ledger) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.flush(context.Background())
			return
		case <-t.C:
			l.flush(ctx)
		}
	}
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
