package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/store/sqlite"
)

// crashChildEnv names the data dir when the test binary runs as the child
// of TestCrashLosesNoAcknowledgedEntry.
const crashChildEnv = "WARDEN_AUDIT_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild appends from many goroutines until killed, printing "ack KEY
// ID" for each event only after Append returned: what a gateway would do
// before answering the client. The appends are staged in the store's
// journal; the log's integrator moves them into the tree meanwhile.
func crashChild(dir string) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	l, err := Open(ctx, db, Config{Origin: "warden.test/audit/crash", CheckpointInterval: 50 * time.Millisecond, Retention: Retention{Bodies: BodyPlaintext}}, dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "ready")
	w.Flush()
	for g := range 16 {
		go func() {
			for i := 0; ; i++ {
				e := testEvent(i, fmt.Sprintf("k%d", g))
				_, err := l.Append(ctx, e, &Bodies{Prompt: []byte("hello"), Answer: []byte("world")})
				mu.Lock()
				if err != nil {
					fmt.Fprintln(w, "error", err)
				} else {
					fmt.Fprintln(w, "ack", e.KeyID, e.ID)
				}
				w.Flush() // the ack is out before the next append: no ack is held back
				mu.Unlock()
			}
		}()
	}
	select {}
}

// TestCrashLosesNoAcknowledgedEntry runs an appender under load in a child
// process, kills it with SIGKILL, and checks that every entry it
// acknowledged is in the log exactly once after the journal is integrated
// on reopen, that nothing is in it twice, and that the log verifies and
// goes on.
func TestCrashLosesNoAcknowledgedEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	for round := range 2 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]bool{}
		sc := bufio.NewScanner(out)
		// Kill at a different point each round, mid-load.
		target := 3000 + round*4000
		for sc.Scan() {
			line := sc.Text()
			if s, ok := strings.CutPrefix(line, "ack "); ok {
				acked[s] = true
				if len(acked) == target {
					cmd.Process.Signal(syscall.SIGKILL)
				}
			} else if strings.HasPrefix(line, "error") {
				cmd.Process.Signal(syscall.SIGKILL)
				t.Fatalf("child: %s", line)
			}
		}
		cmd.Wait()
		if len(acked) < target {
			t.Fatalf("child acknowledged only %d entries before it ended", len(acked))
		}

		ctx := context.Background()
		db, err := sqlite.Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		staged, err := db.AuditStaged(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l, err := Open(ctx, db, Config{Origin: "warden.test/audit/crash", CheckpointInterval: -1}, dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Sync(ctx); err != nil { // integrates what the child staged
			t.Fatal(err)
		}
		seen := countEvents(t, db)
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("entry %s is in the log %d times", k, n)
			}
		}
		for k := range acked {
			if seen[k] != 1 {
				t.Fatalf("acknowledged entry %s lost", k)
			}
		}
		size := int64(len(seen))
		res, err := Verify(ctx, db, l.Verifier())
		if err != nil {
			t.Fatalf("verify after SIGKILL: %v", err)
		}
		if res.Size != size || res.Staged != 0 {
			t.Fatalf("verify after integrating: %+v, want %d entries and none staged", res, size)
		}
		// The log goes on where it stopped, and a new checkpoint covers all.
		mustAppend(t, l, 1, "after")
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if res, err = Verify(ctx, db, l.Verifier()); err != nil || res.Size != size+1 || res.Latest != size+1 {
			t.Fatalf("verify after restart: %+v, %v; want %d entries under a checkpoint", res, err, size+1)
		}
		t.Logf("round %d: %d acknowledged, %d in the log, %d of them still staged at the crash", round, len(acked), size, staged)
		db.Close()
	}
}
