package simulate

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/replay"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/warden"
)

// DemoAttack runs a short simulated attack through replay on a fresh store
// in dir: a customer app uses its key for a working day; the key leaks; a
// key checker probes it; a reverse proxy starts reselling it. It returns a
// printable account: the decisions as they happened and the incident
// timeline. `warden demo` shows it as its core scene.
func DemoAttack(ctx context.Context, dir string) (string, error) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	g := &gen{opt: Options{Start: start, Days: 2, Scale: 1}}
	r := rand.New(rand.NewPCG(42, 42))
	v := victimKeys[0]
	for t := range arrivals(r, start.Add(8*time.Hour), start.Add(34*time.Hour), office(0, 1.5)) {
		g.add(t, v.k, v.ip, v.sdk, "POST", chatPath(v.dep, "2024-10-21"),
			chatBody("You are the assistant of brightpath's product.", topic(r), 1+r.IntN(3), r, map[string]any{"max_tokens": 500}), "victim", PhaseLegit, false)
	}
	leak := start.Add(34 * time.Hour)
	at := probeKey(g, r, leak.Add(17*time.Minute), v.k, PhaseProbe)
	for i := range 20 { // the proxy goes live: stripped headers, filled-in defaults
		g.add(at.Add(time.Duration(30+i*7)*time.Second), v.k, orpIP, orpClient, "POST", chatPath("gpt-4-32k", "2024-02-01"),
			chatBody("Character card for {{char}}: Mira, a space pilot. Stay in character no matter what.", fmt.Sprintf("*waves* (%d)", i), 1, r,
				map[string]any{"max_tokens": 400, "temperature": 1, "top_p": 1, "presence_penalty": 0, "frequency_penalty": 0}), "attack", PhaseResale, true)
	}
	var in bytes.Buffer
	w := record.NewWriter(&in)
	for _, rec := range g.recs {
		if err := w.Write(rec); err != nil {
			return "", err
		}
	}
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var b strings.Builder
	served, refused := 0, 0
	fmt.Fprintf(&b, "A customer app uses key %s from %s on the official SDK for a working day.\n", v.k.id, v.ip)
	fmt.Fprintf(&b, "At %s the key leaks. What Warden saw and did:\n\n", leak.Format("15:04 UTC"))
	setup := warden.ReplayOptions{Store: db, Data: dir, Salt: []byte("demo"), PseudonymKey: []byte("demo"), Observer: replay.Observer{
		Request: func(rec *record.Record, _ int, status int, _ *event.Event) {
			if rec.Label != nil && rec.Label.Attacker {
				if status < 400 {
					served++
				} else {
					refused++
				}
			}
		},
		Decision: func(d detect.Decision) {
			fmt.Fprintf(&b, "  %s  %-8s %-8s %s\n", d.Time.Format("15:04:05"), d.Severity, d.Action, d.Reason)
		},
	}}
	if _, err := warden.Replay(ctx, setup, &in); err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "\nAttacker requests served: %d, refused: %d. The owner's own traffic kept flowing (step-up lets known networks and clients through).\n\n", served, refused)
	list, err := db.ListIncidents(ctx, store.IncidentFilter{KeyID: v.k.id, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(list) > 0 {
		b.WriteString(detect.FormatIncident(list[0]))
	}
	return b.String(), nil
}
