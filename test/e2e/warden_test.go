// Package e2e runs the real warden binary and drives it with the official
// OpenAI SDKs (the Go module here, the npm package from node_sdk_test.go),
// exactly as users would, with only the base URL changed.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/test/wardentest"
)

// Warden is a running `warden serve` on a fresh data directory.
type Warden struct {
	*wardentest.Server
	t   *testing.T
	cmd *exec.Cmd
}

// Start runs warden serve with extra arguments on fresh ports and data dir.
func Start(t *testing.T, args ...string) *Warden {
	t.Helper()
	s := wardentest.Start(t, t.TempDir(), args...)
	return &Warden{Server: s, t: t, cmd: s.Cmd}
}

// CLI runs a warden command on the server's data dir and returns stdout.
func (w *Warden) CLI(args ...string) (string, error) {
	cmd := exec.Command(w.Bin, append(args, "--data", w.Data)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("warden %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// CreateKey makes a key with the CLI and returns its id and secret.
func (w *Warden) CreateKey(args ...string) (id, secret string) {
	w.t.Helper()
	out, err := w.CLI(append([]string{"keys", "create", "--json"}, args...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	var v struct{ ID, Key string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ID == "" || v.Key == "" {
		w.t.Fatalf("keys create printed %q: %v", out, err)
	}
	return v.ID, v.Key
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}
