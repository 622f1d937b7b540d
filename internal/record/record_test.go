package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	in := &Record{
		TS:       time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC),
		ClientIP: "203.0.113.7",
		Method:   "POST",
		Path:     "/v1/chat/completions?x=1",
		Headers:  Headers{{"User-Agent", "a"}, {"api-key", "k"}, {"Content-Type", "application/json"}},
		Body:     json.RawMessage(`{"max_tokens":1}`),
		KeyID:    "k1",
		Label:    &Label{Scenario: "s", Phase: "probe", Attacker: true},
	}
	var buf bytes.Buffer
	if err := NewWriter(&buf).Write(in); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf)
	got, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !got.TS.Equal(in.TS) || got.Path != in.Path || got.KeyID != "k1" || !got.Label.Attacker {
		t.Errorf("got %+v", got)
	}
	if len(got.Headers) != 3 || got.Headers[0].Name != "User-Agent" || got.Headers[2].Name != "Content-Type" {
		t.Errorf("header order lost: %v", got.Headers)
	}
	if got.Headers.Get("API-KEY") != "k" {
		t.Errorf("case-insensitive Get failed")
	}
	if string(got.BodyBytes()) != `{"max_tokens":1}` {
		t.Errorf("body = %s", got.BodyBytes())
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("end: %v", err)
	}
}

func TestBodyForms(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"a":1}`, `{"a":1}`},
		{`"plain text"`, `plain text`},
		{`null`, ``},
		{``, ``},
		{`[1,2]`, `[1,2]`},
	}
	for _, tt := range tests {
		r := Record{Body: json.RawMessage(tt.body)}
		if got := string(r.BodyBytes()); got != tt.want {
			t.Errorf("%s: got %q want %q", tt.body, got, tt.want)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
	}{
		{"not json", "nope\n", "line 1"},
		{"no ts", `{"method":"GET","path":"/"}`, "missing ts"},
		{"bad path", `{"ts":"2026-01-01T00:00:00Z","method":"GET","path":"x"}`, "path"},
		{"header not string", `{"ts":"2026-01-01T00:00:00Z","method":"GET","path":"/","headers":{"a":1}}`, "string"},
		{"blank then bad", "\n\n{", "line 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tt.in)).Next()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestReaderContinuesAfterBadLine(t *testing.T) {
	in := "garbage\n" + `{"ts":"2026-01-01T00:00:00Z","method":"GET","path":"/ok"}` + "\n"
	r := NewReader(strings.NewReader(in))
	if _, err := r.Next(); err == nil {
		t.Fatal("bad line accepted")
	}
	rec, err := r.Next()
	if err != nil || rec.Path != "/ok" || r.Line() != 2 {
		t.Fatalf("rec %v err %v line %d", rec, err, r.Line())
	}
}

func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"ts":"2026-01-01T00:00:00Z","method":"GET","path":"/","headers":{`)
	for i := range MaxHeaders + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"h` + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + `":"v"`)
	}
	b.WriteString(`}}`)
	if _, err := Parse([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "headers") {
		t.Errorf("too many headers: %v", err)
	}
	long := `{"ts":"2026-01-01T00:00:00Z","method":"GET","path":"/","body":"` + strings.Repeat("a", MaxLine) + `"}`
	_, err := NewReader(strings.NewReader(long)).Next()
	if err == nil || !errors.Is(err, err) || !strings.Contains(err.Error(), "longer") {
		t.Errorf("long line: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"ts":"2026-01-01T00:00:00Z","client_ip":"1.2.3.4","method":"POST","path":"/v1/chat/completions","headers":{"a":"b"},"body":{"x":[1,2]}}`))
	f.Add([]byte(`{"ts":"2026-01-01T00:00:00Z","method":"GET","path":"/","body":"text","label":{"scenario":"a","attacker":true}}`))
	f.Add([]byte(`{"headers":null}`))
	f.Add([]byte(`{"headers":{"a":"b","a":"c"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := Parse(line)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := NewWriter(&buf).Write(rec); err != nil {
			t.Fatalf("write of parsed record: %v", err)
		}
		again, err := NewReader(&buf).Next()
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !again.TS.Equal(rec.TS) || again.Path != rec.Path || len(again.Headers) != len(rec.Headers) {
			t.Fatalf("round trip changed record")
		}
		_ = rec.BodyBytes()
	})
}
