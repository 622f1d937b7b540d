package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// profileFor is how long a profiled load runs.
const profileFor = 20 * time.Second

// profiles loads t at 1,000 req/s for 20 s and writes profiles into dir,
// then prints the CPU time per request of each stage of the request path.
// For the in-process target they are this process's profiles (CPU,
// allocations, mutex, block; the load generator and the upstream are in
// them too). For the binary they come from its admin API (CPU and
// allocations: only Warden's own work).
func profiles(dir string, c *http.Client, t target) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var cpu bytes.Buffer
	var l latency
	if t.admin == "" {
		runtime.SetMutexProfileFraction(5)
		runtime.SetBlockProfileRate(int(10 * time.Microsecond))
		if err := pprof.StartCPUProfile(&cpu); err != nil {
			return err
		}
		l = openLoop(c, t, 1000, profileFor)
		pprof.StopCPUProfile()
		for _, name := range []string{"allocs", "mutex", "block"} {
			var b bytes.Buffer
			if err := pprof.Lookup(name).WriteTo(&b, 0); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, name+".pprof"), b.Bytes(), 0o644); err != nil {
				return err
			}
		}
	} else {
		got := make(chan error, 1)
		go func() {
			got <- t.adminGet(fmt.Sprintf("/admin/v1/debug/pprof/profile?seconds=%d", int(profileFor.Seconds())), &cpu)
		}()
		l = openLoop(c, t, 1000, profileFor)
		if err := <-got; err != nil {
			return err
		}
		var allocs bytes.Buffer
		if err := t.adminGet("/admin/v1/debug/pprof/allocs", &allocs); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "allocs.pprof"), allocs.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu.pprof"), cpu.Bytes(), 0o644); err != nil {
		return err
	}
	s := l.summary()
	fmt.Printf("profiled %s at 1000 req/s for %s: p50 %s, p99 %s, %d errors; profiles in %s\n\n",
		t.name, profileFor, fmtDur(s.p50), fmtDur(s.p99), s.errors, dir)
	p, err := profile.Parse(&cpu)
	if err != nil {
		return err
	}
	printBudget(os.Stdout, p, len(l.lat))
	return nil
}

// stages maps a function of the request path to the stage it stands for.
// A CPU sample counts for the innermost of these functions on its stack,
// so a stage's figure is its own work, not its callees' stages (the
// detector's time is not counted again in the event bus).
var stages = []struct{ fn, stage string }{
	{"internal/gateway.(*exchange).inspectPrompt", "guard on the prompt"},
	{"internal/gateway.(*exchange).inspectAnswer", "guard on the answer"},
	{"internal/gateway.(*exchange).readBody", "read and parse the request (once)"},
	{"internal/gateway.parseAnswer", "parse the answer (once)"},
	{"internal/gateway.(*exchange).identifyClient", "key lookup and authorisation"},
	{"internal/gateway.(*exchange).authenticate", "key lookup and authorisation"},
	{"internal/gateway.(*exchange).authorize", "key lookup and authorisation"},
	{"internal/gateway.(*exchange).limit", "limits"},
	{"internal/audit.(*Log).Append", "audit: the entry (request goroutine)"},
	{"internal/audit.(*Log).run", "audit: group commit (background)"},
	{"internal/audit.(*Log).integrateLoop", "audit: integration and checkpoints (background)"},
	{"internal/audit.(*Log).checkpointLoop", "audit: integration and checkpoints (background)"},
	{"internal/detect.(*Detector).Handle", "detector"},
	{"internal/event.(*Bus).Publish", "event bus, usage ledger, metrics"},
	{"internal/event.(*Subscription).run", "async subscribers (live view, events file)"},
	{"internal/provider.(*Pool).Do", "forward: the upstream request"},
	{"net/http.(*persistConn).readLoop", "forward: upstream connection I/O"},
	{"net/http.(*persistConn).writeLoop", "forward: upstream connection I/O"},
	{"internal/gateway.(*exchange).relayWhole", "relay the answer"},
	{"internal/gateway.(*Server).serve", "gateway: other steps"},
	{"net/http.(*conn).serve", "HTTP server: read the request, write the answer"},
	{"runtime.gcBgMarkWorker", "garbage collection (background)"},
}

// printBudget prints each stage's CPU time per request from a CPU profile
// taken while n requests were served.
func printBudget(w io.Writer, p *profile.Profile, n int) {
	idx := len(p.SampleType) - 1 // cpu nanoseconds
	byStage := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		byStage[stageOf(s)] += v
	}
	type row struct {
		stage string
		ns    int64
	}
	var rows []row
	for st, ns := range byStage {
		rows = append(rows, row{st, ns})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ns > rows[j].ns })
	fmt.Fprintf(w, "| stage | CPU per request | share |\n|---|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %.1f µs | %.1f%% |\n", r.stage, float64(r.ns)/float64(n)/1e3, 100*float64(r.ns)/float64(total))
	}
	fmt.Fprintf(w, "| **all** | **%.1f µs** | 100%% |\n", float64(total)/float64(n)/1e3)
}

func stageOf(s *profile.Sample) string {
	for _, loc := range s.Location { // leaf first
		for _, line := range loc.Line { // inlined frames: innermost first
			name := line.Function.Name
			for _, st := range stages {
				if strings.HasSuffix(name, st.fn) {
					return st.stage
				}
			}
		}
	}
	return "other (runtime, scheduler, idle polling)"
}
