package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/replay"
	"github.com/wardenhq/warden/internal/simulate"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

func init() { register(newReplayCmd) }

func newReplayCmd() *cobra.Command {
	var out, scoreOut, pipeline string
	var score bool
	cmd := &cobra.Command{
		Use:   "replay FILE.jsonl",
		Short: "Run recorded or simulated requests through Warden on their own timestamps",
		Long: `Replay reads recorded requests (JSONL, as written by "warden serve --record"
or "warden simulate"; "-" is stdin) and runs each through the gateway
(authentication, limits, guard, provider adapter, event sinks) and the
detector, with every model the records name routed to the mock provider, on
the record's timestamp. Records with "key_id" use that key in the data
directory, creating it on the fly the first time (no secrets needed; its
secret is derived from DATA/replay.salt). --pipeline offline uses a
self-contained stand-in instead of the gateway.

Output (stdout, or --out) is JSONL in event time: one line per request in
input order, {"type":"request","line","ts","key_id","status"}, and after it
one line per detector decision, {"type":"alert"|"action","ts","key_id",
"severity","action","reason","incident_id"}. Decisions also land in the data
directory: key status and actions ("warden keys get"), incidents ("warden
incidents list").

--score reads the records' labels (as "warden simulate" writes them) and
reports time-to-detect per attack phase, what attackers got before
containment and what legitimate keys suffered.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			in, closeIn, err := openInput(args[0])
			if err != nil {
				return err
			}
			defer closeIn()
			w := cmd.OutOrStdout()
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			if err := os.MkdirAll(global.data, 0o700); err != nil {
				return fmt.Errorf("create data dir: %w", err)
			}
			db, err := sqlite.Open(ctx, global.data)
			if err != nil {
				return err
			}
			defer db.Close()
			rep, bad, err := runReplay(ctx, db, in, w, score, pipeline)
			if bad > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warden: replay skipped %d malformed lines\n", bad)
			}
			if err != nil {
				return err
			}
			if score {
				return writeScore(cmd, rep, scoreOut)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the JSONL output to this file instead of stdout")
	cmd.Flags().BoolVar(&score, "score", false, "score the run against the records' labels (printed on stderr)")
	cmd.Flags().StringVar(&scoreOut, "score-out", "", "also write the score as JSON to this file")
	cmd.Flags().StringVar(&pipeline, "pipeline", "gateway", "gateway (the real gateway on the mock provider) or offline (a self-contained stand-in)")
	return cmd
}

func openInput(name string) (io.Reader, func(), error) {
	if name == "-" {
		return os.Stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// runReplay replays in on db, writing JSONL to w, and scores it if asked.
// pipeline is "gateway" (the real gateway on the mock provider) or
// "offline" (replay.Offline).
func runReplay(ctx context.Context, db *sqlite.DB, in io.Reader, w io.Writer, score bool, pipeline string) (simulate.Report, int, error) {
	sc := simulate.NewScorer()
	bad := 0
	onErr := func(line int, err error) {
		bad++
		if bad <= 10 {
			fmt.Fprintf(os.Stderr, "warden: replay: %v\n", err)
		}
	}
	obs := replay.Observer{}
	if score {
		obs = replay.Observer{Request: sc.Request, Decision: sc.Decision}
	}
	switch pipeline {
	case "offline":
		_, _, err := replay.RunOffline(ctx, replay.Setup{Store: db, Out: w, Errors: onErr, Observer: obs}, in)
		return sc.Report(), bad, err
	case "gateway":
	default:
		return sc.Report(), 0, fmt.Errorf("--pipeline %q: want gateway or offline", pipeline)
	}
	// The gateway routes every model the records name to the mock
	// provider, so the input is read once to find them.
	raw, err := io.ReadAll(io.LimitReader(in, 4<<30))
	if err != nil {
		return sc.Report(), 0, err
	}
	var recs []*record.Record
	rd := record.NewReader(bytes.NewReader(raw))
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, record.ErrRead) {
			return sc.Report(), 0, err
		}
		if err == nil {
			recs = append(recs, r)
		}
	}
	cfg := config.Default()
	cfg.Data = global.data
	cfg.Providers = []config.Provider{{Name: "mock", Type: "mock"}}
	for _, m := range replay.Models(recs) {
		kind, upstream := "chat", "mock-echo"
		if strings.Contains(m, "dall-e") || strings.Contains(m, "image") {
			kind, upstream = "image", "mock-image"
		} else if strings.Contains(m, "embedding") {
			kind = "embedding"
		}
		// The mock answers only its own model names: without Upstream
		// every request that passed the guard came back 404.
		cfg.Models = append(cfg.Models, config.Model{Name: m, Provider: "mock", Kind: kind, Upstream: upstream})
	}
	salt, err := secretFile(filepath.Join(global.data, "replay.salt"), "")
	if err != nil {
		return sc.Report(), 0, fmt.Errorf("replay salt: %w", err)
	}
	drv := &replay.Driver{Out: w, Observer: obs, Errors: onErr}
	var gw *gateway.Server
	det, err := detect.New(detect.Config{}, detect.Options{Keys: db, Store: db, OnDecision: func(ctx context.Context, d detect.Decision) {
		if gw != nil && d.Type() == "action" {
			gw.InvalidateKey(ctx, d.KeyID) // the decision holds from the next record on
		}
		drv.OnDecision(ctx, d)
	}})
	if err != nil {
		return sc.Report(), 0, err
	}
	gwp := &replay.Gateway{Keys: db, Salt: []byte(salt)}
	bus := &event.Bus{}
	bus.AddSync(det)
	bus.AddSync(gwp)
	pseudo, err := secretFile(filepath.Join(global.data, "pseudonym.key"), "")
	if err != nil {
		return sc.Report(), 0, fmt.Errorf("pseudonym key: %w", err)
	}
	g, policies, err := newGuard(cfg.Guard)
	if err != nil {
		return sc.Report(), 0, err
	}
	alog, err := openAuditLog(ctx, db, cfg)
	if err != nil {
		return sc.Report(), 0, err
	}
	defer alog.Close()
	gw, err = gateway.New(gateway.Options{Config: cfg, Store: db, Bus: bus, PseudonymKey: []byte(pseudo), StepUp: det.AllowsStepUp,
		Guard: g, GuardPolicy: policies, Journal: auditJournal(alog)})
	if err != nil {
		return sc.Report(), 0, err
	}
	gwp.ServeAt = gw.ServeAt
	drv.Pipeline = gwp
	_, err = drv.Run(ctx, bytes.NewReader(raw))
	gw.Flush(context.WithoutCancel(ctx))
	if ferr := det.Flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = ferr
	}
	bus.Close()
	return sc.Report(), bad, err
}

func writeScore(cmd *cobra.Command, rep simulate.Report, path string) error {
	if path != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	rep.Print(cmd.ErrOrStderr())
	return nil
}
