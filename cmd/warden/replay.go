package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/replay"
	"github.com/wardenhq/warden/internal/simulate"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

func init() { register(newReplayCmd) }

func newReplayCmd() *cobra.Command {
	var out, scoreOut string
	var score bool
	cmd := &cobra.Command{
		Use:   "replay FILE.jsonl",
		Short: "Run recorded or simulated requests through Warden on their own timestamps",
		Long: `Replay reads recorded requests (JSONL, as written by "warden serve --record"
or "warden simulate"; "-" is stdin) and runs each through authorization,
limits, the guard stand-in, the detector and a mock provider, on the record's
timestamp. Records with "key_id" use that key in the data directory, creating
it on the fly the first time (no secrets needed).

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
			rep, bad, err := runReplay(ctx, db, in, w, score)
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
func runReplay(ctx context.Context, db *sqlite.DB, in io.Reader, w io.Writer, score bool) (simulate.Report, int, error) {
	sc := simulate.NewScorer()
	bad := 0
	setup := replay.Setup{Store: db, Out: w, Errors: func(line int, err error) {
		bad++
		if bad <= 10 {
			fmt.Fprintf(os.Stderr, "warden: replay: %v\n", err)
		}
	}}
	if score {
		setup.Observer = replay.Observer{Request: sc.Request, Decision: sc.Decision}
	}
	_, _, err := replay.RunOffline(ctx, setup, in)
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
