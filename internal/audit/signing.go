package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/clock"
	"github.com/wardenhq/warden/internal/store"
)

func (l *Log) checkpointLoop(every time.Duration) {
	defer close(l.stopped)
	clock.Every(every, l.stop, func() {
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		defer cancel()
		if !l.signedRecently(ctx, every/2) {
			if _, err := l.Checkpoint(ctx); err != nil {
				l.logger.Error("audit: periodic checkpoint failed", "err", err)
			}
		}
	})
}

// signedRecently reports whether the latest stored checkpoint was signed
// less than d ago. Instances sharing one log (and its key) each run the
// periodic loop; the first to tick signs and the others find its checkpoint
// and skip, so the log gets about one checkpoint per interval, not one per
// instance. Two that tick together both sign, which is harmless: checkpoints
// are unique by size and each is checked against the tree before signing.
func (l *Log) signedRecently(ctx context.Context, d time.Duration) bool {
	cs, err := l.st.AuditCheckpoints(ctx, 0, -1, true)
	if err != nil || len(cs) == 0 {
		return false
	}
	return l.now().Sub(cs[0].Time) < d
}

// SignedCheckpoint is a checkpoint with its signed note.
type SignedCheckpoint struct {
	Checkpoint
	Note []byte    // the signed note, as published
	Time time.Time // when it was signed
}

// Checkpoint returns a signed checkpoint of the log as committed now,
// signing a new one unless the latest already covers every entry. Before
// signing it checks that the tree is consistent with the latest checkpoint,
// and refuses if not: the log never signs over a rewritten past.
func (l *Log) Checkpoint(ctx context.Context) (*SignedCheckpoint, error) {
	if l.signer == nil {
		return nil, ErrReadOnly
	}
	// A checkpoint covers every entry answered before it was asked for.
	if err := l.Sync(ctx); err != nil {
		return nil, err
	}
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	size, err := l.st.AuditSize(ctx)
	if err != nil {
		return nil, err
	}
	prev, err := l.Latest(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if prev != nil && prev.Size == size {
		return prev, nil
	}
	if prev != nil && prev.Size > size {
		return nil, fmt.Errorf("audit: log has %d entries but checkpoint %d exists: entries were deleted", size, prev.Size)
	}
	r := l.storeReader(ctx)
	root, err := tlog.TreeHash(size, r)
	if err != nil {
		return nil, fmt.Errorf("audit: tree hash of %d: %w", size, err)
	}
	if prev != nil && prev.Size > 0 { // the empty tree is a prefix of every tree (and ProveTree refuses size 0)
		proof, err := tlog.ProveTree(size, prev.Size, r)
		if err != nil {
			return nil, fmt.Errorf("audit: consistency with checkpoint %d: %w", prev.Size, err)
		}
		if err := tlog.CheckTree(proof, size, root, prev.Size, prev.Root); err != nil {
			return nil, fmt.Errorf("audit: refusing to sign: tree of %d is not an extension of checkpoint %d: %w", size, prev.Size, err)
		}
	}
	c := Checkpoint{Origin: l.signer.Name(), Size: size, Root: root}
	msg, err := signCheckpoint(c, l.signer)
	if err != nil {
		return nil, err
	}
	sc := &SignedCheckpoint{Checkpoint: c, Note: msg, Time: l.now().UTC()}
	err = l.st.AddAuditCheckpoint(ctx, store.AuditCheckpoint{Size: size, Time: sc.Time, Note: msg})
	if errors.Is(err, store.ErrConflict) { // another process signed this size first
		return l.checkpointAt(ctx, size)
	}
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// Latest returns the latest stored checkpoint, verified; ErrNotFound if
// there is none.
func (l *Log) Latest(ctx context.Context) (*SignedCheckpoint, error) {
	cs, err := l.st.AuditCheckpoints(ctx, 0, -1, true)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("audit: no checkpoint: %w", store.ErrNotFound)
	}
	return l.open(cs[0])
}

// checkpointAt returns the stored checkpoint of exactly size, verified.
func (l *Log) checkpointAt(ctx context.Context, size int64) (*SignedCheckpoint, error) {
	cs, err := l.st.AuditCheckpoints(ctx, size, size, false)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("audit: no checkpoint of size %d: %w", size, store.ErrNotFound)
	}
	return l.open(cs[0])
}

func (l *Log) open(c store.AuditCheckpoint) (*SignedCheckpoint, error) {
	if l.verifier == nil {
		return nil, ErrReadOnly
	}
	cp, err := OpenCheckpoint(c.Note, l.verifier)
	if err != nil {
		return nil, fmt.Errorf("audit: stored checkpoint %d: %w", c.Size, err)
	}
	if cp.Size != c.Size {
		return nil, fmt.Errorf("audit: stored checkpoint %d claims size %d", c.Size, cp.Size)
	}
	return &SignedCheckpoint{Checkpoint: cp, Note: c.Note, Time: c.Time}, nil
}
