package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/backend"
)

// auditIncidents resolves incident ids for export and hold. The detector
// sets it when it is linked in; while nil, --incident is refused.
var auditIncidents func(ctx context.Context, dataDir string) (audit.Incidents, error)

// auditFlags are shared by the audit subcommands.
type auditFlags struct {
	signingKey string // --signing-key: key file, default DIR/audit.key
	store      string // --store: a postgres:// URL instead of the SQLite store in --data
	origin     string // --origin: the log's origin when it is not the default
}

// auditSubcommands builds the audit subcommands; group carries the flags
// they share.
func auditSubcommands(group *cobra.Command) []*cobra.Command {
	var af auditFlags
	group.PersistentFlags().StringVar(&af.signingKey, "signing-key", "", "checkpoint signing key file (default DATA/audit.key)")
	group.PersistentFlags().StringVar(&af.store, "store", os.Getenv("WARDEN_STORE"), "read the log from this store instead of --data: a postgres:// URL, as in the config's store (env WARDEN_STORE)")
	group.PersistentFlags().StringVar(&af.origin, "origin", "", "the log's origin, when the config sets audit.origin")
	return []*cobra.Command{
		newAuditVerifyCmd(&af),
		newAuditCheckpointCmd(&af),
		newAuditProveCmd(&af),
		newAuditConsistencyCmd(&af),
		newAuditExportCmd(&af),
		newAuditVerifyBundleCmd(),
		newAuditHoldCmd(&af),
		newAuditPruneCmd(&af),
	}
}

// withAuditLog opens the store in --data and the log over it, runs fn and
// closes both. The log may sign checkpoints (creating DATA/audit.key on
// first use) but never appends.
func withAuditLog(ctx context.Context, af *auditFlags, fn func(l *audit.Log) error) error {
	db, closeStore, err := openAuditStore(ctx, af)
	if err != nil {
		return err
	}
	defer closeStore()
	l, err := audit.Open(ctx, db, audit.Config{SigningKeyFile: af.signingKey, Origin: af.origin, CheckpointInterval: -1}, global.data)
	if err != nil {
		return err
	}
	defer l.Close()
	return fn(l)
}

// openAuditStore opens the store that keeps the log: --store (PostgreSQL),
// or the SQLite store in --data.
func openAuditStore(ctx context.Context, af *auditFlags) (store.Audit, func(), error) {
	target := af.store
	if target == "" {
		if fi, err := os.Stat(global.data); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("no data directory %s (set --data, or --store for PostgreSQL)", global.data)
		}
		target = global.data
	}
	st, err := backend.Open(ctx, target)
	if err != nil {
		return nil, nil, fmt.Errorf("store %s: %w", backend.Redact(target), err)
	}
	db, ok := st.(store.Audit)
	if !ok {
		st.Close()
		return nil, nil, fmt.Errorf("the store %s keeps no audit log", backend.Redact(target))
	}
	return db, func() { st.Close() }, nil
}

// adminCall calls the audit routes of the admin API at --admin-url and
// returns the answer as is (JSON, a checkpoint note or a zip).
func adminCall(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	c, err := newAdminClient(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	p := audit.APIPrefix + path
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var out json.RawMessage
	if err := c.do(ctx, method, p, body, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// printAdminCall calls the audit routes like adminCall and prints the
// answer as the server sent it.
func printAdminCall(cmd *cobra.Command, method, path string, q url.Values, body any) error {
	b, err := adminCall(cmd.Context(), method, path, q, body)
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(b)
	return err
}

// auditRun runs an audit command: with --admin-url, one call to the audit
// routes whose answer it prints as the server sent it; otherwise local on
// the log of --data or --store.
func auditRun(cmd *cobra.Command, af *auditFlags, method, path string, q url.Values, local func(ctx context.Context, l *audit.Log) error) error {
	if global.adminURL != "" {
		return printAdminCall(cmd, method, path, q, nil)
	}
	ctx := cmd.Context()
	return withAuditLog(ctx, af, func(l *audit.Log) error { return local(ctx, l) })
}

// runProof prints a proof as JSON: the audit API's answer at route with
// q, or the proof that prove computes on the local log, once it checks
// against the log's own verifier key.
func runProof[P interface{ Check(note.Verifier) error }](cmd *cobra.Command, af *auditFlags, route string, q url.Values, prove func(ctx context.Context, l *audit.Log) (P, error)) error {
	return auditRun(cmd, af, "GET", route, q, func(ctx context.Context, l *audit.Log) error {
		p, err := prove(ctx, l)
		if err != nil {
			return err
		}
		if err := p.Check(l.Verifier()); err != nil {
			return err
		}
		return printJSON(cmd.OutOrStdout(), p)
	})
}

// parseTime accepts RFC 3339 or a bare date (UTC midnight).
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339 (2026-03-01T12:00:00Z) or a date (2026-03-01)", s)
	}
	return t, nil
}

// readVerifier returns the verifier from --key, or from the data dir.
func readVerifier(key string) (note.Verifier, string, error) {
	if key != "" {
		return audit.ReadVerifierKey(key)
	}
	pub := filepath.Join(global.data, audit.PublicKeyFileName)
	if _, err := os.Stat(pub); err == nil {
		return audit.ReadVerifierKey(pub)
	}
	_, vkey, err := audit.LoadKey(filepath.Join(global.data, audit.KeyFileName))
	if err != nil {
		return nil, "", fmt.Errorf("no verifier key: pass --key (the log's published key) or keep %s in the data dir: %w", audit.PublicKeyFileName, err)
	}
	return audit.ReadVerifierKey(vkey)
}

func newAuditVerifyCmd(af *auditFlags) *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Rebuild the tree and check every entry, hash, body and checkpoint",
		Long: `verify reads the whole log, recomputes every hash from the entries, and checks
it against the stored hashes and every signed checkpoint. It exits 1 naming
the first bad entry if anything was changed, deleted or reordered.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var (
				res *audit.VerifyResult
				err error
			)
			start := time.Now()
			if global.adminURL != "" {
				var b []byte
				if b, err = adminCall(ctx, "POST", "verify", nil, nil); err == nil {
					res = new(audit.VerifyResult)
					err = json.Unmarshal(b, res)
				}
			} else {
				var v note.Verifier
				if v, _, err = readVerifier(key); err != nil {
					return err
				}
				db, closeStore, err2 := openAuditStore(ctx, af)
				if err2 != nil {
					return err2
				}
				defer closeStore()
				res, err = audit.Verify(ctx, db, v)
			}
			var ve *audit.VerifyError
			if errors.As(err, &ve) || (err != nil && strings.Contains(err.Error(), "audit: verify")) {
				return &exitError{code: 1, msg: err.Error()}
			}
			if err != nil {
				return err
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d entries, root %s, %d checkpoints verified (latest %d), %d bodies checked, in %s\n",
				res.Size, res.Root, res.Checkpoints, res.Latest, res.Bodies, time.Since(start).Round(time.Millisecond))
			if res.Latest < res.Size {
				fmt.Fprintf(cmd.OutOrStdout(), "note: entries %d..%d are not yet under a checkpoint\n", max(res.Latest, 0), res.Size-1)
			}
			if res.Staged > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "note: %d entries are staged and not yet in the tree; a running instance integrates them, or run warden audit checkpoint\n", res.Staged)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "trusted verifier key, or a file holding it (default DATA/audit.pub)")
	return cmd
}

func newAuditCheckpointCmd(af *auditFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign a checkpoint of the log now and print it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return auditRun(cmd, af, "POST", "checkpoint", nil, func(ctx context.Context, l *audit.Log) error {
				c, err := l.Checkpoint(ctx)
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(c.Note)
				return err
			})
		},
	}
}

func newAuditProveCmd(af *auditFlags) *cobra.Command {
	var index, size int64
	cmd := &cobra.Command{
		Use:   "prove --index N [--size M]",
		Short: "Print an inclusion proof of entry N against a checkpoint",
		Long: `prove prints, as JSON, the entry's leaf, its RFC 6962 inclusion proof and the
signed checkpoint of size M (default: the first checkpoint that contains the
entry, signing one if needed). Anyone with the verifier key can check it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if index < 0 {
				return errors.New("--index is required")
			}
			q := url.Values{"index": {strconv.FormatInt(index, 10)}, "size": {strconv.FormatInt(size, 10)}}
			return runProof(cmd, af, "proof/inclusion", q, func(ctx context.Context, l *audit.Log) (*audit.InclusionProof, error) {
				return l.ProveInclusion(ctx, index, size)
			})
		},
	}
	cmd.Flags().Int64Var(&index, "index", -1, "entry index")
	cmd.Flags().Int64Var(&size, "size", 0, "tree size of the checkpoint to prove against (0: the first that contains the entry)")
	return cmd
}

func newAuditConsistencyCmd(af *auditFlags) *cobra.Command {
	var oldSize, newSize int64
	cmd := &cobra.Command{
		Use:   "consistency --old N --new M",
		Short: "Print a proof that the tree of N entries is a prefix of the tree of M",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if oldSize < 0 || newSize < 0 {
				return errors.New("--old and --new are required")
			}
			q := url.Values{"old": {strconv.FormatInt(oldSize, 10)}, "new": {strconv.FormatInt(newSize, 10)}}
			return runProof(cmd, af, "proof/consistency", q, func(ctx context.Context, l *audit.Log) (*audit.ConsistencyProof, error) {
				return l.ProveConsistency(ctx, oldSize, newSize)
			})
		},
	}
	cmd.Flags().Int64Var(&oldSize, "old", -1, "older tree size")
	cmd.Flags().Int64Var(&newSize, "new", -1, "newer tree size")
	return cmd
}

// scopeFlags select entries for export and hold.
type scopeFlags struct {
	key, incident, since, until string
}

func (s *scopeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.key, "key", "", "key id")
	cmd.Flags().StringVar(&s.incident, "incident", "", "incident id (key and time range from the detector)")
	cmd.Flags().StringVar(&s.since, "since", "", "from this time (RFC 3339 or date)")
	cmd.Flags().StringVar(&s.until, "until", "", "before this time (RFC 3339 or date)")
}

func (s *scopeFlags) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"key": s.key, "incident": s.incident, "since": s.since, "until": s.until} {
		if v == "" {
			continue
		}
		if k == "since" || k == "until" {
			if t, err := parseTime(v); err == nil {
				v = t.Format(time.RFC3339Nano)
			}
		}
		q.Set(k, v)
	}
	return q
}

func (s *scopeFlags) scope(ctx context.Context) (audit.Scope, error) {
	var sc audit.Scope
	if (s.key == "") == (s.incident == "") {
		return sc, errors.New("give exactly one of --key and --incident")
	}
	if s.incident != "" {
		if auditIncidents == nil {
			return sc, errors.New("--incident needs the detector, which this build lacks; use --key with --since/--until")
		}
		inc, err := auditIncidents(ctx, global.data)
		if err != nil {
			return sc, err
		}
		if sc, err = inc.IncidentScope(ctx, s.incident); err != nil {
			return sc, err
		}
		sc.Incident = s.incident
	} else {
		sc.KeyID = s.key
	}
	since, err := parseTime(s.since)
	if err != nil {
		return sc, err
	}
	until, err := parseTime(s.until)
	if err != nil {
		return sc, err
	}
	if !since.IsZero() {
		sc.Since = since
	}
	if !until.IsZero() {
		sc.Until = until
	}
	return sc, nil
}

func newAuditExportCmd(af *auditFlags) *cobra.Command {
	var (
		sf  scopeFlags
		out string
	)
	cmd := &cobra.Command{
		Use:   "export --key ID | --incident ID --out FILE",
		Short: "Write an evidence bundle: entries, proofs, checkpoint, key, summary",
		Long: `export writes one zip file with every selected entry, its inclusion proof, the
signed checkpoint, the log's verifier key, a manifest and a readable
summary.md. "warden audit verify-bundle FILE" checks it offline.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if out == "" {
				return errors.New("--out is required")
			}
			tmp := out + ".partial"
			f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			defer os.Remove(tmp)
			defer f.Close()
			var m *audit.Manifest
			if global.adminURL != "" {
				if (sf.key == "") == (sf.incident == "") {
					return errors.New("give exactly one of --key and --incident")
				}
				b, err := adminCall(ctx, "GET", "export", sf.query(), nil)
				if err != nil {
					return err
				}
				if _, err := f.Write(b); err != nil {
					return err
				}
			} else {
				sc, err := sf.scope(ctx)
				if err != nil {
					return err
				}
				err = withAuditLog(ctx, af, func(l *audit.Log) error {
					m, err = l.Export(ctx, f, sc)
					return err
				})
				if err != nil {
					return err
				}
			}
			if err := errors.Join(f.Sync(), f.Close()); err != nil {
				return err
			}
			if err := os.Rename(tmp, out); err != nil {
				return err
			}
			if m != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d entries, %d bodies, checkpoint %d\n", out, m.Entries, m.Bodies, m.Checkpoint)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			}
			return nil
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVar(&out, "out", "", "bundle file to write (.zip)")
	return cmd
}

func newAuditVerifyBundleCmd() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "verify-bundle FILE",
		Short: "Check an evidence bundle offline",
		Long: `verify-bundle checks a bundle with nothing but the file: every file against the
manifest, the checkpoint signature, every entry's inclusion proof, every
retained body. Pass --key with the log's published verifier key; without it
the key inside the bundle is used, which proves integrity only once you have
compared that key with the published one. Exits 1 if the bundle fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			var v note.Verifier
			if key != "" {
				if v, _, err = audit.ReadVerifierKey(key); err != nil {
					return err
				}
			}
			rep, err := audit.VerifyBundle(f, fi.Size(), v)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "ok: %d entries and %d bodies of key %s are in log %s (checkpoint %d, root %s)\n",
				rep.Entries, rep.Bodies, rep.Scope.KeyID, rep.Origin, rep.Size, rep.Root)
			if rep.KeyFromBundle {
				fmt.Fprintf(w, "warning: checked with the key inside the bundle:\n  %s\ncompare it with the log's published key, or pass --key\n", rep.VerifierKey)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "trusted verifier key of the log, or a file holding it")
	return cmd
}

func newAuditHoldCmd(af *auditFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hold",
		Short: "Place, lift and list legal holds (held bodies are never pruned)",
	}
	var (
		sf         scopeFlags
		id, reason string
	)
	add := &cobra.Command{
		Use:   "add --key ID [--since T] [--until T] | --incident ID",
		Short: "Place a legal hold on a key (or * for all) or an incident",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if global.adminURL != "" {
				since, err := parseTime(sf.since)
				if err != nil {
					return err
				}
				until, err := parseTime(sf.until)
				if err != nil {
					return err
				}
				return printAdminCall(cmd, "POST", "holds", nil, audit.HoldRequest{ID: id, KeyID: sf.key, Since: since, Until: until, Incident: sf.incident, Reason: reason})
			}
			sc, err := sf.scope(ctx)
			if err != nil {
				return err
			}
			h := store.AuditHold{ID: id, KeyID: sc.KeyID, Since: sc.Since, Until: sc.Until, Incident: sc.Incident, Reason: reason}
			if h.ID == "" {
				h.ID = audit.HoldID(sc.KeyID, sc.Incident)
			}
			return withAuditLog(ctx, af, func(l *audit.Log) error {
				if err := l.PutHold(ctx, h); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "hold %s placed on key %s\n", h.ID, h.KeyID)
				return nil
			})
		},
	}
	sf.register(add)
	add.Flags().StringVar(&id, "id", "", "hold id (default key-<key> or incident-<id>)")
	add.Flags().StringVar(&reason, "reason", "", "why, e.g. a case number")

	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Lift a legal hold",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if global.adminURL != "" {
				_, err := adminCall(ctx, "DELETE", "holds/"+url.PathEscape(args[0]), nil, nil)
				return err
			}
			return withAuditLog(ctx, af, func(l *audit.Log) error { return l.DeleteHold(ctx, args[0]) })
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List legal holds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var hs []store.AuditHold
			if global.adminURL != "" {
				b, err := adminCall(ctx, "GET", "holds", nil, nil)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(b, &hs); err != nil {
					return err
				}
			} else {
				err := withAuditLog(ctx, af, func(l *audit.Log) (err error) {
					hs, err = l.Holds(ctx)
					return err
				})
				if err != nil {
					return err
				}
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), hs)
			}
			w := cmd.OutOrStdout()
			if len(hs) == 0 {
				fmt.Fprintln(w, "no holds")
			}
			for _, h := range hs {
				fmt.Fprintf(w, "%s\tkey %s\t%s .. %s\t%s\n", h.ID, h.KeyID, timeOrDash(h.Since), timeOrDash(h.Until), h.Reason)
			}
			return nil
		},
	}
	cmd.AddCommand(add, remove, list)
	return cmd
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func newAuditPruneCmd(af *auditFlags) *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete bodies whose retention ended (hashes stay; held bodies stay)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return auditRun(cmd, af, "POST", "prune", nil, func(ctx context.Context, l *audit.Log) error {
				now := time.Now()
				if at != "" {
					t, err := parseTime(at)
					if err != nil {
						return err
					}
					now = t
				}
				n, err := l.Prune(ctx, now)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "pruned %d bodies\n", n)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&at, "now", "", "prune as if it were this time (RFC 3339 or date)")
	return cmd
}
