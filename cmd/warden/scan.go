package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/report"
	"github.com/wardenhq/warden/internal/scan/revoke"
	"github.com/wardenhq/warden/internal/scan/source"
)

func init() { register(newScanCmd) }

func newScanCmd() *cobra.Command {
	var (
		format   string
		rules    []string
		baseline string
		staged   bool
		doRevoke bool
		noVerify bool
		depth    int
		budget   int
		delay    time.Duration
		progress bool
		minConf  string
		maxBytes int64
		crawlMax time.Duration
		noRobots bool
	)
	cmd := &cobra.Command{
		Use:   "scan [TARGET...]",
		Short: "Find leaked API keys in files, git history and websites",
		Long: `Scan finds exposed secrets: Warden's own keys (checksum-verified and looked up
in the store), Azure OpenAI and Azure AI keys, OpenAI, Anthropic, AWS, Google,
Hugging Face, GitHub, Slack and Stripe credentials.

TARGET is a file or directory (archives and notebooks are opened, git-ignored
files included), git:PATH for every commit of a repository, an http(s) URL to
crawl within its origin, or - for standard input. A crawl honours robots.txt
(--ignore-robots for your own sites), waits --delay between requests to the
host, stops at --max-requests pages, --max-bytes and --crawl-timeout, and
prints on stderr what it skipped and why. With --staged it scans what
is staged in the current repository (for a pre-commit hook).

Azure OpenAI keys (32 hex characters, nothing of their own to recognise) are
scored by the evidence around them: the name they are assigned to, the words
before it, an Azure endpoint nearby, the same value named as a hash elsewhere,
lock files. --min-confidence (default medium) leaves out what reads as an
identifier (cache keys, trace and request ids, hashes); low shows them too.

Exit status: 0 when nothing is found, 1 when something is, 2 on error.
With --revoke every active Warden key found is revoked at once.`,
		Example: `  warden scan .
  warden scan git:. --format sarif > warden.sarif
  warden scan https://app.example.com --depth 3
  warden scan --staged
  warden scan . --baseline known.json --revoke`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := report.ParseFormat(format)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			if global.json {
				f = report.FormatJSON
			}
			if len(args) == 0 && !staged {
				return &exitError{code: 2, msg: "scan: give a TARGET (path, git:PATH, URL or -) or --staged"}
			}
			specs := scan.Builtin()
			for _, p := range rules {
				more, err := scan.LoadRules(p)
				if err != nil {
					return &exitError{code: 2, msg: err.Error()}
				}
				specs = append(specs, more...)
			}
			mc, err := scan.ParseConfidence(minConf)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			eng, err := scan.NewEngine(specs, scan.MinConfidence(mc))
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			var bl *report.Baseline
			if baseline != "" {
				if bl, err = report.LoadBaseline(baseline); err != nil {
					return &exitError{code: 2, msg: err.Error()}
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()

			var bar *progressBar
			if progress && term.IsTerminal(int(os.Stderr.Fd())) {
				bar = newProgressBar(os.Stderr)
				defer bar.stop()
			}
			opts := source.Options{Web: source.WebOptions{
				Depth: depth, MaxRequests: budget, MaxBytes: maxBytes, MaxDuration: crawlMax, Delay: delay, IgnoreRobots: noRobots,
				// What a crawl skipped, and why, goes to stderr: a scan
				// that quietly left pages out would look cleaner than it is.
				OnSummary: func(s source.CrawlSummary) { fmt.Fprint(cmd.ErrOrStderr(), s.String()) },
			}}
			if delay <= 0 {
				opts.Web.Delay = -1 // none (zero would mean the default)
			}
			if bar != nil {
				opts.Progress = bar.add
			}
			sc := source.New(eng, opts)
			var fs []scan.Finding
			collect := func(f scan.Finding) { fs = append(fs, f) }
			if staged {
				if err := sc.Staged(ctx, ".", collect); err != nil {
					return &exitError{code: 2, msg: err.Error()}
				}
			}
			for _, t := range args {
				if err := sc.Target(ctx, t, collect); err != nil {
					return &exitError{code: 2, msg: err.Error()}
				}
			}
			if bar != nil {
				bar.stop()
			}
			fs = bl.Filter(fs)

			// Look Warden keys up, and revoke them, through the admin API:
			// a running server's (--admin-url) or in process on --data.
			needKeys := doRevoke || !noVerify && hasWardenKey(fs)
			if needKeys {
				ak, closeKeys, err := openAdminKeys(ctx, doRevoke)
				if err != nil {
					return &exitError{code: 2, msg: err.Error()}
				}
				if ak != nil {
					defer closeKeys()
					if err := scan.Verify(ctx, ak, fs); err != nil {
						return &exitError{code: 2, msg: err.Error()}
					}
					if doRevoke {
						n, err := revoke.Findings(ctx, ak, fs)
						if n > 0 {
							fmt.Fprintf(os.Stderr, "warden: revoked %d key(s)\n", n)
						}
						if err != nil {
							return &exitError{code: 2, msg: err.Error()}
						}
					}
				}
			}
			if err := report.Write(cmd.OutOrStdout(), f, fs, eng.Rules()); err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			if len(fs) > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "text", "output format: text, json or sarif")
	fl.StringArrayVar(&rules, "rules", nil, "extra rules file (TOML, see docs/scanner.md); repeatable")
	fl.StringVar(&baseline, "baseline", "", "JSON report of accepted findings (from --format json) to leave out")
	fl.BoolVar(&staged, "staged", false, "scan what is staged in the current git repository (pre-commit hook)")
	fl.BoolVar(&doRevoke, "revoke", false, "revoke every active Warden key found (needs the store in --data)")
	fl.BoolVar(&noVerify, "no-verify", false, "do not look found Warden keys up in the store")
	fl.IntVar(&depth, "depth", 2, "web crawl: link depth from the start page (depth 0)")
	fl.IntVar(&budget, "max-requests", 200, "web crawl: page budget (requests, robots.txt not counted)")
	fl.Int64Var(&maxBytes, "max-bytes", 100<<20, "web crawl: byte budget (response bodies read)")
	fl.DurationVar(&crawlMax, "crawl-timeout", 10*time.Minute, "web crawl: time budget of the whole crawl")
	fl.DurationVar(&delay, "delay", 100*time.Millisecond, "web crawl: least time between two requests to the host (per-host rate limit; a longer robots.txt Crawl-delay wins, up to 30s)")
	fl.BoolVar(&noRobots, "ignore-robots", false, "web crawl: do not read robots.txt (only for sites you own: a disallowed path may be where a key leaked)")
	fl.StringVar(&minConf, "min-confidence", "medium", "report findings of at least this confidence: low, medium or high (low adds 32-hex values that read as identifiers)")
	fl.BoolVar(&progress, "progress", true, "show a progress line on stderr when it is a terminal")
	return cmd
}

func hasWardenKey(fs []scan.Finding) bool {
	for _, f := range fs {
		if f.RuleID == scan.WardenRuleID {
			return true
		}
	}
	return false
}

// openAdminKeys returns the admin API as a key lookup and revoker. With
// no --admin-url and no data directory, it returns nil unless revocation
// was asked for: findings are then reported without key status.
func openAdminKeys(ctx context.Context, required bool) (*adminKeys, func(), error) {
	if global.adminURL == "" {
		if _, err := os.Stat(global.data); err != nil {
			if required {
				return nil, nil, fmt.Errorf("scan: --revoke needs --admin-url or the data directory: %w", err)
			}
			return nil, func() {}, nil
		}
	}
	c, err := newAdminClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	return &adminKeys{c}, c.close, nil
}

// adminKeys implements scan.KeyLookup and revoke.Revoker over the admin API.
type adminKeys struct{ c *adminClient }

func (a *adminKeys) LookupHash(ctx context.Context, h keys.Hash) (scan.KeyInfo, error) {
	var list []*keys.Key
	if err := a.c.do(ctx, "GET", "/admin/v1/keys?hash="+h.String(), nil, &list); err != nil {
		return scan.KeyInfo{}, err
	}
	if len(list) == 0 {
		return scan.KeyInfo{}, scan.ErrUnknownKey
	}
	k := list[0]
	return scan.KeyInfo{ID: k.ID, Name: k.Name, Owner: k.Owner, Status: k.Status, Kind: k.Kind}, nil
}

func (a *adminKeys) Revoke(ctx context.Context, keyID, reason, where string) error {
	body := map[string]string{"reason": reason + ": " + where, "by": "scanner"}
	return a.c.do(ctx, "POST", "/admin/v1/keys/"+url.PathEscape(keyID)+"/revoke", body, nil)
}

// progressBar is a one-line progress display on a terminal: bytes scanned
// and the rate, redrawn five times a second.
type progressBar struct {
	w     io.Writer
	n     atomic.Int64
	start time.Time
	done  chan struct{}
	once  atomic.Bool
}

func newProgressBar(w io.Writer) *progressBar {
	p := &progressBar{w: w, start: time.Now(), done: make(chan struct{})}
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.draw()
			case <-p.done:
				return
			}
		}
	}()
	return p
}

func (p *progressBar) add(n int64) { p.n.Add(n) }

func (p *progressBar) draw() {
	mb := float64(p.n.Load()) / 1e6
	secs := time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r\033[Kscanning: %.1f MB, %.0f MB/s", mb, mb/max(secs, 0.001))
}

func (p *progressBar) stop() {
	if p.once.CompareAndSwap(false, true) {
		close(p.done)
		fmt.Fprint(p.w, "\r\033[K")
	}
}
