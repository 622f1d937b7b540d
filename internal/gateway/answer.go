package gateway

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/provider"
	"github.com/wardenhq/warden/internal/redact"
)

// answer is the inspected answer: one I-JSON check and one decode of a 200
// answer, read by the guard on outputs, the usage accounting and the image
// count. The bytes relayed to the client are the ones checked (or, when
// the guard annotates or blocks, a re-encoding of that same object).
type answer struct {
	guard.Response
	Usage *usage     `json:"usage"`
	Data  []struct{} `json:"data"` // images: only their number is read
}

// parseAnswer inspects a whole 200 answer.
func parseAnswer(b []byte) (*answer, error) {
	if err := checkIJSON(b, answerSchema); err != nil {
		return nil, err
	}
	var a answer
	if err := decode(b, &a); err != nil {
		return nil, fmt.Errorf("gateway: upstream answer: %w", err)
	}
	return &a, nil
}

// upstreamError is the part of an upstream error answer that is relayed.
type upstreamError struct {
	Error struct {
		Code  any    `json:"code"`
		Type  string `json:"type"`
		Inner *struct {
			Result json.RawMessage `json:"content_filter_result"`
		} `json:"innererror"`
	} `json:"error"`
}

// relayError answers an upstream error other than 401/403 (which never
// reach here): the client gets the upstream's status, its error code and
// a generic message; the upstream's own message, which may name the Azure
// resource, the deployment or the organisation, is logged (redacted)
// instead of relayed. The one exception is a content-filter refusal in
// Azure's shape (code content_filter with innererror.content_filter_result):
// Azure SDKs and applications read its per-category verdicts, and its text
// is Azure's fixed policy message, so it passes through unchanged.
func (x *exchange) relayError(resp *http.Response, b []byte) {
	var ue upstreamError
	code := ""
	if json.Unmarshal(b, &ue) == nil {
		switch c := ue.Error.Code.(type) {
		case string:
			code = c
		case float64:
			code = strconv.FormatFloat(c, 'f', -1, 64)
		}
	}
	if !safeCode(code) {
		code = ""
	}
	status := resp.StatusCode
	if status < 400 || status > 599 {
		status = 502 // a redirect or an odd success is not an answer Warden relays
	}
	slog.Warn("gateway: upstream error", "request_id", x.ev.ID, x.traceAttr, "provider", x.route.provName,
		"status", resp.StatusCode, "code", code, "body", redact.String(truncate(string(b), 2048)))
	if code == "content_filter" && status == 400 && ue.Error.Inner != nil && ue.Error.Inner.Result != nil {
		x.ev.Status, x.ev.ErrorCode = status, code
		x.account()
		x.ev.ResponseLen = int64(len(b))
		if !x.publish(b) {
			writeAPIError(x.w, errJournal)
			return
		}
		x.w.Header().Set("Content-Type", "application/json")
		x.w.WriteHeader(status)
		x.w.Write(b)
		return
	}
	e := &apiError{Status: status, Type: errorType(status, ue.Error.Type), Code: code, Message: genericMessage(status, code)}
	if status == 429 {
		if ra := provider.RetryAfter(resp.Header); ra > 0 {
			x.w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
			x.ev.RetryAfter = ra
		}
	}
	x.ev.Status, x.ev.ErrorCode = status, code
	x.account()
	body := e.body()
	x.ev.ResponseLen = int64(len(body))
	if !x.publish(body) {
		e = errJournal
	}
	writeAPIError(x.w, e)
}

// safeCode reports whether an upstream error code is a short identifier
// (context_length_exceeded, content_filter, DeploymentNotFound, 429), not
// free text.
func safeCode(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '_' || ch == '-' || ch == '.') {
			return false
		}
	}
	return true
}

// errorType keeps the upstream's error type when it is one the APIs
// document, and otherwise derives one from the status.
func errorType(status int, t string) string {
	switch t {
	case "invalid_request_error", "server_error", "insufficient_quota", "requests", "tokens", "rate_limit_exceeded", "not_found_error":
		return t
	}
	switch {
	case status == 429:
		return "requests"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

// genericMessage is what the client reads instead of the upstream's text.
func genericMessage(status int, code string) string {
	switch code {
	case "context_length_exceeded":
		return "The request exceeds the model's maximum context length. Reduce the length of the messages or of the completion."
	case "content_filter", "content_policy_violation":
		return "The upstream service's content filter refused the request."
	}
	switch {
	case status == 404:
		return "The upstream service did not find the model or deployment."
	case status == 429:
		return "The upstream service is rate limiting requests. Retry later."
	case status >= 500:
		return "The upstream service failed to answer. Retry later."
	}
	return "The upstream service refused the request (status " + strconv.Itoa(status) + ")."
}
