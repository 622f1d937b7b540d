package guard

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"
)

// StreamModerator judges a streamed answer as it arrives. It holds back the
// last Holdback bytes of text: text is released only once it lies further
// than Holdback bytes behind the newest byte, and every time text is added the
// last Window bytes (which include everything not yet released plus context)
// are judged. If a judgment is a block, nothing more is released and the
// caller ends the stream with finish_reason "content_filter".
//
// Delay: the first byte is released after Holdback+1 bytes have arrived
// (DefaultHoldback = 192 bytes, about 48 tokens), or at Close. Each Write
// costs one guard check of at most Window bytes (DefaultWindow = 1024 bytes:
// tens of microseconds, see docs/benchmarks-guard.md).
//
// A StreamModerator is used by one goroutine.
type StreamModerator struct {
	g        *Guard
	p        *Policy
	Holdback int
	Window   int

	buf      strings.Builder // everything received
	released int             // bytes of buf released
	checked  int             // bytes of buf judged so far
	verdict  *Result
	flagged  *Result    // strongest flagged judgment, if any
	flags    []Category // categories flagged so far, in order first seen
}

// Defaults of NewStreamModerator.
const (
	DefaultHoldback = 192
	DefaultWindow   = 1024
	// MaxStream bounds the text a StreamModerator keeps; beyond it, only
	// the window is judged and the oldest text is not kept.
	maxStream = 4 << 20
)

// NewStreamModerator returns a moderator for one streamed answer under p
// (nil: DefaultPolicy).
func (g *Guard) NewStreamModerator(p *Policy) *StreamModerator {
	return &StreamModerator{g: g, p: p, Holdback: DefaultHoldback, Window: DefaultWindow}
}

// Write adds a text delta and returns the text that may be sent now, and a
// non-nil Result when the stream is blocked (then release is empty and every
// later call returns the same Result).
func (m *StreamModerator) Write(ctx context.Context, delta string) (release string, blocked *Result) {
	if m.verdict != nil {
		return "", m.verdict
	}
	if m.buf.Len()+len(delta) > maxStream {
		m.compact()
	}
	m.buf.WriteString(delta)
	if res := m.judge(ctx); res != nil {
		return "", res
	}
	s := m.buf.String()
	end := len(s) - m.Holdback
	if end <= m.released {
		return "", nil
	}
	// Do not split a UTF-8 sequence.
	for end > m.released && !utf8.RuneStart(s[end]) {
		end--
	}
	release = s[m.released:end]
	m.released = end
	return release, nil
}

// Close judges what is held back and returns it if allowed. Call it when the
// upstream stream ends.
func (m *StreamModerator) Close(ctx context.Context) (release string, blocked *Result) {
	if m.verdict != nil {
		return "", m.verdict
	}
	if res := m.judge(ctx); res != nil {
		return "", res
	}
	s := m.buf.String()
	release = s[m.released:]
	m.released = len(s)
	return release, nil
}

// Verdict returns the blocking result, or nil.
func (m *StreamModerator) Verdict() *Result { return m.verdict }

// Flags returns the categories flagged (not blocked) in any judgment of the
// stream so far, in the order first seen; nil when none. A stream can be
// flagged and still released in full: record the flags on the event.
func (m *StreamModerator) Flags() []Category { return m.flags }

// Result returns the judgment to record for the stream: the blocking result
// if it was blocked, else the strongest flagged result (its Triggered holds
// every category flagged during the stream), else an allowed result. Call it
// after Close.
func (m *StreamModerator) Result() Result {
	switch {
	case m.verdict != nil:
		return *m.verdict
	case m.flagged != nil:
		r := *m.flagged
		r.Triggered = append([]Category(nil), m.flags...)
		return r
	}
	return Result{Stage: StageStream, Action: Allow}
}

func (m *StreamModerator) judge(ctx context.Context) *Result {
	s := m.buf.String()
	if m.checked == len(s) {
		return nil
	}
	start := max(0, len(s)-m.Window)
	// Start the window at a word boundary.
	if start > 0 {
		if k := strings.IndexByte(s[start:], ' '); k >= 0 && k < 64 {
			start += k + 1
		}
	}
	m.checked = len(s)
	res := m.g.Check(ctx, StageStream, []Part{{Role: "output", Text: s[start:]}}, m.p)
	switch res.Action {
	case Block:
		m.verdict = &res
		return m.verdict
	case Flag:
		for _, c := range res.Triggered {
			if !slices.Contains(m.flags, c) {
				m.flags = append(m.flags, c)
			}
		}
		if m.flagged == nil || maxTriggered(&res) > maxTriggered(m.flagged) {
			m.flagged = &res
		}
	}
	return nil
}

// maxTriggered is the highest score among r's triggered categories.
func maxTriggered(r *Result) float64 {
	best := 0.0
	for _, c := range r.Triggered {
		best = max(best, r.Scores.Get(c))
	}
	return best
}

// compact drops released text older than the window, keeping offsets right.
func (m *StreamModerator) compact() {
	s := m.buf.String()
	cut := min(m.released, len(s)-m.Window)
	if cut <= 0 {
		return
	}
	rest := s[cut:]
	m.buf.Reset()
	m.buf.WriteString(rest)
	m.released -= cut
	m.checked = max(0, m.checked-cut)
}
