package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/wardenhq/warden/internal/hygiene"
)

func newKeysAuditCmd() *cobra.Command {
	var fix bool
	var months, unusedDays, rotateDays int
	cmd := &cobra.Command{
		Use:   "audit [--fix]",
		Short: "Report keys that are unused, never rotated or missing limits",
		Long: `Audit every active key for the practices that turn a leaked key into a bill:
never used (7 days after creation), unused for --unused-days, older than
--rotate-days and never rotated, usable from any network, on any model,
without a rate limit, without a monthly budget, or with a budget far above
what the key spends (10x the highest month of the last --months).

--fix prints the commands that fix each finding, e.g. a --cidr for the
network the key was last used from. Review them, then run them.`,
		Example: `  warden keys audit
  warden keys audit --fix
  warden keys audit --json --admin-url http://127.0.0.1:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			q.Set("months", strconv.Itoa(months))
			q.Set("unused_days", strconv.Itoa(unusedDays))
			q.Set("rotate_days", strconv.Itoa(rotateDays))
			return withClient(cmd, func(ctx context.Context, c *adminClient) error {
				var raw json.RawMessage
				if err := c.do(ctx, "GET", "/admin/v1/audit/keys?"+q.Encode(), nil, &raw); err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				var rep hygiene.Report
				if err := json.Unmarshal(raw, &rep); err != nil {
					return fmt.Errorf("audit answer: %w", err)
				}
				if global.json {
					return printJSON(out, rep)
				}
				if len(rep.Findings) == 0 {
					fmt.Fprintf(out, "%d keys audited: no findings.\n", rep.KeysAudited)
					return nil
				}
				tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEVERITY\tKEY\tNAME\tCHECK\tDETAIL")
				for _, f := range rep.Findings {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.KeyID, f.Name, f.Check, f.Detail)
				}
				tw.Flush()
				fmt.Fprintf(out, "\n%d findings on %d keys audited.\n", len(rep.Findings), rep.KeysAudited)
				if fix {
					fmt.Fprintln(out, "\n# Suggested fixes: review, replace the MODEL placeholders, then run.")
					for _, c := range rep.Commands {
						fmt.Fprintln(out, c)
					}
				} else {
					fmt.Fprintln(out, "Run with --fix for the commands that fix them.")
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&fix, "fix", false, "print the commands that fix each finding")
	f.IntVar(&months, "months", 3, "usage window in months that budgets are compared with (1-12)")
	f.IntVar(&unusedDays, "unused-days", 30, "flag keys not used for this many days")
	f.IntVar(&rotateDays, "rotate-days", 90, "flag keys older than this many days that were never rotated")
	return cmd
}
