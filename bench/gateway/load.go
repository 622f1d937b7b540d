package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// latency collects the latencies and errors of a target over rounds.
type latency struct {
	lat    []time.Duration
	errors int
}

func (l latency) add(o latency) latency {
	return latency{append(l.lat, o.lat...), l.errors + o.errors}
}

type summary struct {
	p50, p99 time.Duration
	errors   int
}

func (l latency) summary() summary {
	return summary{pct(l.lat, 50), pct(l.lat, 99), l.errors}
}

// errKinds collects distinct request errors for the log.
var errKinds sync.Map

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

// chatRequest is a chat completion request with body b to t.
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
func openLoop(c *http.Client, t target, rate int, d time.Duration) latency {
	n := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, n)
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		intended := start.Add(time.Duration(i) * interval)
		if w := time.Until(intended); w > 0 {
			time.Sleep(w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := do(c, t, body()); err != nil {
				errs.Add(1)
				errKinds.Store(t.name+": "+err.Error(), true)
			}
			lat[i] = time.Since(intended)
		}()
	}
	wg.Wait()
	if errs.Load() > 0 {
		errKinds.Range(func(k, _ any) bool {
			fmt.Fprintf(os.Stderr, "error %v\n", k)
			return true
		})
	}
	return latency{lat, int(errs.Load())}
}

func closedLoop(c *http.Client, t target, workers int, d time.Duration) float64 {
	return float64(len(saturate(c, t, workers, d).lat)) / d.Seconds()
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

// saturate runs workers closed-loop clients for d and keeps the latency of
// each request answered: closedLoop's throughput, and a profile's
// percentiles at saturation.
func saturate(c *http.Client, t target, workers int, d time.Duration) latency {
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				start := time.Now()
				if do(c, t, body()) != nil {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return latency{lat, int(errs.Load())}
}
