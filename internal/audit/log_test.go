package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	dir string
	db  *sqlite.DB
	log *Log
	v   note.Verifier
	id  *age.X25519Identity
}

// newFixture opens a real SQLite store in a temp dir and a log over it,
// with checkpoints only on demand. Appends are staged in the store's
// journal and integrated by the log's integrator, as in the server.
func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	return openFixture(t, cfg, false)
}

// appendOnly hides a store's staging (store.AuditStaging): a log over it
// appends each group commit straight into the tree, as on a store
// without staging.
type appendOnly struct{ store.Audit }

// newDirectFixture is newFixture with appends straight into the tree
// (store.AuditLog.AppendAudit), where Append returns the index.
func newDirectFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	return openFixture(t, cfg, true)
}

func openFixture(t testing.TB, cfg Config, direct bool) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{dir: dir, db: db}
	if f.id, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	if cfg.Origin == "" {
		cfg.Origin = "warden.test/audit/t1"
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = -1
	}
	cfg.Recipients = append(cfg.Recipients, f.id.Recipient().String())
	var st store.Audit = db
	if direct {
		st = appendOnly{db}
	}
	f.log, err = Open(context.Background(), st, cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.log.Close() })
	f.v = f.log.Verifier()
	return f
}

func testEvent(i int, key string) *event.Event {
	return &event.Event{
		ID:       fmt.Sprintf("req-%d", i),
		Time:     t0.Add(time.Duration(i) * time.Second),
		KeyID:    key,
		KeyOwner: "team-" + key,
		ClientIP: "203.0.113.7",
		Client:   event.Client{UserAgent: "python-requests/2.31"},
		Method:   "POST",
		Path:     "/v1/chat/completions",
		Model:    "gpt-4o",
		Status:   200,
		Features: event.Features{PromptChars: 2, MaxTokens: 1},
	}
}

func mustAppend(t testing.TB, l *Log, n int, key string) {
	t.Helper()
	for i := range n {
		if _, err := l.Append(context.Background(), testEvent(i, key), &Bodies{Prompt: []byte("hi"), Answer: []byte("hello")}); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, l)
}

// mustSync integrates what l staged, so that the store's log holds it.
func mustSync(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// mustCheckpoint signs a checkpoint of the log as it stands.
func mustCheckpoint(t testing.TB, l *Log) {
	t.Helper()
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// mustVerify verifies the whole log in f's store.
func mustVerify(t testing.TB, f *fixture) {
	t.Helper()
	if _, err := Verify(context.Background(), f.db, f.v); err != nil {
		t.Fatal(err)
	}
}

func TestAppendIndexesAndVerify(t *testing.T) {
	f := newDirectFixture(t, Config{})
	ctx := context.Background()
	for i := range 10 {
		idx, err := f.log.Append(ctx, testEvent(i, "k1"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if idx != int64(i) {
			t.Fatalf("append %d got index %d", i, idx)
		}
	}
	c, err := f.log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != 10 || c.Origin != "warden.test/audit/t1" {
		t.Fatalf("checkpoint = %+v", c.Checkpoint)
	}
	// The note is a C2SP checkpoint: origin, size, root, blank line, signature.
	text := string(c.Note)
	lines := strings.Split(text, "\n")
	if lines[0] != "warden.test/audit/t1" || lines[1] != "10" || lines[2] != c.Root.String() || lines[3] != "" || !strings.HasPrefix(lines[4], "— warden.test/audit/t1 ") {
		t.Fatalf("checkpoint note:\n%s", text)
	}
	res, err := Verify(ctx, f.db, f.v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != 10 || res.Checkpoints != 1 || res.Latest != 10 || res.Root != c.Root {
		t.Fatalf("Verify = %+v", res)
	}
	// Asking again with no new entries returns the same checkpoint.
	c2, err := f.log.Checkpoint(ctx)
	if err != nil || string(c2.Note) != string(c.Note) {
		t.Fatalf("second checkpoint = %v, %v", c2, err)
	}
}

func TestReopenContinuesTree(t *testing.T) {
	f := newDirectFixture(t, Config{})
	ctx := context.Background()
	mustAppend(t, f.log, 5, "k1")
	if err := f.log.Close(); err != nil { // signs a checkpoint of 5
		t.Fatal(err)
	}
	l2, err := Open(ctx, appendOnly{f.db}, Config{Origin: "warden.test/audit/t1", CheckpointInterval: -1}, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Size() != 5 {
		t.Fatalf("reopened size %d", l2.Size())
	}
	for i := 5; i < 12; i++ {
		if idx, err := l2.Append(ctx, testEvent(i, "k1"), nil); err != nil || idx != int64(i) {
			t.Fatalf("append after reopen: %d, %v", idx, err)
		}
	}
	if _, err := l2.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(ctx, f.db, f.v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Checkpoints != 2 || res.Size != 12 {
		t.Fatalf("Verify = %+v", res)
	}
	// A key made for another origin is refused.
	if _, err := Open(ctx, f.db, Config{Origin: "other.example/log"}, f.dir); err == nil {
		t.Fatal("opened with a key of another origin")
	}
}

func TestBodiesByPolicy(t *testing.T) {
	f := newFixture(t, Config{
		Retention:     Retention{Bodies: BodyHash},
		KeyRetention:  map[string]Retention{"kenc": {Bodies: BodyEncrypted, MaxAge: time.Hour}},
		TeamRetention: map[string]Retention{"team-kplain": {Bodies: BodyPlaintext}, "team-knone": {Bodies: BodyNone}},
	})
	ctx := context.Background()
	wdn, _ := keys.Generate(nil)
	prompt := []byte("use my key " + wdn.Reveal() + " please")
	for i, k := range []string{"khash", "kenc", "kplain", "knone"} {
		if _, err := f.log.Append(ctx, testEvent(i, k), &Bodies{Prompt: prompt, Answer: []byte("ok")}); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, f.log)
	var got []store.AuditEntry
	f.db.ScanAudit(ctx, store.AuditFilter{Bodies: true}, func(e *store.AuditEntry) error {
		c := *e
		c.Leaf, c.Body = append([]byte(nil), e.Leaf...), append([]byte(nil), e.Body...)
		got = append(got, c)
		return nil
	})
	want := []struct {
		mode    BodyMode
		body    bool
		expires bool
	}{{BodyHash, false, false}, {BodyEncrypted, true, true}, {BodyPlaintext, true, false}, {BodyNone, false, false}}
	for i, w := range want {
		e := got[i]
		leaf, err := ParseLeaf(e.Leaf)
		if err != nil {
			t.Fatal(err)
		}
		if leaf.Mode != w.mode || (len(e.Body) > 0) != w.body || !e.BodyExpires.IsZero() != w.expires {
			t.Errorf("entry %d (%s): mode %s, body %v, expires %v; want %+v", i, e.KeyID, leaf.Mode, len(e.Body) > 0, e.BodyExpires, w)
		}
		for _, b := range [][]byte{e.Leaf, e.Body} {
			if strings.Contains(string(b), wdn.Reveal()) {
				t.Errorf("entry %d stores the key in clear", i)
			}
		}
	}
	// The investigator decrypts the encrypted body; it matches the leaf.
	leaf, _ := ParseLeaf(got[1].Leaf)
	b, err := DecryptBody(leaf, got[1].Body, f.id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b.Prompt), "[REDACTED:warden]") || string(b.Answer) != "ok" {
		t.Errorf("decrypted body = %q / %q", b.Prompt, b.Answer)
	}
	// The server's own store holds no plaintext of it.
	if strings.Contains(string(got[1].Body), "please") {
		t.Error("encrypted body readable in the store")
	}
	leaf, _ = ParseLeaf(got[2].Leaf)
	if _, err := DecryptBody(leaf, got[2].Body); err != nil {
		t.Errorf("plaintext body: %v", err)
	}
}

func TestPruneKeepsTreeAndHonoursHolds(t *testing.T) {
	f := newFixture(t, Config{Retention: Retention{Bodies: BodyPlaintext, MaxAge: time.Hour}})
	ctx := context.Background()
	mustAppend(t, f.log, 3, "k1")
	mustAppend(t, f.log, 3, "k2")
	mustCheckpoint(t, f.log)
	if err := f.log.PutHold(ctx, store.AuditHold{ID: "case-1", KeyID: "k2", Reason: "court"}); err != nil {
		t.Fatal(err)
	}
	n, err := f.log.Prune(ctx, t0.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("pruned %d bodies, want 3 (k1's; k2 is held)", n)
	}
	res, err := Verify(ctx, f.db, f.v)
	if err != nil {
		t.Fatalf("verify after prune: %v", err)
	}
	if res.Bodies != 3 {
		t.Errorf("verify checked %d bodies, want 3", res.Bodies)
	}
	if err := f.log.DeleteHold(ctx, "case-1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.log.Prune(ctx, t0.Add(48*time.Hour)); n != 3 {
		t.Fatalf("after lifting the hold pruned %d, want 3", n)
	}
}

func TestProofs(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	mustAppend(t, f.log, 7, "k1")
	c7, err := f.log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, f.log, 6, "k1")
	c13, err := f.log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ index, size, wantSize int64 }{{0, 0, 7}, {6, 0, 7}, {7, 0, 13}, {3, 13, 13}, {12, 13, 13}} {
		p, err := f.log.ProveInclusion(ctx, tt.index, tt.size)
		if err != nil {
			t.Fatalf("ProveInclusion(%d, %d): %v", tt.index, tt.size, err)
		}
		if p.Size != tt.wantSize {
			t.Errorf("ProveInclusion(%d, %d) against size %d, want %d", tt.index, tt.size, p.Size, tt.wantSize)
		}
		if err := p.Check(f.v); err != nil {
			t.Errorf("proof of %d: %v", tt.index, err)
		}
		// A proof for another index or leaf fails.
		bad := *p
		bad.Index = (p.Index + 1) % p.Size
		if bad.Check(f.v) == nil {
			t.Errorf("proof of %d accepted for index %d", p.Index, bad.Index)
		}
		bad = *p
		bad.Leaf = strings.Replace(p.Leaf, "203.0.113.7", "203.0.113.8", 1)
		bad.LeafHash = tlog.RecordHash([]byte(bad.Leaf))
		if bad.Check(f.v) == nil {
			t.Errorf("proof of %d accepted for a changed leaf", p.Index)
		}
	}
	if _, err := f.log.ProveInclusion(ctx, 13, 13); err == nil {
		t.Error("proved an entry outside the tree")
	}
	if _, err := f.log.ProveInclusion(ctx, 1, 9); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("proof against a size never checkpointed: %v, want ErrNotFound", err)
	}
	cp, err := f.log.ProveConsistency(ctx, 7, 13)
	if err != nil {
		t.Fatal(err)
	}
	if cp.OldCheckpoint != string(c7.Note) || cp.NewCheckpoint != string(c13.Note) {
		t.Error("consistency proof lacks the checkpoints")
	}
	if err := cp.Check(f.v); err != nil {
		t.Fatal(err)
	}
	bad := *cp
	bad.OldRoot[0] ^= 1
	bad.OldCheckpoint = ""
	if bad.Check(f.v) == nil {
		t.Error("consistency proof accepted with a wrong old root")
	}
	if _, err := f.log.ProveConsistency(ctx, 8, 7); err == nil {
		t.Error("consistency proof with old > new")
	}
	// Every tree extends the empty one: the proof from 0 is empty and checks.
	cp0, err := f.log.ProveConsistency(ctx, 0, 13)
	if err != nil {
		t.Fatalf("consistency from the empty tree: %v", err)
	}
	if len(cp0.Proof) != 0 || cp0.Check(nil) != nil {
		t.Errorf("consistency from the empty tree: %+v", cp0)
	}
	cp0.Proof = cp.Proof
	if cp0.Check(nil) == nil {
		t.Error("a non-empty proof from the empty tree was accepted")
	}
}

func TestSinkUsesBodiesFromContext(t *testing.T) {
	f := newFixture(t, Config{Retention: Retention{Bodies: BodyPlaintext}})
	var failed error
	s := &Sink{Log: f.log, OnError: func(_ context.Context, _ *event.Event, err error) { failed = err }}
	ctx, cancel := context.WithCancel(WithBodies(context.Background(), &Bodies{Prompt: []byte("p"), Answer: []byte("a")}))
	cancel() // the client hung up: the request is recorded all the same
	s.Handle(ctx, testEvent(0, "k"))
	if failed != nil {
		t.Fatal(failed)
	}
	mustSync(t, f.log)
	n := 0
	err := f.db.ScanAudit(context.Background(), store.AuditFilter{Bodies: true}, func(e *store.AuditEntry) error {
		n++
		leaf, _ := ParseLeaf(e.Leaf)
		b, err := DecryptBody(leaf, e.Body)
		if err != nil || string(b.Prompt) != "p" {
			t.Errorf("sink stored body %v, %v", b, err)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("after Handle the log has %d entries (%v), want 1", n, err)
	}
}

func TestNoBodiesRecordedAsNone(t *testing.T) {
	f := newFixture(t, Config{Retention: Retention{Bodies: BodyPlaintext}})
	ctx := context.Background()
	for i, b := range []*Bodies{nil, {}, {Prompt: []byte{}}, {Prompt: []byte("hi")}} {
		if _, err := f.log.Append(ctx, testEvent(i, "k"), b); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, f.log)
	var modes []BodyMode
	f.db.ScanAudit(ctx, store.AuditFilter{}, func(e *store.AuditEntry) error {
		l, _ := ParseLeaf(e.Leaf)
		modes = append(modes, l.Mode)
		return nil
	})
	want := []BodyMode{BodyNone, BodyNone, BodyPlaintext, BodyPlaintext}
	if fmt.Sprint(modes) != fmt.Sprint(want) {
		t.Fatalf("modes %v, want %v", modes, want)
	}
}

// A checkpoint of the empty log (a periodic one before the first request)
// must not stop later checkpoints: the empty tree is a prefix of every tree.
func TestCheckpointAfterEmptyCheckpoint(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	c0, err := f.log.Checkpoint(ctx)
	if err != nil || c0.Size != 0 {
		t.Fatalf("checkpoint of the empty log: %+v, %v", c0, err)
	}
	mustAppend(t, f.log, 3, "k1")
	c3, err := f.log.Checkpoint(ctx)
	if err != nil || c3.Size != 3 {
		t.Fatalf("checkpoint after the empty one: %+v, %v", c3, err)
	}
	mustVerify(t, f)
}

// A server whose key differs from the one that signed the stored
// checkpoints (two servers on one store with different keys) says so when
// it opens, instead of failing silently at every periodic checkpoint.
func TestForeignSignerWarns(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	mustAppend(t, f.log, 2, "k1")
	mustCheckpoint(t, f.log)
	skey, vkey, err := note.GenerateKey(nil, "warden.test/audit/t1")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	other, err := New(ctx, f.db, Config{CheckpointInterval: -1}, Options{Signer: signer, VerifierKey: vkey, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if !strings.Contains(buf.String(), "not signed with this log's key") {
		t.Errorf("no warning about the foreign key; log: %q", buf.String())
	}
}

// TestCheckpointWhileAnotherOwnsTheJournal: the CLI opens the database of a
// running server (a second store on the same file, which cannot take the
// journal); its checkpoint still covers every append the server answered
// before it was asked for, once the server's integrator moved them.
func TestCheckpointWhileAnotherOwnsTheJournal(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	for i := range 20 {
		if _, err := f.log.Append(ctx, testEvent(i, "k"), nil); err != nil {
			t.Fatal(err)
		}
	}
	db2, err := sqlite.Open(ctx, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	cli, err := Open(ctx, db2, Config{Origin: "warden.test/audit/t1", CheckpointInterval: -1}, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	c, err := cli.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != 20 {
		t.Fatalf("checkpoint from the CLI covers %d entries, want the 20 answered", c.Size)
	}
	mustVerify(t, f)
}

// countEvents reads the whole log and counts its entries by the event's
// "<key id> <request id>".
func countEvents(t *testing.T, db store.AuditLog) map[string]int {
	t.Helper()
	seen := map[string]int{}
	err := db.ScanAudit(context.Background(), store.AuditFilter{}, func(e *store.AuditEntry) error {
		l, err := ParseLeaf(e.Leaf)
		if err != nil {
			return err
		}
		var ev event.Event
		if err := json.Unmarshal(l.Event, &ev); err != nil {
			return err
		}
		seen[ev.KeyID+" "+ev.ID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}
