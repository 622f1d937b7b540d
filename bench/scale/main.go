// Command scale measures what scale-out costs and buys: the store and
// limiter operations on the embedded backends (SQLite, in-process) against
// the shared ones (PostgreSQL, Redis), then whole `warden serve` processes:
// one embedded instance, one on PostgreSQL + Redis, and three on PostgreSQL
// + Redis behind a round-robin client. It prints a Markdown report and, with
// -write, puts it into docs/benchmarks.md under its own heading (replacing
// an earlier run's section).
//
//	go run ./bench/scale -write docs/benchmarks.md
//
// Servers come from WARDEN_TEST_POSTGRES and WARDEN_TEST_REDIS (defaults as
// in internal/testenv). Everything it creates lives in a fresh schema and
// under fresh key names, removed at the end.
package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/bench/measure"
	"github.com/wardenhq/warden/bench/sample"
	"github.com/wardenhq/warden/bench/server"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/limit"
	redislimit "github.com/wardenhq/warden/internal/limit/redis"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/postgres"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

const heading = "## Scale-out: PostgreSQL and Redis against the embedded default"

func main() {
	var (
		dur     = flag.Duration("duration", 5*time.Second, "length of each measurement")
		conc    = flag.Int("concurrency", 16, "concurrent callers (operations) or HTTP clients (gateway)")
		write   = flag.String("write", "", "Markdown file to put the report into (e.g. docs/benchmarks.md)")
		opsOnly = flag.Bool("ops-only", false, "measure store and limiter operations only, not warden serve")
		gwOnly  = flag.Bool("gateway-only", false, "measure warden serve only (1 vs 3 instances), not the operations and audit appends")
		profile = flag.String("profile", "", "with the gateway runs: take every instance's CPU profile during the measurement (admin API), save them to this directory and print the CPU per request of each stage, summed over the instances")
	)
	flag.Parse()
	profileDir = *profile
	pgURL := envOr("WARDEN_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	redisURL := envOr("WARDEN_TEST_REDIS", "redis://127.0.0.1:6379/0")
	ctx := context.Background()

	schema := "bench_" + randomHex(6)
	admin, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		log.Fatalf("scale: PostgreSQL at %s: %v (start it with .ci/services)", redact(pgURL), err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		log.Fatal(err)
	}
	schemas := []string{schema}
	defer func() {
		for _, s := range schemas {
			admin.Exec(context.Background(), "DROP SCHEMA "+s+" CASCADE")
		}
		admin.Close(context.Background())
	}()
	pgDSN := withSearchPath(pgURL, schema)
	// freshDSN gives each gateway deployment an empty database of its own,
	// so each audit log holds its run only.
	freshDSN := func() (string, error) {
		s := "bench_" + randomHex(6)
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+s); err != nil {
			return "", err
		}
		schemas = append(schemas, s)
		return withSearchPath(pgURL, s), nil
	}

	var report bytes.Buffer
	fmt.Fprintf(&report, "%s\n\n", heading)
	fmt.Fprintf(&report, "Recorded %s with `go run ./bench/scale` on %d CPUs (%s/%s, %s); %v per measurement, %d concurrent callers.\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), *dur, *conc)
	fmt.Fprintf(&report, "PostgreSQL and Redis run on the same machine as Warden, so network round trips are loopback ones;\n")
	fmt.Fprintf(&report, "on a real network add one round trip per operation (about 0.2-0.5 ms in one data centre).\n\n")

	if !*gwOnly {
		fmt.Fprintf(&report, "### Operations\n\n")
		fmt.Fprintf(&report, "| operation | embedded | ops/s | p50 | p99 | shared | ops/s | p50 | p99 |\n|---|---|---:|---:|---:|---|---:|---:|---:|\n")
		if err := benchOps(ctx, &report, pgDSN, redisURL, *dur, *conc); err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(&report, "\n### Audit log appends (`audit.Log.Append`, group commit, realistic ~1 KB leaves)\n\n")
		fmt.Fprintf(&report, "| store | instances | callers | appends/s | p50 | p99 | entries per commit |\n|---|---:|---:|---:|---:|---:|---:|\n")
		if err := benchAudit(ctx, &report, pgDSN, *dur, *conc); err != nil {
			log.Fatal(err)
		}
	}
	if !*opsOnly {
		fmt.Fprintf(&report, "\n### Whole gateway (`warden serve`, mock provider, one key with rpm and tpm limits)\n\n")
		fmt.Fprintf(&report, "Each deployment runs with `warden serve`'s defaults (guard, detector, audit log). After the load the\n"+
			"instances stop (SIGTERM) and `warden audit verify` checks the log: \"answered\" counts the 200s of the\n"+
			"warm-up and the measurement, \"in the log\" what verify found (every answer is one entry). The last\n"+
			"column is the CPU each part of the machine spent per request during the measurement (from /proc,\n"+
			"Linux only): on shared cores a deployment that costs more CPU per request serves fewer, whoever spends it.\n\n")
		fmt.Fprintf(&report, "| deployment | requests/s | p50 | p99 | errors | answered | in the log | verify | CPU per request: Warden / PostgreSQL / Redis / load generator |\n|---|---:|---:|---:|---:|---:|---:|---|---|\n")
		if err := benchGateway(ctx, &report, freshDSN, redisURL, *dur, *conc); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Fprintf(&report, "\nThe embedded default answers from memory and a local file; the shared backends add a loopback round trip\n"+
		"per operation. On the request path only the limiter is consulted per request (keys come from the\n"+
		"gateway's cache, usage is flushed in batches), so the added latency of a request is about one Redis\n"+
		"round trip per limit the key has. With 2 CPUs shared by the load generator, the servers and the\n"+
		"databases, three instances cannot run faster than one here: the figures show the cost of coordination,\n"+
		"not the capacity of a cluster, which grows with the machines it is given.\n\n"+
		"Every answer waits for its audit entry to commit (and the detector runs\n"+
		"on every event). On PostgreSQL each instance's group commit is an insert into a staging table that no\n"+
		"other instance waits for; one instance at a time integrates the staged entries of all into the tree in\n"+
		"batches (docs/audit.md), so the instances' commits are no longer serialised on the log's head row.\n"+
		"\"Entries per commit\" in the audit table counts entries per staging commit.\n")
	os.Stdout.Write(report.Bytes())
	if *write != "" {
		if err := measure.WriteSection(*write, heading, report.String()); err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "scale: wrote %s\n", *write)
	}
}

func benchOps(ctx context.Context, out *bytes.Buffer, pgDSN, redisURL string, d time.Duration, conc int) error {
	dir, err := os.MkdirTemp("", "warden-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lite, err := sqlite.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer lite.Close()
	pg, err := postgres.Open(ctx, pgDSN)
	if err != nil {
		return err
	}
	defer pg.Close()
	rc, err := redislimit.NewClient(redisURL)
	if err != nil {
		return err
	}
	rc.Options().PoolSize = max(conc, rc.Options().PoolSize)
	defer rc.Close()
	prefix := "bench:" + randomHex(6) + ":"
	defer cleanRedis(rc, prefix)
	rl := redislimit.New(rc, redislimit.Options{Prefix: prefix})
	defer rl.Close()
	var local limit.Local

	// 1000 keys in each store.
	seed := func(s store.Store) ([]keys.Hash, []string, error) {
		var hs []keys.Hash
		var ids []string
		for i := range 1000 {
			sec, _ := keys.Generate(nil)
			k := &keys.Key{ID: keys.NewID(), Hash: sec.Hash(), Name: fmt.Sprint("bench-", i), Kind: keys.KindStandard,
				Status: keys.StatusActive, RPM: 600, CreatedAt: time.Now().UTC()}
			if err := s.CreateKey(ctx, k); err != nil {
				return nil, nil, err
			}
			hs, ids = append(hs, k.Hash), append(ids, k.ID)
		}
		return hs, ids, nil
	}
	lh, lids, err := seed(lite)
	if err != nil {
		return err
	}
	ph, pids, err := seed(pg)
	if err != nil {
		return err
	}
	byHash := func(s store.Store, hs []keys.Hash) func(w, i int) error {
		return func(w, i int) error { _, err := s.KeyByHash(ctx, hs[(w*7919+i)%len(hs)]); return err }
	}
	update := func(s store.Store, ids []string) func(w, i int) error {
		return func(w, i int) error {
			_, err := s.UpdateKey(ctx, ids[(w*7919+i)%len(ids)], func(k *keys.Key) error { k.RPM++; return nil })
			return err
		}
	}
	take := func(r limit.Rater) func(w, i int) error {
		return func(w, i int) error {
			_, err := r.Take(ctx, fmt.Sprint("k", (w*7919+i)%1000), 1_000_000, 1, time.Now())
			return err
		}
	}
	acquire := func(g limit.Gate) func(w, i int) error {
		return func(w, i int) error {
			release, ok, err := g.Acquire(ctx, fmt.Sprint("k", (w*7919+i)%1000), 1000)
			if ok {
				release()
			}
			return err
		}
	}
	rows := []struct {
		name, emb, shared string
		a, b              func(w, i int) error
	}{
		{"KeyByHash", "SQLite", "PostgreSQL", byHash(lite, lh), byHash(pg, ph)},
		{"UpdateKey", "SQLite", "PostgreSQL", update(lite, lids), update(pg, pids)},
		{"Take (GCRA)", "in-process", "Redis", take(&local), take(rl)},
		{"Acquire + release", "in-process", "Redis", acquire(&local), acquire(rl)},
	}
	for _, r := range rows {
		a := measure.Load(d, conc, r.a)
		b := measure.Load(d, conc, r.b)
		if a.Errors+b.Errors > 0 {
			return fmt.Errorf("%s: %d and %d errors", r.name, a.Errors, b.Errors)
		}
		fmt.Fprintf(out, "| %s | %s | %.0f | %s | %s | %s | %.0f | %s | %s |\n", r.name, r.emb, a.Ops, ms(a.P50), ms(a.P99), r.shared, b.Ops, ms(b.P50), ms(b.P99))
		fmt.Fprintf(os.Stderr, "scale: %s done\n", r.name)
	}
	return nil
}

// benchAudit measures appends to the audit log: one log on SQLite, one on
// PostgreSQL, and three (three instances, each its own pool and Log, one
// signing key) on one PostgreSQL log, at conc and 4*conc callers in all.
func benchAudit(ctx context.Context, out *bytes.Buffer, pgDSN string, d time.Duration, conc int) error {
	signer, vkey, err := sample.SigningKey()
	if err != nil {
		return err
	}
	newLog := func(st store.Audit) (*audit.Log, error) {
		return audit.New(ctx, st, audit.Config{CheckpointInterval: 10 * time.Second}, audit.Options{Signer: signer, VerifierKey: vkey})
	}
	var seq atomic.Int64
	run := func(logs []*audit.Log, callers int) measure.Result {
		return measure.Load(d, callers, func(w, _ int) error {
			_, err := logs[w%len(logs)].Append(ctx, sample.Event(int(seq.Add(1)), time.Now().UTC()), sample.Bodies())
			return err
		})
	}
	type setup struct {
		name string
		n    int
		open func() (store.Audit, func(), error)
	}
	setups := []setup{
		{"SQLite", 1, func() (store.Audit, func(), error) {
			dir, err := os.MkdirTemp("", "warden-bench-audit")
			if err != nil {
				return nil, nil, err
			}
			db, err := sqlite.Open(ctx, dir)
			if err != nil {
				return nil, nil, err
			}
			return db, func() { db.Close(); os.RemoveAll(dir) }, nil
		}},
		{"PostgreSQL", 1, nil},
		{"PostgreSQL", 3, nil},
	}
	openPG := func() (store.Audit, func(), error) {
		db, err := postgres.Open(ctx, pgDSN)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	for _, callers := range []int{conc, 4 * conc} {
		for _, su := range setups {
			open := su.open
			if open == nil {
				open = openPG
			}
			var (
				logs    []*audit.Log
				closers []func()
			)
			for range su.n {
				st, closeStore, err := open()
				if err != nil {
					return err
				}
				l, err := newLog(st)
				if err != nil {
					return err
				}
				logs, closers = append(logs, l), append(closers, closeStore)
			}
			run(logs, callers) // warm up: connections, prepared statements
			var before, beforeBatches int64
			for _, l := range logs {
				before, beforeBatches = before+l.Stats().Appended, beforeBatches+l.Stats().Batches
			}
			r := run(logs, callers)
			var appended, batches int64
			for i, l := range logs {
				st := l.Stats()
				appended, batches = appended+st.Appended, batches+st.Batches
				if err := l.Close(); err != nil {
					return err
				}
				closers[i]()
			}
			if r.Errors > 0 {
				return fmt.Errorf("audit %s x%d: %d errors", su.name, su.n, r.Errors)
			}
			perCommit := float64(appended-before) / float64(max(batches-beforeBatches, 1))
			fmt.Fprintf(out, "| %s | %d | %d | %.0f | %s | %s | %.1f |\n", su.name, su.n, callers, r.Ops, ms(r.P50), ms(r.P99), perCommit)
			fmt.Fprintf(os.Stderr, "scale: audit %s x%d, %d callers done\n", su.name, su.n, callers)
		}
	}
	return nil
}

func benchGateway(ctx context.Context, out *bytes.Buffer, freshDSN func() (string, error), redisURL string, d time.Duration, conc int) error {
	dir, err := os.MkdirTemp("", "warden-bench-bin")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := server.Build(dir)
	if err != nil {
		return err
	}
	scenarios := []struct {
		name   string
		n      int
		shared bool
	}{
		{"1 instance, embedded (SQLite, in-process limits)", 1, false},
		{"1 instance, PostgreSQL + Redis", 1, true},
		{"3 instances, PostgreSQL + Redis, round robin", 3, true},
	}
	for _, sc := range scenarios {
		pgDSN, err := freshDSN()
		if err != nil {
			return err
		}
		r, err := runGateway(bin, sc.n, sc.shared, pgDSN, redisURL, d, conc)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		verdict := "**failed**"
		if r.verified {
			verdict = "ok"
		}
		fmt.Fprintf(out, "| %s | %.0f | %s | %s | %d | %d | %d + %d staged | %s | %s |\n", sc.name, r.Ops, ms(r.P50), ms(r.P99), r.Errors,
			r.Done-r.Errors, r.audited, r.staged, verdict, r.cpu)
		fmt.Fprintf(os.Stderr, "scale: %s done\n", sc.name)
	}
	return nil
}

// gatewayResult is a gateway measurement and what `warden audit verify`
// found after the instances stopped: entries in the tree and still staged,
// and whether it passed with every answered request in the log.
type gatewayResult struct {
	measure.Result
	audited, staged int64
	verified        bool
	cpu             cpuShares // CPU per request during the measurement
}

// profileDir, when set, is where runGateway saves the instances' CPU
// profiles (-profile).
var profileDir string

// profileInstances takes a CPU profile of d (at most 60 s) from each
// instance's admin API, saves them in profileDir under name and returns
// them parsed.
func profileInstances(name string, admins, dataDirs []string, d time.Duration) ([]*profile.Profile, error) {
	secs := min(int(d.Seconds()), 60)
	ps := make([]*profile.Profile, len(admins))
	errs := make([]error, len(admins))
	var wg sync.WaitGroup
	for i := range admins {
		wg.Go(func() {
			tok, err := os.ReadFile(filepath.Join(dataDirs[i], "admin.token"))
			if err != nil {
				errs[i] = err
				return
			}
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/admin/v1/debug/pprof/profile?seconds=%d", admins[i], secs), nil)
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
			resp, err := (&http.Client{Timeout: time.Duration(secs+30) * time.Second}).Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("profile: %s: %s", resp.Status, b)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(profileDir, fmt.Sprintf("%s-%d.pprof", name, i)), b, 0o644)
			}
			if err == nil {
				ps[i], err = profile.ParseData(b)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return ps, errors.Join(errs...)
}

func runGateway(bin string, n int, shared bool, pgDSN, redisURL string, d time.Duration, conc int) (gatewayResult, error) {
	tmp, err := os.MkdirTemp("", "warden-bench-gw")
	if err != nil {
		return gatewayResult{}, err
	}
	defer os.RemoveAll(tmp)
	cfg := filepath.Join(tmp, "warden.yaml")
	body, vkey := "", ""
	if shared {
		// Instances sharing one audit log share its origin and signing
		// key, as docs/deployment.md says, or their checkpoints fail.
		keyFile := filepath.Join(tmp, "audit.key")
		if _, vkey, err = audit.LoadOrCreateKey(keyFile, "warden.bench/audit"); err != nil {
			return gatewayResult{}, err
		}
		body = fmt.Sprintf("store: %q\nredis: %q\naudit:\n  origin: warden.bench/audit\n  signing_key_file: %q\n", pgDSN, redisURL, keyFile)
	}
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		return gatewayResult{}, err
	}
	var urls, admins, dirs []string
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}()
	data := filepath.Join(tmp, "data0") // embedded: one data dir; shared: the first instance's admin API
	for i := range n {
		dir := filepath.Join(tmp, fmt.Sprint("data", i))
		api, adm := server.FreePort(), server.FreePort()
		cmd := exec.Command(bin, "serve", "--config", cfg, "--data", dir, "--listen", api, "--admin-listen", adm, "--log-level", "error")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			return gatewayResult{}, err
		}
		procs = append(procs, cmd)
		if err := server.WaitUp("http://" + api + "/healthz"); err != nil {
			return gatewayResult{}, err
		}
		urls = append(urls, "http://"+api)
		admins, dirs = append(admins, "http://"+adm), append(dirs, dir)
		if i == 0 {
			data = dir
			os.Setenv("WARDEN_BENCH_ADMIN", "http://"+adm)
		}
	}
	token, err := server.AdminToken(data)
	if err != nil {
		return gatewayResult{}, err
	}
	key, err := server.CreateKey(bin, token, os.Getenv("WARDEN_BENCH_ADMIN"))
	if err != nil {
		return gatewayResult{}, err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}
	// A user text of its own per request: the guard remembers what it judged
	// for a key (its memo), and an application's users do not repeat.
	var seq atomic.Uint64
	call := func(w, i int) error {
		payload := `{"model":"mock-echo","messages":[{"role":"user","content":"hello benchmark ` + strconv.FormatUint(seq.Add(1), 10) + `"}]}`
		req, _ := http.NewRequest("POST", urls[(w+i)%len(urls)]+"/v1/chat/completions", strings.NewReader(payload))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var v json.RawMessage
		json.NewDecoder(resp.Body).Decode(&v)
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	warm := measure.Load(time.Second, conc, call) // warm up caches and connections
	type profiled struct {
		ps  []*profile.Profile
		err error
	}
	prof := make(chan profiled, 1)
	if profileDir != "" {
		go func() {
			ps, err := profileInstances(fmt.Sprintf("%d-%v", n, shared), admins, dirs, d)
			prof <- profiled{ps, err}
		}()
	}
	var pids []int
	for _, p := range procs {
		pids = append(pids, p.Process.Pid)
	}
	cpu0 := readCPU(pids)
	r := gatewayResult{Result: measure.Load(d, conc, call)}
	r.cpu = readCPU(pids).perRequest(cpu0, r.Done)
	if profileDir != "" {
		p := <-prof
		if p.err != nil {
			return gatewayResult{}, p.err
		}
		fmt.Fprintf(os.Stderr, "\n%d instance(s), shared %v: CPU per request over all instances (%d requests):\n\n", n, shared, r.Done)
		measure.Budget(os.Stderr, int(r.Done), p.ps...)
	}
	r.Done += warm.Done
	r.Errors += warm.Errors
	for _, p := range procs { // stop them: the log must hold every answer once they are gone
		p.Process.Signal(syscall.SIGTERM)
		p.Wait()
	}
	procs = nil
	args := []string{"audit", "verify", "--json", "--data", data}
	if shared {
		args = []string{"audit", "verify", "--json", "--store", pgDSN, "--key", vkey}
	}
	var stderr bytes.Buffer
	verify := exec.Command(bin, args...)
	verify.Stderr = &stderr
	out, err := verify.Output()
	if err != nil {
		err = fmt.Errorf("%w: %s", err, stderr.Bytes())
	}
	var v struct{ Size, Staged int64 }
	if err == nil {
		err = json.Unmarshal(out, &v)
	}
	r.audited, r.staged = v.Size, v.Staged
	r.verified = err == nil && v.Size+v.Staged >= r.Done-r.Errors
	if err != nil {
		fmt.Fprintf(os.Stderr, "scale: audit verify: %v\n", err)
	}
	return r, nil
}

func cleanRedis(c *redis.Client, prefix string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var ks []string
	for iter.Next(ctx) {
		ks = append(ks, iter.Val())
	}
	if len(ks) > 0 {
		c.Del(ctx, ks...)
	}
}

func ms(d time.Duration) string {
	if d < 100*time.Microsecond {
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func withSearchPath(dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		log.Fatal("scale: WARDEN_TEST_POSTGRES must be a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Redacted()
	}
	return "[DSN]"
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func randomHex(n int) string {
	b := make([]byte, n)
	crand.Read(b)
	return hex.EncodeToString(b)
}
