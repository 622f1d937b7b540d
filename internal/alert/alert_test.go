package alert

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/testenv"
)

var at = time.Date(2026, 3, 3, 10, 9, 0, 0, time.UTC)

func sample(key string) Alert {
	return Alert{Key: key, TS: at, KeyID: "key_a", KeyOwner: "acme", Severity: "high", Action: "step_up", Reason: "step_up: probe (42)", IncidentID: "inc_1"}
}

func TestWebhookSignedAndDeduplicated(t *testing.T) {
	srv := testenv.NewRecorder(t, nil)
	d, err := New(Config{Sinks: []SinkConfig{{Type: "webhook", URL: srv.URL, SecretEnv: "S"}}}, func(string) string { return "topsecret" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Notify(sample("inc_1/step_up"))
	d.Notify(sample("inc_1/step_up")) // duplicate
	later := sample("inc_1/step_up")
	later.TS = at.Add(2 * time.Hour)
	d.Notify(later) // outside the dedup window
	d.Close()
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d deliveries, want 2", len(reqs))
	}
	h, body := reqs[0].Header, reqs[0].Body
	if !Verify([]byte("topsecret"), h.Get("X-Warden-Timestamp"), body, h.Get("X-Warden-Signature")) {
		t.Error("signature does not verify")
	}
	if Verify([]byte("wrong"), h.Get("X-Warden-Timestamp"), body, h.Get("X-Warden-Signature")) {
		t.Error("signature verifies with the wrong secret")
	}
	var got Alert
	if err := json.Unmarshal(body, &got); err != nil || got.IncidentID != "inc_1" || got.Action != "step_up" {
		t.Errorf("body %s: %v", body, err)
	}
}

func TestSlackAndSeverityFilter(t *testing.T) {
	srv := testenv.NewRecorder(t, nil)
	d, err := New(Config{Sinks: []SinkConfig{{Type: "slack", URL: srv.URL, MinSeverity: "high"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	low := sample("a")
	low.Severity = "medium"
	d.Notify(low)
	d.Notify(sample("b"))
	d.Close()
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d deliveries, want 1", len(reqs))
	}
	var m map[string]string
	if json.Unmarshal(reqs[0].Body, &m); !strings.Contains(m["text"], "step_up on key key_a") {
		t.Errorf("text = %q", m["text"])
	}
}

func TestTimeoutDoesNotHang(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	d, _ := New(Config{Sinks: []SinkConfig{{Type: "webhook", URL: srv.URL, Timeout: 100 * time.Millisecond}}}, nil, nil)
	start := time.Now()
	d.Notify(sample("x"))
	d.Close()
	if time.Since(start) > 5*time.Second {
		t.Error("slow receiver held the dispatcher")
	}
	if _, failed := d.Stats(); failed != 1 {
		t.Errorf("failed = %d", failed)
	}
}

func TestJSONLAndSyslog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	d, err := New(Config{Sinks: []SinkConfig{{Type: "jsonl", Path: path}, {Type: "syslog", Network: "udp", Address: pc.LocalAddr().String()}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Notify(sample("k"))
	d.Close()
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() || !strings.Contains(sc.Text(), `"incident_id":"inc_1"`) {
		t.Errorf("jsonl line %q", sc.Text())
	}
	buf := make([]byte, 4096)
	pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if msg := string(buf[:n]); !strings.HasPrefix(msg, "<35>1 2026-03-03T10:09:00Z") || !strings.Contains(msg, "inc_1") {
		t.Errorf("syslog message %q", msg)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, sc := range []SinkConfig{
		{Type: "pager"},
		{Type: "webhook", URL: "ftp://x"},
		{Type: "webhook", URL: "https://x", SecretEnv: "MISSING"},
		{Type: "syslog", Network: "udp"},
		{Type: "jsonl"},
		{Type: "slack", URL: "https://x", MinSeverity: "urgent"},
	} {
		if _, err := New(Config{Sinks: []SinkConfig{sc}}, func(string) string { return "" }, nil); err == nil {
			t.Errorf("%+v accepted", sc)
		}
	}
	_ = context.Background
}
