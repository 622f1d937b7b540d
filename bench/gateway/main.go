// Command gateway measures what Warden adds to a request, against a bare
// httputil.ReverseProxy and direct calls, all in front of the same mock
// upstream, in one run.
//
//	go run ./bench/gateway [-binary] [-quick] [-out docs/benchmarks.md]
//	go run ./bench/gateway -profile DIR
//
// Warden runs as `warden serve` runs by default: the same assembly
// (warden.New) with the default configuration, so the guard on prompts and
// answers, the detector, the audit log (each answer waits for its durable
// entry), usage accounting, metrics and the console's live view are on.
// Only the provider differs: it points at the bench's mock upstream, which
// the bare proxy and the direct calls use too.
//
// With -binary the run adds a second pair measured the same way: the real
// `warden serve` binary (built from ./cmd/warden) against a bare proxy in a
// process of its own, so both pay for a process and a loopback hop alike.
//
// The machine is shared and noisy, so only same-run ratios mean anything:
// targets are measured in interleaved slices, round after round. Fixed-rate
// phases are open-loop: each request has an intended send time and its
// latency counts from that time, so a stalled server cannot hide its
// queueing (no coordinated omission).
//
// -profile DIR loads Warden at 1,000 req/s (-profile-rate; 0 saturates it
// with 64 closed-loop clients) for 20 s, writes its profiles
// to DIR and prints the CPU time per request of each stage (the latency
// budget in docs/benchmarks.md): the in-process Warden's CPU, allocation,
// mutex and block profiles, or with -binary the binary's CPU and
// allocation profiles, fetched from its admin API.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wardenhq/warden/bench/measure"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/gateway"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/live"
	"github.com/wardenhq/warden/internal/provider/mock"
	"github.com/wardenhq/warden/internal/store/sqlite"
	"github.com/wardenhq/warden/internal/warden"
	"github.com/wardenhq/warden/internal/workload"
)

type target struct {
	name string
	url  string // base URL, requests go to url+"/v1/chat/completions"
	key  string
	// base is the bare proxy this target is compared with ("" for none).
	base string
	// admin and token reach the admin API of a Warden process ("" in
	// process).
	admin, token string
}

// adminGet fetches path from t's admin API into w.
func (t target) adminGet(path string, w io.Writer) error {
	req, err := http.NewRequest("GET", t.admin+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.token)
	c := &http.Client{Timeout: profileFor + 30*time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// body returns the next chat request of the benchmark: the same system
// prompt and notes each time, with a meeting reference of its own (see
// workload.ChatBodyN: the guard judges each user turn, as it would an
// application's). Every body has the same size and shape, whatever its
// target.
func body() string { return workload.ChatBodyN(meeting.Add(1)) }

var meeting atomic.Uint64

// streamBody is the benchmark's streamed request.
var streamBody = workload.StreamBody

func main() {
	quick := flag.Bool("quick", false, "short run (for a smoke test)")
	out := flag.String("out", "docs/benchmarks.md", "write the results as Markdown here ('' for stdout only)")
	binary := flag.Bool("binary", false, "also measure the real `warden serve` binary against a bare proxy process")
	profile := flag.String("profile", "", "load Warden (with -binary: the binary) at -profile-rate, write its profiles to this directory, print the CPU per stage and exit")
	profileRate := flag.Int("profile-rate", 1000, "with -profile: requests per second (0: saturate with 64 closed-loop clients)")
	proxyFor := flag.String("proxy-for", "", "internal: run only a bare reverse proxy to this upstream (used by -binary)")
	proxyAddr := flag.String("proxy-listen", "127.0.0.1:0", "internal: with -proxy-for, listen here")
	flag.Parse()
	if *proxyFor != "" {
		runProxy(*proxyFor, *proxyAddr)
		return
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	upstream := serve(&mock.Handler{})
	proxyURL := serve(newProxy(upstream))
	wd, closeWarden := startWarden(ctx, upstream)
	defer closeWarden()
	targets := []target{
		{name: "direct", url: upstream},
		{name: "reverseproxy", url: proxyURL},
		{name: "warden", url: wd.url, key: wd.key, base: "reverseproxy"},
	}
	if *binary {
		procs, stop := startProcesses(upstream)
		defer stop()
		targets = append(targets, procs...)
	}
	client := &http.Client{Transport: newTransport(), Timeout: 30 * time.Second}
	for _, t := range targets { // warm up connections and code paths
		for range 500 {
			if err := do(client, t, body()); err != nil {
				log.Fatalf("%s: warm-up: %v", t.name, err)
			}
		}
	}
	if *profile != "" {
		check(profiles(*profile, client, targets[len(targets)-1], *profileRate)) // the binary with -binary
		return
	}

	rates := []int{500, 1000, 2000}
	rounds, slice := 6, 2*time.Second
	satRounds, satSlice, nStreams := 4, 2*time.Second, 3000
	if *quick {
		rates, rounds, slice = []int{1000}, 2, 500*time.Millisecond
		satRounds, satSlice, nStreams = 1, 500*time.Millisecond, 300
	}
	var report strings.Builder
	fmt.Fprintf(&report, "## Gateway overhead\n\nMeasured %s by `go run ./bench/gateway%s` on %s, %d cores (GOMAXPROCS %d), %s.\n",
		time.Now().UTC().Format("2006-01-02"), map[bool]string{true: " -binary"}[*binary], cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Fprintf(&report, "Load generator, mock upstream, bare proxies and Warden share the machine. Targets are interleaved in %s slices, %d rounds per rate; "+
		"latency is open-loop (from the intended send time); requests are ~1 KB chat completions (a system persona and meeting notes that end with a reference of their own, so that each user turn is new: see internal/workload). "+
		"`warden` is the assembly of `warden serve` with its default configuration (guard on prompts and answers, detector, audit log with every answer waiting for its durable entry, usage, metrics, live view), in the benchmark's process, next to an in-process `reverseproxy`.", slice, rounds)
	if *binary {
		report.WriteString(" `warden serve (binary)` is the real binary with its defaults, next to `reverseproxy (process)`, a bare proxy in a process of its own.")
	}
	report.WriteString("\n\n| rate (req/s) | target | p50 | p99 | added p50 | added p99 | errors |\n|---|---|---|---|---|---|---|\n")
	var verdicts []string
	for _, rate := range rates {
		res := map[string]latency{}
		for range rounds {
			for _, t := range targets {
				res[t.name] = res[t.name].add(openLoop(client, t, rate, slice))
			}
		}
		d := res["direct"].summary()
		for _, t := range targets {
			r := res[t.name].summary()
			added50, added99 := "", ""
			if t.name != "direct" {
				added50, added99 = fmtDur(r.p50-d.p50), fmtDur(r.p99-d.p99)
			}
			fmt.Fprintf(&report, "| %d | %s | %s | %s | %s | %s | %d |\n", rate, t.name, fmtDur(r.p50), fmtDur(r.p99), added50, added99, r.errors)
		}
		for _, t := range targets {
			if t.base == "" {
				continue
			}
			w, p := res[t.name].summary(), res[t.base].summary()
			verdicts = append(verdicts, fmt.Sprintf("At %d req/s `%s` adds %.2fx what `%s` adds at p50 and %.2fx at p99.",
				rate, t.name, ratio(w.p50-d.p50, p.p50-d.p50), t.base, ratio(w.p99-d.p99, p.p99-d.p99)))
		}
	}
	report.WriteString("\n" + strings.Join(verdicts, "\n") + "\n")

	// Saturation: closed loop with many workers, interleaved.
	fmt.Fprintf(&report, "\n### Throughput at saturation\n\n64 closed-loop clients, %d rounds of %s per target.\n\n| target | requests/s |\n|---|---|\n", satRounds, satSlice)
	sat := map[string]float64{}
	for range satRounds {
		for _, t := range targets {
			sat[t.name] += closedLoop(client, t, 64, satSlice) / float64(satRounds)
		}
	}
	for _, t := range targets {
		fmt.Fprintf(&report, "| %s | %.0f |\n", t.name, sat[t.name])
	}
	report.WriteString("\n")
	for _, t := range targets {
		if t.base != "" {
			fmt.Fprintf(&report, "`%s` serves %.2fx the requests per second of `%s`.\n", t.name, sat[t.name]/sat[t.base], t.base)
		}
	}

	// Streams: many concurrent SSE streams; count any that did not end with [DONE].
	fmt.Fprintf(&report, "\n### Streams under load\n\n%d streamed chat completions per target, 64 at a time; a stream counts as cut if it did not end with `data: [DONE]`.\n\n| target | streams cut |\n|---|---|\n", nStreams)
	for _, t := range targets[1:] {
		cut := streams(client, t, nStreams, 64)
		fmt.Fprintf(&report, "| %s | %d of %d (%.2f%%) |\n", t.name, cut, nStreams, 100*float64(cut)/float64(nStreams))
	}
	fmt.Print(report.String())
	if *out != "" {
		check(measure.WriteSection(*out, "## Gateway overhead", report.String()))
		fmt.Fprintf(os.Stderr, "wrote %s\n", *out)
	}
}

// startWarden assembles Warden as `warden serve` does (warden.New with the
// default configuration, the live view subscribed), on a fresh SQLite store
// in a temporary data directory, with the provider pointed at upstream.
func startWarden(ctx context.Context, upstream string) (target, func()) {
	dir, err := os.MkdirTemp("", "warden-bench-")
	check(err)
	db, err := sqlite.Open(ctx, dir)
	check(err)
	cfg := benchConfig(dir, upstream)
	w, err := warden.New(ctx, warden.Options{Config: cfg, Store: db, PseudonymKey: []byte("bench"), Registry: prometheus.NewRegistry()})
	check(err)
	view := live.New(live.Options{Risk: w.Detector.Risk})
	w.Bus.Subscribe("console-live", view, event.Async(65536))
	w.Start()
	_, sec, err := keys.Create(ctx, w.Keys, keys.Spec{Name: "bench", RPM: 100_000_000, TPM: 100_000_000}, time.Now())
	check(err)
	ln, err := gateway.Listen("127.0.0.1:0")
	check(err)
	go gateway.Serve(ctx, gateway.NewHTTPServer(w.Gateway, cfg.Limits), ln, time.Second)
	return target{url: "http://" + ln.Addr().String(), key: sec.Reveal()}, func() {
		w.Close()
		db.Close()
		os.RemoveAll(dir)
	}
}

// benchConfig is the default configuration with one OpenAI-compatible
// provider at upstream serving mock-echo.
func benchConfig(dir, upstream string) *config.Config {
	cfg := config.Default()
	cfg.Data = dir
	cfg.Providers = []config.Provider{{Name: "up", Type: "openai", BaseURL: upstream + "/v1"}}
	cfg.Models = []config.Model{{Name: "mock-echo", Provider: "up"}}
	cfg.Prices = map[string]config.Price{"mock-echo": {InputPer1K: 0.001, OutputPer1K: 0.002}}
	return cfg
}

func newProxy(upstream string) http.Handler {
	u, err := url.Parse(upstream)
	check(err)
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = newTransport()
	return p
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
