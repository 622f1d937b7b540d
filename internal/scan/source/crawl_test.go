package source

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/scan"
	"github.com/wardenhq/warden/internal/scan/fakes"
)

// site is a real local web site that records every path requested.
type site struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newSite(t *testing.T, robots string, robotsStatus int, pages map[string]string) *site {
	t.Helper()
	s := &site{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		if r.URL.Path == "/robots.txt" {
			w.WriteHeader(robotsStatus)
			fmt.Fprint(w, robots)
			return
		}
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *site) hit(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func crawlSite(t *testing.T, start string, o WebOptions) ([]scan.Finding, CrawlSummary, error) {
	t.Helper()
	e, err := scan.NewEngine(scan.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	var sum CrawlSummary
	o.OnSummary = func(s CrawlSummary) { sum = s }
	if o.Delay == 0 {
		o.Delay = -1
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fs, err := New(e, Options{Web: o, Logger: quiet}).Collect(context.Background(), start)
	return fs, sum, err
}

// TestCrawlHonoursRobots: a path robots.txt disallows is not fetched, and
// the summary says so, unless IgnoreRobots is set.
func TestCrawlHonoursRobots(t *testing.T) {
	pos := fakes.New(31).Positives()
	robots := "User-agent: *\nDisallow: /private/\nAllow: /private/ok.html\n\nUser-agent: otherbot\nDisallow: /\n"
	s := newSite(t, robots, 200, map[string]string{
		"/":                  `<a href="/private/keys.html">k</a> <a href="/private/ok.html">ok</a> <a href="/public.html">p</a>`,
		"/public.html":       "<p>" + pos[0].Text + "</p>",
		"/private/keys.html": "<p>" + pos[1].Text + "</p>",
		"/private/ok.html":   "<p>" + pos[2].Text + "</p>",
	})
	fs, sum, err := crawlSite(t, s.URL+"/", WebOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.hit("/private/keys.html") != 0 {
		t.Fatal("fetched a path robots.txt disallows")
	}
	if s.hit("/private/ok.html") != 1 || s.hit("/robots.txt") != 1 || len(fs) != 2 {
		t.Fatalf("hits %v, %d findings", s.hits, len(fs))
	}
	if len(sum.Skipped) != 1 || sum.Skipped[0].Reason != string(skipRobots) || sum.Skipped[0].Count != 1 ||
		sum.Skipped[0].Examples[0] != s.URL+"/private/keys.html" || sum.Fetched != 3 {
		t.Fatalf("summary: %+v", sum)
	}
	if !strings.Contains(sum.String(), "skipped 1: disallowed by robots.txt") {
		t.Fatalf("summary text: %s", sum)
	}

	fs, sum, err = crawlSite(t, s.URL+"/", WebOptions{IgnoreRobots: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.hit("/private/keys.html") != 1 || s.hit("/robots.txt") != 1 || len(fs) != 3 || len(sum.Skipped) != 0 {
		t.Fatalf("ignoring robots: hits %v, %d findings, %+v", s.hits, len(fs), sum)
	}
}

// TestCrawlRobotsStatus: no robots.txt (404) allows everything; a server
// error (503) allows nothing (RFC 9309 2.3.1.4), reported in the summary.
func TestCrawlRobotsStatus(t *testing.T) {
	pos := fakes.New(32).Positives()
	pages := map[string]string{"/": "<p>" + pos[0].Text + "</p>"}
	for _, c := range []struct {
		status   int
		findings int
	}{{404, 1}, {503, 0}} {
		s := newSite(t, "", c.status, pages)
		fs, sum, err := crawlSite(t, s.URL+"/", WebOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != c.findings || s.hit("/") != c.findings {
			t.Fatalf("robots.txt %d: %d findings, hits %v, %+v", c.status, len(fs), s.hits, sum)
		}
		if c.status == 503 && (!strings.Contains(sum.Robots, "503") || sum.Skipped[0].Reason != string(skipRobots)) {
			t.Fatalf("summary: %+v", sum)
		}
	}
	if _, _, err := crawlSite(t, "http://127.0.0.1:1/", WebOptions{}); err == nil {
		t.Fatal("an unreachable site is not an error")
	}
}

// TestCrawlBudgets: the byte budget stops the crawl and the summary names
// what was left.
func TestCrawlBudgets(t *testing.T) {
	big := strings.Repeat("lorem ipsum dolor sit amet\n", 2000) // 54 KB
	s := newSite(t, "", 404, map[string]string{
		"/":  `<a href="/a">a</a><a href="/b">b</a><a href="/c">c</a>` + big,
		"/a": big, "/b": big, "/c": big,
	})
	_, sum, err := crawlSite(t, s.URL+"/", WebOptions{MaxBytes: 120_000})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Bytes > 120_000 || s.hit("/c") != 0 {
		t.Fatalf("read %d bytes over a 120000 budget; hits %v", sum.Bytes, s.hits)
	}
	var reasons []string
	for _, sk := range sum.Skipped {
		reasons = append(reasons, sk.Reason)
	}
	if !strings.Contains(strings.Join(reasons, ";"), string(skipByteBudget)) {
		t.Fatalf("summary: %+v", sum)
	}
	_, sum, err = crawlSite(t, s.URL+"/", WebOptions{MaxRequests: 2})
	if err != nil || sum.Fetched != 2 || sum.Skipped[0].Reason != string(skipPageBudget) || sum.Skipped[0].Count != 2 {
		t.Fatalf("page budget: %+v %v", sum, err)
	}
}

// TestHostLimiter: requests to one host are spaced by the interval; other
// hosts have their own schedule.
func TestHostLimiter(t *testing.T) {
	l := newHostLimiter(100 * time.Millisecond)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		host string
		at   time.Duration
		wait time.Duration
	}{
		{"a", 0, 0},
		{"a", 10 * time.Millisecond, 90 * time.Millisecond},
		{"a", 20 * time.Millisecond, 180 * time.Millisecond},
		{"b", 20 * time.Millisecond, 0},
		{"a", time.Second, 0},
	}
	for i, s := range steps {
		if got := l.reserve(s.host, t0.Add(s.at)); got != s.wait {
			t.Errorf("step %d: wait %v, want %v", i, got, s.wait)
		}
	}
}

// TestCrawlTimeBudget: a page that never answers ends the crawl at its time
// budget, with the summary saying so and no error.
func TestCrawlTimeBudget(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<a href="/slow">s</a><a href="/next">n</a>`)
		case "/slow":
			select { // hold the answer until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	_, sum, err := crawlSite(t, srv.URL+"/", WebOptions{MaxDuration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, sk := range sum.Skipped {
		reasons = append(reasons, sk.Reason)
	}
	if !slices.Contains(reasons, string(skipTimeBudget)) {
		t.Fatalf("summary: %+v", sum)
	}
}
