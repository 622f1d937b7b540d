package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/keys"
)

// withClient runs fn with an admin client and closes it afterwards.
func withClient(cmd *cobra.Command, fn func(ctx context.Context, c *adminClient) error) error {
	ctx := commandContext(cmd)
	c, err := newAdminClient(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	return fn(ctx, c)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newKeysCreateCmd() *cobra.Command {
	var (
		spec                     keys.Spec
		models, endpoints, cidrs string
		labels                   []string
		expires                  string
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [flags]",
		Short: "Create a key; its secret is printed once",
		Example: `  warden keys create --name billing-bot --owner team-billing --models gpt-4o,mock-echo --rpm 60 --tpm 40000 --expires 90d --json
  warden keys create --name office --cidr 203.0.113.0/24 --budget 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec.Name == "" {
				return fmt.Errorf("--name is required")
			}
			spec.Models, spec.Endpoints, spec.CIDRs = splitList(models), splitList(endpoints), splitList(cidrs)
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok {
					return fmt.Errorf("--label wants KEY=VALUE, got %q", l)
				}
				if spec.Labels == nil {
					spec.Labels = map[string]string{}
				}
				spec.Labels[k] = v
			}
			if expires != "" {
				t, err := parseExpiry(expires)
				if err != nil {
					return err
				}
				spec.ExpiresAt = &t
			}
			created := keyAnswer(func(w io.Writer, _ string, v admin.KeyView) {
				fmt.Fprintf(w, "Created key %s (%s).\nSecret, shown only now; store it safely:\n\n  %s\n\n", v.ID, v.Name, v.Secret)
			})
			return callAndPrint(cmd, withClient, "POST", "/admin/v1/keys", spec, func(w io.Writer, raw json.RawMessage) error { return created(w, "", raw) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Name, "name", "", "name of the key (required)")
	f.StringVar(&spec.Owner, "owner", "", "owner or team")
	f.StringArrayVar(&labels, "label", nil, "label KEY=VALUE (repeatable)")
	f.StringVar(&models, "models", "", "comma-separated models or deployments the key may use (default: all)")
	f.StringVar(&endpoints, "endpoints", "", "comma-separated endpoints: chat.completions, completions, embeddings, images.generations, responses (default: all)")
	f.StringVar(&cidrs, "cidr", "", "comma-separated client networks allowed, e.g. 203.0.113.0/24 (default: any)")
	f.IntVar(&spec.RPM, "rpm", 0, "requests per minute (0: unlimited)")
	f.IntVar(&spec.TPM, "tpm", 0, "tokens per minute (0: unlimited)")
	f.IntVar(&spec.MaxConcurrent, "concurrency", 0, "concurrent requests (0: unlimited)")
	f.Float64Var(&spec.MonthlyBudgetUSD, "budget", 0, "monthly budget in USD, priced from the config's price table (0: unlimited)")
	f.StringVar(&expires, "expires", "", "expiry: a duration such as 30d or 12h, or an RFC 3339 time")
	return cmd
}

func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := admin.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("--expires wants a positive duration (30d, 12h) or an RFC 3339 time, got %q", s)
	}
	return time.Now().Add(d).UTC().Truncate(time.Second), nil
}

func newKeysListCmd() *cobra.Command {
	var status, owner, kind, search string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"status": status, "owner": owner, "kind": kind, "q": search} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			return callAndPrint(cmd, withClient, "GET", "/admin/v1/keys?"+q.Encode(), nil, func(w io.Writer, list []*keys.Key) error {
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tOWNER\tSTATUS\tKIND\tLAST USED")
				for _, k := range list {
					last := "never"
					if k.LastUsedAt != nil {
						last = k.LastUsedAt.Format(time.RFC3339) + " from " + k.LastUsedIP
					}
					st := string(k.Status)
					if k.Action != "" {
						st += "+" + string(k.Action)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Owner, st, k.Kind, last)
				}
				return tw.Flush()
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "only keys with this status: active, suspended, revoked")
	f.StringVar(&owner, "owner", "", "only keys of this owner")
	f.StringVar(&kind, "kind", "", "only keys of this kind: standard, canary")
	f.StringVar(&search, "search", "", "only keys whose id or name contains this text")
	f.IntVar(&limit, "limit", 0, "at most this many keys")
	return cmd
}

func newKeysGetCmd() *cobra.Command {
	return adminIDCmd("get ID", "Show one key, its status and this month's usage", withClient, "GET", "keys", "", nil,
		keyAnswer(func(w io.Writer, _ string, v admin.KeyView) { printKey(w, v) }))
}

// keyAnswer decodes a key as the admin API sent it for human, who prints
// it; the raw answer is what --json prints.
func keyAnswer(human func(w io.Writer, id string, v admin.KeyView)) func(io.Writer, string, json.RawMessage) error {
	return func(w io.Writer, id string, raw json.RawMessage) error {
		var v admin.KeyView
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		human(w, id, v)
		return nil
	}
}

func printKey(w io.Writer, v admin.KeyView) {
	k := v.Key
	fmt.Fprintf(w, "%s  %s\n", k.ID, k.Name)
	line := func(label, val string) {
		if val != "" {
			fmt.Fprintf(w, "  %-14s %s\n", label+":", val)
		}
	}
	st := string(k.Status)
	if k.StatusReason != "" {
		st += " (" + k.StatusReason + ", by " + k.StatusBy + ")"
	}
	line("status", st)
	if k.Action != "" {
		line("containment", string(k.Action)+": "+k.ActionReason)
	}
	line("kind", string(k.Kind))
	line("owner", k.Owner)
	line("models", strings.Join(k.Models, ", "))
	line("endpoints", strings.Join(k.Endpoints, ", "))
	line("networks", strings.Join(k.CIDRs, ", "))
	if k.RPM > 0 || k.TPM > 0 || k.MaxConcurrent > 0 {
		line("limits", fmt.Sprintf("%d rpm, %d tpm, %d concurrent (0 = unlimited)", k.RPM, k.TPM, k.MaxConcurrent))
	}
	if v.Usage != nil {
		u := fmt.Sprintf("%d requests, %d tokens, $%.4f", v.Usage.Requests, v.Usage.Tokens, v.Usage.CostUSD)
		if k.MonthlyBudgetUSD > 0 {
			u += fmt.Sprintf(" of $%.2f budget", k.MonthlyBudgetUSD)
		}
		line("this month", u)
	}
	if k.ExpiresAt != nil {
		line("expires", k.ExpiresAt.Format(time.RFC3339))
	}
	if k.GraceUntil != nil {
		line("rotated to", k.RotatedTo+", works until "+k.GraceUntil.Format(time.RFC3339))
	}
	line("created", k.CreatedAt.Format(time.RFC3339))
	if k.LastUsedAt != nil {
		line("last used", k.LastUsedAt.Format(time.RFC3339)+" from "+k.LastUsedIP)
	}
}

func newKeysRotateCmd() *cobra.Command {
	var grace string
	cmd := adminIDCmd("rotate ID [--grace 24h]", "Issue a successor key; the old one keeps working until the grace period ends", withClient, "POST", "keys", "rotate",
		func() any { return map[string]string{"grace": grace} },
		keyAnswer(func(w io.Writer, id string, v admin.KeyView) {
			fmt.Fprintf(w, "Rotated %s to %s; the old key works for %s more.\nNew secret, shown only now:\n\n  %s\n\n", id, v.ID, grace, v.Secret)
		}))
	cmd.Flags().StringVar(&grace, "grace", "24h", "how long the old key keeps working (e.g. 24h, 7d, 0)")
	return cmd
}

func newKeysStatusCmd(verb, short string) *cobra.Command {
	var reason string
	cmd := adminIDCmd(verb+" ID [--reason TEXT]", short, withClient, "POST", "keys", verb,
		func() any { return map[string]string{"reason": reason} },
		func(w io.Writer, _ string, v admin.KeyView) error {
			_, err := fmt.Fprintf(w, "%s is now %s.\n", v.ID, v.Status)
			return err
		})
	if verb != "resume" {
		cmd.Flags().StringVar(&reason, "reason", "", "why (kept with the key and in the audit log)")
	}
	return cmd
}

func newKeysDeleteCmd() *cobra.Command {
	return adminIDCmd("delete ID", "Delete a key record (prefer revoke, which keeps the record)", withClient, "DELETE", "keys", "", nil,
		func(w io.Writer, id string, _ map[string]any) error {
			_, err := fmt.Fprintf(w, "Deleted %s.\n", id)
			return err
		})
}

func newKeysUpdateCmd() *cobra.Command {
	var (
		p                              admin.Patch
		rpm, tpm, conc                 int
		budget                         float64
		models, endpoints, cidrs, name string
	)
	// body reads which flags were given, so it needs the command.
	var cmd *cobra.Command
	body := func() any {
		f := cmd.Flags()
		if f.Changed("name") {
			p.Name = &name
		}
		if f.Changed("rpm") {
			p.RPM = &rpm
		}
		if f.Changed("tpm") {
			p.TPM = &tpm
		}
		if f.Changed("concurrency") {
			p.MaxConcurrent = &conc
		}
		if f.Changed("budget") {
			p.MonthlyBudgetUSD = &budget
		}
		for flag, dst := range map[string]**[]string{"models": &p.Models, "endpoints": &p.Endpoints, "cidr": &p.CIDRs} {
			if f.Changed(flag) {
				v, _ := f.GetString(flag)
				l := splitList(v)
				*dst = &l
			}
		}
		return p
	}
	cmd = adminIDCmd("update ID [flags]", "Change a key's name, scope or limits", withClient, "PATCH", "keys", "", body,
		func(w io.Writer, _ string, v admin.KeyView) error {
			printKey(w, v)
			return nil
		})
	cmd.Example = "  warden keys update key_abc --rpm 120 --models gpt-4o,gpt-4o-mini"
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&models, "models", "", "comma-separated models (empty: all)")
	f.StringVar(&endpoints, "endpoints", "", "comma-separated endpoints (empty: all)")
	f.StringVar(&cidrs, "cidr", "", "comma-separated networks (empty: any)")
	f.IntVar(&rpm, "rpm", 0, "requests per minute (0: unlimited)")
	f.IntVar(&tpm, "tpm", 0, "tokens per minute (0: unlimited)")
	f.IntVar(&conc, "concurrency", 0, "concurrent requests (0: unlimited)")
	f.Float64Var(&budget, "budget", 0, "monthly budget in USD (0: unlimited)")
	f.BoolVar(&p.ClearAction, "clear-action", false, "lift a throttle or step-up set by the detector")
	return cmd
}
