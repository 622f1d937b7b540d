package live

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/event"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday

func ev(id, key, ip string, at time.Time, status int, refusal string, cost float64) *event.Event {
	return &event.Event{ID: id, Time: at, KeyID: key, KeyOwner: "acme", ClientIP: ip, Fingerprint: "fp-" + ip,
		Client: event.Client{UserAgent: "ua-" + ip}, Method: "POST", Path: "/v1/chat/completions", Model: "gpt-4o",
		Status: status, Refusal: refusal, CostUSD: cost, PromptTokens: 10, CompletionTokens: 5}
}

// muxMounter mounts routes on a plain mux (the admin API adds the
// operator's authentication in front of them; that is its own test).
type muxMounter struct{ *http.ServeMux }

func (m muxMounter) Mount(pattern string, h http.Handler) { m.Handle(pattern, h) }

func liveServer(t *testing.T, l *View) *httptest.Server {
	t.Helper()
	mux := muxMounter{http.NewServeMux()}
	l.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func getJSON(t *testing.T, srv *httptest.Server, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil && resp.StatusCode == 200 {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestNetworkOf(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":        "203.0.113.0/24",
		"::ffff:203.0.113.7": "203.0.113.0/24",
		"2001:db8:1:2::5":    "2001:db8:1::/48",
		"nonsense":           "",
		"":                   "",
	} {
		if got := NetworkOf(in); got != want {
			t.Errorf("NetworkOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLiveRecent(t *testing.T) {
	l := New(Options{Recent: 4, Now: func() time.Time { return t0 }})
	for i := range 6 {
		key, ref := "key_a", ""
		if i%2 == 1 {
			key, ref = "key_b", "auth"
		}
		l.Handle(context.Background(), ev(fmt.Sprint("r", i), key, "203.0.113.7", t0, 200, ref, 0))
	}
	srv := liveServer(t, l)
	ids := func(path string) string {
		var out []Event
		if st := getJSON(t, srv, path, &out); st != 200 {
			t.Fatalf("%s: %d", path, st)
		}
		var s []string
		for _, e := range out {
			s = append(s, e.ID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct{ path, want string }{
		{"/admin/v1/events", "r5,r4,r3,r2"}, // ring of 4, newest first
		{"/admin/v1/events?limit=2", "r5,r4"},
		{"/admin/v1/events?key_id=key_a", "r4,r2"},
		{"/admin/v1/events?refused=true", "r5,r3"},
		{"/admin/v1/events?key_id=key_c", ""},
	} {
		if got := ids(tc.path); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.path, got, tc.want)
		}
	}
	for _, bad := range []string{"limit=0", "limit=1001", "limit=x"} {
		if st := getJSON(t, srv, "/admin/v1/events?"+bad, nil); st != 400 {
			t.Errorf("%s: %d, want 400", bad, st)
		}
	}
}

func TestLiveStats(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	l := New(Options{Minutes: 30, Now: func() time.Time { return now }, Risk: func(id string, _ time.Time) float64 {
		if id == "key_quiet" {
			return 90
		}
		return 0
	}})
	h := func(e *event.Event) { l.Handle(context.Background(), e) }
	h(ev("1", "key_big", "203.0.113.7", t0.Add(8*time.Minute), 200, "", 1.5))
	h(ev("2", "key_big", "203.0.113.7", t0.Add(8*time.Minute+30*time.Second), 200, "", 2.5))
	h(ev("3", "key_ref", "198.51.100.1", t0.Add(9*time.Minute), 401, "auth", 0))
	h(ev("4", "key_quiet", "198.51.100.1", t0.Add(9*time.Minute), 200, "", 0.01))
	h(ev("5", "key_old", "198.51.100.1", t0.Add(-time.Hour), 200, "", 9)) // older than the window kept
	srv := liveServer(t, l)
	var st Stats
	if code := getJSON(t, srv, "/admin/v1/stats?minutes=5", &st); code != 200 {
		t.Fatal(code)
	}
	if len(st.Series) != 5 || !st.Series[0].Time.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("series %+v", st.Series)
	}
	if p := st.Series[2]; p.Requests != 2 || p.CostUSD != 4 || p.Tokens != 30 {
		t.Errorf("minute 8: %+v", p)
	}
	if p := st.Series[3]; p.Requests != 2 || p.Refused != 1 {
		t.Errorf("minute 9: %+v", p)
	}
	if st.Totals.Requests != 4 || st.Received != 5 {
		t.Errorf("totals %+v, received %d", st.Totals, st.Received)
	}
	var order []string
	for _, k := range st.TopKeys {
		order = append(order, k.KeyID)
	}
	if got := strings.Join(order, ","); got != "key_quiet,key_ref,key_big" { // risk, then refusals, then spend
		t.Errorf("top keys %s", got)
	}
	for _, bad := range []string{"minutes=0", "minutes=31", "minutes=-1"} {
		if code := getJSON(t, srv, "/admin/v1/stats?"+bad, nil); code != 400 {
			t.Errorf("%s: %d", bad, code)
		}
	}
}

func TestLiveActivity(t *testing.T) {
	now := t0.Add(time.Hour)
	l := New(Options{Now: func() time.Time { return now }})
	for i := range 20 {
		// Ten networks in one minute: the breakdown names the biggest
		// few and folds the rest into "other".
		l.Handle(context.Background(), ev(fmt.Sprint(i), "key_a", fmt.Sprintf("203.0.%d.7", i%10), t0.Add(30*time.Minute), 200, "", 0.1))
	}
	l.Handle(context.Background(), ev("x", "key_a", "198.51.100.1", t0.Add(31*time.Minute), 401, "limit", 0))
	srv := liveServer(t, l)
	var a Activity
	if code := getJSON(t, srv, "/admin/v1/activity/key_a", &a); code != 200 {
		t.Fatal(code)
	}
	if !a.Tracked || a.Requests != 21 || a.Refused != 1 || len(a.Series) != 2 {
		t.Fatalf("activity %+v", a)
	}
	if n := len(a.Series[0].Networks); n > breakdown {
		t.Errorf("%d networks in one minute's breakdown, cap %d", n, breakdown)
	}
	var sum int64
	for _, v := range a.Series[0].Networks {
		sum += v
	}
	if sum != 20 {
		t.Errorf("breakdown sums to %d, want 20", sum)
	}
	if _, ok := a.Series[0].Networks["other"]; !ok {
		t.Errorf("no other in %v", a.Series[0].Networks)
	}
	if len(a.Networks) != 11 || a.Fingerprints[0].Detail == "" || a.Models[0].Value != "gpt-4o" {
		t.Errorf("networks %d, fingerprints %+v, models %+v", len(a.Networks), a.Fingerprints[:1], a.Models)
	}
	if a.HourOfWeek[10] != 21 { // Monday 10:00 UTC
		t.Errorf("hour of week: %v", a.HourOfWeek[:24])
	}
	var none Activity
	getJSON(t, srv, "/admin/v1/activity/key_none", &none)
	if none.Tracked || len(none.HourOfWeek) != 168 {
		t.Errorf("unknown key: %+v", none)
	}
}

func TestLiveBounds(t *testing.T) {
	now := t0
	l := New(Options{Recent: 10, Keys: 50, Minutes: 60, Now: func() time.Time { return now }})
	for i := range 5000 {
		at := t0.Add(time.Duration(i) * time.Second)
		l.Handle(context.Background(), ev(fmt.Sprint(i), fmt.Sprintf("key_%d", i%500), fmt.Sprintf("10.%d.%d.1", i%200, i%7), at, 200, "", 0.001))
		now = at
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) != 10 {
		t.Errorf("ring %d, want 10", len(l.ring))
	}
	if len(l.keys) > 50 {
		t.Errorf("%d keys tracked, cap 50", len(l.keys))
	}
	if len(l.minutes) > 60 {
		t.Errorf("%d minutes kept, cap 60", len(l.minutes))
	}
	for _, a := range l.keys {
		if len(a.minutes) > 60 || len(a.networks) > namedLists {
			t.Errorf("key %s: %d minutes, %d networks", a.id, len(a.minutes), len(a.networks))
		}
	}
}

func TestLiveStream(t *testing.T) {
	l := New(Options{Subscribers: 1})
	srv := liveServer(t, l)
	req, _ := http.NewRequest("GET", srv.URL+"/admin/v1/events/stream?key_id=key_a", nil)
	req.Header.Set("Authorization", "Bearer tok")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	// A second stream is over the cap.
	if code := getJSON(t, srv, "/admin/v1/events/stream", nil); code != 503 {
		t.Errorf("second stream: %d, want 503", code)
	}
	rd := bufio.NewReader(resp.Body)
	for { // wait for the greeting, so the subscription exists
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\n" {
			break
		}
	}
	l.Handle(ctx, ev("other", "key_b", "203.0.113.7", t0, 200, "", 0))
	l.Handle(ctx, ev("mine", "key_a", "203.0.113.7", t0, 401, "auth", 0))
	var got []string
	for len(got) < 2 {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line != "\n" {
			got = append(got, strings.TrimSpace(line))
		}
	}
	if got[0] != "event: request" || !strings.HasPrefix(got[1], `data: {"id":"mine"`) || !strings.Contains(got[1], `"refusal":"auth"`) {
		t.Errorf("stream sent %q", got)
	}
}

// BenchmarkLiveHandle measures the cost of one event for the console:
// encoding, the ring, the per-minute and per-key aggregates.
func BenchmarkLiveHandle(b *testing.B) {
	l := New(Options{})
	evs := make([]*event.Event, 1000)
	for i := range evs {
		evs[i] = ev(fmt.Sprint("req_", i), fmt.Sprintf("key_%d", i%100), fmt.Sprintf("203.0.%d.7", i%20), t0.Add(time.Duration(i)*time.Second), 200, "", 0.001)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Handle(ctx, evs[i%len(evs)])
	}
}
