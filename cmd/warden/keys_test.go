package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/admin"
)

// TestKeysCommandsPrint runs the key commands on a data directory and
// checks what each prints: the admin API's answer under --json, a sentence
// or the key's details otherwise.
func TestKeysCommandsPrint(t *testing.T) {
	data := "--data=" + t.TempDir()
	out, err := runWarden(t, data, "keys", "create", "--name", "bot", "--owner", "acme", "--json")
	if err != nil {
		t.Fatalf("create: %v: %s", err, out)
	}
	var created admin.KeyView
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ID == "" || created.Secret == "" {
		t.Fatalf("create --json: %v: %s", err, out)
	}
	id := created.ID
	for _, step := range []struct {
		args []string
		want []string // in the output, in this order
	}{
		{[]string{"keys", "create", "--name", "other"}, []string{"Created key ", " (other).\nSecret, shown only now; store it safely:\n\n  wdn_"}},
		{[]string{"keys", "get", id}, []string{id + "  bot\n", "  status:", "active", "  owner:         acme\n"}},
		{[]string{"keys", "list", "--owner", "acme"}, []string{"ID", "NAME", "LAST USED\n", id, "bot", "never\n"}},
		{[]string{"keys", "update", id, "--rpm", "5"}, []string{id + "  bot\n", "  limits:        5 rpm, 0 tpm, 0 concurrent"}},
		{[]string{"keys", "rotate", id, "--grace", "1h"}, []string{"Rotated " + id + " to ", "; the old key works for 1h more.\nNew secret, shown only now:\n\n  wdn_"}},
		{[]string{"keys", "suspend", id, "--reason", "test"}, []string{id + " is now suspended.\n"}},
		{[]string{"keys", "delete", id}, []string{"Deleted " + id + ".\n"}},
	} {
		out, err := runWarden(t, append([]string{data}, step.args...)...)
		if err != nil {
			t.Fatalf("%v: %v: %s", step.args, err, out)
		}
		rest := out
		for _, w := range step.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Fatalf("%v printed\n%s\nwant %q (in order of %q)", step.args, out, w, step.want)
			}
			rest = rest[i+len(w):]
		}
	}

	// --json prints the answer: a key as an object, a list as an array.
	out, err = runWarden(t, data, "keys", "list", "--json")
	var list []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) == 0 {
		t.Fatalf("list --json: %v: %s", err, out)
	}
	out, err = runWarden(t, data, "keys", "get", list[0]["id"].(string), "--json")
	var got map[string]any
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got["id"] != list[0]["id"] {
		t.Fatalf("get --json: %v: %s", err, out)
	}
}
