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

// WebOptions bound a crawl. Zero values take the defaults.
type WebOptions struct {
	// Depth is how many <a href> links away from the start page (depth 0)
	// the crawl goes. The scripts, stylesheets and source maps a page uses
	// are fetched at that page's depth: a key in a bundle is as exposed as
	// one in the page. Default 2.
	Depth int
	// MaxRequests is the request budget of the whole crawl. Default 200.
	MaxRequests int
	// Delay is the pause between two requests, for politeness. Default 100ms.
	Delay time.Duration
	// Timeout bounds each request. Default 10s.
	Timeout time.Duration
	// MaxBodyBytes bounds each response body read. Default 10 MiB.
	MaxBodyBytes int64
	// UserAgent is sent with each request. Default "warden-scan/1".
	UserAgent string
	// Client, when not nil, is used instead of a default client. Its
	// redirect policy is replaced by one that stays within the origin.
	Client *http.Client
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
// even through a redirect. Findings carry the URL and the line within the
// response body.
func (s *Scanner) Web(ctx context.Context, start string, emit func(scan.Finding)) error {
	o := s.Opts.Web
	su, err := url.Parse(start)
	if err != nil || (su.Scheme != "http" && su.Scheme != "https") || su.Host == "" {
		return fmt.Errorf("source: %q is not an http(s) URL", start)
	}
	su.Fragment = ""
	client := http.Client{Timeout: o.Timeout}
	if o.Client != nil {
		client = *o.Client
		if client.Timeout == 0 {
			client.Timeout = o.Timeout
		}
	}
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if !sameOrigin(req.URL, su) {
			return fmt.Errorf("redirect to another origin (%s) not followed", req.URL.Host)
		}
		return nil
	}
	emit = s.serial(emit)

	queue := []crawlItem{{su, 0}}
	seen := map[string]bool{su.String(): true}
	requests := 0
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if requests >= o.MaxRequests {
			s.Opts.Logger.Warn("scan: crawl request budget spent", "budget", o.MaxRequests, "left", len(queue)+1)
			break
		}
		if requests > 0 && o.Delay > 0 {
			select {
			case <-time.After(o.Delay):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		requests++
		body, ctype, err := s.fetch(ctx, &client, it.u)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if requests == 1 {
				return fmt.Errorf("source: %w", err)
			}
			s.Opts.Logger.Warn("scan: fetch failed", "url", it.u.String(), "err", err)
			continue
		}
		if body == nil {
			continue
		}
		loc := scan.Location{URL: it.u.String()}
		s.Engine.ScanText(body, loc, nil, emit)

		add := func(ref string, depth int) {
			if depth > o.Depth {
				return
			}
			nu, err := it.u.Parse(strings.TrimSpace(ref))
			if err != nil || !sameOrigin(nu, su) {
				return
			}
			nu.Fragment = ""
			if k := nu.String(); !seen[k] {
				seen[k] = true
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

// fetch GETs u and returns its body, or nil for a body not worth scanning.
func (s *Scanner) fetch(ctx context.Context, c *http.Client, u *url.URL) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("User-Agent", s.Opts.Web.UserAgent)
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, "", fmt.Errorf("%s: HTTP %d", u, resp.StatusCode)
	}
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if strings.HasPrefix(ctype, "image/") || strings.HasPrefix(ctype, "video/") || strings.HasPrefix(ctype, "audio/") || strings.HasPrefix(ctype, "font/") {
		return nil, ctype, nil
	}
	body, err := io.ReadAll(io.LimitReader(s.counting(resp.Body), s.Opts.Web.MaxBodyBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", u, err)
	}
	if int64(len(body)) > s.Opts.Web.MaxBodyBytes {
		s.Opts.Logger.Warn("scan: response truncated at the body limit", "url", u.String(), "limit", s.Opts.Web.MaxBodyBytes)
		body = body[:s.Opts.Web.MaxBodyBytes]
	}
	if bytes.IndexByte(body[:min(len(body), sniffLen)], 0) >= 0 {
		return nil, ctype, nil
	}
	// Source maps may also be announced in headers.
	for _, h := range []string{"SourceMap", "X-SourceMap"} {
		if v := resp.Header.Get(h); v != "" {
			body = append(body, []byte("\n//# sourceMappingURL="+v+"\n")...)
		}
	}
	return body, ctype, nil
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
