// Command warden is the LLMjacking defence gateway: it fronts OpenAI, Azure
// OpenAI or any OpenAI-compatible server with its own scoped keys, limits,
// guardrails, stolen-key detection and a tamper-evident audit log.
//
// Each command lives in its own file and registers itself with register in
// an init function; the commands that only gather subcommands are the
// table groups, their subcommands in the family's file.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// commands holds the constructors of the top-level subcommands.
var commands []func() *cobra.Command

// register adds a top-level subcommand. Call it from init.
func register(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

// globals are the flags every command shares.
type globals struct {
	data     string
	adminURL string
	json     bool
}

var global globals

// exitError makes a command exit with a specific code after printing msg
// (if any). Scanners use it for "found something" (1) versus error (2).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "warden",
		Short: "Warden makes a stolen LLM API key worthless",
		Long: `Warden is a gateway in front of Azure OpenAI, OpenAI or any OpenAI-compatible
server. It issues its own scoped, checksummed keys, limits what each key may
spend, blocks jailbreaks and harmful content, learns how each key is normally
used and contains it when someone else uses it, finds leaked keys, plants
decoys, and keeps a tamper-evident audit log.

Run "warden serve" to start the gateway (on the built-in mock provider when no
config is given) and "warden demo" to watch it work.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&global.data, "data", envOr("WARDEN_DATA", "./warden-data"), "data directory of the embedded store (env WARDEN_DATA)")
	pf.StringVar(&global.adminURL, "admin-url", os.Getenv("WARDEN_ADMIN_URL"), "admin API of a running server, e.g. http://127.0.0.1:8081 (env WARDEN_ADMIN_URL; token from WARDEN_ADMIN_TOKEN); when empty, commands work on --data directly")
	pf.BoolVar(&global.json, "json", false, "print machine-readable JSON")
	for _, c := range commands {
		root.AddCommand(c())
	}
	for _, g := range groups {
		root.AddCommand(g.newCmd())
	}
	return root
}

// commandContext is cmd's context, or Background when cmd runs outside
// Execute (as tests run RunE directly), so every command has one.
func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// gcPercent is the collector's target unless the operator sets GOGC. The
// gateway allocates tens of kilobytes per request over a live heap of a few
// megabytes to a few hundred (keys, detector state), so Go's default of 100
// collects every few hundred requests; at 400, BenchmarkServeDefault serves
// about 10% more requests per second, and the heap peaks at about five times
// the live one instead of twice (tens of megabytes on the benchmark).
// GOMEMLIMIT, if set, still caps it.
const gcPercent = 400

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "warden:", ee.msg)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "warden:", err)
	os.Exit(2)
}
