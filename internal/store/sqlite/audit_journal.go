// The audit journal: the embedded store's staging area (store.AuditStaging).
//
// An append is one write(2) of its group commit's records on a flat file
// next to the database, <db>.audit-journal (format in
// audit_journal_format.go), instead of a SQLite transaction that writes
// every changed page of three tables as WAL frames. Like SQLite's
// synchronous=NORMAL, which the store runs with, the write survives a
// crash of the process (it is in the operating system's page cache), not
// necessarily one of the machine. An integrator (IntegrateAudit) moves the
// records into the log in batches; its transaction also moves
// audit_journal.pos, the offset up to which the file is integrated, so a
// crash at any point integrates every record exactly once: on reopen the
// owner resumes from pos.
//
// One DB (one process) owns the journal at a time, under an exclusive flock
// taken on the first StageAudit or IntegrateAudit. A DB that stages keeps it
// until Close; one that only integrates (the CLI, after a server crashed)
// gives it back once the journal is integrated. Another DB meanwhile reads
// the count of staged records from the file, and its IntegrateAudit waits
// for the owner to integrate them.
//
// Once everything in the file is integrated and it has grown past
// journalRotateAt (and at Close), the journal is emptied: the database
// moves to the next generation first (synchronously), then the file is cut
// back to a header with that generation. A crash between the two leaves a
// file of the previous generation, every record of which is integrated;
// the next owner empties it.

package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/store"
)

// Variables, not constants, so that tests can make them small.
var (
	// journalRotateAt is the size past which an integrated journal is
	// emptied. Emptying costs a synchronous commit, so it is rare: about
	// every 30,000 entries of 2 KB.
	journalRotateAt int64 = 64 << 20
	// journalPatience is how long StageAudit waits for a journal another
	// DB holds (a CLI integrating what a crashed server left): longer is
	// a second server on the same database, which fails.
	journalPatience = 2 * time.Second
)

// journalReadMax is the most one integration batch reads.
const journalReadMax = 16 << 20

// journalRestoreHint ends the errors of a journal that does not match the
// database, as after restoring warden.db alone from a backup.
const journalRestoreHint = `; after restoring warden.db from a backup, remove the journal and run sqlite3 warden.db "UPDATE audit_journal SET gen = gen + 1, pos = 16" (docs/deployment.md)`

// errJournalBusy is returned when another DB owns the journal. It is not
// store.ErrConflict, on which audit.Log retries a commit: a second server
// must fail its appends at once, not retry them.
var errJournalBusy = errors.New("sqlite: the audit journal is locked by another process (is another warden serve running on this data directory?)")

// auditJournal is the state of the journal, in auditWriter.
type auditJournal struct {
	integMu sync.Mutex // the integration lease within this process
	ibuf    []byte     // IntegrateAudit's read buffer; under integMu

	mu         sync.Mutex // guards the fields below; held for a whole StageAudit
	db         *DB
	path       string
	f          *os.File // open, flock-ed, O_APPEND, while this DB owns the journal
	gen        uint64   // the file's generation
	end        int64    // end of the last complete record
	integrated int64    // records before it are in the log (audit_journal.pos)
	staged     int64    // records in [integrated, end)
	keep       bool     // this DB staged: it keeps the journal until Close
	buf        []byte   // StageAudit's encoding buffer
}

// journalPathLocked returns the journal's path, next to the main database.
func (s *DB) journalPathLocked(ctx context.Context) (string, error) {
	j := &s.audit.journal
	if j.path != "" {
		return j.path, nil
	}
	var file string
	if err := s.db.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		return "", fmt.Errorf("sqlite: audit journal: database path: %w", err)
	}
	if file == "" {
		return "", errors.New("sqlite: audit journal: the database has no file")
	}
	j.path, j.db = file+".audit-journal", s
	return j.path, nil
}

// journalPos reads where integration stands.
func (s *DB) journalPos(ctx context.Context) (gen uint64, pos int64, err error) {
	if err := s.db.QueryRowContext(ctx, `SELECT gen, pos FROM audit_journal WHERE id = 1`).Scan(&gen, &pos); err != nil {
		return 0, 0, fmt.Errorf("sqlite: audit journal position: %w", err)
	}
	return gen, pos, nil
}

// ownJournalLocked makes this DB the journal's owner if it is not: it opens
// and locks the file and recovers it. If another DB holds the lock it tries
// again for up to patience, then fails with errJournalBusy.
func (s *DB) ownJournalLocked(ctx context.Context, patience time.Duration) error {
	j := &s.audit.journal
	if j.f != nil {
		return nil
	}
	path, err := s.journalPathLocked(ctx)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600) // entries and bodies: as private as the database
	if err != nil {
		return fmt.Errorf("sqlite: audit journal: %w", err)
	}
	deadline := time.Now().Add(patience)
	for {
		ok, err := tryLockFile(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("sqlite: audit journal: lock %s: %w", path, err)
		}
		if ok {
			break
		}
		if !time.Now().Before(deadline) {
			f.Close()
			return fmt.Errorf("%s: %w", path, errJournalBusy)
		}
		select { // a poll: flock cannot be waited for with a deadline
		case <-ctx.Done():
			f.Close()
			return fmt.Errorf("sqlite: audit journal: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := s.recoverJournal(ctx, f); err != nil {
		f.Close()
		return err
	}
	j.f = f
	return nil
}

// recoverJournal checks a freshly locked journal against the database and
// sets the state from it: it empties a file left by an interrupted
// emptying, cuts off a torn last record, and counts the staged records. It
// refuses, changing nothing, a file of another database or generation, one
// shorter than what was integrated from it, and damage before the last
// record.
func (s *DB) recoverJournal(ctx context.Context, f *os.File) error {
	j := &s.audit.journal
	gen, pos, err := s.journalPos(ctx)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sqlite: audit journal: %w", err)
	}
	size := fi.Size()
	fresh := false
	if size < journalHeaderLen { // new, or cut while being emptied: it holds no record
		fresh = true
	} else {
		hdr := make([]byte, journalHeaderLen)
		if _, err := f.ReadAt(hdr, 0); err != nil {
			return fmt.Errorf("sqlite: audit journal %s: %w", j.path, err)
		}
		fileGen, err := parseHeader(hdr)
		if err != nil {
			return fmt.Errorf("%w: %s", err, j.path)
		}
		switch {
		case fileGen == gen:
		case fileGen+1 == gen && pos == journalHeaderLen:
			fresh = true // emptied in the database, not yet on disk: all of it is integrated
		default:
			return fmt.Errorf("sqlite: audit journal %s is generation %d, the database expects %d: it belongs to another database or was replaced (nothing was changed)"+journalRestoreHint, j.path, fileGen, gen)
		}
	}
	if fresh {
		if pos != journalHeaderLen {
			return fmt.Errorf("sqlite: audit journal %s has %d bytes but the database integrated it up to offset %d: it was truncated or replaced, and entries staged after that offset may be lost; restore the journal file (nothing was changed)"+journalRestoreHint, j.path, size, pos)
		}
		if err := writeFreshJournal(f, gen); err != nil {
			return fmt.Errorf("sqlite: audit journal %s: %w", j.path, err)
		}
		j.gen, j.end, j.integrated, j.staged = gen, pos, pos, 0
		return nil
	}
	if pos < journalHeaderLen || pos > size {
		return fmt.Errorf("sqlite: audit journal %s has %d bytes but the database integrated it up to offset %d: it was truncated or replaced, and entries staged after that offset may be lost; restore the journal file (nothing was changed)", j.path, size, pos)
	}
	var n int64
	end, err := scanJournal(f, pos, size, func(*store.AuditEntry) { n++ })
	var re *recordError
	if errors.As(err, &re) {
		if !re.tail {
			return fmt.Errorf("sqlite: audit journal %s: record at offset %d is damaged and %d bytes follow it; entries from there on cannot be integrated (nothing was changed): %w", j.path, re.off, size-re.off, re.err)
		}
		// A torn tail: the crash came while the last group commit was
		// written, so none of its appenders had been answered. Its bytes
		// are kept aside, in case it was damage after all.
		if err := saveTail(f, end, size, fmt.Sprintf("%s.torn-%d-%d", j.path, gen, end)); err != nil {
			return fmt.Errorf("sqlite: audit journal %s: keep the torn last record: %w", j.path, err)
		}
		if err := f.Truncate(end); err != nil {
			return fmt.Errorf("sqlite: audit journal %s: cut the torn last record: %w", j.path, err)
		}
	} else if err != nil {
		return fmt.Errorf("sqlite: audit journal %s: %w", j.path, err)
	}
	j.gen, j.end, j.integrated, j.staged = gen, end, pos, n
	return nil
}

// saveTail copies f's bytes in [off, size) to a new file at path.
func saveTail(f *os.File, off, size int64, path string) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.NewSectionReader(f, off, size-off)); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// writeFreshJournal empties f and writes the header of generation gen.
func writeFreshJournal(f *os.File, gen uint64) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Write(appendHeader(nil, gen)) // O_APPEND: at the new end, 0
	return err
}

// recordError is a record scanJournal could not decode. tail reports that
// it is the file's last (a torn tail after a crash): it ends at or after
// the end of the scan, or only zeros follow where it starts.
type recordError struct {
	off  int64
	tail bool
	err  error
}

func (e *recordError) Error() string {
	return fmt.Sprintf("sqlite: audit journal: record at offset %d: %v", e.off, e.err)
}

func (e *recordError) Unwrap() error { return e.err }

// scanJournal decodes the records of f in [from, to), calling fn for each
// (its byte fields valid only during the call), and returns the end of the
// last good record. It stops at the first bad one with a *recordError.
func scanJournal(f *os.File, from, to int64, fn func(*store.AuditEntry)) (int64, error) {
	var buf []byte
	for from < to {
		es, next, err := readRecords(f, from, to, 0, &buf)
		for i := range es {
			fn(&es[i])
		}
		if err != nil {
			return next, err
		}
		from = next
	}
	return from, nil
}

// readRecords decodes records of f from offset from, up to to, at most max
// of them (0: no limit), reading up to journalReadMax bytes (more if the
// first record is larger) into *buf, which the entries point into. It
// returns them and the offset after the last. A record that cannot be
// decoded ends the batch with a *recordError (after the good records
// before it, if any).
func readRecords(f *os.File, from, to int64, max int, buf *[]byte) ([]store.AuditEntry, int64, error) {
	if from >= to {
		return nil, from, nil
	}
	want := min(to-from, journalReadMax)
	var es []store.AuditEntry
	for {
		if int64(cap(*buf)) < want {
			*buf = make([]byte, want)
		}
		b := (*buf)[:want]
		n, err := f.ReadAt(b, from)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, from, fmt.Errorf("sqlite: audit journal: read at %d: %w", from, err)
		}
		if int64(n) < want { // the file ends before to
			b, to = b[:n], from+int64(n)
		}
		es = es[:0]
		off := 0
		for max <= 0 || len(es) < max {
			if off == len(b) {
				break
			}
			var e store.AuditEntry
			n, err := decodeRecord(b[off:], &e)
			if errors.Is(err, errShortRecord) && from+int64(len(b)) < to {
				break // the record goes on past this read
			}
			if err != nil {
				return es, from + int64(off), tornOrDamaged(f, from+int64(off), to, b[off:], err)
			}
			es = append(es, e)
			off += n
		}
		if len(es) > 0 || off > 0 {
			return es, from + int64(off), nil
		}
		want = min(to-from, int64(recordHeaderLen+maxRecordLen)) // one record larger than a read
	}
}

// tornOrDamaged tells a torn tail from damage: b, the bytes at off, start
// with a bad or short record.
func tornOrDamaged(f *os.File, off, to int64, b []byte, err error) *recordError {
	re := &recordError{off: off, err: err}
	if errors.Is(err, errShortRecord) {
		re.tail = true
		return re
	}
	if len(b) >= recordHeaderLen {
		n := int64(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		if off+recordHeaderLen+n >= to {
			re.tail = true // the last record: written in part
			return re
		}
	}
	re.tail = zerosFrom(f, off, to)
	return re
}

// zerosFrom reports whether f holds only zeros in [off, to): space a file
// system allocated for a write that never landed.
func zerosFrom(f *os.File, off, to int64) bool {
	b := make([]byte, 64<<10)
	for off < to {
		n, err := f.ReadAt(b[:min(int64(len(b)), to-off)], off)
		for _, c := range b[:n] {
			if c != 0 {
				return false
			}
		}
		if err != nil || n == 0 {
			return err == io.EOF
		}
		off += int64(n)
	}
	return true
}

// emptyJournalLocked empties a journal whose records are all integrated:
// the database moves to the next generation first, durably, then the file
// is cut back to its header. Holds j.mu; takes the writer's.
func (s *DB) emptyJournalLocked(ctx context.Context) error {
	j := &s.audit.journal
	w := &s.audit
	w.mu.Lock()
	err := s.nextGenerationLocked(ctx, j.gen, j.integrated)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	j.gen++
	if err := writeFreshJournal(j.f, j.gen); err != nil {
		// The next owner finds the previous generation and empties it.
		j.dropLocked()
		return fmt.Errorf("sqlite: audit journal %s: empty: %w", j.path, err)
	}
	j.end, j.integrated, j.staged = journalHeaderLen, journalHeaderLen, 0
	return nil
}

// nextGenerationLocked moves audit_journal to generation gen+1 in a
// transaction synced to disk (synchronous=FULL for it): the file is cut
// right after, and must never be newer than the database.
func (s *DB) nextGenerationLocked(ctx context.Context, gen uint64, pos int64) (err error) {
	if _, err := s.auditConnLocked(ctx); err != nil {
		return fmt.Errorf("sqlite: audit journal: %w", err)
	}
	if err := s.execLocked(ctx, `PRAGMA synchronous=FULL`); err != nil {
		s.audit.resetLocked()
		return fmt.Errorf("sqlite: audit journal: %w", err)
	}
	defer func() {
		if rerr := s.execLocked(context.WithoutCancel(ctx), `PRAGMA synchronous=NORMAL`); rerr != nil {
			s.audit.resetLocked() // a fresh connection has the default again
		}
	}()
	err = s.inAuditTxLocked(ctx, func() error {
		return s.moveJournalLocked(ctx, gen, pos, gen+1, journalHeaderLen)
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		s.audit.resetLocked()
	}
	return err
}

// moveJournalLocked moves audit_journal from (gen, pos) to (toGen, toPos)
// inside the writer's transaction; ErrConflict if it was not at (gen, pos).
func (s *DB) moveJournalLocked(ctx context.Context, gen uint64, pos int64, toGen uint64, toPos int64) error {
	st, err := s.stmtLocked(ctx, `UPDATE audit_journal SET gen = ?, pos = ? WHERE id = 1 AND gen = ? AND pos = ?`)
	if err != nil {
		return fmt.Errorf("sqlite: audit journal position: %w", err)
	}
	res, err := st.ExecContext(ctx, toGen, toPos, gen, pos)
	if err != nil {
		return fmt.Errorf("sqlite: audit journal position: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("sqlite: audit journal position is not at generation %d offset %d (another integrator?): %w", gen, pos, store.ErrConflict)
	}
	return nil
}

// dropLocked gives up the journal (closing the file releases the lock).
func (j *auditJournal) dropLocked() {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	j.keep = false
}

// close empties an integrated journal and gives it up. The writer's lock
// must not be held.
func (j *auditJournal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return
	}
	if j.integrated == j.end && j.end > journalHeaderLen {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		j.db.emptyJournalLocked(ctx) // failing leaves a journal to recover, no loss
		cancel()
	}
	j.dropLocked()
}
