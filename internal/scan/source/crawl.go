package source

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/temoto/robotstxt"

	"github.com/wardenhq/warden/internal/clock"
)

const (
	// maxRobotsBytes is how much of a robots.txt is read; Google reads
	// 500 KiB and ignores the rest (RFC 9309 section 2.5 asks for at least
	// that much).
	maxRobotsBytes = 500 << 10
	// maxCrawlDelay caps a robots.txt Crawl-delay, so a hostile or mistaken
	// one cannot stall a scan for hours; the time budget bounds the rest.
	maxCrawlDelay = 30 * time.Second
	// skipExamples URLs are kept per skip reason for the summary.
	skipExamples = 5
)

// skipReason says why a URL found by a crawl was not scanned.
type skipReason string

const (
	skipRobots     skipReason = "disallowed by robots.txt"
	skipOrigin     skipReason = "another origin"
	skipDepth      skipReason = "beyond the link depth"
	skipPageBudget skipReason = "page budget spent"
	skipByteBudget skipReason = "byte budget spent"
	skipTimeBudget skipReason = "time budget spent"
	skipFailed     skipReason = "fetch failed"
	skipMedia      skipReason = "image, audio, video or font"
	skipBinary     skipReason = "binary content"
	skipTruncated  skipReason = "truncated at the size limit (rest not read)"
)

// CrawlSummary says what a crawl fetched and what it skipped, and why.
type CrawlSummary struct {
	Start   string
	Robots  string // how robots.txt was applied
	Fetched int    // responses scanned
	Bytes   int64  // body bytes read
	Skipped []Skip // by reason, in the order first met
}

// Skip counts the URLs skipped for one reason, with a few examples.
type Skip struct {
	Reason   string
	Count    int
	Examples []string
}

// String renders the summary for people, one line per reason.
func (c CrawlSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "crawl of %s: %d fetched, %.1f MB read; robots.txt: %s\n", c.Start, c.Fetched, float64(c.Bytes)/1e6, c.Robots)
	for _, s := range c.Skipped {
		fmt.Fprintf(&b, "  skipped %d: %s (e.g. %s)\n", s.Count, s.Reason, strings.Join(s.Examples, ", "))
	}
	return b.String()
}

// crawl is the state of one Web call.
type crawl struct {
	s      *Scanner
	o      WebOptions
	origin *url.URL
	client http.Client
	limit  *hostLimiter
	parent context.Context // the caller's context, to tell its end from the time budget

	robots  *robotstxt.Group // nil: everything allowed
	denyAll bool             // robots.txt unavailable: nothing allowed
	sum     CrawlSummary
}

// loadRobots fetches /robots.txt of the origin and keeps the group that
// applies to the user agent. Following RFC 9309: a 4xx answer (no file)
// allows everything; a 5xx answer disallows everything (section 2.3.1.4),
// as does a file that cannot be read or parsed. A site that cannot be
// reached at all is an error.
func (c *crawl) loadRobots(ctx context.Context) error {
	if c.o.IgnoreRobots {
		c.sum.Robots = "ignored (--ignore-robots)"
		return nil
	}
	ru := &url.URL{Scheme: c.origin.Scheme, Host: c.origin.Host, Path: "/robots.txt"}
	if err := c.limit.wait(ctx, ru.Host, time.Now); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ru.String(), nil)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	req.Header.Set("User-Agent", c.o.UserAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("source: site unreachable: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRobotsBytes))
	if err != nil {
		c.disallowAll(fmt.Sprintf("unreadable (%v): nothing fetched", err))
		return nil
	}
	data, err := robotstxt.FromStatusAndBytes(resp.StatusCode, body)
	if err != nil {
		c.disallowAll(fmt.Sprintf("HTTP %d, not understood (%v): nothing fetched", resp.StatusCode, err))
		return nil
	}
	c.robots = data.FindGroup(c.o.UserAgent)
	switch {
	case resp.StatusCode >= 500:
		c.disallowAll(fmt.Sprintf("HTTP %d, unavailable: nothing fetched", resp.StatusCode))
		return nil
	case resp.StatusCode >= 400:
		c.sum.Robots = fmt.Sprintf("none (HTTP %d): everything allowed", resp.StatusCode)
	default:
		c.sum.Robots = "honoured (--ignore-robots to scan disallowed paths of your own site)"
	}
	if d := c.robots.CrawlDelay; d > c.limit.every {
		if d > maxCrawlDelay {
			d = maxCrawlDelay
		}
		c.limit.every = d
		c.sum.Robots += fmt.Sprintf("; Crawl-delay %v", d)
	}
	return nil
}

func (c *crawl) disallowAll(why string) {
	c.denyAll = true
	c.sum.Robots = why
}

// allowed reports whether robots.txt lets the crawl fetch u.
func (c *crawl) allowed(u *url.URL) bool {
	if c.denyAll {
		return false
	}
	if c.robots == nil {
		return true
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return c.robots.Test(p)
}

func (c *crawl) skip(r skipReason, example string) {
	i := slices.IndexFunc(c.sum.Skipped, func(s Skip) bool { return s.Reason == string(r) })
	if i < 0 {
		c.sum.Skipped = append(c.sum.Skipped, Skip{Reason: string(r)})
		i = len(c.sum.Skipped) - 1
	}
	sk := &c.sum.Skipped[i]
	sk.Count++
	if len(sk.Examples) < skipExamples {
		sk.Examples = append(sk.Examples, example)
	}
}

// skipRest records the item in hand and everything still queued as skipped.
func (c *crawl) skipRest(r skipReason, it crawlItem, queue []crawlItem) {
	c.skip(r, it.u.String())
	for _, q := range queue {
		c.skip(r, q.u.String())
	}
}

// timedOut reports whether the crawl's own time budget (not the caller's
// context) ended it.
func (c *crawl) timedOut(ctx context.Context) bool {
	return ctx.Err() != nil && c.parent.Err() == nil
}

// report hands the summary to OnSummary, and logs it: at info level when
// there is no OnSummary to show it, at debug level otherwise.
func (c *crawl) report() {
	level := slog.LevelInfo
	if c.o.OnSummary != nil {
		c.o.OnSummary(c.sum)
		level = slog.LevelDebug
	}
	ctx := context.Background()
	c.s.Opts.Logger.Log(ctx, level, "scan: crawl done", "start", c.sum.Start, "fetched", c.sum.Fetched, "bytes", c.sum.Bytes, "robots", c.sum.Robots)
	for _, sk := range c.sum.Skipped {
		c.s.Opts.Logger.Log(ctx, level, "scan: crawl skipped", "reason", sk.Reason, "count", sk.Count, "examples", sk.Examples)
	}
}

// hostLimiter spaces requests to each host at least every apart.
type hostLimiter struct {
	every time.Duration

	mu   sync.Mutex
	next map[string]time.Time // earliest time of the next request per host
}

func newHostLimiter(every time.Duration) *hostLimiter {
	return &hostLimiter{every: every, next: map[string]time.Time{}}
}

// reserve books the next slot for host and returns how long to wait for it.
func (l *hostLimiter) reserve(host string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := l.next[host]
	if at.Before(now) {
		at = now
	}
	l.next[host] = at.Add(l.every)
	return at.Sub(now)
}

// wait blocks until host may be sent a request, or ctx ends.
func (l *hostLimiter) wait(ctx context.Context, host string, now func() time.Time) error {
	if l.every <= 0 {
		return ctx.Err()
	}
	d := l.reserve(host, now())
	if d <= 0 {
		return ctx.Err()
	}
	return clock.Sleep(ctx, d)
}
