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
	errUnauthorized = &apiError{Status: 401, Type: "invalid_request_error", Code: "invalid_api_key", Refusal: "auth",
		Message: "Incorrect API key provided. You can find your API key in your Warden administrator's console."}
	errNoCredential = &apiError{Status: 401, Type: "invalid_request_error", Code: "missing_api_key", Refusal: "auth",
		Message: "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' or in the 'api-key' header."}
	errBodyTooLarge = &apiError{Status: 413, Type: "invalid_request_error", Code: "request_too_large", Refusal: "input",
		Message: "The request body is too large."}
	errBadJSON = &apiError{Status: 400, Type: "invalid_request_error", Code: "invalid_json", Refusal: "input",
		Message: "We could not parse the JSON body of your request. The body must be a JSON object."}
	errConcurrency = &apiError{Status: 429, Type: "requests", Code: "concurrency_limit_exceeded", Refusal: "limit",
		Message: "Too many concurrent requests for this key. Wait for one to finish and retry."}
	errBudget = &apiError{Status: 429, Type: "insufficient_quota", Code: "insufficient_quota", Refusal: "budget",
		Message: "This key has used its monthly budget."}
	errLimitBackend = &apiError{Status: 503, Type: "server_error", Code: "limit_backend_unavailable", Refusal: "limit",
		Message: "Rate limiting is temporarily unavailable; the request was not forwarded. Retry shortly."}
	errUpstream = &apiError{Status: 502, Type: "server_error", Code: "upstream_error", Refusal: "",
		Message: "The upstream service failed to answer. Retry later."}
	errUpstreamTimeout = &apiError{Status: 504, Type: "server_error", Code: "upstream_timeout", Refusal: "",
		Message: "The upstream service did not answer in time."}
	errUpstreamAuth = &apiError{Status: 502, Type: "server_error", Code: "upstream_auth_failed", Refusal: "",
		Message: "Warden could not authenticate to the upstream service. Tell your Warden administrator."}
	errJournal = &apiError{Status: 503, Type: "server_error", Code: "audit_unavailable", Refusal: "audit",
		Message: "Warden could not record this request in its audit log, so it does not answer it. Retry shortly."}
	errInternal = &apiError{Status: 500, Type: "server_error", Code: "internal_error",
		Message: "Warden had an internal error while processing your request."}
)

func forbidden(code, msg string) *apiError {
	return &apiError{Status: 403, Type: "invalid_request_error", Code: code, Message: msg, Refusal: "scope"}
}

func badRequest(code, param, msg string) *apiError {
	return &apiError{Status: 400, Type: "invalid_request_error", Code: code, Param: param, Message: msg, Refusal: "input"}
}
