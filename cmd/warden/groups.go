package main

import "github.com/spf13/cobra"

// group is a top-level command that only gathers subcommands. The groups
// are one table, built by newRootCmd, rather than a constructor per family
// that each repeat the same few lines; the subcommands live in the
// family's file.
type group struct {
	use, short, long string
	// subs builds the subcommands; parent is the group's command, for the
	// flags they share.
	subs func(parent *cobra.Command) []*cobra.Command
}

var groups = []group{
	{
		use:   "audit",
		short: "Verify, prove and export the tamper-evident audit log",
		long: `The audit log records every request in an append-only Merkle tree (RFC 6962)
with signed checkpoints (C2SP tlog-checkpoint). These commands work on the
data directory (--data) directly, or on a running server through its admin
API (--admin-url). See docs/audit.md.`,
		subs: auditSubcommands,
	},
	{
		use:   "canary",
		short: "Create decoy keys that reveal a thief on first use",
		long: `A canary key looks real but is never given to a real client, so any use of it
is an attacker's: Warden answers it from the mock provider (a tarpit) and opens
a critical incident with the request captured.

  --style warden  a real Warden key (wdn_…) stored as a canary
  --style azure   an Azure OpenAI look-alike: endpoint + 32-hex key; point the
                  endpoint's DNS at Warden, or give --endpoint with Warden's URL

--plant DIR writes a realistic .env file holding the decoy into DIR (never
overwriting), for a repository, a bucket or a laptop you want to watch.`,
		subs: func(*cobra.Command) []*cobra.Command {
			return []*cobra.Command{newCanaryCreateCmd()}
		},
	},
	{
		use:   "guard",
		short: "Score and evaluate texts with the built-in guardrails",
		subs:  guardSubcommands,
	},
	{
		use:   "incidents",
		short: "List, show and resolve the detector's incidents",
		long: `An incident groups the detector's signals on one key: a timeline, evidence
(networks, client fingerprints, sample requests), spend so far and the action
taken (alert, throttle, step-up, suspend, revoke).

Works on a running server (--admin-url with WARDEN_ADMIN_TOKEN) or directly on
the data directory (--data).`,
		subs: func(*cobra.Command) []*cobra.Command {
			return []*cobra.Command{newIncidentsListCmd(), newIncidentsShowCmd(), newIncidentsResolveCmd()}
		},
	},
	{
		use:   "keys",
		short: "Create, list, rotate, suspend and revoke Warden API keys",
		long: `Manage Warden's own API keys. Clients use these keys; the upstream
provider's keys never leave Warden.

Every command works on a running server (--admin-url with WARDEN_ADMIN_TOKEN)
or directly on the data directory (--data, the default), also while a server
runs on it: the server picks up changes within a second.`,
		subs: func(*cobra.Command) []*cobra.Command {
			return []*cobra.Command{newKeysCreateCmd(), newKeysListCmd(), newKeysGetCmd(), newKeysRotateCmd(),
				newKeysStatusCmd("suspend", "Suspend a key (reversible with resume)"),
				newKeysStatusCmd("resume", "Resume a suspended key"),
				newKeysStatusCmd("revoke", "Revoke a key for good"),
				newKeysDeleteCmd(), newKeysUpdateCmd(), newKeysAuditCmd()}
		},
	},
}

// newCmd builds the group's command with its subcommands.
func (g group) newCmd() *cobra.Command {
	cmd := &cobra.Command{Use: g.use, Short: g.short, Long: g.long}
	cmd.AddCommand(g.subs(cmd)...)
	return cmd
}
