package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
)

// VerifyError reports the first problem Verify found.
type VerifyError struct {
	// Index is the first bad entry, or -1 when the damage cannot be pinned
	// to one entry (a checkpoint that matches nothing, say).
	Index  int64
	Reason string
}

func (e *VerifyError) Error() string {
	if e.Index < 0 {
		return "audit: verify: " + e.Reason
	}
	return fmt.Sprintf("audit: verify: entry %d: %s", e.Index, e.Reason)
}

// VerifyResult describes a log that verified.
type VerifyResult struct {
	Size        int64     `json:"size"`        // entries
	Root        tlog.Hash `json:"root"`        // tree hash of all entries
	Checkpoints int       `json:"checkpoints"` // checkpoints checked
	Latest      int64     `json:"latest"`      // size of the latest checkpoint, -1 if none
	Bodies      int64     `json:"bodies"`      // retained bodies checked against their leaves
	// Staged counts entries staged and not yet integrated into the tree
	// (store.AuditStaging), when Verify finished: answered appends that an
	// integrator has still to place. They are not verified yet.
	Staged int64 `json:"staged,omitempty"`
}

// checkpointWindow is how many tree sizes' worth of checkpoints Verify
// loads at a time, to bound memory on long logs.
const checkpointWindow = 1 << 16

// Verify checks the whole log in st: it rebuilds the tree from the leaves
// and compares every stored hash, checks that each checkpoint is signed by
// v and matches the rebuilt tree at its size, that no entry is missing
// (none deleted from the middle or, as far as checkpoints tell, the end),
// that every leaf is well formed, that every column a store keeps beside a
// leaf (key, team, time; the body row's key and time) says what the leaf
// says, and that every retained body matches the digest its leaf commits to. It reads each table once, in order.
//
// On damage it returns a *VerifyError naming the first bad entry.
func Verify(ctx context.Context, st store.Audit, v note.Verifier) (*VerifyResult, error) {
	if v == nil {
		return nil, errors.New("audit: verify needs the log's verifier key")
	}
	// The log may grow while it is verified (other instances integrating,
	// admin actions being audited): verify the tree of the entries there
	// now, and do not mistake what is added meanwhile for damage.
	size, err := st.AuditSize(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hashes := streamHashes(ctx, st)

	res := &VerifyResult{Latest: -1}
	var (
		f        frontier
		pending  []store.AuditCheckpoint      // checkpoints of sizes ahead, by size
		loadedTo int64                   = -1 // checkpoints of sizes <= loadedTo are in pending or done
		goodTo   int64                        // largest checkpoint size that verified
		chunk    hashChunk
	)
	// checkpointsUpTo makes sure pending holds every checkpoint of size <= n.
	checkpointsUpTo := func(n int64) error {
		for loadedTo < n {
			hi := loadedTo + checkpointWindow
			cs, err := st.AuditCheckpoints(ctx, loadedTo+1, hi, false)
			if err != nil {
				return err
			}
			pending = append(pending, cs...)
			loadedTo = hi
		}
		return nil
	}
	checkAt := func(size int64) error {
		if err := checkpointsUpTo(size); err != nil {
			return err
		}
		for len(pending) > 0 && pending[0].Size <= size {
			c := pending[0]
			pending = pending[1:]
			cp, err := OpenCheckpoint(c.Note, v)
			if err != nil {
				return &VerifyError{Index: -1, Reason: fmt.Sprintf("checkpoint %d: %v", c.Size, err)}
			}
			if cp.Size != c.Size {
				return &VerifyError{Index: -1, Reason: fmt.Sprintf("checkpoint stored as size %d says %d", c.Size, cp.Size)}
			}
			root, err := tlog.TreeHash(size, &f)
			if err != nil {
				return err
			}
			if root != cp.Root {
				return &VerifyError{Index: -1, Reason: fmt.Sprintf(
					"checkpoint %d does not match the log: an entry in [%d, %d) was changed and its hashes recomputed, or the checkpoint is not this log's",
					c.Size, goodTo, c.Size)}
			}
			goodTo = c.Size
			res.Checkpoints++
			res.Latest = c.Size
		}
		return nil
	}
	if err := checkAt(0); err != nil {
		return nil, err
	}

	// step checks entry n: its leaf, its body's digest (bodySum, nil when
	// no body is stored), and its stored hashes; then the checkpoints of
	// size n+1.
	step := func(n int64, leafBytes []byte, bodySum *[32]byte, cols *entryColumns) error {
		leaf, err := ParseLeaf(leafBytes)
		if err != nil {
			return &VerifyError{Index: n, Reason: err.Error()}
		}
		x, err := leaf.Index()
		if err != nil {
			return &VerifyError{Index: n, Reason: err.Error()}
		}
		// Checked after the stored hashes: a changed leaf is named as such.
		colsWrong := columnMismatch(x, cols.keyID, cols.team, cols.time, bodySum != nil, cols.bodyKey, cols.bodyTime)
		if bodySum != nil {
			if !leaf.Blob.Set || *bodySum != leaf.Blob.Sum {
				return &VerifyError{Index: n, Reason: "stored body does not match the digest in its leaf"}
			}
			res.Bodies++
		}
		hs, err := tlog.StoredHashesForRecordHash(n, tlog.RecordHash(leafBytes), &f)
		if err != nil {
			return err
		}
		base := tlog.StoredHashCount(n)
		for j, h := range hs {
			want := base + int64(j)
			id, stored, err := chunk.next(hashes)
			if errors.Is(err, errNoMoreHashes) {
				return &VerifyError{Index: n, Reason: fmt.Sprintf("stored hash %d is missing", want)}
			}
			if err != nil {
				return err
			}
			if id != want {
				return &VerifyError{Index: n, Reason: fmt.Sprintf("stored hash %d is missing", want)}
			}
			if stored != h {
				if j == 0 {
					return &VerifyError{Index: n, Reason: "leaf does not match its stored hash (the entry or its hash was changed)"}
				}
				level, _ := tlog.SplitStoredHashIndex(want)
				return &VerifyError{Index: n, Reason: fmt.Sprintf("stored tree hash %d (level %d) was changed", want, level)}
			}
		}
		if colsWrong != "" {
			return &VerifyError{Index: n, Reason: colsWrong}
		}
		f.add(hs, base)
		return checkAt(n + 1)
	}

	// The store's scan runs on this goroutine and only copies leaves into
	// batches; a second goroutine hashes and checks them in order. Reading
	// SQLite and hashing a gigabyte of leaves then overlap.
	batches := make(chan *leafBatch, 4)
	var (
		n       int64 // entries checked by the worker
		workErr error
		worker  = make(chan struct{})
	)
	go func() {
		defer close(worker)
		for b := range batches {
			if workErr != nil {
				continue // drain
			}
			for i := range b.ends {
				lo := 0
				if i > 0 {
					lo = b.ends[i-1]
				}
				var sum *[32]byte
				if b.hasBody[i] {
					sum = &b.bodySums[i]
				}
				if workErr = step(n, b.arena[lo:b.ends[i]], sum, &b.cols[i]); workErr != nil {
					cancel()
					break
				}
				n++
			}
			if workErr == nil && b.gap >= 0 {
				workErr = &VerifyError{Index: n, Reason: fmt.Sprintf("missing (the next stored entry is %d)", b.gap)}
				cancel()
			}
		}
	}()
	var (
		next int64 // entries read
		cur  = newLeafBatch()
	)
	send := func(b *leafBatch) error {
		select {
		case batches <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	scanErr := st.ScanAudit(ctx, store.AuditFilter{Bodies: true, To: size}, func(e *store.AuditEntry) error {
		if e.Index != next {
			cur.gap = e.Index
			return errGap
		}
		cur.arena = append(cur.arena, e.Leaf...)
		cur.ends = append(cur.ends, len(cur.arena))
		cur.hasBody = append(cur.hasBody, e.Body != nil)
		var sum [32]byte
		if e.Body != nil {
			sum = sha256.Sum256(e.Body)
		}
		cur.bodySums = append(cur.bodySums, sum)
		cur.cols = append(cur.cols, entryColumns{keyID: e.KeyID, team: e.Team, time: e.Time, bodyKey: e.BodyKeyID, bodyTime: e.BodyTime})
		next++
		if len(cur.ends) == leafBatchSize {
			if err := send(cur); err != nil {
				return err
			}
			cur = newLeafBatch()
		}
		return nil
	})
	if scanErr == nil || errors.Is(scanErr, errGap) {
		if err := send(cur); err != nil && scanErr == nil {
			scanErr = err
		}
		if errors.Is(scanErr, errGap) {
			scanErr = nil
		}
	}
	close(batches)
	<-worker
	if workErr != nil {
		var ve *VerifyError
		if errors.As(workErr, &ve) {
			return nil, ve
		}
		return nil, fmt.Errorf("audit: verify: %w", workErr)
	}
	if scanErr != nil {
		return nil, fmt.Errorf("audit: verify: %w", scanErr)
	}
	// grew reports whether entries were added since the verification
	// began: then hashes and checkpoints beyond the verified tree are theirs.
	grew := func() bool {
		now, err := st.AuditSize(ctx)
		return err == nil && size > 0 && n == size && now > size
	}
	if id, _, err := chunk.next(hashes); err == nil {
		if !grew() {
			return nil, &VerifyError{Index: -1, Reason: fmt.Sprintf("stored hash %d is beyond the tree of %d entries", id, n)}
		}
	} else if !errors.Is(err, errNoMoreHashes) {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	later, err := st.AuditCheckpoints(ctx, n+1, -1, true)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	if len(later) > 0 && !grew() {
		return nil, &VerifyError{Index: n, Reason: fmt.Sprintf("missing: the log ends at %d entries but checkpoint %d exists (entries were deleted from the end)", n, later[0].Size)}
	}
	res.Size = n
	if res.Root, err = tlog.TreeHash(n, &f); err != nil {
		return nil, err
	}
	if sg, ok := st.(store.AuditStaging); ok {
		if res.Staged, err = sg.AuditStaged(ctx); err != nil {
			return nil, fmt.Errorf("audit: verify: %w", err)
		}
	}
	return res, nil
}

// leafBatch carries leaves from the scan to the checking goroutine.
type leafBatch struct {
	arena    []byte // the leaves, back to back
	ends     []int  // end offset of each leaf in arena
	hasBody  []bool
	bodySums [][32]byte
	cols     []entryColumns
	gap      int64 // >= 0: after these, the next stored entry is gap (entries are missing)
}

// entryColumns are the columns a store keeps beside a leaf, copied from it:
// Verify checks each against the leaf, so that changing one (to hide an
// entry from an export by key, say) does not go unnoticed.
type entryColumns struct {
	keyID, team string
	time        time.Time
	bodyKey     string
	bodyTime    time.Time
}

const leafBatchSize = 1024

func newLeafBatch() *leafBatch {
	return &leafBatch{
		arena:    make([]byte, 0, leafBatchSize*1200),
		ends:     make([]int, 0, leafBatchSize),
		hasBody:  make([]bool, 0, leafBatchSize),
		bodySums: make([][32]byte, 0, leafBatchSize),
		cols:     make([]entryColumns, 0, leafBatchSize),
		gap:      -1,
	}
}

var errGap = errors.New("audit: gap in the entries")

// frontier holds the peaks of the tree built so far (the stored hashes of
// its complete subtrees, largest first): all that appending the next leaf
// or computing the root needs. It is a tlog.HashReader over those hashes.
type frontier struct {
	idx []int64
	h   []tlog.Hash
}

func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
next:
	for i, x := range indexes {
		for j := len(f.idx) - 1; j >= 0; j-- {
			if f.idx[j] == x {
				out[i] = f.h[j]
				continue next
			}
		}
		return nil, fmt.Errorf("audit: hash %d is not a peak", x)
	}
	return out, nil
}

// add records the stored hashes hs of a new leaf, the first of them at
// stored index base: the last len(hs)-1 peaks merged into the last of hs.
func (f *frontier) add(hs []tlog.Hash, base int64) {
	k := len(f.idx) - (len(hs) - 1)
	f.idx = append(f.idx[:k], base+int64(len(hs)-1))
	f.h = append(f.h[:k], hs[len(hs)-1])
}

// hashChunk streams stored hashes from the reader goroutine in chunks, so
// the channel is touched once per thousand hashes, not per hash.
type hashChunk struct {
	ids []int64
	hs  []tlog.Hash
	pos int
}

type hashBatch struct {
	ids []int64
	hs  []tlog.Hash
	err error
}

var errNoMoreHashes = errors.New("audit: no more stored hashes")

func (c *hashChunk) next(ch <-chan hashBatch) (int64, tlog.Hash, error) {
	for c.pos >= len(c.ids) {
		b, ok := <-ch
		if !ok {
			return 0, tlog.Hash{}, errNoMoreHashes
		}
		if b.err != nil {
			return 0, tlog.Hash{}, b.err
		}
		c.ids, c.hs, c.pos = b.ids, b.hs, 0
	}
	i := c.pos
	c.pos++
	return c.ids[i], c.hs[i], nil
}

func streamHashes(ctx context.Context, st store.Audit) <-chan hashBatch {
	const size = 4096
	ch := make(chan hashBatch, 8)
	go func() {
		defer close(ch)
		b := hashBatch{ids: make([]int64, 0, size), hs: make([]tlog.Hash, 0, size)}
		send := func(b hashBatch) bool {
			select {
			case ch <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		err := st.ScanAuditHashes(ctx, 0, func(id int64, h tlog.Hash) error {
			b.ids, b.hs = append(b.ids, id), append(b.hs, h)
			if len(b.ids) == size {
				if !send(b) {
					return ctx.Err()
				}
				b = hashBatch{ids: make([]int64, 0, size), hs: make([]tlog.Hash, 0, size)}
			}
			return nil
		})
		if err != nil {
			send(hashBatch{err: err})
			return
		}
		if len(b.ids) > 0 {
			send(b)
		}
	}()
	return ch
}
