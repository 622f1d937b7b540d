package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/store/sqlite"
)

// TestTamperDetected changes the stored log behind the Log's back, the way
// an attacker with the database file would, and checks that Verify notices
// and names the entry.
func TestTamperDetected(t *testing.T) {
	exec := func(t *testing.T, db *sql.DB, q string, args ...any) {
		t.Helper()
		res, err := db.Exec(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			t.Fatalf("%s changed nothing", q)
		}
	}
	// run tampers by running the statements, each of which must change a row.
	run := func(qs ...string) func(*testing.T, *fixture, *sql.DB) {
		return func(t *testing.T, _ *fixture, db *sql.DB) {
			for _, q := range qs {
				exec(t, db, q)
			}
		}
	}
	tests := []struct {
		name      string
		tamper    func(t *testing.T, f *fixture, db *sql.DB)
		wantIndex int64  // -1: the damage is named by a checkpoint
		wantText  string // part of the reason
	}{
		{"metadata byte", run(`UPDATE audit_entries SET leaf = CAST(replace(CAST(leaf AS TEXT), '"status":200', '"status":201') AS BLOB) WHERE idx = 5`), 5, "leaf does not match"},
		{"body digest in leaf", func(t *testing.T, f *fixture, db *sql.DB) {
			var leaf []byte
			db.QueryRow(`SELECT leaf FROM audit_entries WHERE idx = 6`).Scan(&leaf)
			l, err := ParseLeaf(leaf)
			if err != nil {
				t.Fatal(err)
			}
			l.Prompt.Sum[0] ^= 1
			exec(t, db, `UPDATE audit_entries SET leaf = ? WHERE idx = 6`, l.Marshal())
		}, 6, "leaf does not match"},
		{"stored body", run(`UPDATE audit_bodies SET body = CAST(replace(CAST(body AS TEXT), 'a', 'b') AS BLOB) WHERE idx = 4`), 4, "stored body"},
		{"leaf hash", run(`UPDATE audit_hashes SET hashes = zeroblob(32) || substr(hashes, 33) WHERE idx = 9`), 9, "leaf does not match"},
		// Node (2, 1) is completed by entry 7, the third hash in its row.
		{"inner hash", run(`UPDATE audit_hashes SET hashes = substr(hashes, 1, 64) || zeroblob(32) || substr(hashes, 97) WHERE idx = 7`), 7, "level 2"},
		{"short hash", run(`UPDATE audit_hashes SET hashes = X'00' WHERE idx = 2`), 2, "does not match"},
		{"deleted entry", run(`DELETE FROM audit_entries WHERE idx = 3`), 3, "missing"},
		{"deleted tail", run(
			`DELETE FROM audit_entries WHERE idx >= 10`,
			`DELETE FROM audit_hashes WHERE idx >= 10`,
		), 10, "deleted from the end"},
		{"deleted hash", run(`DELETE FROM audit_hashes WHERE idx = 8`), 8, "missing"},
		{"deleted tail hashes", run(`DELETE FROM audit_hashes WHERE idx >= 11`), 11, "missing"},
		{"reordered", run(
			`UPDATE audit_entries SET idx = -1 WHERE idx = 3`,
			`UPDATE audit_entries SET idx = 3 WHERE idx = 4`,
			`UPDATE audit_entries SET idx = 4 WHERE idx = -1`,
		), 3, "leaf does not match"},
		{"rewritten with recomputed hashes", func(t *testing.T, f *fixture, db *sql.DB) {
			exec(t, db, `UPDATE audit_entries SET leaf = CAST(replace(CAST(leaf AS TEXT), '203.0.113.7', '198.51.100.1') AS BLOB) WHERE idx = 2`)
			rehash(t, db)
		}, -1, "checkpoint 8 does not match"},
		{"forged checkpoint, other key", func(t *testing.T, f *fixture, db *sql.DB) {
			skey, _, _ := note.GenerateKey(rand.Reader, "warden.test/audit/t1")
			s, _ := note.NewSigner(skey)
			msg, _ := signCheckpoint(Checkpoint{Origin: "warden.test/audit/t1", Size: 12, Root: tlog.Hash{1}}, s)
			exec(t, db, `UPDATE audit_checkpoints SET note = ? WHERE size = 12`, msg)
		}, -1, "checkpoint 12"},
		{"forged checkpoint, edited root", func(t *testing.T, f *fixture, db *sql.DB) {
			var msg []byte
			db.QueryRow(`SELECT note FROM audit_checkpoints WHERE size = 8`).Scan(&msg)
			lines := strings.SplitN(string(msg), "\n", 4)
			lines[2] = tlog.Hash{2}.String()
			exec(t, db, `UPDATE audit_checkpoints SET note = ? WHERE size = 8`, []byte(strings.Join(lines, "\n")))
		}, -1, "checkpoint 8"},
		// Index columns: copies of the leaf a store selects by. Changing
		// one hides an entry from an export by key or from a legal hold.
		{"index column key_id", run(`UPDATE audit_entries SET key_id = 'k_other' WHERE idx = 5`), 5, "column key_id"},
		{"index column team", run(`UPDATE audit_entries SET team = 'elsewhere' WHERE idx = 6`), 6, "column team"},
		{"index column ts", run(`UPDATE audit_entries SET ts = ts + 1 WHERE idx = 7`), 7, "column ts"},
		{"body column key_id", run(`UPDATE audit_bodies SET key_id = 'k_other' WHERE idx = 9`), 9, "body's key_id"},
		{"body column ts", run(`UPDATE audit_bodies SET ts = 1 WHERE idx = 10`), 10, "body's ts"},
		{"forged checkpoint, wrong size", run(`UPDATE audit_checkpoints SET size = 9 WHERE size = 8`), -1, "says 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{Retention: Retention{Bodies: BodyPlaintext}})
			ctx := context.Background()
			mustAppend(t, f.log, 8, "k1")
			mustCheckpoint(t, f.log)
			mustAppend(t, f.log, 4, "k2")
			mustCheckpoint(t, f.log)
			if _, err := Verify(ctx, f.db, f.v); err != nil {
				t.Fatalf("untouched log: %v", err)
			}
			tt.tamper(t, f, f.db.SQL())
			_, err := Verify(ctx, f.db, f.v)
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify after tampering = %v, want a VerifyError", err)
			}
			if ve.Index != tt.wantIndex || !strings.Contains(ve.Reason, tt.wantText) {
				t.Fatalf("Verify = %v; want entry %d and %q", ve, tt.wantIndex, tt.wantText)
			}
		})
	}
}

// rehash recomputes every stored hash from the leaves, as an attacker who
// rewrote an entry would, so only the checkpoints can tell.
func rehash(t *testing.T, db *sql.DB) {
	t.Helper()
	rows, err := db.Query(`SELECT leaf FROM audit_entries ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	var all []tlog.Hash
	r := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = all[x]
		}
		return out, nil
	})
	var rowsOf [][]byte
	for rows.Next() {
		var leaf []byte
		rows.Scan(&leaf)
		hs, err := tlog.StoredHashes(int64(len(rowsOf)), leaf, r)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, hs...)
		var row []byte
		for _, h := range hs {
			row = append(row, h[:]...)
		}
		rowsOf = append(rowsOf, row)
	}
	rows.Close()
	for i, row := range rowsOf {
		if _, err := db.Exec(`UPDATE audit_hashes SET hashes = ? WHERE idx = ?`, row, i); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckpointRefusesRewrittenPast: after a rewrite with recomputed
// hashes, the log must not sign a new checkpoint over it.
func TestCheckpointRefusesRewrittenPast(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	mustAppend(t, f.log, 8, "k1")
	mustCheckpoint(t, f.log)
	db := f.db.SQL()
	if _, err := db.Exec(`UPDATE audit_entries SET leaf = CAST(replace(CAST(leaf AS TEXT), 'req-1', 'req-X') AS BLOB) WHERE idx = 1`); err != nil {
		t.Fatal(err)
	}
	rehash(t, db)
	mustAppend(t, f.log, 1, "k1") // the committer trusts its in-memory peaks; the rewrite is older
	if _, err := f.log.Checkpoint(ctx); err == nil || !strings.Contains(err.Error(), "refusing to sign") {
		t.Fatalf("Checkpoint over a rewritten past: %v", err)
	}
}

func TestVerifyEmptyAndWrongKey(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	res, err := Verify(ctx, f.db, f.v)
	if err != nil || res.Size != 0 || res.Latest != -1 {
		t.Fatalf("empty log: %+v, %v", res, err)
	}
	mustAppend(t, f.log, 3, "k")
	mustCheckpoint(t, f.log)
	_, vkey, _ := note.GenerateKey(rand.Reader, "warden.test/audit/t1")
	other, _ := note.NewVerifier(vkey)
	var ve *VerifyError
	if _, err := Verify(ctx, f.db, other); !errors.As(err, &ve) {
		t.Fatalf("Verify with another key: %v", err)
	}
}

func TestParseLeafRoundTrip(t *testing.T) {
	l := &Leaf{Mode: BodyEncrypted, Prompt: Digest{[32]byte{1}, true}, Answer: Digest{[32]byte{2}, true}, Blob: Digest{[32]byte{3}, true}, Event: []byte(`{"id":"x"}`)}
	b := l.Marshal()
	got, err := ParseLeaf(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Marshal(), b) {
		t.Fatalf("round trip: %q != %q", got.Marshal(), b)
	}
	for _, bad := range []string{
		"", "warden-audit/v1\n", "warden-audit/v2\nbody none - - -\n{}\n",
		"warden-audit/v1\nbody none - - -\n{}", // no final newline
		"warden-audit/v1\nbody none - - -\n{}\n{}\n",
		"warden-audit/v1\nbody hash - - -\n{}\n",   // hash mode without digests
		"warden-audit/v1\nbody none 00 - -\n{}\n",  // short digest
		"warden-audit/v1\nbody secret - - -\n{}\n", // unknown mode
		"warden-audit/v1\nbody none - - - -\n{}\n", // extra field
		"warden-audit/v1\nbody none - - -\nnull\n", // not an object
	} {
		if _, err := ParseLeaf([]byte(bad)); err == nil {
			t.Errorf("ParseLeaf(%q) accepted", bad)
		}
	}
}

func FuzzParseLeaf(f *testing.F) {
	f.Add([]byte("warden-audit/v1\nbody none - - -\n{}\n"))
	f.Add((&Leaf{Mode: BodyHash, Prompt: Digest{Set: true}, Answer: Digest{Set: true}, Event: []byte(`{"a":1}`)}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLeaf(b)
		if err != nil {
			return
		}
		if !bytes.Equal(l.Marshal(), b) {
			t.Fatalf("ParseLeaf accepted %q but re-encodes it as %q", b, l.Marshal())
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
	f.Add("a\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCheckpoint(s)
		if err != nil {
			return
		}
		if c.Text() != s {
			t.Fatalf("ParseCheckpoint accepted %q but re-encodes it as %q", s, c.Text())
		}
	})
}

// TestUpgradeHashLayout turns a log back into the first layout of stored
// hashes (one row per hash), reopens the store, which moves them to one row
// per entry, and checks that the log verifies as before, and that damage
// made in the old layout survives the move and is still found.
func TestUpgradeHashLayout(t *testing.T) {
	for _, damage := range []bool{false, true} {
		f := newFixture(t, Config{})
		ctx := context.Background()
		mustAppend(t, f.log, 37, "k1")
		mustCheckpoint(t, f.log)
		before, err := Verify(ctx, f.db, f.v)
		if err != nil {
			t.Fatal(err)
		}
		f.log.Close()
		db := f.db.SQL()
		if _, err := db.Exec(`CREATE TABLE audit_hashes_v1 (id INTEGER PRIMARY KEY, hash BLOB NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(`SELECT idx, hashes FROM audit_hashes ORDER BY idx`)
		if err != nil {
			t.Fatal(err)
		}
		type old struct {
			id int64
			h  []byte
		}
		var olds []old
		for rows.Next() {
			var (
				idx int64
				hs  []byte
			)
			rows.Scan(&idx, &hs)
			for j := 0; j*32 < len(hs); j++ {
				olds = append(olds, old{tlog.StoredHashCount(idx) + int64(j), hs[j*32 : j*32+32]})
			}
		}
		rows.Close()
		for _, o := range olds {
			if damage && o.id == tlog.StoredHashIndex(0, 20) {
				o.h = make([]byte, 32)
			}
			if _, err := db.Exec(`INSERT INTO audit_hashes_v1 (id, hash) VALUES (?, ?)`, o.id, o.h); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec(`DELETE FROM audit_hashes`); err != nil {
			t.Fatal(err)
		}
		f.db.Close()

		st, err := sqlite.Open(ctx, f.dir)
		if err != nil {
			t.Fatalf("reopen with the old layout: %v", err)
		}
		defer st.Close()
		var n int
		st.SQL().QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_hashes_v1'`).Scan(&n)
		if n != 0 {
			t.Fatal("old hash table left behind")
		}
		after, err := Verify(ctx, st, f.v)
		if damage {
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Index != 20 {
				t.Fatalf("damage in the old layout: Verify = %v, want entry 20", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("verify after the move: %v", err)
		}
		if after.Root != before.Root || after.Size != 37 {
			t.Fatalf("after the move %+v, before %+v", after, before)
		}
	}
}
