package warden_test

import (
	"context"
	"github.com/prometheus/client_golang/prometheus"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/store/sqlite/sqlitetest"
	"github.com/wardenhq/warden/internal/warden"
)

// TestNewRejectsUnknownFieldsInFeatureSections: config keeps the feature
// sections raw, so the assembly must decode them as strictly as config
// decodes the rest of the file, and name the section.
func TestNewRejectsUnknownFieldsInFeatureSections(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"detect", "detect:\n  policy:\n    step_up_att: 40\n", "detect"},
		{"audit", "audit:\n  origni: x\n", "audit"},
		{"moderators", "guard:\n  moderators:\n    - name: m\n      knid: openai\n", "guard.moderators"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.doc), nil)
			if err != nil {
				t.Fatalf("config.Parse should leave the section to its owner: %v", err)
			}
			_, err = warden.DecodeSections(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeSections: %v, want an error naming %q", err, tt.want)
			}
			dir := t.TempDir()
			db := sqlitetest.OpenDir(t, dir)
			cfg.Data = dir
			if w, err := warden.New(context.Background(), warden.Options{Config: cfg, Store: db}); err == nil {
				w.Close()
				t.Fatal("New accepted an unknown field")
			}
		})
	}
}

// TestNewSubscribesTheDetectorFirst: the detector must see an event
// before any other subscriber, synchronously, so its decision holds for
// the key's next request; the events file is asynchronous; the gateway's
// usage ledger and metrics read the same events.
func TestNewSubscribesTheDetectorFirst(t *testing.T) {
	dir := t.TempDir()
	db := sqlitetest.OpenDir(t, dir)
	cfg := config.Default()
	cfg.Data = dir
	cfg.Events = dir + "/events.jsonl"
	w, err := warden.New(context.Background(), warden.Options{Config: cfg, Store: db, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var names []string
	for _, s := range w.Bus.Subscriptions() {
		names = append(names, s.Name())
	}
	if strings.Join(names, ",") != "detector,events-file,usage,metrics" {
		t.Fatalf("subscribers %v, want detector, events-file, usage, metrics", names)
	}
	w.Bus.Publish(context.Background(), &event.Event{ID: "x", KeyID: "k", Time: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)})
	if w.Bus.Dropped() != 0 {
		t.Fatal("dropped an event")
	}
}
