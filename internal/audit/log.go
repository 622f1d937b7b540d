package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/redact"
	"github.com/wardenhq/warden/internal/store"
)

// Errors of Log.
var (
	ErrClosed   = errors.New("audit: log closed")
	ErrReadOnly = errors.New("audit: log has no signing key")
)

// Group commit limits. A batch is whatever queued up while the previous
// batch committed, up to maxBatch entries.
const (
	maxBatch = 2048
	// commitTimeout bounds one batch's transaction; a stuck disk fails the
	// appends instead of hanging every request.
	commitTimeout = 30 * time.Second
)

// Log is the audit log: appends with group commit, checkpoints, proofs. It
// is safe for concurrent use. Several processes may open the same store.
// On a store with staging (store.AuditStaging: PostgreSQL, shared by many
// servers, and SQLite, where one server owns the journal and others, the
// CLI, read, prove and checkpoint) every server stages its appends and one
// at a time integrates everyone's into the tree (see the package doc). On a
// store without staging, appends go straight into the tree; if two
// processes append, the store's conflict check keeps the tree sound and
// the loser reloads and retries. Servers sharing a log must
// share its origin and signing key (Config.Origin, Config.SigningKeyFile):
// each checks the others' checkpoints before signing its own.
type Log struct {
	st       store.Audit
	cfg      Config
	recips   []age.Recipient
	signer   note.Signer // nil: no checkpoints
	verifier note.Verifier
	vkey     string
	now      func() time.Time
	logger   *slog.Logger

	// Group commit without a committer goroutine: an appender that finds
	// no commit in progress leads, committing itself and whatever waits;
	// appenders that arrive meanwhile wait for the next batch. A lone
	// request so pays for its write and no hand-off to another goroutine
	// and back (two wake-ups, each a futex call and a scheduler pass when
	// the other side sleeps, which at ordinary rates it does).
	mu      sync.Mutex
	waiting []*pending // appended and not yet taken into a batch, in order
	leading bool       // a goroutine is committing batches
	idle    sync.Cond  // signalled when leading ends; on mu
	closed  bool

	stateMu sync.Mutex
	size    int64               // committed entries
	peaks   map[int64]tlog.Hash // stored hashes of the complete subtrees of size

	cpMu sync.Mutex // one checkpoint at a time

	// staging is st when it stages appends; then kick wakes
	// the integrator loop, which runs until integStop closes.
	staging      store.AuditStaging
	kick         chan struct{}
	integStop    chan struct{}
	integDone    chan struct{}
	integrated   atomic.Int64
	integrations atomic.Int64

	stop     chan struct{}
	stopped  chan struct{}
	appended atomic.Int64
	batches  atomic.Int64
	failed   atomic.Int64
}

// Options are what New needs besides the store and Config.
type Options struct {
	// Signer signs checkpoints. nil opens the log read-only for
	// checkpoints: Append works, Checkpoint fails with ErrReadOnly.
	Signer note.Signer
	// VerifierKey is the signer's verifier key text ("name+hash+base64").
	VerifierKey string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives the log's warnings; nil means slog.Default().
	Logger *slog.Logger
}

type pending struct {
	entry    store.AuditEntry
	leafHash tlog.Hash
	done     chan result
}

type result struct {
	index int64
	err   error
}

// Open opens the log over st with the signing key from cfg.SigningKeyFile,
// or DIR/audit.key (created on first use). The caller must Close it.
func Open(ctx context.Context, st store.Audit, cfg Config, dataDir string) (*Log, error) {
	path := cfg.SigningKeyFile
	if path == "" {
		path = filepath.Join(dataDir, KeyFileName)
	}
	origin := cfg.Origin
	if _, err := os.Stat(path); origin == "" && errors.Is(err, os.ErrNotExist) {
		host, _ := os.Hostname()
		origin = DefaultOrigin(host)
	}
	signer, vkey, err := LoadOrCreateKey(path, origin)
	if err != nil {
		return nil, err
	}
	return New(ctx, st, cfg, Options{Signer: signer, VerifierKey: vkey})
}

// New opens the log over st. With a positive checkpoint interval and a
// signer it checkpoints in the background until Close.
func New(ctx context.Context, st store.Audit, cfg Config, opts Options) (*Log, error) {
	recips, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	l := &Log{
		st:      st,
		cfg:     cfg,
		recips:  recips,
		signer:  opts.Signer,
		vkey:    opts.VerifierKey,
		now:     opts.Now,
		logger:  opts.Logger,
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	l.idle.L = &l.mu
	if l.now == nil {
		l.now = time.Now
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if opts.VerifierKey != "" {
		if l.verifier, err = note.NewVerifier(opts.VerifierKey); err != nil {
			return nil, fmt.Errorf("audit: verifier key: %w", err)
		}
		if l.signer != nil && (l.verifier.Name() != l.signer.Name() || l.verifier.KeyHash() != l.signer.KeyHash()) {
			return nil, errors.New("audit: verifier key does not belong to the signing key")
		}
	} else if l.signer != nil {
		return nil, errors.New("audit: a signer needs its verifier key")
	}
	if cfg.Origin != "" && l.signer != nil && l.signer.Name() != cfg.Origin {
		return nil, fmt.Errorf("audit: signing key is for origin %q, configured origin is %q", l.signer.Name(), cfg.Origin)
	}
	if err := l.reload(ctx); err != nil {
		return nil, err
	}
	l.checkSigner(ctx)
	l.integStop, l.integDone = make(chan struct{}), make(chan struct{})
	if sg, ok := st.(store.AuditStaging); ok {
		l.staging, l.kick = sg, make(chan struct{}, 1)
		go l.integrateLoop()
	} else {
		close(l.integDone)
	}
	if l.signer != nil && l.cfg.CheckpointInterval > 0 {
		go l.checkpointLoop(l.cfg.CheckpointInterval)
	} else {
		close(l.stopped)
	}
	return l, nil
}

// checkSigner warns when the latest stored checkpoint was not signed with
// this log's key: another server shares the store with a different key (or
// origin), and every checkpoint this one tries will fail until the servers
// share one key. Appends are unaffected, so it does not refuse to open.
func (l *Log) checkSigner(ctx context.Context) {
	if l.verifier == nil {
		return
	}
	cs, err := l.st.AuditCheckpoints(ctx, 0, -1, true)
	if err != nil || len(cs) == 0 {
		return
	}
	if _, err := OpenCheckpoint(cs[0].Note, l.verifier); err != nil {
		l.logger.Error("audit: the latest checkpoint in the store is not signed with this log's key; servers sharing one store must share audit.origin and audit.signing_key_file, or no checkpoint can be made",
			"origin", l.verifier.Name(), "checkpoint_size", cs[0].Size, "err", err)
	}
}

// Origin returns the log's name, "" without a key.
func (l *Log) Origin() string {
	if l.verifier == nil {
		return ""
	}
	return l.verifier.Name()
}

// VerifierKey returns the verifier key text that checks the log's checkpoints.
func (l *Log) VerifierKey() string { return l.vkey }

// Verifier returns the checkpoint verifier, nil without a key.
func (l *Log) Verifier() note.Verifier { return l.verifier }

// Size returns the number of entries this log committed or found at open.
func (l *Log) Size() int64 {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	return l.size
}

// Stats are counters since Open.
type Stats struct {
	Appended int64 `json:"appended"` // entries committed (or, on a store with staging, staged)
	// Integrated counts the entries this log's integrator moved from
	// staging into the log (any instance's), on a store with staging.
	Integrated int64 `json:"integrated,omitempty"`
	// Integrations counts the transactions that integrated them.
	Integrations int64 `json:"integrations,omitempty"`
	Batches      int64 `json:"batches"` // transactions that committed them
	Failed       int64 `json:"failed"`  // appends that returned an error
}

// Stats returns counters since Open.
func (l *Log) Stats() Stats {
	return Stats{Appended: l.appended.Load(), Integrated: l.integrated.Load(), Integrations: l.integrations.Load(), Batches: l.batches.Load(), Failed: l.failed.Load()}
}

// Append records e and its bodies (nil: none) and returns the entry's index
// once the entry is durable. Concurrent calls are committed together. On a
// store with staging (store.AuditStaging: PostgreSQL and SQLite) the entry
// is durable once staged, and Append returns -1: its index is assigned
// when an integrator moves it into the log, within tens of milliseconds
// (Sync waits for that; read the log after Sync to see the entry). If
// ctx ends while the entry waits for its batch, Append returns the context's
// error, and the entry may still be committed.
func (l *Log) Append(ctx context.Context, e *event.Event, b *Bodies) (int64, error) {
	p, err := l.prepare(e, b)
	if err != nil {
		l.failed.Add(1)
		return -1, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return -1, ErrClosed
	}
	l.waiting = append(l.waiting, p)
	if !l.leading {
		l.leading = true
		batch := l.takeLocked()
		l.mu.Unlock()
		l.commit(batch) // p is in batch: its result is waiting in p.done
		l.mu.Lock()
		if len(l.waiting) > 0 {
			// Entries arrived during the commit: a goroutine of their own
			// commits them, so that this answer does not wait for theirs.
			go l.lead()
		} else {
			l.leading = false
			l.idle.Broadcast()
		}
	}
	l.mu.Unlock()
	select {
	case r := <-p.done:
		if r.err != nil {
			l.failed.Add(1)
		}
		return r.index, r.err
	case <-ctx.Done():
		return -1, fmt.Errorf("audit: append: %w (the entry may still be committed)", ctx.Err())
	}
}

// takeLocked takes the next batch from waiting; l.mu is held.
func (l *Log) takeLocked() []*pending {
	n := min(len(l.waiting), maxBatch)
	batch := slices.Clone(l.waiting[:n])
	l.waiting = append(l.waiting[:0], l.waiting[n:]...)
	clear(l.waiting[len(l.waiting):n]) // no references to committed entries
	return batch
}

// lead commits batches until none waits, then ends the lead.
func (l *Log) lead() {
	for {
		l.mu.Lock()
		if len(l.waiting) == 0 {
			l.leading = false
			l.idle.Broadcast()
			l.mu.Unlock()
			return
		}
		batch := l.takeLocked()
		l.mu.Unlock()
		l.commit(batch)
	}
}

// eventBufs hold the JSON of an event while its leaf is built; the leaf is
// a copy. One that an event grew past maxPooledEvent is not kept.
var eventBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxPooledEvent = 64 << 10

// prepare does the per-entry work on the caller's goroutine, so that it
// runs in parallel: masking, encoding, encryption, leaf hash.
func (l *Log) prepare(e *event.Event, b *Bodies) (*pending, error) {
	if e == nil {
		return nil, errors.New("audit: append: nil event")
	}
	ev := *e
	if ev.Time.IsZero() {
		ev.Time = l.now()
	}
	ev.Time = ev.Time.UTC()
	ev.Path = redact.String(ev.Path)
	ev.Client.UserAgent = redact.String(ev.Client.UserAgent)
	buf := eventBufs.Get().(*[]byte)
	defer eventBufs.Put(buf)
	meta, err := ev.AppendJSON((*buf)[:0])
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if cap(meta) <= maxPooledEvent {
		*buf = meta
	}
	leaf := Leaf{Event: meta} // Marshal copies it: the buffer goes back to the pool
	ret := l.cfg.retentionFor(ev.KeyID, ev.KeyOwner)
	blob, err := recordBodies(&leaf, ret.Bodies, b, l.cfg.MaxBodyBytes, l.recips)
	if err != nil {
		return nil, err
	}
	data := leaf.Marshal()
	if len(data) > MaxLeafSize {
		return nil, fmt.Errorf("audit: event %s: leaf of %d bytes exceeds %d", ev.ID, len(data), MaxLeafSize)
	}
	p := &pending{
		entry: store.AuditEntry{
			Time:  ev.Time,
			KeyID: ev.KeyID,
			Team:  ev.KeyOwner,
			Leaf:  data,
			Body:  blob,
		},
		leafHash: tlog.RecordHash(data),
		done:     make(chan result, 1),
	}
	if blob != nil && ret.MaxAge > 0 {
		p.entry.BodyExpires = ev.Time.Add(ret.MaxAge)
	}
	return p, nil
}

func (l *Log) commit(batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var (
		start int64
		err   error
	)
	for attempt := 0; attempt < 5; attempt++ {
		start, err = l.tryCommit(ctx, batch)
		if !errors.Is(err, store.ErrConflict) {
			break
		}
		// Another process appended: catch up and place the batch after it.
		if rerr := l.reload(ctx); rerr != nil {
			err = rerr
			break
		}
	}
	if err != nil {
		l.logger.Error("audit: commit failed", "entries", len(batch), "err", err)
	} else {
		l.appended.Add(int64(len(batch)))
		l.batches.Add(1)
	}
	for i, p := range batch {
		switch {
		case err != nil:
			p.done <- result{-1, err}
		case start < 0: // staged: no index yet
			p.done <- result{-1, nil}
		default:
			p.done <- result{start + int64(i), nil}
		}
	}
}

// tryCommit appends batch after the known tree and returns its first index.
// On a store with staging (store.AuditStaging) it stages the batch instead,
// returns -1 (the index is assigned later, by the integrator) and wakes this
// log's integrator; other stores get the batch at the size this Log knows
// and may answer ErrConflict.
func (l *Log) tryCommit(ctx context.Context, batch []*pending) (int64, error) {
	entries := make([]store.AuditEntry, len(batch))
	for i, p := range batch {
		entries[i] = p.entry
	}
	if l.staging != nil {
		if err := l.staging.StageAudit(ctx, entries); err != nil {
			return 0, err
		}
		l.kickIntegrator()
		return -1, nil
	}
	l.stateMu.Lock()
	start := l.size
	peaks := l.peaks
	l.stateMu.Unlock()
	leafHashes := make([]tlog.Hash, len(batch))
	for i, p := range batch {
		leafHashes[i] = p.leafHash
	}
	work, hashes, err := storedHashesFor(start, peaks, leafHashes)
	if err == nil {
		err = l.st.AppendAudit(ctx, start, entries, hashes)
	}
	if err != nil {
		return 0, err
	}
	end := start + int64(len(batch))
	l.stateMu.Lock()
	l.size = end
	l.peaks = keepPeaks(work, end)
	l.stateMu.Unlock()
	return start, nil
}

// storedHashesFor computes the stored hashes of batch appended at start to the
// tree whose peaks are given, and returns them with the peaks and new hashes.
func storedHashesFor(start int64, peaks map[int64]tlog.Hash, leafHashes []tlog.Hash) (map[int64]tlog.Hash, []tlog.Hash, error) {
	work := maps.Clone(peaks)
	if work == nil {
		work = map[int64]tlog.Hash{}
	}
	r := mapReader(work)
	hashes := make([]tlog.Hash, 0, 2*len(leafHashes)+64)
	for i, lh := range leafHashes {
		n := start + int64(i)
		hs, err := tlog.StoredHashesForRecordHash(n, lh, r)
		if err != nil {
			return nil, nil, fmt.Errorf("audit: hashes for entry %d: %w", n, err)
		}
		base := tlog.StoredHashCount(n)
		for j, h := range hs {
			work[base+int64(j)] = h
		}
		hashes = append(hashes, hs...)
	}
	return work, hashes, nil
}

// readPeaks reads the peaks of a tree of size entries.
func readPeaks(size int64, read func([]int64) ([]tlog.Hash, error)) (map[int64]tlog.Hash, error) {
	idx := peakIndexes(size)
	hs, err := read(idx)
	if err != nil {
		return nil, fmt.Errorf("audit: load tree of %d entries: %w", size, err)
	}
	peaks := make(map[int64]tlog.Hash, len(idx))
	for i, x := range idx {
		peaks[x] = hs[i]
	}
	return peaks, nil
}

// reload reads the tree size and its peaks from the store.
func (l *Log) reload(ctx context.Context) error {
	size, err := l.st.AuditSize(ctx)
	if err != nil {
		return err
	}
	peaks, err := readPeaks(size, func(ix []int64) ([]tlog.Hash, error) { return l.st.AuditHashes(ctx, ix) })
	if err != nil {
		return err
	}
	l.stateMu.Lock()
	l.size, l.peaks = size, peaks
	l.stateMu.Unlock()
	return nil
}

// peakIndexes returns the stored-hash indexes of the complete subtrees that
// make up a tree of n leaves, largest first: exactly the hashes
// tlog.TreeHash(n) reads, and a superset of what appending leaf n reads.
func peakIndexes(n int64) []int64 {
	var out []int64
	var start int64
	for level := 62; level >= 0; level-- {
		if n&(1<<level) != 0 {
			out = append(out, tlog.StoredHashIndex(level, start>>level))
			start += 1 << level
		}
	}
	return out
}

func keepPeaks(m map[int64]tlog.Hash, n int64) map[int64]tlog.Hash {
	out := make(map[int64]tlog.Hash, 64)
	for _, x := range peakIndexes(n) {
		out[x] = m[x]
	}
	return out
}

// mapReader reads hashes from a map; a missing one is an error (it would
// mean the peak bookkeeping is wrong).
type mapReader map[int64]tlog.Hash

func (m mapReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := m[x]
		if !ok {
			return nil, fmt.Errorf("audit: stored hash %d not in memory", x)
		}
		out[i] = h
	}
	return out, nil
}

// storeReader returns a HashReader over the store.
func (l *Log) storeReader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) { return l.st.AuditHashes(ctx, ix) })
}

// Close stops accepting appends, commits what is queued, makes a last
// checkpoint if this Log appended anything, and stops the background work. It does not
// close the store.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	for l.leading {
		l.idle.Wait() // the last batches commit
	}
	l.mu.Unlock()
	select {
	case <-l.stopped:
	default:
		close(l.stop)
		<-l.stopped
	}
	close(l.integStop)
	<-l.integDone
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	if l.appended.Load() == 0 {
		return nil // nothing new from us: readers (the CLI) leave no checkpoint behind
	}
	// What we staged goes into the log before we go, whoever integrates it.
	if err := l.Sync(ctx); err != nil {
		return err
	}
	if l.signer == nil {
		return nil
	}
	_, err := l.Checkpoint(ctx)
	return err
}
