package measure

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

// stages maps a function of Warden's request path to the stage it stands for.
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

// Budget prints each stage's CPU time per request, as a Markdown table,
// from the CPU profiles taken while n requests were served (one per
// process of the deployment).
func Budget(w io.Writer, n int, ps ...*profile.Profile) {
	byStage := map[string]int64{}
	var total int64
	for _, p := range ps {
		idx := len(p.SampleType) - 1 // cpu nanoseconds
		for _, s := range p.Sample {
			v := s.Value[idx]
			total += v
			byStage[stageOf(s)] += v
		}
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
