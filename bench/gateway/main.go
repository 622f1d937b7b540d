// Command gateway benchmarks Warden against a bare httputil.ReverseProxy and
// direct calls, all in front of the same mock upstream, in one run.
//
//	go run ./bench/gateway [-quick] [-out docs/benchmarks.md]
//
// The machine is shared and noisy, so only same-run ratios mean anything:
// the three targets are measured in interleaved slices, round after round.
// Fixed-rate phases are open-loop: each request has an intended send time
// and its latency counts from that time, so a stalled server cannot hide
// its queueing (no coordinated omission). Warden runs with what production
// has on: key lookup, rpm/tpm/concurrency limits, the event bus writing
// JSONL, metrics, usage accounting.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/provider/mock"
	"github.com/wardenhq/warden/internal/store/sqlite"
)

// errKinds collects distinct request errors for the log.
var errKinds sync.Map

type target struct {
	name string
	url  string // base URL, requests go to url+"/v1/chat/completions"
	key  string
}

const body = `{"model":"mock-echo","max_tokens":64,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarise the plot of Hamlet in one sentence, please."}]}`
const streamBody = `{"model":"mock-echo","stream":true,"messages":[{"role":"user","content":"one two three four five six seven eight nine ten"}]}`

func main() {
	quick := flag.Bool("quick", false, "short run (for a smoke test)")
	out := flag.String("out", "docs/benchmarks.md", "write the results as Markdown here ('' for stdout only)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of a Warden-only saturation run to this file and exit")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()

	upstream := serve(&mock.Handler{})
	upURL, _ := url.Parse(upstream)
	proxy := httputil.NewSingleHostReverseProxy(upURL)
	proxy.Transport = newTransport()
	proxyURL := serve(proxy)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	base, closeBase := startWarden(runCtx, upstream, false)
	defer closeBase()
	full, closeFull := startWarden(runCtx, upstream, true)
	defer closeFull()

	targets := []target{
		{"direct", upstream, ""},
		{"reverseproxy", proxyURL, ""},
		base,
		full,
	}
	client := &http.Client{Transport: newTransport(), Timeout: 30 * time.Second}
	for _, t := range targets { // warm up connections and code paths
		for range 200 {
			do(client, t, body)
		}
	}

	if *profile != "" {
		f, err := os.Create(*profile)
		check(err)
		check(pprof.StartCPUProfile(f))
		closedLoop(client, targets[2], 32, 10*time.Second)
		pprof.StopCPUProfile()
		return
	}
	rates := []int{500, 1000, 2000}
	rounds, slice := 6, 2*time.Second
	if *quick {
		rates, rounds, slice = []int{500}, 2, 500*time.Millisecond
	}
	var report strings.Builder
	fmt.Fprintf(&report, "## Gateway overhead\n\nMeasured %s by `go run ./bench/gateway` on %s, %d cores (GOMAXPROCS %d), %s.\n",
		time.Now().UTC().Format("2006-01-02"), cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Fprintf(&report, "Load generator, mock upstream, bare proxy and Warden share the machine. Targets are interleaved in %s slices, %d rounds per rate; latency is open-loop (from the intended send time).\n", slice, rounds)
	fmt.Fprintf(&report, "`warden` runs with key lookup, rpm/tpm/concurrency limits, usage accounting, metrics and the event bus writing JSONL (the issue's configuration); `warden-full` adds what `warden serve` turns on by default: the guard on prompts and answers, the detector, and the audit log as a journal (each answer waits for its group-committed entry).\n\n")
	fmt.Fprintf(&report, "| rate (req/s) | target | p50 | p99 | added p50 | added p99 | errors |\n|---|---|---|---|---|---|---|\n")
	type result struct{ p50, p99 time.Duration }
	verdicts := []string{}
	for _, rate := range rates {
		lat := map[string][]time.Duration{}
		errs := map[string]int{}
		for range rounds {
			for _, t := range targets {
				l, e := openLoop(client, t, rate, slice)
				lat[t.name] = append(lat[t.name], l...)
				errs[t.name] += e
			}
		}
		res := map[string]result{}
		for _, t := range targets {
			res[t.name] = result{pct(lat[t.name], 50), pct(lat[t.name], 99)}
		}
		d := res["direct"]
		for _, t := range targets {
			r := res[t.name]
			added50, added99 := "", ""
			if t.name != "direct" {
				added50, added99 = fmtDur(r.p50-d.p50), fmtDur(r.p99-d.p99)
			}
			fmt.Fprintf(&report, "| %d | %s | %s | %s | %s | %s | %d |\n", rate, t.name, fmtDur(r.p50), fmtDur(r.p99), added50, added99, errs[t.name])
		}
		p := res["reverseproxy"]
		for _, name := range []string{"warden", "warden-full"} {
			w := res[name]
			r50 := ratio(w.p50-d.p50, p.p50-d.p50)
			r99 := ratio(w.p99-d.p99, p.p99-d.p99)
			verdicts = append(verdicts, fmt.Sprintf("At %d req/s %s's added latency is %.2fx the bare proxy's at p50 and %.2fx at p99.", rate, name, r50, r99))
		}
	}
	report.WriteString("\n" + strings.Join(verdicts, "\n") + "\n")

	// Saturation: closed loop with many workers, interleaved.
	fmt.Fprintf(&report, "\n### Throughput at saturation\n\n| target | requests/s |\n|---|---|\n")
	sat := map[string]float64{}
	satRounds, satSlice := 4, 2*time.Second
	if *quick {
		satRounds, satSlice = 1, 500*time.Millisecond
	}
	for range satRounds {
		for _, t := range targets {
			sat[t.name] += closedLoop(client, t, 64, satSlice) / float64(satRounds)
		}
	}
	for _, t := range targets {
		fmt.Fprintf(&report, "| %s | %.0f |\n", t.name, sat[t.name])
	}
	fmt.Fprintf(&report, "\nWarden's throughput is %.0f%% of the bare proxy's; with guard, detector and audit log %.0f%%.\n",
		100*sat["warden"]/sat["reverseproxy"], 100*sat["warden-full"]/sat["reverseproxy"])

	// Streams: many concurrent SSE streams; count any that did not end with [DONE].
	n := 3000
	if *quick {
		n = 300
	}
	fmt.Fprintf(&report, "\n### Streams under load\n\n%d streamed chat completions per target, 64 at a time; a stream counts as cut if it did not end with `data: [DONE]`.\n\n| target | streams cut |\n|---|---|\n", n)
	for _, t := range targets[1:] {
		cut := streams(client, t, n, 64)
		fmt.Fprintf(&report, "| %s | %d of %d (%.2f%%) |\n", t.name, cut, n, 100*float64(cut)/float64(n))
	}
	fmt.Print(report.String())
	if *out != "" {
		check(writeSection(*out, report.String()))
		fmt.Fprintf(os.Stderr, "wrote %s\n", *out)
	}
}

// startWarden runs a gateway in front of upstream on a fresh SQLite store
// and returns it as a target. full adds the guard, the detector and the
// audit log, as warden serve runs by default.
func startWarden(ctx context.Context, upstream string, full bool) (target, func()) {
	dir, err := os.MkdirTemp("", "warden-bench-")
	check(err)
	db, err := sqlite.Open(ctx, dir)
	check(err)
	cfg := config.Default()
	cfg.Data = dir
	cfg.Providers = []config.Provider{{Name: "up", Type: "openai", BaseURL: upstream + "/v1"}}
	cfg.Models = []config.Model{{Name: "mock-echo", Provider: "up"}}
	cfg.Prices = map[string]config.Price{"mock-echo": {InputPer1K: 0.001, OutputPer1K: 0.002}}
	bus := &event.Bus{}
	events, err := os.Create(dir + "/events.jsonl")
	check(err)
	jsonl := event.NewJSONL(events)
	bus.Subscribe("events", jsonl, event.Async(1<<16))
	opts := gateway.Options{Config: cfg, Store: db, Bus: bus, PseudonymKey: []byte("bench"),
		Metrics: gateway.NewMetrics(prometheus.NewRegistry())}
	name := "warden"
	var alog *audit.Log
	if full {
		name = "warden-full"
		g, err := guard.New(guard.Options{})
		check(err)
		opts.Guard = g
		det, err := detect.New(detect.Config{}, detect.Options{Keys: db, Store: db})
		check(err)
		bus.Subscribe("detector", det, event.Sync)
		opts.StepUp = det.AllowsStepUp
		alog, err = audit.Open(ctx, db, audit.Config{Origin: "bench.local/audit"}, dir)
		check(err)
		opts.Journal = gateway.JournalFunc(func(ctx context.Context, e *event.Event, prompt, answer []byte) error {
			_, err := alog.Append(ctx, e, &audit.Bodies{Prompt: prompt, Answer: answer})
			return err
		})
	}
	gw, err := gateway.New(opts)
	check(err)
	gw.Start(ctx)
	_, sec, err := keys.Create(ctx, db, keys.Spec{Name: "bench", RPM: 10_000_000, TPM: 1_000_000_000, MaxConcurrent: 100_000}, time.Now())
	check(err)
	ln, err := gateway.Listen("127.0.0.1:0")
	check(err)
	go gateway.Serve(ctx, gateway.NewHTTPServer(gw, cfg.Limits), ln, time.Second)
	return target{name, "http://" + ln.Addr().String(), sec.Reveal()}, func() {
		jsonl.Close()
		if alog != nil {
			alog.Close()
		}
		db.Close()
		os.RemoveAll(dir)
	}
}

func newTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: 90 * time.Second,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
}

func serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String()
}

// chatRequest is a chat completion with body b to t, with t's key if it has one.
func chatRequest(t target, b string) *http.Request {
	req, _ := http.NewRequest("POST", t.url+"/v1/chat/completions", strings.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if t.key != "" {
		req.Header.Set("Authorization", "Bearer "+t.key)
	}
	return req
}

func do(c *http.Client, t target, b string) error {
	resp, err := c.Do(chatRequest(t, b))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// openLoop sends at a fixed rate for d and returns latencies measured from
// each request's intended send time.
func openLoop(c *http.Client, t target, rate int, d time.Duration) ([]time.Duration, int) {
	n := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, n)
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	defer func() {
		if e := errs.Load(); e > 0 {
			errKinds.Range(func(k, v any) bool {
				fmt.Fprintf(os.Stderr, "%s: error %v\n", t.name, k)
				return true
			})
		}
	}()
	for i := range n {
		intended := start.Add(time.Duration(i) * interval)
		if w := time.Until(intended); w > 0 {
			time.Sleep(w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := do(c, t, body); err != nil {
				errs.Add(1)
				errKinds.Store(err.Error(), true)
			}
			lat[i] = time.Since(intended)
		}()
	}
	wg.Wait()
	return lat, int(errs.Load())
}

func closedLoop(c *http.Client, t target, workers int, d time.Duration) float64 {
	var done atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if do(c, t, body) == nil {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / d.Seconds()
}

func streams(c *http.Client, t target, n, conc int) int {
	var cut atomic.Int64
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			resp, err := c.Do(chatRequest(t, streamBody))
			if err != nil {
				cut.Add(1)
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || !bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) {
				cut.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(cut.Load())
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		b = time.Microsecond
	}
	return float64(a) / float64(b)
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// writeSection replaces the "## Gateway overhead" section of path (up to
// the next "## " heading) with section, or appends it.
func writeSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	if s == "" {
		s = "# Benchmarks\n\nEvery figure here is written by a program in bench/ that anyone can rerun.\n\n"
	}
	head := "## Gateway overhead"
	i := strings.Index(s, head)
	if i < 0 {
		return os.WriteFile(path, []byte(strings.TrimRight(s, "\n")+"\n\n"+section), 0o644)
	}
	rest := s[i+len(head):]
	j := strings.Index(rest, "\n## ")
	tail := ""
	if j >= 0 {
		tail = rest[j+1:]
	}
	return os.WriteFile(path, []byte(s[:i]+section+"\n"+tail), 0o644)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
