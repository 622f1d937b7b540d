package source

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/html"

	"github.com/wardenhq/warden/internal/scan"
)

// WebOptions bound a crawl and make it polite. Zero values take the defaults.
type WebOptions struct {
	// Depth is how many <a href> links away from the start page (depth 0)
	// the crawl goes. The scripts, stylesheets and source maps a page uses
	// are fetched at that page's depth: a key in a bundle is as exposed as
	// one in the page. Default 2.
	Depth int
	// MaxRequests is the page budget of the whole crawl: requests for
	// pages, scripts, stylesheets and maps (robots.txt not counted).
	// Default 200.
	MaxRequests int
	// MaxBytes is the byte budget of the whole crawl: response bodies read.
	// Default 100 MiB.
	MaxBytes int64
	// MaxDuration bounds the whole crawl. Default 10 minutes.
	MaxDuration time.Duration
	// Delay is the least time between two requests to the same host: the
	// per-host rate limit. A Crawl-delay in robots.txt that is longer wins,
	// up to maxCrawlDelay. Default 100ms; negative means none.
	Delay time.Duration
	// Timeout bounds each request. Default 10s.
	Timeout time.Duration
	// MaxBodyBytes bounds each response body read. Default 10 MiB.
	MaxBodyBytes int64
	// UserAgent is sent with each request and matched against robots.txt
	// groups. Default "warden-scan/1".
	UserAgent string
	// IgnoreRobots skips robots.txt: for sites you own, where a disallowed
	// path may be exactly where a key leaked.
	IgnoreRobots bool
	// Client, when not nil, is used instead of a default client. Its
	// redirect policy is replaced by one that stays within the origin.
	Client *http.Client
	// OnSummary, when not nil, receives the summary of each crawl: what was
	// fetched, and what was skipped and why. Nil means the summary is only
	// logged.
	OnSummary func(CrawlSummary)
}

func (o WebOptions) withDefaults() WebOptions {
	if o.Depth == 0 {
		o.Depth = 2
	}
	if o.Depth < 0 {
		o.Depth = 0
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 200
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 100 << 20
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 10 * time.Minute
	}
	if o.Delay == 0 {
		o.Delay = 100 * time.Millisecond
	}
	if o.Delay < 0 {
		o.Delay = 0
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 10 << 20
	}
	if o.UserAgent == "" {
		o.UserAgent = "warden-scan/1"
	}
	return o
}

var sourceMapRe = regexp.MustCompile(`[#@]\s*sourceMappingURL=([^\s'"*]+)`)

type crawlItem struct {
	u     *url.URL
	depth int
}

// Web crawls the origin of start breadth-first and scans every response:
// HTML pages, scripts, stylesheets, source maps (inline ones decoded) and
// any other text. It never leaves the origin (scheme, host and port), not
// even through a redirect. It reads robots.txt first and fetches nothing it
// disallows (unless IgnoreRobots), waits Delay (or the Crawl-delay) between
// requests to the host, and stops at the page, byte and time budgets.
// Findings carry the URL and the line within the response body. What was
// skipped, and why, goes to OnSummary and the log.
func (s *Scanner) Web(ctx context.Context, start string, emit func(scan.Finding)) error {
	o := s.Opts.Web
	su, err := url.Parse(start)
	if err != nil || (su.Scheme != "http" && su.Scheme != "https") || su.Host == "" {
		return fmt.Errorf("source: %q is not an http(s) URL", start)
	}
	su.Fragment = ""
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, o.MaxDuration)
	defer cancel()
	c := &crawl{s: s, o: o, origin: su, parent: parent, sum: CrawlSummary{Start: su.String()}, limit: newHostLimiter(o.Delay)}
	c.client = http.Client{Timeout: o.Timeout}
	if o.Client != nil {
		c.client = *o.Client
		if c.client.Timeout == 0 {
			c.client.Timeout = o.Timeout
		}
	}
	c.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if !sameOrigin(req.URL, su) {
			return fmt.Errorf("redirect to another origin (%s) not followed", req.URL.Host)
		}
		if !c.allowed(req.URL) {
			return fmt.Errorf("redirect to %s, which robots.txt disallows, not followed", req.URL.Path)
		}
		return c.limit.wait(req.Context(), req.URL.Host, time.Now)
	}
	emit = s.serial(emit)
	err = c.run(ctx, emit)
	c.report()
	return err
}

func (c *crawl) run(ctx context.Context, emit func(scan.Finding)) error {
	o, s, su := c.o, c.s, c.origin
	if err := c.loadRobots(ctx); err != nil {
		return err
	}
	queue := []crawlItem{{su, 0}}
	seen := map[string]bool{su.String(): true}
	requests := 0
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if !c.allowed(it.u) {
			c.skip(skipRobots, it.u.String())
			continue
		}
		if requests >= o.MaxRequests {
			c.skipRest(skipPageBudget, it, queue)
			break
		}
		if c.sum.Bytes >= o.MaxBytes {
			c.skipRest(skipByteBudget, it, queue)
			break
		}
		if err := c.limit.wait(ctx, it.u.Host, time.Now); err != nil {
			if c.timedOut(ctx) {
				c.skipRest(skipTimeBudget, it, queue)
				return nil
			}
			return err
		}
		requests++
		body, ctype, reason, err := c.fetch(ctx, it.u)
		if err != nil {
			if c.timedOut(ctx) {
				c.skipRest(skipTimeBudget, it, queue)
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if requests == 1 {
				return fmt.Errorf("source: %w", err)
			}
			c.skip(skipFailed, it.u.String()+": "+err.Error())
			continue
		}
		if body == nil {
			c.skip(reason, it.u.String())
			continue
		}
		c.sum.Fetched++
		loc := scan.Location{URL: it.u.String()}
		s.Engine.ScanText(body, loc, nil, emit)

		add := func(ref string, depth int) {
			nu, err := it.u.Parse(strings.TrimSpace(ref))
			if err != nil {
				return
			}
			nu.Fragment = ""
			k := nu.String()
			if seen[k] {
				return
			}
			seen[k] = true
			switch {
			case !sameOrigin(nu, su):
				c.skip(skipOrigin, k)
			case depth > o.Depth:
				c.skip(skipDepth, k)
			default:
				queue = append(queue, crawlItem{nu, depth})
			}
		}
		for _, m := range sourceMapRe.FindAllSubmatch(body, -1) {
			ref := string(m[1])
			if strings.HasPrefix(ref, "data:") {
				if b := decodeDataURL(ref, o.MaxBodyBytes); b != nil {
					s.Engine.ScanText(b, scan.Location{URL: it.u.String() + "#sourcemap"}, nil, emit)
				}
				continue
			}
			add(ref, it.depth)
		}
		if strings.Contains(ctype, "html") {
			for _, l := range htmlLinks(body) {
				d := it.depth
				if l.navigate {
					d++
				}
				add(l.ref, d)
			}
		}
	}
	return nil
}

// fetch GETs u and returns its body, or nil and the reason for a body not
// worth scanning.
func (c *crawl) fetch(ctx context.Context, u *url.URL) ([]byte, string, skipReason, error) {
	o := c.o
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", "", err
	}
	req.Header.Set("User-Agent", o.UserAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, "", "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if strings.HasPrefix(ctype, "image/") || strings.HasPrefix(ctype, "video/") || strings.HasPrefix(ctype, "audio/") || strings.HasPrefix(ctype, "font/") {
		return nil, ctype, skipMedia, nil
	}
	limit := min(o.MaxBodyBytes, o.MaxBytes-c.sum.Bytes)
	body, err := io.ReadAll(io.LimitReader(c.s.counting(resp.Body), limit+1))
	if err != nil {
		c.sum.Bytes += int64(len(body))
		return nil, "", "", err
	}
	if int64(len(body)) > limit {
		c.skip(skipTruncated, u.String())
		body = body[:limit]
	}
	c.sum.Bytes += int64(len(body))
	if bytes.IndexByte(body[:min(len(body), sniffLen)], 0) >= 0 {
		return nil, ctype, skipBinary, nil
	}
	// Source maps may also be announced in headers.
	for _, h := range []string{"SourceMap", "X-SourceMap"} {
		if v := resp.Header.Get(h); v != "" {
			body = append(body, []byte("\n//# sourceMappingURL="+v+"\n")...)
		}
	}
	return body, ctype, "", nil
}

func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Host, b.Host)
}

type link struct {
	ref      string
	navigate bool // <a href>: costs one level of depth
}

// htmlLinks returns the <a href>, <script src> and <link href> references of
// an HTML document.
func htmlLinks(body []byte) []link {
	var out []link
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			var want string
			nav := false
			switch string(name) {
			case "a":
				want, nav = "href", true
			case "script":
				want = "src"
			case "link":
				want = "href"
			default:
				continue
			}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if string(k) == want && len(v) > 0 {
					ref := string(v)
					if low := strings.ToLower(ref); strings.HasPrefix(low, "javascript:") || strings.HasPrefix(low, "mailto:") || strings.HasPrefix(low, "data:") {
						continue
					}
					out = append(out, link{ref: ref, navigate: nav})
				}
			}
		}
	}
}

// decodeDataURL decodes a base64 data: URL, or returns nil.
func decodeDataURL(ref string, limit int64) []byte {
	i := strings.Index(ref, ",")
	if i < 0 || !strings.HasSuffix(ref[:i], ";base64") || int64(len(ref)) > limit*2 {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(ref[i+1:])
	if err != nil {
		return nil
	}
	return b
}
