package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

var journalT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func journalEntries(key string, from, n int) []store.AuditEntry {
	es := make([]store.AuditEntry, n)
	for i := range es {
		es[i] = store.AuditEntry{Time: journalT0.Add(time.Duration(from+i) * time.Second), KeyID: key, Team: "t-" + key,
			Leaf: fmt.Appendf(nil, "leaf %s %d", key, from+i)}
		if (from+i)%3 == 0 {
			es[i].Body, es[i].BodyExpires = fmt.Appendf(nil, "body %d", from+i), journalT0.Add(time.Hour)
		}
	}
	return es
}

// treeHashes is an integration callback that computes the real stored
// hashes of es appended at start, reading the tree's older hashes with read.
func treeHashes(start int64, es []store.AuditEntry, read func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error) {
	fresh := map[int64]tlog.Hash{}
	r := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			if h, ok := fresh[x]; ok {
				out[i] = h
				continue
			}
			hs, err := read([]int64{x})
			if err != nil {
				return nil, err
			}
			out[i] = hs[0]
		}
		return out, nil
	})
	var all []tlog.Hash
	for i := range es {
		n := start + int64(i)
		hs, err := tlog.StoredHashes(n, es[i].Leaf, r)
		if err != nil {
			return nil, err
		}
		for j, h := range hs {
			fresh[tlog.StoredHashCount(n)+int64(j)] = h
		}
		all = append(all, hs...)
	}
	return all, nil
}

// integrateAll integrates until nothing is staged and returns how many
// entries it moved.
func integrateAll(t *testing.T, s *DB) int {
	t.Helper()
	total := 0
	for {
		_, n, err := s.IntegrateAudit(context.Background(), 100, true, treeHashes)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

// crash ends s as a killed process would: the journal's lock goes, and
// nothing is emptied or integrated on the way out. (What SQLite committed
// is in its WAL either way.)
func crash(s *DB) {
	j := &s.audit.journal
	j.mu.Lock()
	j.dropLocked()
	j.mu.Unlock()
	s.Close()
}

// leaves returns the log's leaves in order.
func leaves(t *testing.T, s *DB) []string {
	t.Helper()
	var out []string
	err := s.ScanAudit(context.Background(), store.AuditFilter{}, func(e *store.AuditEntry) error {
		if e.Index != int64(len(out)) {
			return fmt.Errorf("entry %d at position %d", e.Index, len(out))
		}
		out = append(out, string(e.Leaf))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func stage(t *testing.T, s *DB, es []store.AuditEntry) {
	t.Helper()
	if err := s.StageAudit(context.Background(), es); err != nil {
		t.Fatal(err)
	}
}

func TestJournalRecordRoundTrip(t *testing.T) {
	for _, e := range []store.AuditEntry{
		{Time: journalT0, KeyID: "k", Team: "t", Leaf: []byte("leaf")},
		{Time: journalT0, KeyID: "k", Leaf: []byte("leaf"), Body: []byte{}, BodyExpires: journalT0.Add(time.Hour)},
		{Leaf: bytes.Repeat([]byte("x"), 70000), Body: bytes.Repeat([]byte("y"), 300)},
	} {
		b, err := appendRecord([]byte("prefix"), &e)
		if err != nil {
			t.Fatal(err)
		}
		var got store.AuditEntry
		n, err := decodeRecord(b[len("prefix"):], &got)
		if err != nil || n != len(b)-len("prefix") {
			t.Fatalf("decode = %d, %v", n, err)
		}
		if !got.Time.Equal(e.Time) || !got.BodyExpires.Equal(e.BodyExpires) || got.KeyID != e.KeyID || got.Team != e.Team ||
			!bytes.Equal(got.Leaf, e.Leaf) || !bytes.Equal(got.Body, e.Body) || (got.Body == nil) != (e.Body == nil) {
			t.Errorf("round trip of %+v gave %+v", e, got)
		}
		for cut := range len(b) - len("prefix") {
			if _, err := decodeRecord(b[len("prefix"):len("prefix")+cut], &got); !errors.Is(err, errShortRecord) {
				t.Fatalf("record cut at %d: %v, want errShortRecord", cut, err)
			}
		}
		for _, at := range []int{0, 3, 5, 8, len(b) - len("prefix") - 1} {
			bad := bytes.Clone(b[len("prefix"):])
			bad[at] ^= 0x40
			if _, err := decodeRecord(bad, &got); err == nil {
				t.Errorf("byte %d flipped: decoded", at)
			}
		}
	}
}

// FuzzDecodeRecord: the decoder never panics or reads out of bounds on
// any input, and whatever it accepts encodes back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, e := range journalEntries("k", 0, 4) {
		b, _ := appendRecord(nil, &e)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e store.AuditEntry
		n, err := decodeRecord(b, &e)
		if err != nil {
			if !errors.Is(err, errShortRecord) && !errors.Is(err, errBadRecord) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if n > len(b) {
			t.Fatalf("record of %d bytes in %d", n, len(b))
		}
		again, err := appendRecord(nil, &e)
		if err != nil || !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding %+v: %v, differs from the input", e, err)
		}
	})
}

// TestJournalCrashRecovery crashes the store at each point of staging and
// integrating and checks what the next owner makes of the journal: every
// staged entry in the log exactly once, and no guessing when the journal
// does not match the database.
func TestJournalCrashRecovery(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// staged entries (leaf a 0, a 1, ...) are staged on a new store;
		// then acts on it before it crashes; damage then changes the files
		// it left in dir.
		staged int
		then   func(t *testing.T, s *DB)
		damage func(t *testing.T, dir string)
		// want are the leaves after the reopened store integrated, or
		// wantErr a substring of the error staging and integrating give.
		want    []string
		wantErr string
	}{
		{
			name:   "staged, never integrated",
			staged: 3,
			want:   []string{"leaf a 0", "leaf a 1", "leaf a 2"},
		},
		{
			name:   "integration failed before its commit",
			staged: 2,
			then: func(t *testing.T, s *DB) {
				if _, _, err := s.IntegrateAudit(ctx, 10, true, func(int64, []store.AuditEntry, func([]int64) ([]tlog.Hash, error)) ([]tlog.Hash, error) {
					return nil, errors.New("killed")
				}); err == nil {
					t.Fatal("failing integration succeeded")
				}
			},
			want: []string{"leaf a 0", "leaf a 1"},
		},
		{
			name:   "integrated in part, then more staged",
			staged: 3,
			then: func(t *testing.T, s *DB) {
				if _, n, err := s.IntegrateAudit(ctx, 2, true, treeHashes); err != nil || n != 2 {
					t.Fatalf("integrate = %d, %v", n, err)
				}
				stage(t, s, journalEntries("b", 0, 1))
			},
			want: []string{"leaf a 0", "leaf a 1", "leaf a 2", "leaf b 0"},
		},
		{
			name:   "torn last record",
			staged: 2,
			damage: func(t *testing.T, dir string) {
				appendDamagedRecord(t, dir, func(rec []byte) []byte { return rec[:len(rec)-3] })
			},
			want: []string{"leaf a 0", "leaf a 1"},
		},
		{
			name:   "last record with a bad checksum",
			staged: 1,
			damage: func(t *testing.T, dir string) {
				appendDamagedRecord(t, dir, func(rec []byte) []byte { rec[len(rec)-1] ^= 1; return rec })
			},
			want: []string{"leaf a 0"},
		},
		{
			name:   "emptied in the database, not on disk",
			staged: 2,
			then: func(t *testing.T, s *DB) {
				integrateAll(t, s)
				j := &s.audit.journal
				s.audit.mu.Lock()
				err := s.nextGenerationLocked(ctx, j.gen, j.integrated)
				s.audit.mu.Unlock()
				if err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"leaf a 0", "leaf a 1"},
		},
		{
			name:   "journal shorter than the integrated offset",
			staged: 2,
			then: func(t *testing.T, s *DB) {
				integrateAll(t, s)
				stage(t, s, journalEntries("b", 0, 1))
			},
			damage: func(t *testing.T, dir string) {
				if err := os.Truncate(journal(dir), journalHeaderLen+5); err != nil {
					t.Fatal(err)
				}
			},
			want:    []string{"leaf a 0", "leaf a 1"},
			wantErr: "truncated or replaced",
		},
		{
			name:   "damage before the last record",
			staged: 3,
			damage: func(t *testing.T, dir string) {
				b, err := os.ReadFile(journal(dir))
				if err != nil {
					t.Fatal(err)
				}
				b[journalHeaderLen+recordHeaderLen+3] ^= 1 // in the first record
				if err := os.WriteFile(journal(dir), b, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "is damaged",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first := openDir(t, dir)
			stage(t, first, journalEntries("a", 0, tt.staged))
			if tt.then != nil {
				tt.then(t, first)
			}
			crash(first)
			if tt.damage != nil {
				tt.damage(t, dir)
			}
			before, _ := os.ReadFile(journal(dir))
			s := openDir(t, dir)
			defer s.Close()
			if tt.wantErr != "" {
				_, _, ierr := s.IntegrateAudit(ctx, 10, true, treeHashes)
				serr := s.StageAudit(ctx, journalEntries("c", 0, 1))
				for _, err := range []error{ierr, serr} {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("got %v, want an error saying %q", err, tt.wantErr)
					}
				}
				if after, _ := os.ReadFile(journal(dir)); !bytes.Equal(after, before) {
					t.Error("the refused journal was changed")
				}
				if got := leaves(t, s); strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Errorf("log holds %q, want %q", got, tt.want)
				}
				return
			}
			integrateAll(t, s)
			if got := leaves(t, s); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("log holds %q, want %q", got, tt.want)
			}
			// Staging goes on after recovery, and a second crash
			// integrates nothing twice.
			stage(t, s, journalEntries("z", 0, 1))
			crash(s)
			s = openDir(t, dir)
			if n, err := s.AuditStaged(ctx); err != nil || n != 1 {
				t.Fatalf("after a second crash AuditStaged = %d, %v; want 1", n, err)
			}
			integrateAll(t, s)
			if got := leaves(t, s); strings.Join(got, "|") != strings.Join(append(tt.want, "leaf z 0"), "|") {
				t.Fatalf("after a second crash the log holds %q", got)
			}
		})
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// TestJournalOneOwner: a second store on the same database cannot stage
// while the first owns the journal; it counts what is staged, and its
// waiting integration returns once the owner integrated it.
func TestJournalOneOwner(t *testing.T) {
	defer func(p time.Duration) { journalPatience = p }(journalPatience)
	journalPatience = 20 * time.Millisecond
	ctx := context.Background()
	dir := t.TempDir()
	owner, other := openDir(t, dir), openDir(t, dir)
	defer other.Close()
	stage(t, owner, journalEntries("a", 0, 2))
	if err := other.StageAudit(ctx, journalEntries("b", 0, 1)); !errors.Is(err, errJournalBusy) || errors.Is(err, store.ErrConflict) {
		t.Fatalf("staging on a journal another store owns = %v, want errJournalBusy (and no ErrConflict, which the log would retry)", err)
	}
	if _, _, err := other.IntegrateAudit(ctx, 10, false, treeHashes); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("integrating without wait = %v, want ErrConflict", err)
	}
	if n, err := other.AuditStaged(ctx); err != nil || n != 2 {
		t.Fatalf("AuditStaged from the other store = %d, %v; want 2", n, err)
	}
	done := make(chan error, 1)
	go func() {
		_, n, err := other.IntegrateAudit(ctx, 10, true, treeHashes)
		if err == nil && n != 0 {
			err = fmt.Errorf("moved %d entries of a journal it does not own", n)
		}
		done <- err
	}()
	integrateAll(t, owner)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	owner.Close() // empties the journal and gives it up
	stage(t, other, journalEntries("b", 0, 1))
	integrateAll(t, other)
	if got := leaves(t, other); strings.Join(got, "|") != "leaf a 0|leaf a 1|leaf b 0" {
		t.Fatalf("log holds %q", got)
	}
}

// TestJournalConcurrent stages from many goroutines while an integrator
// runs, with a rotation size so small that the journal is emptied whenever
// the integrator catches up: every entry ends in the log exactly once, with
// the leaf hash of its leaf, and Close leaves an empty journal.
func TestJournalConcurrent(t *testing.T) {
	defer func(r int64) { journalRotateAt = r }(journalRotateAt)
	journalRotateAt = 2 << 10
	ctx := context.Background()
	dir := t.TempDir()
	s := openDir(t, dir)
	const stagers, batches = 6, 40
	stop := make(chan struct{})
	integrated := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				integrated <- nil
				return
			default:
			}
			if _, _, err := s.IntegrateAudit(ctx, 7, false, treeHashes); err != nil && !errors.Is(err, store.ErrConflict) {
				integrated <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range stagers {
		wg.Go(func() {
			for b := range batches {
				if err := s.StageAudit(ctx, journalEntries(fmt.Sprintf("g%d", g), b*3, 1+b%3)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-integrated; err != nil {
		t.Fatal(err)
	}
	integrateAll(t, s)
	want := 0
	for b := range batches {
		want += stagers * (1 + b%3)
	}
	got := leaves(t, s)
	storetest.Once(t, got, want)
	ix := make([]int64, len(got))
	for i := range ix {
		ix[i] = tlog.StoredHashIndex(0, int64(i))
	}
	hs, err := s.AuditHashes(ctx, ix)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range got {
		if hs[i] != tlog.RecordHash([]byte(l)) {
			t.Fatalf("entry %d: stored leaf hash is not its leaf's", i)
		}
	}
	t.Logf("the journal was emptied %d times", s.audit.journal.gen-1) // how often the integrator caught up is up to the scheduler
	s.Close()
	if fi, err := os.Stat(filepath.Join(dir, FileName) + ".audit-journal"); err != nil || fi.Size() != journalHeaderLen {
		t.Fatalf("journal after Close: %v, %v; want only its header", fi, err)
	}
}

// appendDamagedRecord appends to the journal of the store in dir one more
// record, as damage makes it (torn, a flipped bit).
func appendDamagedRecord(t *testing.T, dir string, damage func(rec []byte) []byte) {
	t.Helper()
	rec, _ := appendRecord(nil, &journalEntries("torn", 0, 1)[0])
	appendFile(t, journal(dir), damage(rec))
}

// journal is the journal file of the store in dir.
func journal(dir string) string { return filepath.Join(dir, FileName) + ".audit-journal" }
