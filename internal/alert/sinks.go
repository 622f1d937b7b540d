package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Webhook posts alerts as JSON, signed when a secret is set.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

// NewWebhook returns a webhook sink for an http(s) URL.
func NewWebhook(rawURL string, secret []byte) (*Webhook, error) {
	if err := checkURL(rawURL); err != nil {
		return nil, err
	}
	return &Webhook{url: rawURL, secret: secret, client: &http.Client{Timeout: 30 * time.Second}, now: time.Now}, nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("alert: %q is not an http(s) URL", raw)
	}
	return nil
}

// Sign returns the X-Warden-Signature value for a body sent at ts.
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature in constant time.
func Verify(secret []byte, ts string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sig))
}

// Send implements Sink.
func (w *Webhook) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("alert: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alert: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Warden-Alert/1")
	if len(w.secret) > 0 {
		ts := strconv.FormatInt(w.now().Unix(), 10)
		req.Header.Set("X-Warden-Timestamp", ts)
		req.Header.Set("X-Warden-Signature", Sign(w.secret, ts, body))
	}
	return post(w.client, req)
}

func post(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("alert: post: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alert: post: receiver answered %s", resp.Status)
	}
	return nil
}

// Slack posts {"text": ...} to a Slack-compatible incoming webhook.
type Slack struct {
	url    string
	client *http.Client
}

// NewSlack returns a Slack-compatible sink.
func NewSlack(rawURL string) (*Slack, error) {
	if err := checkURL(rawURL); err != nil {
		return nil, err
	}
	return &Slack{url: rawURL, client: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Send implements Sink.
func (s *Slack) Send(ctx context.Context, a Alert) error {
	body, _ := json.Marshal(map[string]string{"text": a.Text()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alert: slack: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return post(s.client, req)
}

// JSONL appends one JSON object per alert to a file.
type JSONL struct {
	mu sync.Mutex
	f  *os.File
}

// NewJSONL opens (creating) path for appending.
func NewJSONL(path string) (*JSONL, error) {
	if path == "" {
		return nil, errors.New("alert: jsonl sink needs a path")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("alert: open %s: %w", path, err)
	}
	return &JSONL{f: f}, nil
}

// Send implements Sink.
func (j *JSONL) Send(_ context.Context, a Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("alert: encode: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("alert: write: %w", err)
	}
	return nil
}

// Close closes the file.
func (j *JSONL) Close() error { return j.f.Close() }

// Syslog sends RFC 5424 messages (facility auth, severity from the alert)
// with the alert as structured JSON in the message.
type Syslog struct {
	network, address, tag string
	host                  string
}

// NewSyslog returns a syslog sink; network is udp, tcp or unix.
func NewSyslog(network, address, tag string) (*Syslog, error) {
	switch network {
	case "udp", "tcp", "unix", "unixgram":
	default:
		return nil, fmt.Errorf("alert: syslog network %q: want udp, tcp or unix", network)
	}
	if address == "" {
		return nil, errors.New("alert: syslog needs an address")
	}
	if tag == "" {
		tag = "warden"
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "-"
	}
	return &Syslog{network: network, address: address, tag: tag, host: host}, nil
}

// Send implements Sink: one connection per alert, bounded by ctx.
func (s *Syslog) Send(ctx context.Context, a Alert) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, s.network, s.address)
	if err != nil {
		return fmt.Errorf("alert: syslog dial: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	sev := map[string]int{"critical": 2, "high": 3, "medium": 4, "low": 5, "info": 6}[a.Severity]
	if sev == 0 {
		sev = 5
	}
	const facilityAuth = 4
	body, _ := json.Marshal(a)
	msg := fmt.Sprintf("<%d>1 %s %s %s - warden-alert - %s", facilityAuth*8+sev, a.TS.UTC().Format(time.RFC3339Nano), s.host, s.tag, body)
	if s.network == "tcp" {
		msg = strconv.Itoa(len(msg)) + " " + msg // RFC 6587 octet counting
	}
	if _, err := io.WriteString(conn, strings.ReplaceAll(msg, "\n", " ")); err != nil {
		return fmt.Errorf("alert: syslog write: %w", err)
	}
	return nil
}
