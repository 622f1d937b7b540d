package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
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

// crashChild appends from many goroutines until killed, printing "ack N"
// for each index only after Append returned it: what a gateway would do
// before answering the client.
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
				idx, err := l.Append(ctx, testEvent(i, fmt.Sprintf("k%d", g)), &Bodies{Prompt: []byte("hello"), Answer: []byte("world")})
				mu.Lock()
				if err != nil {
					fmt.Fprintln(w, "error", err)
				} else {
					fmt.Fprintln(w, "ack", idx)
				}
				w.Flush() // the ack is out before the next append: no ack is held back
				mu.Unlock()
			}
		}()
	}
	select {}
}

// TestCrashLosesNoAcknowledgedEntry runs an appender under load in a child
// process, kills it with SIGKILL, and checks that every index it
// acknowledged is in the store and that the log verifies.
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
		acked := map[int64]bool{}
		var maxAck int64 = -1
		sc := bufio.NewScanner(out)
		// Kill at a different point each round, mid-load.
		target := 3000 + round*4000
		for sc.Scan() {
			line := sc.Text()
			if s, ok := strings.CutPrefix(line, "ack "); ok {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					t.Fatalf("bad line %q", line)
				}
				acked[n] = true
				maxAck = max(maxAck, n)
				if len(acked) == target {
					cmd.Process.Signal(syscall.SIGKILL)
				}
			} else if strings.HasPrefix(line, "error") {
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
		size, err := db.AuditSize(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if size <= maxAck {
			t.Fatalf("after SIGKILL the log has %d entries, but index %d was acknowledged", size, maxAck)
		}
		present := map[int64]bool{}
		for i := range size {
			present[i] = true
		}
		for i := range acked {
			if !present[i] {
				t.Fatalf("acknowledged entry %d lost", i)
			}
		}
		l, err := Open(ctx, db, Config{Origin: "warden.test/audit/crash", CheckpointInterval: -1}, dir)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Verify(ctx, db, l.Verifier())
		if err != nil {
			t.Fatalf("verify after SIGKILL: %v", err)
		}
		// The log goes on where it stopped, and a new checkpoint covers all.
		if idx, err := l.Append(ctx, testEvent(0, "after"), nil); err != nil || idx != size {
			t.Fatalf("append after crash: %d, %v; want %d", idx, err, size)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(ctx, db, l.Verifier()); err != nil {
			t.Fatalf("verify after restart: %v", err)
		}
		t.Logf("round %d: %d acknowledged, %d stored, %d checkpoints verified before restart", round, len(acked), size, res.Checkpoints)
		db.Close()
	}
}
