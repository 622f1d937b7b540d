// store.AuditStaging on the embedded store, over the audit journal
// (audit_journal.go).

package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
)

var _ store.AuditStaging = (*DB)(nil)

// StageAudit implements store.AuditStaging: the entries' records go onto
// the journal in one write. After it returns nil they survive a crash of
// the process, as a commit with synchronous=NORMAL does. If another
// process owns the journal (a second server on this database) it fails
// after journalPatience, saying so.
func (s *DB) StageAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	j := &s.audit.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := s.ownJournalLocked(ctx, journalPatience); err != nil {
		return err
	}
	buf := j.buf[:0]
	for i := range entries {
		var err error
		if buf, err = appendRecord(buf, &entries[i]); err != nil {
			return err
		}
	}
	if cap(buf) <= 1<<20 {
		j.buf = buf // kept for the next batch, unless a large one grew it
	}
	if n, err := j.f.Write(buf); err != nil {
		// Take back what part was written, or give the journal up: the
		// next owner recovers it and cuts the torn record off.
		if n > 0 {
			if terr := j.f.Truncate(j.end); terr != nil {
				j.dropLocked()
			}
		}
		return fmt.Errorf("sqlite: stage audit entries: %w", err)
	}
	j.end += int64(len(buf))
	j.staged += int64(len(entries))
	j.keep = true
	return nil
}

// AuditStaged implements store.AuditStaging. A DB that does not own the
// journal counts the complete records after the integrated offset in the
// file as it is (a record being written is not counted).
func (s *DB) AuditStaged(ctx context.Context) (int64, error) {
	j := &s.audit.journal
	j.mu.Lock()
	if j.f != nil {
		n := j.staged
		j.mu.Unlock()
		return n, nil
	}
	path, err := s.journalPathLocked(ctx)
	j.mu.Unlock()
	if err != nil {
		return 0, err
	}
	gen, pos, err := s.journalPos(ctx)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if pos == journalHeaderLen {
			return 0, nil
		}
		return 0, fmt.Errorf("sqlite: audit journal %s is missing but the database integrated it up to offset %d", path, pos)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: audit journal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("sqlite: audit journal: %w", err)
	}
	if fi.Size() < journalHeaderLen {
		return 0, nil
	}
	hdr := make([]byte, journalHeaderLen)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return 0, fmt.Errorf("sqlite: audit journal %s: %w", path, err)
	}
	fileGen, err := parseHeader(hdr)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, path)
	}
	if fileGen+1 == gen {
		return 0, nil // emptied in the database, not yet on disk
	}
	if fileGen != gen || pos > fi.Size() {
		return 0, fmt.Errorf("sqlite: audit journal %s (generation %d, %d bytes) does not match the database (generation %d, integrated to offset %d)", path, fileGen, fi.Size(), gen, pos)
	}
	var n int64
	_, err = scanJournal(f, pos, fi.Size(), func(*store.AuditEntry) { n++ })
	var re *recordError
	if err != nil && !errors.As(err, &re) {
		return 0, err
	}
	return n, nil // a bad record ends the count: the owner decides what it is
}

// IntegrateAudit implements store.AuditStaging: it moves up to max records
// from the journal's integrated offset into the log, and the offset past
// them, in one transaction. The lease is held within the process by a
// mutex and across processes by the journal's lock. If another process
// owns the journal (a running server, which integrates it), it returns
// ErrConflict without wait; with wait it waits until that owner has
// integrated every record the journal held when it was called (the owner
// does so within tens of milliseconds), and returns 0 entries moved.
func (s *DB) IntegrateAudit(ctx context.Context, max int, wait bool, hashes func(int64, []store.AuditEntry, func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error)) (int64, int, error) {
	j := &s.audit.journal
	if wait {
		j.integMu.Lock()
	} else if !j.integMu.TryLock() {
		return -1, 0, fmt.Errorf("sqlite: audit integration is running: %w", store.ErrConflict)
	}
	defer j.integMu.Unlock()

	j.mu.Lock()
	err := s.ownJournalLocked(ctx, 0)
	from, to, gen, f := j.integrated, j.end, j.gen, j.f
	j.mu.Unlock()
	if errors.Is(err, errJournalBusy) && wait {
		err = s.awaitOwner(ctx)
		if err == nil {
			size, err := s.AuditSize(ctx)
			return size, 0, err
		}
		if errors.Is(err, errOwned) {
			j.mu.Lock()
			from, to, gen, f, err = j.integrated, j.end, j.gen, j.f, nil
			j.mu.Unlock()
		}
	}
	if errors.Is(err, errJournalBusy) { // without wait: the owner integrates
		return -1, 0, fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	if err != nil {
		return -1, 0, err
	}
	if from == to {
		s.releaseIdleJournal()
		size, err := s.logSize(ctx)
		return size, 0, err
	}
	entries, next, err := readRecords(f, from, to, max, &j.ibuf)
	if cap(j.ibuf) > 1<<20 {
		defer func() { j.ibuf = nil }() // a backlog's buffer is not kept
	}
	if err != nil { // the owner wrote these records itself since it recovered the file
		return -1, 0, fmt.Errorf("sqlite: audit journal: staged records are damaged: %w", err)
	}
	start, err := s.logSize(ctx)
	if err != nil {
		return -1, 0, err
	}
	for i := range entries {
		entries[i].Index = start + int64(i)
	}
	hs, err := hashes(start, entries, func(ix []int64) ([]tlog.Hash, error) { return s.AuditHashes(ctx, ix) })
	if err != nil {
		return -1, 0, err
	}
	rows, err := auditRows(start, entries, hs)
	if err != nil {
		return -1, 0, err
	}
	w := &s.audit
	w.mu.Lock()
	err = s.appendRowsLocked(ctx, start, rows, func() error { return s.moveJournalLocked(ctx, gen, from, gen, next) })
	w.mu.Unlock()
	if err != nil {
		return -1, 0, err
	}
	j.mu.Lock()
	j.integrated = next
	j.staged -= int64(len(entries))
	if j.integrated == j.end && j.end >= journalRotateAt {
		if err := s.emptyJournalLocked(ctx); err != nil {
			j.mu.Unlock()
			// The entries are in the log; emptying is retried next time.
			return start, len(entries), nil
		}
	}
	j.mu.Unlock()
	s.releaseIdleJournal()
	return start, len(entries), nil
}

// logSize returns the log's size for IntegrateAudit, through the append
// connection's prepared statement once there is one: the integrator asks on
// every pass, idle or not, and preparing the query anew each time cost far
// more than running it (about 3% of a busy gateway's CPU with modernc's
// SQLite, in the profile of `go run ./bench/gateway -binary -profile DIR`).
func (s *DB) logSize(ctx context.Context) (int64, error) {
	w := &s.audit
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn == nil {
		return s.AuditSize(ctx)
	}
	return s.auditSizeLocked(ctx)
}

// releaseIdleJournal gives the journal up if this DB only integrated it
// (it never staged) and nothing is left: a CLI that integrated what a
// crashed server staged must not keep a server from starting.
func (s *DB) releaseIdleJournal() {
	j := &s.audit.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil && !j.keep && j.integrated == j.end {
		j.dropLocked()
	}
}

// errOwned: awaitOwner found the owner gone and took the journal itself.
var errOwned = errors.New("sqlite: audit journal taken over")

// awaitOwner waits until the process that owns the journal has integrated
// everything the file holds now. If the owner goes away meanwhile, this DB
// takes the journal and returns errOwned, so the caller integrates.
func (s *DB) awaitOwner(ctx context.Context) error {
	j := &s.audit.journal
	j.mu.Lock()
	path, err := s.journalPathLocked(ctx)
	j.mu.Unlock()
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("sqlite: audit journal: %w", err)
	}
	gen0, _, err := s.journalPos(ctx)
	if err != nil {
		return err
	}
	// A poll: the owner is another process, and its integrator moves the
	// offset every few tens of milliseconds while entries are staged.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		gen, pos, err := s.journalPos(ctx)
		if err != nil {
			return err
		}
		if gen != gen0 || pos >= fi.Size() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqlite: audit journal: waiting for its owner to integrate it: %w", ctx.Err())
		case <-tick.C:
		}
		j.mu.Lock()
		err = s.ownJournalLocked(ctx, 0)
		j.mu.Unlock()
		if err == nil {
			return errOwned
		}
		if !errors.Is(err, errJournalBusy) {
			return err
		}
	}
}
