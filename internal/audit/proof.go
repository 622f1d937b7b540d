package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
)

// InclusionProof shows that entry Index, whose leaf is Leaf, is in the
// tree of Size entries whose signed checkpoint is Checkpoint.
type InclusionProof struct {
	Index      int64            `json:"index"`
	Size       int64            `json:"size"`
	Leaf       string           `json:"leaf"`
	LeafHash   tlog.Hash        `json:"leaf_hash"`
	Proof      tlog.RecordProof `json:"proof"`
	Checkpoint string           `json:"checkpoint"`
}

// ConsistencyProof shows that the tree of Old entries is a prefix of the
// tree of New entries: nothing in the first Old entries changed since.
type ConsistencyProof struct {
	Old           int64          `json:"old"`
	New           int64          `json:"new"`
	OldRoot       tlog.Hash      `json:"old_root"`
	NewRoot       tlog.Hash      `json:"new_root"`
	Proof         tlog.TreeProof `json:"proof"`
	OldCheckpoint string         `json:"old_checkpoint,omitempty"`
	NewCheckpoint string         `json:"new_checkpoint,omitempty"`
}

// checkpointFor returns the checkpoint of exactly size, or with size 0 the
// smallest stored checkpoint that contains index, signing a new one when
// none does.
func (l *Log) checkpointFor(ctx context.Context, index, size int64) (*SignedCheckpoint, error) {
	if size > 0 {
		return l.checkpointAt(ctx, size)
	}
	cs, err := l.st.AuditCheckpoints(ctx, index+1, -1, false)
	if err != nil {
		return nil, err
	}
	if len(cs) > 0 {
		return l.open(cs[0])
	}
	c, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if c.Size <= index {
		return nil, fmt.Errorf("audit: no entry %d (log has %d): %w", index, c.Size, store.ErrNotFound)
	}
	return c, nil
}

// ProveInclusion proves entry index against the checkpoint of the given
// size, or with size 0 against the first checkpoint that contains it
// (signing one if needed).
func (l *Log) ProveInclusion(ctx context.Context, index, size int64) (*InclusionProof, error) {
	if index < 0 || size < 0 || (size > 0 && index >= size) {
		return nil, fmt.Errorf("audit: no entry %d in a tree of %d", index, size)
	}
	c, err := l.checkpointFor(ctx, index, size)
	if err != nil {
		return nil, err
	}
	var leaf []byte
	err = l.st.ScanAudit(ctx, store.AuditFilter{From: index, To: index + 1}, func(e *store.AuditEntry) error {
		leaf = bytes.Clone(e.Leaf)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if leaf == nil {
		return nil, fmt.Errorf("audit: entry %d: %w", index, store.ErrNotFound)
	}
	return l.proveLeaf(ctx, c, index, leaf)
}

func (l *Log) proveLeaf(ctx context.Context, c *SignedCheckpoint, index int64, leaf []byte) (*InclusionProof, error) {
	p, err := tlog.ProveRecord(c.Size, index, l.storeReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("audit: prove entry %d in %d: %w", index, c.Size, err)
	}
	ip := &InclusionProof{Index: index, Size: c.Size, Leaf: string(leaf), LeafHash: tlog.RecordHash(leaf), Proof: p, Checkpoint: string(c.Note)}
	// Check before handing out: a proof that fails is a damaged store, and
	// the caller should hear it from us rather than from a court.
	if err := tlog.CheckRecord(p, c.Size, c.Root, index, ip.LeafHash); err != nil {
		return nil, fmt.Errorf("audit: entry %d does not verify against checkpoint %d: %w", index, c.Size, err)
	}
	return ip, nil
}

// Check verifies p with v: the checkpoint's signature, then the path from
// the leaf to its root. It needs nothing but p and the verifier key.
func (p *InclusionProof) Check(v note.Verifier) error {
	c, err := OpenCheckpoint([]byte(p.Checkpoint), v)
	if err != nil {
		return err
	}
	if c.Size != p.Size {
		return fmt.Errorf("audit: proof is for size %d, checkpoint for %d", p.Size, c.Size)
	}
	if _, err := ParseLeaf([]byte(p.Leaf)); err != nil {
		return err
	}
	h := tlog.RecordHash([]byte(p.Leaf))
	if h != p.LeafHash {
		return errors.New("audit: leaf hash does not match the leaf")
	}
	if err := tlog.CheckRecord(p.Proof, c.Size, c.Root, p.Index, h); err != nil {
		return fmt.Errorf("audit: entry %d not in checkpoint %d: %w", p.Index, c.Size, err)
	}
	return nil
}

// ProveConsistency proves that the tree of oldSize entries is a prefix of
// the tree of newSize entries. It includes the checkpoints of those sizes
// when they exist.
func (l *Log) ProveConsistency(ctx context.Context, oldSize, newSize int64) (*ConsistencyProof, error) {
	size, err := l.st.AuditSize(ctx)
	if err != nil {
		return nil, err
	}
	if oldSize < 0 || oldSize > newSize || newSize > size {
		return nil, fmt.Errorf("audit: consistency %d -> %d: need 0 <= old <= new <= %d", oldSize, newSize, size)
	}
	r := l.storeReader(ctx)
	p := &ConsistencyProof{Old: oldSize, New: newSize}
	if p.OldRoot, err = tlog.TreeHash(oldSize, r); err != nil {
		return nil, err
	}
	if p.NewRoot, err = tlog.TreeHash(newSize, r); err != nil {
		return nil, err
	}
	// Every tree extends the empty one (RFC 6962 section 2.1.2): the proof
	// from size 0 is empty, and tlog rejects it as an input.
	if oldSize > 0 {
		if p.Proof, err = tlog.ProveTree(newSize, oldSize, r); err != nil {
			return nil, err
		}
	}
	for _, x := range []struct {
		size int64
		root tlog.Hash
		dst  *string
	}{{oldSize, p.OldRoot, &p.OldCheckpoint}, {newSize, p.NewRoot, &p.NewCheckpoint}} {
		c, err := l.checkpointAt(ctx, x.size)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrReadOnly) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.Root != x.root {
			return nil, fmt.Errorf("audit: checkpoint %d does not match the stored tree", x.size)
		}
		*x.dst = string(c.Note)
	}
	if oldSize > 0 {
		if err := tlog.CheckTree(p.Proof, newSize, p.NewRoot, oldSize, p.OldRoot); err != nil {
			return nil, fmt.Errorf("audit: stored tree is inconsistent between %d and %d: %w", oldSize, newSize, err)
		}
	}
	return p, nil
}

// Check verifies p. With a verifier, the checkpoints the proof carries must
// be signed by it and match the roots; without, only the hashes are checked.
func (p *ConsistencyProof) Check(v note.Verifier) error {
	for _, x := range []struct {
		note string
		size int64
		root tlog.Hash
	}{{p.OldCheckpoint, p.Old, p.OldRoot}, {p.NewCheckpoint, p.New, p.NewRoot}} {
		if x.note == "" || v == nil {
			continue
		}
		c, err := OpenCheckpoint([]byte(x.note), v)
		if err != nil {
			return err
		}
		if c.Size != x.size || c.Root != x.root {
			return fmt.Errorf("audit: checkpoint %d does not match the proof's root", c.Size)
		}
	}
	if p.Old == 0 {
		if len(p.Proof) != 0 {
			return errors.New("audit: a proof from the empty tree must be empty")
		}
		return nil
	}
	if err := tlog.CheckTree(p.Proof, p.New, p.NewRoot, p.Old, p.OldRoot); err != nil {
		return fmt.Errorf("audit: tree %d is not an extension of tree %d: %w", p.New, p.Old, err)
	}
	return nil
}
