package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// apiError is an error answer in the OpenAI shape, which both the OpenAI
// and the Azure SDKs parse:
//
//	{"error": {"message": "...", "type": "...", "param": null, "code": "..."}}
//
// Messages are fixed texts: they never include a credential or an upstream
// detail that would help an attacker.
type apiError struct {
	Status  int
	Type    string
	Code    string
	Message string
	Param   string
	// Refusal names the pipeline stage that refused, for the Event.
	Refusal string
	// Raw, when set, is the whole answer body (the guard's Azure-shaped
	// content_filter error), written instead of the OpenAI shape.
	Raw []byte
}

func (e *apiError) body() []byte {
	if e.Raw != nil {
		return e.Raw
	}
	obj := map[string]any{"message": e.Message, "type": e.Type, "param": nil, "code": e.Code}
	if e.Param != "" {
		obj["param"] = e.Param
	}
	b, _ := json.Marshal(map[string]any{"error": obj})
	return b
}

func writeAPIError(w http.ResponseWriter, e *apiError) int {
	b := e.body()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	w.Write(b)
	return len(b)
}

// The errors every client may see. Authentication failures all share one
// answer: an unknown key, a wrong secret, a bad checksum and a revoked key are
// indistinguishable from outside.
var (
	errUnauthorized = authError("invalid_api_key",
		"Incorrect API key provided. You can find your API key in your Warden administrator's console.")
	errNoCredential = authError("missing_api_key",
		"You didn't provide an API key. Send it as 'Authorization: Bearer KEY' or in the 'api-key' header.")
	errBodyTooLarge = &apiError{Status: 413, Type: "invalid_request_error", Code: "request_too_large", Refusal: "input",
		Message: "The request body is too large."}
	errBadJSON = badRequest("invalid_json", "",
		"We could not parse the JSON body of your request. The body must be a JSON object.")
	errConcurrency = &apiError{Status: 429, Type: "requests", Code: "concurrency_limit_exceeded", Refusal: "limit",
		Message: "Too many concurrent requests for this key. Wait for one to finish and retry."}
	errBudget = &apiError{Status: 429, Type: "insufficient_quota", Code: "insufficient_quota", Refusal: "budget",
		Message: "This key has used its monthly budget."}
)

// The errors that are Warden's or the upstream's fault, not the client's.
// Refusal is empty where no stage refused: the request was forwarded.
var (
	errLimitBackend    = serverError(503, "limit_backend_unavailable", "limit", "Rate limiting is temporarily unavailable; the request was not forwarded. Retry shortly.")
	errUpstream        = serverError(502, "upstream_error", "", "The upstream service failed to answer. Retry later.")
	errUpstreamTimeout = serverError(504, "upstream_timeout", "", "The upstream service did not answer in time.")
	errUpstreamAuth    = serverError(502, "upstream_auth_failed", "", "Warden could not authenticate to the upstream service. Tell your Warden administrator.")
	errJournal         = serverError(503, "audit_unavailable", "audit", "Warden could not record this request in its audit log, so it does not answer it. Retry shortly.")
	errInternal        = serverError(500, "internal_error", "", "Warden had an internal error while processing your request.")
)

// authError is a 401 refused by authentication.
func authError(code, msg string) *apiError {
	return &apiError{Status: 401, Type: "invalid_request_error", Code: code, Message: msg, Refusal: "auth"}
}

// serverError is a 5xx of OpenAI type server_error.
func serverError(status int, code, refusal, msg string) *apiError {
	return &apiError{Status: status, Type: "server_error", Code: code, Message: msg, Refusal: refusal}
}

func forbidden(code, msg string) *apiError {
	return &apiError{Status: 403, Type: "invalid_request_error", Code: code, Message: msg, Refusal: "scope"}
}

func badRequest(code, param, msg string) *apiError {
	return &apiError{Status: 400, Type: "invalid_request_error", Code: code, Param: param, Message: msg, Refusal: "input"}
}
