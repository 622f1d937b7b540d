// Package record is the JSONL format of recorded requests: what
// `warden serve --record FILE` writes, what `warden simulate` generates and
// what `warden replay` reads.
//
// # Format
//
// One JSON object per line (UTF-8, at most MaxLine bytes):
//
//		{"ts":"2026-03-02T09:00:00.123456789Z","client_ip":"203.0.113.7",
//		 "method":"POST","path":"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
//		 "headers":{"api-key":"…","user-agent":"AzureOpenAI/Python 1.54.0"},
//		 "body":{"messages":[{"role":"user","content":"hi"}],"max_tokens":1}}
//
//	  - ts: RFC 3339 with nanoseconds; replay runs on these times.
//	  - client_ip, method, path (with query): as received.
//	  - headers: name to value; names are case-insensitive and kept in the
//	    order they appear in the line (JSON object order), which replay
//	    reproduces because header order is part of a client's fingerprint.
//	  - body: a JSON value (the request body as sent), a JSON string (a body
//	    that was not JSON), or null/absent (no body).
//	  - key_id (optional): the Warden key id to use instead of a credential in
//	    headers, so simulated traffic needs no secrets. key_owner and key_kind
//	    (optional) describe that key when replay creates it on the fly.
//	  - label (optional): what a simulator knows about the request (scenario,
//	    phase, attacker); replay ignores it and scorers read it.
//
// Bounds: a line is at most MaxLine bytes, a record at most MaxHeaders
// headers; longer input is an error, never a panic or an unbounded read.
package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// ErrRead marks a failure of the underlying reader or an over-long line,
// after which reading cannot go on.
var ErrRead = errors.New("record: cannot read on")

// Limits on one record.
const (
	MaxLine        = 8 << 20 // bytes in one JSONL line
	MaxHeaders     = 128
	MaxHeaderBytes = 16 << 10 // one header name plus value
	maxPath        = 8 << 10
)

// Record is one recorded request.
type Record struct {
	TS       time.Time       `json:"ts"`
	ClientIP string          `json:"client_ip"`
	Method   string          `json:"method"`
	Path     string          `json:"path"`
	Headers  Headers         `json:"headers,omitempty"`
	Body     json.RawMessage `json:"body,omitempty"`
	KeyID    string          `json:"key_id,omitempty"`
	KeyOwner string          `json:"key_owner,omitempty"`
	KeyKind  string          `json:"key_kind,omitempty"`
	// KeyRotatedFrom names the key this record's key replaced in a
	// rotation (replay creates the key with that link).
	KeyRotatedFrom string `json:"key_rotated_from,omitempty"`
	Label          *Label `json:"label,omitempty"`
}

// Label is the ground truth a simulator attaches to a record.
type Label struct {
	Scenario string `json:"scenario"`
	Phase    string `json:"phase,omitempty"`
	Attacker bool   `json:"attacker"`
}

// Header is one header line.
type Header struct{ Name, Value string }

// Headers keeps header lines in order. In JSON it is an object whose member
// order is the header order.
type Headers []Header

// Get returns the value of the first header named name (case-insensitive).
func (h Headers) Get(name string) string {
	for _, x := range h {
		if strings.EqualFold(x.Name, name) {
			return x.Value
		}
	}
	return ""
}

// MarshalJSON writes the headers as an object in order.
func (h Headers) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, x := range h {
		if i > 0 {
			b.WriteByte(',')
		}
		n, _ := json.Marshal(x.Name)
		v, _ := json.Marshal(x.Value)
		b.Write(n)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads an object of string values, keeping member order.
func (h *Headers) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("record: headers: %w", err)
	}
	if tok == nil {
		*h = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("record: headers must be an object")
	}
	var out Headers
	for dec.More() {
		nt, err := dec.Token()
		if err != nil {
			return fmt.Errorf("record: headers: %w", err)
		}
		name, _ := nt.(string)
		var val string
		if err := dec.Decode(&val); err != nil {
			return fmt.Errorf("record: header %q: value must be a string", name)
		}
		if len(out) >= MaxHeaders {
			return fmt.Errorf("record: more than %d headers", MaxHeaders)
		}
		if len(name)+len(val) > MaxHeaderBytes {
			return fmt.Errorf("record: header %q longer than %d bytes", name, MaxHeaderBytes)
		}
		if name == "" {
			return errors.New("record: empty header name")
		}
		out = append(out, Header{name, val})
	}
	*h = out
	return nil
}

// BodyBytes returns the request body: the raw JSON of an object or array, the
// text of a JSON string, nil for null or no body.
func (r *Record) BodyBytes() []byte {
	b := bytes.TrimSpace(r.Body)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			return []byte(s)
		}
	}
	return b
}

// Validate checks the fields replay relies on.
func (r *Record) Validate() error {
	switch {
	case r.TS.IsZero():
		return errors.New("record: missing ts")
	case r.Method == "":
		return errors.New("record: missing method")
	case r.Path == "" || r.Path[0] != '/':
		return errors.New("record: path must start with /")
	case len(r.Path) > maxPath:
		return errors.New("record: path too long")
	}
	return nil
}

// Reader reads records from JSONL input.
type Reader struct {
	sc   *bufio.Scanner
	line int
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	return &Reader{sc: sc}
}

// Line returns the 1-based input line of the record Next returned last.
func (r *Reader) Line() int { return r.line }

// Next returns the next record, skipping blank lines, or io.EOF at the end.
// Errors name the line; a malformed line does not stop the reader, so the
// caller may report it and go on.
func (r *Reader) Next() (*Record, error) {
	for r.sc.Scan() {
		r.line++
		b := bytes.TrimSpace(r.sc.Bytes())
		if len(b) == 0 {
			continue
		}
		rec, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", r.line, err)
		}
		return rec, nil
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("record: line %d longer than %d bytes: %w", r.line+1, MaxLine, ErrRead)
		}
		return nil, fmt.Errorf("record: read: %v: %w", err, ErrRead)
	}
	return nil, io.EOF
}

// Parse decodes and validates one line.
func Parse(line []byte) (*Record, error) {
	if len(line) > MaxLine {
		return nil, fmt.Errorf("record: line longer than %d bytes", MaxLine)
	}
	var rec Record
	if err := json.Unmarshal(line, &rec); err != nil {
		return nil, fmt.Errorf("record: decode: %w", err)
	}
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	return &rec, nil
}

// Writer writes records as JSONL. It is safe for concurrent use.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write appends one record as a line.
func (w *Writer) Write(r *Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("record: encode: %w", err)
	}
	if len(b) >= MaxLine {
		return fmt.Errorf("record: encoded record longer than %d bytes", MaxLine)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("record: write: %w", err)
	}
	return nil
}
