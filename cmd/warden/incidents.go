package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/incident"
)

// withIncidents runs fn with a client of the incidents API: over HTTP with
// --admin-url, else in process on the data directory.
func withIncidents(cmd *cobra.Command, fn func(ctx context.Context, c *adminClient) error) error {
	if global.adminURL != "" {
		return withClient(cmd, fn)
	}
	ctx := commandContext(cmd)
	db, err := openStore(ctx, global.data)
	if err != nil {
		return err
	}
	defer db.Close()
	h := admin.NewIncidentsHandler(db, detect.ResolveStored(db, db, time.Now))
	return fn(ctx, &adminClient{base: "http://warden.local", hc: &http.Client{Transport: inProcess{h}}, close: func() {}})
}

func newIncidentsListCmd() *cobra.Command {
	var status, keyID string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first (--json prints a JSON array)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withIncidents(cmd, func(ctx context.Context, c *adminClient) error {
				q := url.Values{}
				if status != "" {
					q.Set("status", status)
				}
				if keyID != "" {
					q.Set("key_id", keyID)
				}
				if limit > 0 {
					q.Set("limit", fmt.Sprint(limit))
				}
				var list []*incident.Incident
				if err := c.do(ctx, "GET", "/admin/v1/incidents?"+q.Encode(), nil, &list); err != nil {
					return err
				}
				if list == nil {
					list = []*incident.Incident{}
				}
				if global.json {
					return printJSON(cmd.OutOrStdout(), list)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKEY\tSTATUS\tSEVERITY\tACTION\tOPENED\tREQUESTS\tSPEND\tTITLE")
				for _, in := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t$%.2f\t%s\n", in.ID, in.KeyID, in.Status, in.Severity, in.Action,
						in.OpenedAt.Format(time.RFC3339), in.Requests, in.SpendUSD, shorten(in.Title, 70))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "open or resolved")
	cmd.Flags().StringVar(&keyID, "key", "", "only incidents of this key id")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (0: all)")
	return cmd
}

func newIncidentsShowCmd() *cobra.Command {
	return adminIDCmd("show ID", "Show one incident with its timeline and evidence", withIncidents, "GET", "incidents", "", nil,
		func(w io.Writer, _ string, in incident.Incident) error {
			_, err := fmt.Fprint(w, detect.FormatIncident(&in))
			return err
		})
}

func newIncidentsResolveCmd() *cobra.Command {
	var note string
	var restore bool
	cmd := adminIDCmd("resolve ID", "Close an incident (--restore also lifts the detector's throttle, step-up or suspension)", withIncidents, "POST", "incidents", "resolve",
		func() any { return map[string]any{"note": note, "restore": restore, "by": "cli"} },
		func(w io.Writer, _ string, in incident.Incident) error {
			_, err := fmt.Fprintf(w, "resolved %s (key %s)\n", in.ID, in.KeyID)
			return err
		})
	cmd.Flags().StringVar(&note, "note", "", "why it is resolved")
	cmd.Flags().BoolVar(&restore, "restore", false, "also lift what the detector put on the key")
	return cmd
}

func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
