package revoke_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/revoke"
	"github.com/wardenhq/warden/internal/scan/source"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// TestSweepWebPage is the demo's story on real parts: a key pasted into a
// local web page is found by a crawl, looked up in SQLite, revoked, and is
// then unusable; a canary on the same page is left alone; a second sweep
// changes nothing.
func TestSweepWebPage(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.Open(t)
	k, sec := storetest.NewKey(t, "web app")
	k.Owner = "alice"
	if err := db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	canary, csec := storetest.NewKey(t, "decoy")
	canary.Kind = keys.KindCanary
	if err := db.CreateKey(ctx, canary); err != nil {
		t.Fatal(err)
	}
	unknown, _ := keys.Generate(nil)

	page := fmt.Sprintf("<html><script>const WARDEN_KEY = %q; const backup = %q; const old = %q;</script></html>", sec.Reveal(), csec.Reveal(), unknown.Reveal())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page)
	}))
	defer srv.Close()

	e, err := scan.NewEngine(scan.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	var revoked []revoke.Revocation
	st := &revoke.Store{Keys: db, OnRevoke: func(ctx context.Context, r revoke.Revocation) error {
		revoked = append(revoked, r)
		return nil
	}}
	sc := source.New(e, source.Options{Web: source.WebOptions{Delay: -1}})
	fs, n, err := revoke.Sweep(ctx, sc, st, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || len(fs) != 3 {
		t.Fatalf("revoked %d of %d findings", n, len(fs))
	}
	status := map[string]string{}
	for _, f := range fs {
		status[f.Fingerprint] = f.KeyStatus
		if f.Fingerprint == sec.Hash().String() && (!f.Revoked || f.KeyID != k.ID || f.KeyOwner != "alice") {
			t.Fatalf("leaked key finding: %+v", f)
		}
	}
	if status[csec.Hash().String()] != scan.StatusCanary || status[unknown.Hash().String()] != scan.StatusUnknown {
		t.Fatalf("statuses: %v", status)
	}
	got, err := db.KeyByID(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := got.Usable(got.UpdatedAt); ok || got.Status != keys.StatusRevoked || got.StatusBy != "scanner" {
		t.Fatalf("key after sweep: %+v", got)
	}
	if len(revoked) != 1 || revoked[0].KeyID != k.ID || revoked[0].Owner != "alice" || revoked[0].Where == "" {
		t.Fatalf("incident hook got %+v", revoked)
	}
	if c, _ := db.KeyByID(ctx, canary.ID); c.Status != keys.StatusActive {
		t.Fatal("a canary was revoked")
	}

	// Idempotent: a second sweep revokes nothing and reports the status.
	fs, n, err = revoke.Sweep(ctx, sc, st, srv.URL)
	if err != nil || n != 0 || len(revoked) != 1 {
		t.Fatalf("second sweep: n=%d err=%v hooks=%d", n, err, len(revoked))
	}
	for _, f := range fs {
		if f.Fingerprint == sec.Hash().String() && f.KeyStatus != "revoked" {
			t.Fatalf("second sweep status %q", f.KeyStatus)
		}
	}
}
