package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/admin"
	"github.com/wardenhq/warden/internal/canary"
	"github.com/wardenhq/warden/internal/keys"
)

func newCanaryCreateCmd() *cobra.Command {
	var o canary.Options
	var plant string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a canary key (prints its id and key once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var c *canary.Canary
			if global.adminURL != "" {
				if o.Style == canary.StyleAzure {
					return errors.New("--style azure needs --data: the admin API creates only Warden-format keys")
				}
				cl, err := newAdminClient(ctx)
				if err != nil {
					return err
				}
				defer cl.close()
				name := o.Name
				if name == "" {
					name = fmt.Sprintf("canary-warden-%d", time.Now().Unix())
				}
				var kv admin.KeyView
				spec := keys.Spec{Name: name, Owner: o.Owner, Kind: keys.KindCanary, Labels: map[string]string{"canary_style": "warden"}}
				if err := cl.do(ctx, "POST", "/admin/v1/keys", spec, &kv); err != nil {
					return err
				}
				c = &canary.Canary{ID: kv.ID, Style: canary.StyleWarden, Secret: kv.Secret, Endpoint: o.Endpoint}
				if c.Endpoint == "" {
					c.Endpoint = global.adminURL
				}
			} else {
				st, err := openStore(ctx, global.data)
				if err != nil {
					return err
				}
				defer st.Close()
				if c, err = canary.Create(ctx, st, o, time.Now()); err != nil {
					return err
				}
			}
			if plant != "" {
				p, err := canary.Plant(plant, c)
				if err != nil {
					return err
				}
				c.Planted = p
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), c)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "canary %s (%s style)\n  endpoint: %s\n  key:      %s\n", c.ID, c.Style, c.Endpoint, c.Secret)
			if c.Note != "" {
				fmt.Fprintf(out, "  note:     %s\n", c.Note)
			}
			if c.Planted != "" {
				fmt.Fprintf(out, "  planted:  %s\n", c.Planted)
			}
			fmt.Fprintln(out, "The key is shown once. Any use of it opens a critical incident.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Style, "style", canary.StyleWarden, "warden or azure")
	f.StringVar(&o.Name, "name", "", "record name (default canary-STYLE-RANDOM)")
	f.StringVar(&o.Owner, "owner", "", "owner recorded on the key (azure style: also names the fake resource)")
	f.StringVar(&o.Endpoint, "endpoint", "", "endpoint written next to the key (default: a plausible one per style)")
	f.StringVar(&plant, "plant", "", "write a realistic .env file with the decoy into this directory")
	return cmd
}
