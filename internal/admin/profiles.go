package admin

import (
	"net/http"
	"runtime/pprof"
	"strconv"
	"time"
)

// maxProfileSeconds bounds a CPU profile request.
const maxProfileSeconds = 60

// Profiles serves the running process's profiles in pprof's format, for
// finding where a loaded gateway spends its time (docs/benchmarks.md,
// "Latency budget"): GET /admin/v1/debug/pprof/profile?seconds=N records
// the CPU for N seconds (default 10, at most 60); GET
// /admin/v1/debug/pprof/NAME writes the runtime's named profile (allocs,
// heap, goroutine, mutex, block, threadcreate). Only admins may read
// them (Required). It writes its own handlers rather than importing
// net/http/pprof, which would also register itself on
// http.DefaultServeMux.
func Profiles() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v1/debug/pprof/profile", cpuProfile)
	mux.HandleFunc("GET /admin/v1/debug/pprof/{name}", func(w http.ResponseWriter, r *http.Request) {
		p := pprof.Lookup(r.PathValue("name"))
		if p == nil {
			Error(w, http.StatusNotFound, "not_found", "no such profile: "+r.PathValue("name"))
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		p.WriteTo(w, 0)
	})
	return mux
}

func cpuProfile(w http.ResponseWriter, r *http.Request) {
	sec := 10
	if s := r.URL.Query().Get("seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxProfileSeconds {
			Error(w, http.StatusBadRequest, "invalid_request", "seconds must be 1 to 60")
			return
		}
		sec = n
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := pprof.StartCPUProfile(w); err != nil {
		// Another profile is running: the runtime records one at a time.
		Error(w, http.StatusConflict, "profile_running", "a CPU profile is being recorded already; retry when it ends")
		return
	}
	t := time.NewTimer(time.Duration(sec) * time.Second)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
	}
	pprof.StopCPUProfile()
}
