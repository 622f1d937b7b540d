package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/simulate"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

func init() { register(newSimulateCmd) }

type simFlags struct {
	seed  uint64
	days  int
	scale float64
}

func (f *simFlags) bind(cmd *cobra.Command) {
	cmd.Flags().Uint64Var(&f.seed, "seed", 1, "random seed: the same seed gives the same traffic")
	cmd.Flags().IntVar(&f.days, "days", 3, "simulated days (2-60); the leak happens on day 2 at 10:00 UTC")
	cmd.Flags().Float64Var(&f.scale, "scale", 1, "multiply legitimate request rates")
}

func (f *simFlags) generate(w io.Writer) error {
	recs, err := simulate.Generate(simulate.Options{Seed: f.seed, Days: f.days, Scale: f.scale})
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	rw := record.NewWriter(bw)
	for _, r := range recs {
		if err := rw.Write(r); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func newSimulateCmd() *cobra.Command {
	var f simFlags
	var out string
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Generate labelled LLMjacking and legitimate traffic for replay",
		Long: `Simulate writes recorded requests (JSONL, the format "warden replay" reads)
from the threat model: legitimate profiles that must never be punished (an
enterprise chatbot, a nightly batch, a companion app with thousands of users,
an app in five regions, a health monitor, a developer with curl, a key
rotation, an SDK upgrade, a marketing team making images) and the attack
timeline on other keys (leak, key-checker probes, reverse-proxy set-up with
hourly checks, resale through a pool of keys of different owners, de3u image
abuse, a low-and-slow SDK look-alike, canary use). Every record carries
"label": {"scenario","phase","attacker"}, which replay ignores.

  warden simulate --days 3 --seed 1 > sim.jsonl
  warden replay --data /tmp/sim --score sim.jsonl > decisions.jsonl
  warden simulate score          # both steps in a temporary data directory`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, closeOut, err := openOutput(cmd, out)
			if err != nil {
				return err
			}
			defer closeOut()
			return f.generate(w)
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of stdout")
	cmd.AddCommand(newSimulateScoreCmd())
	return cmd
}

func newSimulateScoreCmd() *cobra.Command {
	var f simFlags
	var scoreOut string
	cmd := &cobra.Command{
		Use:   "score",
		Short: "Generate traffic, replay it in a temporary data directory and score the detector",
		Long: `Score generates simulated traffic and replays it, in process, through the
same Warden "warden serve" runs (keys, limits, guard, detector, audit log,
the mock upstream) on a clock set to each record's time, in a temporary
data directory, and prints, per attack phase, how fast it was detected and
contained and what the attacker got, and per legitimate key, how many of
its requests were refused and by which stage (guard, limit, detector,
auth), with the first refused texts.

It exits non-zero when legitimate traffic suffered more than the budget:
any legitimate request refused by the guard or the detector, any legitimate
key throttled, stepped up or suspended, or more than 0.05 detector alerts
per legitimate key-day.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var buf bytes.Buffer
			if err := f.generate(&buf); err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "warden-sim-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			db, err := sqlite.Open(cmd.Context(), dir)
			if err != nil {
				return err
			}
			defer db.Close()
			rep, _, err := runReplay(cmd.Context(), db, dir, config.Default(), &buf, io.Discard, true)
			if err != nil {
				return err
			}
			if global.json {
				if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else {
				rep.Print(cmd.OutOrStdout())
			}
			if scoreOut != "" {
				if err := writeScore(cmd, rep, scoreOut); err != nil {
					return err
				}
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "(replayed through the gateway, guard, detector and audit log with the default configuration)")
			if v := rep.Violations(simulate.DefaultBudget); len(v) > 0 {
				return fmt.Errorf("simulate score: over the legitimate-traffic budget:\n  %s", strings.Join(v, "\n  "))
			}
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&scoreOut, "score-out", "", "also write the score as JSON to this file")
	return cmd
}
