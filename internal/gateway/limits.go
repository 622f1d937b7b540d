// The limit stage: concurrency, per-minute request and token rates, and the
// monthly budget, with OpenAI's x-ratelimit-* headers and 429 answers.

package gateway

import (
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/limit"
)

// limit applies concurrency, request rate, token rate and budget, in that
// order. It returns the function that releases the concurrency slot.
func (x *exchange) limit() (func(), *apiError) {
	k := x.key
	ctx := x.r.Context()
	rpm, tpm, conc := k.RPM, k.TPM, k.MaxConcurrent
	if k.Action == keys.ActionThrottle && (k.ActionUntil == nil || x.at.Before(*k.ActionUntil)) {
		x.ev.Action = string(keys.ActionThrottle)
		rpm = throttled(rpm, 6)
		tpm = throttled(tpm, 2000)
		conc = 1
	}
	release, ok, err := x.s.gate.Acquire(ctx, k.ID, conc)
	if err != nil {
		logErr("gateway: concurrency gate failed", err, "request_id", x.ev.ID, x.traceAttr)
		return nil, errLimitBackend
	}
	if !ok {
		return nil, errConcurrency
	}
	fail := func(e *apiError) (func(), *apiError) {
		release()
		return nil, e
	}
	// The request and token rates in one step (one round trip to a shared
	// limiter), in that order: a request refused for its requests takes no
	// tokens.
	var takes [2]limit.Take
	var kinds [2]perMinute
	n := 0
	if rpm > 0 {
		takes[n], kinds[n] = limit.Take{Bucket: "rpm:" + k.ID, PerMinute: rpm, N: 1}, requestLimit
		n++
	}
	est := 0
	if tpm > 0 {
		est = x.body.features.PromptChars/4 + 1
		if mt := x.body.features.MaxTokens; mt > 0 {
			est += min(mt, 4096)
		}
		takes[n], kinds[n] = limit.Take{Bucket: "tpm:" + k.ID, PerMinute: tpm, N: est}, tokenLimit
		n++
	}
	if n > 0 {
		ds, err := limit.TakeAll(ctx, x.s.rater, takes[:n], x.at)
		if err != nil {
			logErr("gateway: rate limiter failed", err, "request_id", x.ev.ID, x.traceAttr)
			return fail(errLimitBackend)
		}
		for i, d := range ds {
			if e := x.limitHeaders(kinds[i], takes[i], d); e != nil {
				return fail(e)
			}
		}
	}
	if tpm > 0 {
		x.estimate, x.tpm = est, tpm
	}
	if k.MonthlyBudgetUSD > 0 {
		spent, err := x.s.ledger.spent(ctx, k.ID, x.at)
		if err != nil {
			logErr("gateway: budget check failed", err, "request_id", x.ev.ID, x.traceAttr)
			return fail(errLimitBackend)
		}
		if spent >= k.MonthlyBudgetUSD {
			return fail(errBudget)
		}
	}
	return release, nil
}

// perMinute is one of a key's per-minute limits, with the names OpenAI
// gives it in its x-ratelimit-* headers and 429 answers.
type perMinute struct {
	what                  string // "requests" or "tokens"
	limit, remain, resets string // the headers
}

var (
	requestLimit = perMinute{"requests", "X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests"}
	tokenLimit   = perMinute{"tokens", "X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens"}
)

// limitHeaders sets the headers of one per-minute limit from the decision
// on take and returns the refusal, if it refused.
func (x *exchange) limitHeaders(l perMinute, t limit.Take, d limit.Decision) *apiError {
	// Every request sets these headers twice over: the three values are
	// cut from one string and the three header slices from one array, and
	// the names are already canonical.
	var buf [48]byte
	b := strconv.AppendInt(buf[:0], int64(d.Limit), 10)
	i := len(b)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	j := len(b)
	v := string(appendDuration(b, d.Reset))
	vals := [...]string{v[:i], v[i:j], v[j:]}
	h := x.w.Header()
	h[l.limit], h[l.remain], h[l.resets] = vals[0:1:1], vals[1:2:2], vals[2:3:3]
	if !d.Allowed {
		return x.rateLimited(l.what, d.RetryAfter, l.refusal(t))
	}
	return nil
}

// refusal says which limit refused take, as OpenAI's 429 messages do.
func (l perMinute) refusal(t limit.Take) string {
	msg := "Rate limit reached for " + l.what + " per minute on this key: limit " + strconv.Itoa(t.PerMinute)
	if l.what == "tokens" {
		msg += ", requested about " + strconv.Itoa(t.N)
	}
	return msg + "."
}

func throttled(limit, floor int) int {
	if limit <= 0 {
		return floor
	}
	return max(1, limit/10)
}

func (x *exchange) rateLimited(what string, retry time.Duration, msg string) *apiError {
	secs := int((retry + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	x.w.Header().Set("Retry-After", strconv.Itoa(secs))
	x.w.Header().Set("Retry-After-Ms", strconv.FormatInt(retry.Milliseconds(), 10))
	x.ev.RetryAfter = retry
	return &apiError{Status: 429, Type: what, Code: "rate_limit_exceeded", Refusal: "limit", Message: msg + " Retry after " + strconv.Itoa(secs) + "s."}
}

// appendDuration appends d as OpenAI's x-ratelimit-reset-* headers give
// it: "1s", "6m0s", "20ms".
func appendDuration(b []byte, d time.Duration) []byte {
	if d < time.Second {
		return append(strconv.AppendInt(b, d.Milliseconds(), 10), "ms"...)
	}
	return append(b, d.Round(time.Millisecond).String()...)
}
