package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/clock"
	"github.com/wardenhq/warden/internal/limit"
	"github.com/wardenhq/warden/internal/provider"
)

// forward sends the request upstream, retrying 429 and 5xx answers and
// connection failures with backoff while nothing has reached the client
// yet, then relays the answer.
//
// The upstream request body is a byte slice Warden owns, never the client's
// request body: so a retry, or net/http re-sending on a reused connection,
// cannot race with the inbound request (Go issue 40747, which makes a stock
// httputil.ReverseProxy drop SSE streams under load).
func (x *exchange) forward() {
	user := x.s.pseudonym(x.key.ID, x.body.user)
	out, injected := x.body.rewrite(x.endpoint, x.route.upstream, user)
	req := &provider.Request{Endpoint: x.endpoint, Upstream: x.route.upstream, Body: out, Stream: x.body.stream, OnAttempt: x.tried}

	ctx := clock.WithEventTime(x.r.Context(), x.at)
	attempts := x.s.cfg.Limits.Retries + 1
	var resp *http.Response
	var err error
	upStart := time.Now()
	ctx, up := x.stage(ctx, "upstream")
	for i := 0; i < attempts; i++ {
		x.ev.Attempts = i + 1
		resp, err = x.route.provider.Do(ctx, req)
		retry := err != nil && ctx.Err() == nil
		var wait time.Duration
		if err == nil && (resp.StatusCode == 429 || resp.StatusCode >= 500) {
			retry = true
			if resp.StatusCode == 429 {
				x.ev.Upstream429 = true
				wait = provider.RetryAfter(resp.Header)
			}
		}
		if !retry || i == attempts-1 {
			break
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			resp = nil
		}
		backoff := time.Duration(100<<i)*time.Millisecond + rand.N(50*time.Millisecond)
		wait = min(max(wait, backoff), 2*time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	x.ev.UpstreamTime = time.Since(upStart)
	up.End()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			x.fail(errUpstreamTimeout)
		} else {
			logErr("gateway: upstream request failed", err, "request_id", x.ev.ID, x.traceAttr, "provider", x.route.provName)
			x.fail(errUpstream)
		}
		x.refundTokens()
		return
	}
	defer resp.Body.Close()
	relayHeaders(x.w.Header(), resp.Header)
	switch {
	case resp.StatusCode == 401 || resp.StatusCode == 403:
		// Never tell the client about the upstream credential.
		logErr("gateway: upstream refused Warden's credential", errors.New(resp.Status), "request_id", x.ev.ID, x.traceAttr, "provider", x.route.provName)
		x.fail(errUpstreamAuth)
		x.refundTokens()
		return
	case resp.StatusCode >= 500:
		x.fail(errUpstream)
		x.refundTokens()
		return
	}
	if x.body.stream && resp.StatusCode == 200 && isEventStream(resp.Header) {
		x.relayStream(resp, injected)
		return
	}
	x.relayWhole(resp)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func isEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	return len(ct) >= 17 && ct[:17] == "text/event-stream"
}

// maxJournalAnswer bounds how much of a streamed answer is kept for the
// journal (which cuts bodies further by its own policy).
const maxJournalAnswer = 1 << 20

// usage is the token count in any of the API's answer shapes.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	InputTokens      int `json:"input_tokens"`
	OutputTokens     int `json:"output_tokens"`
}

func (u *usage) add(x *exchange) {
	x.ev.PromptTokens = u.PromptTokens + u.InputTokens
	x.ev.CompletionTokens = u.CompletionTokens + u.OutputTokens
}

// relayWhole reads a complete (non-streamed) answer, accounts it, publishes
// the event and only then writes the answer to the client.
func (x *exchange) relayWhole(resp *http.Response) {
	max := x.s.cfg.Limits.MaxResponseBytes
	b, err := readBody(io.LimitReader(resp.Body, max+1), resp.ContentLength)
	if err != nil || int64(len(b)) > max {
		if isTimeout(err) {
			x.fail(errUpstreamTimeout)
		} else {
			x.fail(errUpstream)
		}
		x.refundTokens()
		return
	}
	if resp.StatusCode != 200 {
		x.relayError(resp, b)
		return
	}
	a, err := parseAnswer(b)
	if err != nil {
		// An answer whose meaning depends on the parser (duplicate or
		// case-variant keys) could show the client a text the guard never
		// judged: it is not relayed.
		logErr("gateway: upstream answer refused", err, "request_id", x.ev.ID, x.traceAttr, "provider", x.route.provName)
		x.fail(errUpstream)
		x.refundTokens()
		return
	}
	x.ev.Status = 200
	if a.Usage != nil {
		a.Usage.add(x)
	}
	if x.endpoint == provider.ImagesGenerations {
		x.ev.Images = len(a.Data)
	}
	b = x.inspectAnswer(b, a)
	x.account()
	x.ev.ResponseLen = int64(len(b))
	if !x.publish(b) {
		writeAPIError(x.w, errJournal)
		return
	}
	h := x.w.Header()
	h.Set("Content-Type", resp.Header.Get("Content-Type"))
	h.Set("Content-Length", strconv.Itoa(len(b)))
	x.w.WriteHeader(200)
	x.w.Write(b)
}

// account prices the request and settles the token-rate estimate.
func (x *exchange) account() {
	hd := x.ev.Features.ImageQuality == "hd" || x.ev.Features.ImageQuality == "high"
	x.ev.CostUSD = cost(x.tab.cfg.Prices, []string{x.route.name, x.route.upstream},
		x.ev.PromptTokens, x.ev.CompletionTokens, x.ev.Images, hd)
	if x.tpm > 0 {
		diff := x.ev.PromptTokens + x.ev.CompletionTokens - x.estimate
		if x.ev.Status != 200 {
			diff = -x.estimate
		}
		if diff != 0 {
			// Queued on a shared rater (limit.Batched), so the answer
			// does not wait for a round trip to Redis.
			limit.Settle(context.WithoutCancel(x.r.Context()), x.s.rater, "tpm:"+x.key.ID, x.tpm, diff, x.at)
		}
	}
}

func (x *exchange) refundTokens() {
	if x.tpm > 0 && x.estimate > 0 {
		limit.Settle(context.WithoutCancel(x.r.Context()), x.s.rater, "tpm:"+x.key.ID, x.tpm, -x.estimate, x.at)
	}
}

// relayStream passes server-sent events through one event at a time,
// flushing after each, and reads usage from them on the way. When Warden
// itself asked for usage (the client did not), the usage-only chunk is
// dropped so the client sees the stream it asked for.
func (x *exchange) relayStream(resp *http.Response, injected bool) {
	x.ev.Streamed = true
	x.ev.Status = 200
	h := x.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(x.w)
	x.w.WriteHeader(200)
	rc.Flush()

	// The upstream must keep talking: a stalled stream is cut after the idle timeout.
	idle := x.s.cfg.Limits.StreamIdleTimeout
	timer := time.AfterFunc(idle, func() { resp.Body.Close() })
	defer timer.Stop()

	br := bufio.NewReaderSize(resp.Body, 32<<10)
	var ev bytes.Buffer // one SSE event, up to its blank line
	var u usage
	done, clientGone, blocked := false, false, false
	sg := x.newStreamGuard()
	var answer bytes.Buffer // what the client received, for the journal
	const maxEvent = 4 << 20
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			ev.Write(line)
			if ev.Len() > maxEvent {
				break
			}
			continue
		}
		timer.Reset(idle)
		ev.Write(line)
		if err == nil && !(len(line) == 1 || (len(line) == 2 && line[0] == '\r')) {
			if ev.Len() > maxEvent {
				break
			}
			continue // not yet the end of an event
		}
		if ev.Len() > 0 {
			// Each event's data is found and checked once, and read by
			// the accounting and the guard.
			data := sseData(ev.Bytes())
			if len(data) > 0 && data[0] == '{' {
				// Like a whole answer, an event whose meaning depends on the
				// parser is not relayed: the stream is cut as broken.
				if err := checkIJSON(data, answerSchema); err != nil {
					logErr("gateway: upstream stream event refused; cutting the stream", err, "request_id", x.ev.ID, x.traceAttr, "provider", x.route.provName)
					break
				}
			}
			keep := x.inspectEvent(data, &u, injected, &done)
			out := [][]byte{ev.Bytes()}
			if sg != nil && keep {
				out, blocked = sg.filter(ev.Bytes(), data)
			}
			if keep && !clientGone {
				for _, o := range out {
					if _, werr := x.w.Write(o); werr != nil {
						clientGone = true
						break
					}
					x.ev.ResponseLen += int64(len(o))
					if x.s.opts.Journal != nil && answer.Len() < maxJournalAnswer {
						answer.Write(o[:min(len(o), maxJournalAnswer-answer.Len())])
					}
				}
				if !clientGone && len(out) > 0 {
					rc.Flush()
				}
			}
			ev.Reset()
		}
		if err != nil || clientGone || blocked {
			break
		}
	}
	if blocked {
		done = true // ended cleanly, by the guard
		x.s.opts.Metrics.streamCutByGuard()
	}
	if !done {
		x.ev.StreamCut = true
	}
	u.add(x)
	x.account()
	x.publish(answer.Bytes())
	if !done && !clientGone {
		// The upstream broke off. End the client's stream the same way, so
		// its SDK reports an error instead of taking a torso for an answer.
		panic(http.ErrAbortHandler)
	}
}

// inspectEvent reads usage, finish reasons and the end marker from the data
// of one SSE event, and says whether to pass the event on.
func (x *exchange) inspectEvent(data []byte, u *usage, injected bool, done *bool) bool {
	if data == nil {
		return true
	}
	if bytes.Equal(data, []byte("[DONE]")) {
		*done = true
		return true
	}
	if !bytes.Contains(data, []byte(`"usage"`)) && !bytes.Contains(data, []byte(`"finish_reason"`)) &&
		!bytes.Contains(data, []byte(`"response.completed"`)) {
		return true
	}
	var chunk struct {
		Type    string `json:"type"`
		Usage   *usage `json:"usage"`
		Choices []struct {
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Response *struct {
			Usage *usage `json:"usage"`
		} `json:"response"`
	}
	if json.Unmarshal(data, &chunk) != nil {
		return true
	}
	for _, c := range chunk.Choices {
		if c.FinishReason != nil && *c.FinishReason != "" {
			x.ev.FinishReason = *c.FinishReason
		}
	}
	if chunk.Type == "response.completed" {
		*done = true
		if chunk.Response != nil && chunk.Response.Usage != nil {
			*u = *chunk.Response.Usage
		}
		return true
	}
	if chunk.Usage != nil {
		*u = *chunk.Usage
		if injected && len(chunk.Choices) == 0 {
			return false
		}
	}
	return true
}

// sseData returns the concatenated data field of one SSE event, or nil.
func sseData(ev []byte) []byte {
	var out []byte
	found := false
	for len(ev) > 0 {
		line := ev
		if i := bytes.IndexByte(ev, '\n'); i >= 0 {
			line, ev = ev[:i], ev[i+1:]
		} else {
			ev = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			v = bytes.TrimPrefix(v, []byte(" "))
			if found {
				out = append(out, '\n')
			}
			out = append(out, v...)
			found = true
		}
	}
	if !found {
		return nil
	}
	return out
}
