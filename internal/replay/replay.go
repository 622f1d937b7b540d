// Package replay runs recorded requests (package record) through Warden's
// one pipeline (the gateway, as package warden assembles it for `warden
// serve`) on their own timestamps, and reports, as JSONL, what happened to
// each request and every decision the detector took.
//
// # Output
//
// One JSON object per line, all times event time:
//
//	{"type":"request","line":12,"ts":"…","key_id":"k1","status":200}
//	{"type":"request","line":13,"ts":"…","key_id":"k1","status":403,"refused_by":"guard","reason":"content_blocked","guard":"prompt:block:jailbreak"}
//	{"type":"action","ts":"…","key_id":"k1","severity":"high","action":"step_up","reason":"…","incident_id":"inc_…"}
//
// Requests come in input order; a decision follows the request that caused
// it. A refused request says which stage refused it ("refused_by": auth,
// scope, limit, guard, detector, ...) and why ("reason": the error code the
// client got); "guard" lists the guard's verdicts that were not "allow".
// "action" is the detector's containment that applied to the request
// (step_up, throttle). "type" is "alert" for decisions that only alert,
// "action" for ones that change the key.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wardenhq/warden/internal/detect"
	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/record"
)

// Pipeline processes one recorded request completely, as if it arrived at
// rec.TS: it publishes the request's event to its sinks (the detector among
// them) before returning, and returns the status and the event (nil if
// none was made).
type Pipeline interface {
	Do(ctx context.Context, rec *record.Record) (status int, ev *event.Event)
}

// Line is one output line.
type Line struct {
	Type       string    `json:"type"`
	Line       int       `json:"line,omitempty"`
	TS         time.Time `json:"ts"`
	KeyID      string    `json:"key_id"`
	Status     int       `json:"status,omitempty"`
	RefusedBy  string    `json:"refused_by,omitempty"`
	Guard      []string  `json:"guard,omitempty"`
	Severity   string    `json:"severity,omitempty"`
	Action     string    `json:"action,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	IncidentID string    `json:"incident_id,omitempty"`
}

// Observer sees every request and decision of a run, e.g. a scorer.
// Either func may be nil.
type Observer struct {
	Request  func(rec *record.Record, line int, status int, ev *event.Event)
	Decision func(d detect.Decision)
}

// Driver feeds records to a pipeline and writes the output.
type Driver struct {
	Pipeline Pipeline
	Out      io.Writer // nil: no output
	Observer Observer
	// Errors receives malformed input lines; nil: they stop the run.
	Errors func(line int, err error)

	pending []detect.Decision
}

// OnDecision is the detector's decision hook; wire it in detect.Options.
func (d *Driver) OnDecision(_ context.Context, dec detect.Decision) {
	d.pending = append(d.pending, dec)
}

// Item is one input line: a record, or the error that made it unusable.
type Item struct {
	Line int
	Rec  *record.Record
	Err  error
}

// Read parses every line of in. A read error (record.ErrRead) ends it and
// is returned; malformed lines come back as items with Err set.
func Read(in io.Reader) ([]Item, error) {
	r := record.NewReader(in)
	var out []Item
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if errors.Is(err, record.ErrRead) {
			return out, fmt.Errorf("replay: %w", err)
		}
		out = append(out, Item{Line: r.Line(), Rec: rec, Err: err})
	}
}

// Run replays every record of in. It returns the number of records replayed.
func (d *Driver) Run(ctx context.Context, in io.Reader) (int, error) {
	items, err := Read(in)
	if err != nil {
		return 0, err
	}
	return d.RunItems(ctx, items)
}

// RunItems replays items in order, as Run does with the lines it reads.
// It returns the number of records replayed.
func (d *Driver) RunItems(ctx context.Context, items []Item) (int, error) {
	enc := json.NewEncoder(io.Discard)
	if d.Out != nil {
		enc = json.NewEncoder(d.Out)
	}
	n := 0
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if it.Err != nil {
			if d.Errors == nil {
				return n, fmt.Errorf("replay: %w", it.Err)
			}
			d.Errors(it.Line, it.Err)
			continue
		}
		rec := it.Rec
		d.pending = d.pending[:0]
		status, ev := d.Pipeline.Do(ctx, rec)
		n++
		keyID := rec.KeyID
		if ev != nil && ev.KeyID != "" {
			keyID = ev.KeyID
		}
		out := Line{Type: "request", Line: it.Line, TS: rec.TS, KeyID: keyID, Status: status}
		if ev != nil {
			out.RefusedBy, out.Reason, out.Guard, out.Action = ev.Refusal, ev.ErrorCode, Verdicts(ev), ev.Action
		}
		if err := enc.Encode(out); err != nil {
			return n, fmt.Errorf("replay: write: %w", err)
		}
		if d.Observer.Request != nil {
			d.Observer.Request(rec, it.Line, status, ev)
		}
		for _, dec := range d.pending {
			if err := enc.Encode(Line{Type: dec.Type(), TS: dec.Time, KeyID: dec.KeyID, Severity: dec.Severity,
				Action: dec.Action, Reason: dec.Reason, IncidentID: dec.IncidentID}); err != nil {
				return n, fmt.Errorf("replay: write: %w", err)
			}
			if d.Observer.Decision != nil {
				d.Observer.Decision(dec)
			}
		}
	}
	return n, nil
}

// Verdicts returns the guard's verdicts on e that were not "allow", as
// "stage:action:category" (category omitted when empty), in order.
func Verdicts(e *event.Event) []string {
	var out []string
	for _, v := range e.Guard {
		if v.Action == "allow" {
			continue
		}
		s := v.Stage + ":" + v.Action
		if v.Category != "" {
			s += ":" + v.Category
		}
		out = append(out, s)
	}
	return out
}
