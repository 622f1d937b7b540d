package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/replay"
	"github.com/wardenhq/warden/internal/simulate"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/warden"
)

func init() { register(newReplayCmd) }

func newReplayCmd() *cobra.Command {
	var out, scoreOut, configFile string
	var score bool
	cmd := &cobra.Command{
		Use:   "replay FILE.jsonl",
		Short: "Run recorded or simulated requests through Warden on their own timestamps",
		Long: `Replay reads recorded requests (JSONL, as written by "warden serve --record"
or "warden simulate"; "-" is stdin) and runs each through the same Warden
"warden serve" builds (keys, limits, guard, detector, audit log, event
subscribers), on a clock set to the record's timestamp, with every model
the records or the config name answered by the mock provider. Records with
"key_id" use that key in the data directory, creating it on the fly the
first time (no secrets needed; its secret is derived from DATA/replay.salt).
--config replays under a server configuration (guard, detector and audit
policy, limits); its providers are replaced by the mock.

Output (stdout, or --out) is JSONL in event time: one line per request in
input order, {"type":"request","line","ts","key_id","status"} and, when it
was refused, "refused_by" (the stage: auth, scope, limit, guard, detector,
...) and "reason" (the error code); "guard" lists the guard's verdicts
that were not allow. After it, one line per detector decision,
{"type":"alert"|"action","ts","key_id","severity","action","reason",
"incident_id"}. Decisions also land in the data directory: key status and
actions ("warden keys get"), incidents ("warden incidents list"), the audit
log ("warden audit").

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
			w, closeOut, err := openOutput(cmd, out)
			if err != nil {
				return err
			}
			defer closeOut()
			cfg := config.Default()
			if configFile != "" {
				if cfg, err = config.Load(configFile); err != nil {
					return err
				}
			}
			db, err := openStore(ctx, global.data)
			if err != nil {
				return err
			}
			defer db.Close()
			bw := bufio.NewWriterSize(w, 1<<20)
			rep, bad, err := runReplay(ctx, db, global.data, cfg, in, bw, score)
			if ferr := bw.Flush(); ferr != nil && err == nil {
				err = ferr
			}
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
	cmd.Flags().StringVar(&configFile, "config", "", "replay under this server configuration (its providers are replaced by the mock)")
	cmd.Flags().BoolVar(&score, "score", false, "score the run against the records' labels (printed on stderr)")
	cmd.Flags().StringVar(&scoreOut, "score-out", "", "also write the score as JSON to this file")
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

// openOutput is where a command with an --out flag writes: the file name,
// created, or the command's standard output when name is empty.
func openOutput(cmd *cobra.Command, name string) (io.Writer, func(), error) {
	if name == "" {
		return cmd.OutOrStdout(), func() {}, nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// runReplay replays in through warden.Replay on db and the data directory
// data, writing JSONL to w, and scores it if asked. It returns the number
// of malformed lines skipped.
func runReplay(ctx context.Context, db *sqlite.DB, data string, cfg *config.Config, in io.Reader, w io.Writer, score bool) (simulate.Report, int, error) {
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
	salt, err := secretFile(filepath.Join(data, "replay.salt"), "")
	if err != nil {
		return sc.Report(), 0, fmt.Errorf("replay salt: %w", err)
	}
	pseudo, err := secretFile(filepath.Join(data, "pseudonym.key"), "")
	if err != nil {
		return sc.Report(), 0, fmt.Errorf("pseudonym key: %w", err)
	}
	_, err = warden.Replay(ctx, warden.ReplayOptions{Config: cfg, Store: db, Data: data, Salt: []byte(salt),
		PseudonymKey: []byte(pseudo), Out: w, Observer: obs, Errors: onErr}, in)
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
