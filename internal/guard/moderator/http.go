package moderator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"
)

// postJSON sends body as JSON to url with headers and decodes the answer
// into out. Errors wrap ErrUnavailable and carry the status code, never the
// request, the answer body or the headers (which hold the key).
func postJSON(ctx context.Context, client *http.Client, url string, headers map[string]string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%w: encoding request: %w", ErrUnavailable, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: building request: %w", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error includes the URL (no key: keys go in headers).
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return fmt.Errorf("%w: reading answer: %w", ErrUnavailable, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	if len(data) > MaxAnswer {
		return fmt.Errorf("%w: answer larger than %d bytes", ErrUnavailable, MaxAnswer)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: decoding answer: %w", ErrUnavailable, err)
	}
	return nil
}

// clip returns at most n bytes of s, cut at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// budget clips texts so that together they hold at most max bytes; texts
// beyond the budget are dropped.
func budget(texts []string, max int) []string {
	out := make([]string, 0, len(texts))
	for _, t := range texts {
		if max <= 0 {
			break
		}
		if t == "" {
			continue
		}
		t = clip(t, max)
		max -= len(t)
		out = append(out, t)
	}
	return out
}
