// Command pg measures audit appends per second on PostgreSQL from one and
// from three appending instances (each its own connection pool and
// audit.Log, one signing key, as servers behind a load balancer are), with
// the same number of concurrent callers in all. An append counts when
// Append returned (on PostgreSQL: once staged); the last column shows how
// many entries were already integrated into the tree, and how many still
// staged, when the load stopped. After each run it closes the logs (which
// integrates the rest) and checks that the log holds every acknowledged
// append and verifies, so a figure is only printed for a run that lost
// nothing.
//
//	go run ./bench/audit/pg                       # 3 rounds of 5 s each
//	go run ./bench/audit/pg -rounds 5 -duration 10s
//
// The server comes from WARDEN_TEST_POSTGRES (default: the local test
// database); everything lives in a fresh schema dropped at the end.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardenhq/warden/bench/measure"
	"github.com/wardenhq/warden/bench/sample"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/store/postgres"
)

func main() {
	var (
		dur     = flag.Duration("duration", 5*time.Second, "length of each measurement")
		callers = flag.Int("callers", 64, "concurrent appenders in all, spread over the instances")
		rounds  = flag.Int("rounds", 3, "measurements per instance count (the machine may be shared: look at the spread)")
	)
	flag.Parse()
	pgURL := os.Getenv("WARDEN_TEST_POSTGRES")
	if pgURL == "" {
		pgURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := context.Background()
	signer, vkey, err := sample.SigningKey()
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("audit appends on PostgreSQL, %d CPUs, %s, %v per run, %d callers in all\n\n", runtime.NumCPU(), runtime.Version(), *dur, *callers)
	fmt.Printf("| instances | round | appends/s | p50 | p99 | in the tree / staged when the load stopped |\n|---:|---:|---:|---:|---:|---|\n")
	for round := 1; round <= *rounds; round++ {
		for _, n := range []int{1, 3} {
			r, err := run(ctx, pgURL, n, *callers, *dur, signer, vkey, verifier)
			if err != nil {
				log.Fatalf("pg: %d instances: %v", n, err)
			}
			fmt.Printf("| %d | %d | %.0f | %s | %s | %d / %d |\n", n, round, r.Ops, ms(r.P50), ms(r.P99), r.inTree, r.staged)
		}
	}
}

type result struct {
	measure.Result
	inTree, staged int64
}

// run measures n instances on a fresh schema.
func run(ctx context.Context, pgURL string, n, callers int, d time.Duration, signer note.Signer, vkey string, v note.Verifier) (result, error) {
	schema := "bench_audit_" + randomHex(6)
	admin, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return result{}, err
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return result{}, err
	}
	defer admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	dsn := withSearchPath(pgURL, schema)
	var (
		dbs  []*postgres.DB
		logs []*audit.Log
	)
	for range n {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			return result{}, err
		}
		defer db.Close()
		l, err := audit.New(ctx, db, audit.Config{CheckpointInterval: time.Second}, audit.Options{Signer: signer, VerifierKey: vkey})
		if err != nil {
			return result{}, err
		}
		dbs, logs = append(dbs, db), append(logs, l)
	}
	var seq atomic.Int64
	load := measure.Load(d, callers, func(w, _ int) error {
		_, err := logs[w%n].Append(ctx, sampleEvent(int(seq.Add(1))), sample.Bodies())
		return err
	})
	// How far integration kept up: entries in the tree and still staged
	// when the load stopped (a store without staging has none staged).
	r := result{Result: load}
	if r.inTree, err = dbs[0].AuditSize(ctx); err != nil {
		return result{}, err
	}
	if r.staged, err = dbs[0].AuditStaged(ctx); err != nil {
		return result{}, err
	}
	for _, l := range logs {
		if err := l.Close(); err != nil {
			return result{}, err
		}
	}
	if r.Errors > 0 {
		return result{}, fmt.Errorf("%d appends failed", r.Errors)
	}
	res, err := audit.Verify(ctx, dbs[0], v)
	if err != nil {
		return result{}, err
	}
	// No append failed, so every one was acknowledged.
	if res.Size != r.Done {
		return result{}, fmt.Errorf("log holds %d entries, %d appends were acknowledged", res.Size, r.Done)
	}
	return r, nil
}

func sampleEvent(i int) *event.Event {
	return &event.Event{
		ID:       fmt.Sprintf("req-%08d", i),
		Time:     time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Duration: 850 * time.Millisecond, Instance: "gw1",
		KeyID: fmt.Sprintf("k_%04d", i%500), KeyOwner: fmt.Sprintf("team-%02d", i%20), KeyKind: "standard",
		ClientIP: "203.0.113.7", Client: event.Client{UserAgent: "OpenAI/Python 1.54.3"},
		Method: "POST", Path: "/v1/chat/completions", Endpoint: "chat.completions", Model: "gpt-4o", Provider: "openai",
		RequestLen: 1432, Status: 200, ResponseLen: 2210, PromptTokens: 310, CompletionTokens: 220, CostUSD: 0.0041,
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func randomHex(n int) string {
	b := make([]byte, n)
	crand.Read(b)
	return hex.EncodeToString(b)
}

func withSearchPath(dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		log.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
