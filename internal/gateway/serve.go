package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/guard"
	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/provider"
)

// exchange is one request on its way through the pipeline.
type exchange struct {
	s     *Server
	tab   *table // the configuration this request started on
	w     http.ResponseWriter
	r     *http.Request
	ev    *event.Event
	at    time.Time // event time of arrival
	start time.Time // wall clock of arrival, for durations
	addr  netip.Addr

	endpoint   provider.Endpoint
	style      string
	deployment string
	key        *keys.Key
	route      *route
	body       *body
	raw        []byte
	estimate   int // tokens charged to the TPM bucket before forwarding
	tpm        int
	published  bool

	headers        http.Header   // the request's headers, kept only for the recorder
	promptResult   *guard.Result // the guard's judgment of the prompt, when it ran
	promptIndirect bool          // the prompt carried tool results or documents

	span      trace.Span // the request's server span; nil: tracing off
	traceAttr slog.Attr  // trace_id for the logs; zero (dropped) when off
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, at time.Time) {
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
		return
	}
	if h, ok := s.opts.Extra[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	if at.IsZero() {
		at = s.opts.Now()
	}
	x := &exchange{s: s, tab: s.tab.Load(), w: w, r: r, at: at, start: start}
	x.ev = &event.Event{ID: s.requestID(), Time: at, Method: r.Method, Path: r.URL.Path, Instance: s.instance}
	w.Header().Set("X-Request-Id", x.ev.ID)
	x.startTrace()
	defer x.endTrace()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			logErr("gateway: panic serving request", errors.New("panic"), "request_id", x.ev.ID, x.traceAttr, "panic", p)
			if !x.published {
				x.fail(errInternal)
			}
		}
	}()
	x.identifyClient()
	if !x.pass(x.resolvePath, x.authenticate, x.authorize) {
		return
	}
	switch x.endpoint {
	case "models":
		x.listModels()
		return
	case "deployments":
		x.listDeployments()
		return
	}
	if !x.pass(x.readBody) {
		return
	}
	// Limits are charged before the model is resolved: a key that floods
	// made-up model names pays for every request like any other, and the
	// names never reach a metric label (see modelLabel).
	release, e := x.limit()
	if e != nil {
		x.fail(e)
		return
	}
	defer release()
	if !x.pass(x.scopeModel, x.inspectPrompt) {
		return
	}
	x.forward()
}

// pass runs the stages in order until one refuses, answers with that
// stage's error and reports whether every stage let the request through.
func (x *exchange) pass(stages ...func() *apiError) bool {
	for _, stage := range stages {
		if e := stage(); e != nil {
			x.fail(e)
			return false
		}
	}
	return true
}

// identifyClient fills the event's who: address and client fingerprint.
func (x *exchange) identifyClient() {
	r := x.r
	xff := stripHeaders(r.Header)
	x.addr = clientAddr(r, xff, x.s.trusted)
	x.ev.ClientIP = x.addr.String()
	if !x.addr.IsValid() {
		x.ev.ClientIP = "unknown" // a trusted proxy forwarded an unusable client entry
	}
	c := &x.ev.Client
	c.UserAgent = r.Header.Get("User-Agent")
	if names, ok := r.Context().Value(headerNamesKey{}).([]string); ok {
		c.HeaderNames = names
	} else if oc, ok := r.Context().Value(connKey{}).(*orderConn); ok && r.ProtoMajor == 1 {
		c.HeaderNames = oc.takeHeaderNames(r.Method)
	}
	if len(c.HeaderNames) == 0 {
		for k := range r.Header {
			c.HeaderNames = append(c.HeaderNames, strings.ToLower(k))
		}
		slices.Sort(c.HeaderNames)
	}
	for _, n := range c.HeaderNames {
		if strings.HasPrefix(n, "x-stainless-") {
			c.SDKHeaders = true
			break
		}
	}
	c.SDKLang = r.Header.Get("X-Stainless-Lang")
	c.SDKVersion = r.Header.Get("X-Stainless-Package-Version")
	c.APIVersion = r.URL.Query().Get("api-version")
	c.BothAuth = r.Header.Get("Authorization") != "" && r.Header.Get("Api-Key") != ""
	x.ev.Fingerprint = fingerprint(c)
	if x.s.opts.Recorder != nil {
		x.headers = r.Header.Clone()
		x.headers.Del("Authorization")
		x.headers.Del("Api-Key")
	}
}

// resolvePath finds the endpoint and API style from the path.
func (x *exchange) resolvePath() *apiError {
	p, m := x.r.URL.Path, x.r.Method
	post := func(e provider.Endpoint, style string) *apiError {
		x.endpoint, x.style = e, style
		if m != http.MethodPost {
			return &apiError{Status: 405, Type: "invalid_request_error", Code: "method_not_allowed", Refusal: "input",
				Message: "Method " + m + " is not allowed on " + p + "; use POST."}
		}
		return nil
	}
	switch {
	case strings.HasPrefix(p, "/v1/models"):
		x.endpoint, x.style = "models", "openai"
		x.deployment = strings.TrimPrefix(strings.TrimPrefix(p, "/v1/models"), "/")
		if m != http.MethodGet {
			return &apiError{Status: 405, Type: "invalid_request_error", Code: "method_not_allowed", Refusal: "input", Message: "Use GET."}
		}
		return nil
	case p == "/openai/deployments" || p == "/openai/models":
		x.endpoint, x.style = "deployments", "azure"
		if m != http.MethodGet {
			return &apiError{Status: 405, Type: "invalid_request_error", Code: "method_not_allowed", Refusal: "input", Message: "Use GET."}
		}
		return nil
	case strings.HasPrefix(p, "/v1/"), strings.HasPrefix(p, "/openai/v1/"):
		style := "openai"
		if strings.HasPrefix(p, "/openai/") {
			style = "azure"
		}
		op := p[strings.Index(p, "/v1/")+3:]
		for _, e := range provider.Endpoints {
			if op == e.Path() {
				return post(e, style)
			}
		}
	case p == "/openai/responses":
		return post(provider.Responses, "azure")
	case strings.HasPrefix(p, "/openai/deployments/"):
		dep, op, ok := strings.Cut(strings.TrimPrefix(p, "/openai/deployments/"), "/")
		if ok && dep != "" {
			for _, e := range provider.Endpoints {
				if e != provider.Responses && "/"+op == e.Path() {
					x.deployment = dep
					return post(e, "azure")
				}
			}
		}
	}
	x.ev.Endpoint = ""
	return &apiError{Status: 404, Type: "invalid_request_error", Code: "unknown_url", Refusal: "route",
		Message: "Unknown request URL: " + m + " " + p + "."}
}

// authenticate finds the key. Every failure gives the same answer after the
// same work: hash, cache or store look-up, checksum check.
func (x *exchange) authenticate() *apiError {
	h := x.r.Header
	cred := ""
	auth := h.Get("Authorization")
	apiKey := h.Get("Api-Key")
	if v, ok := strings.CutPrefix(auth, "Bearer "); ok {
		cred = strings.TrimSpace(v)
		x.ev.AuthMethod = "bearer"
	}
	if apiKey != "" {
		if cred != "" && cred != strings.TrimSpace(apiKey) {
			return errUnauthorized // two different credentials: refuse rather than guess
		}
		cred = strings.TrimSpace(apiKey)
		x.ev.AuthMethod = "api-key"
	}
	for _, a := range x.s.opts.Authenticators {
		k, err := a.Authenticate(x.r.Context(), x.r, cred, x.addr)
		if err != nil {
			slog.Info("gateway: credential refused", "request_id", x.ev.ID, x.traceAttr, "err", err)
			return errUnauthorized
		}
		if k != nil {
			h.Del("Authorization")
			h.Del("Api-Key")
			x.key = k
			x.ev.AuthMethod = "identity"
			x.ev.KeyID, x.ev.KeyOwner, x.ev.KeyKind = k.ID, k.Owner, string(k.Kind)
			return nil
		}
	}
	// Credentials must never travel further than this function.
	h.Del("Authorization")
	h.Del("Api-Key")
	if cred == "" {
		return errNoCredential
	}
	if len(cred) > 512 {
		cred = cred[:512]
	}
	hash := keys.HashOf(cred)
	k, err := x.s.cache.lookup(x.r.Context(), hash, x.start)
	if err != nil {
		logErr("gateway: key lookup failed", err, "request_id", x.ev.ID, x.traceAttr)
		return &apiError{Status: 503, Type: "server_error", Code: "key_store_unavailable", Refusal: "auth",
			Message: "Warden cannot check keys right now. Retry shortly."}
	}
	// A canary's "azure style" secret is a bare 32-hex key with no checksum,
	// so only standard keys must pass the checksum.
	valid := keys.ValidChecksum(cred)
	if k == nil || (!valid && k.Kind != keys.KindCanary) || !k.Hash.Equal(hash) {
		return errUnauthorized
	}
	x.key = k
	x.ev.KeyID, x.ev.KeyOwner, x.ev.KeyKind = k.ID, k.Owner, string(k.Kind)
	return nil
}

// authorize applies the key's status, expiry, networks, endpoints and the
// detector's containment.
func (x *exchange) authorize() *apiError {
	k := x.key
	if ok, _ := k.Usable(x.at); !ok {
		// Suspended, revoked and expired keys get the same answer as unknown
		// ones: a thief learns nothing from probing.
		return errUnauthorized
	}
	if k.Kind == keys.KindCanary {
		return nil // decoys answer everything, from the tarpit
	}
	if !k.AllowsAddr(x.addr) {
		return forbidden("ip_not_allowed", "This key may not be used from your network address.")
	}
	ep := string(x.endpoint)
	if x.endpoint != "models" && x.endpoint != "deployments" && !k.AllowsEndpoint(ep) {
		return forbidden("endpoint_not_allowed", "This key may not call "+ep+".")
	}
	if k.Action == keys.ActionStepUp && (k.ActionUntil == nil || x.at.Before(*k.ActionUntil)) {
		x.ev.Action = string(keys.ActionStepUp)
		if x.s.opts.StepUp == nil || !x.s.opts.StepUp(k, x.addr, x.ev.Fingerprint) {
			return &apiError{Status: 403, Type: "invalid_request_error", Code: "step_up_required", Refusal: "detector",
				Message: "This key is restricted to its known networks and clients after suspicious use. Contact your Warden administrator."}
		}
	}
	return nil
}

func (x *exchange) readBody() *apiError {
	x.ev.Endpoint = string(x.endpoint)
	x.ev.Style = x.style
	max := x.s.cfg.Limits.MaxBodyBytes
	if x.r.ContentLength > max {
		return errBodyTooLarge
	}
	raw, err := readBody(http.MaxBytesReader(x.w, x.r.Body, max), x.r.ContentLength)
	x.ev.RequestLen = int64(len(raw))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errBodyTooLarge
		}
		return badRequest("body_read_failed", "", "The request body could not be read.")
	}
	x.raw = raw // kept even when it does not parse: the record and the journal show what was sent
	b, apiErr := parseBody(x.endpoint, raw)
	if apiErr != nil {
		return apiErr
	}
	x.body = b
	x.ev.Features = b.features
	return nil
}

// readBody reads a body to its end into one buffer sized by its declared
// length n (Content-Length; -1 when unknown), with a byte to spare so that
// the end is seen without growing it. io.ReadAll and bytes.Buffer both grow
// a buffer that is exactly full, so each would allocate twice for a body
// that declared its length, which nearly every request and answer does.
func readBody(r io.Reader, n int64) ([]byte, error) {
	if n < 0 || n > 1<<20 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, n+1)
	for {
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		switch {
		case err == io.EOF:
			return b, nil
		case err != nil:
			return b, err
		case len(b) == cap(b): // longer than declared
			rest, err := io.ReadAll(r)
			return append(b, rest...), err
		}
	}
}

// scopeModel resolves the model or deployment and checks the key may use it.
func (x *exchange) scopeModel() *apiError {
	name := x.deployment
	if name == "" {
		name = x.body.model
	}
	x.ev.Model = truncate(name, maxModelName)
	if name == "" {
		return badRequest("missing_required_parameter", "model", "you must provide a model parameter")
	}
	if x.key.Kind == keys.KindCanary {
		x.route = x.s.canary
		return nil
	}
	rt, ok := x.tab.routes[name]
	if ok && !x.key.AllowsModel(name) {
		return forbidden("model_not_allowed", "This key may not use the model `"+truncate(name, 100)+"`.")
	}
	if !ok {
		if x.style == "azure" && x.deployment != "" {
			return &apiError{Status: 404, Type: "invalid_request_error", Code: "DeploymentNotFound", Refusal: "scope",
				Message: "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}
		}
		return &apiError{Status: 404, Type: "invalid_request_error", Code: "model_not_found", Refusal: "scope", Param: "model",
			Message: "The model `" + truncate(name, 100) + "` does not exist or you do not have access to it."}
	}
	x.route = rt
	x.ev.Provider, x.ev.Upstream = rt.provName, rt.upstream
	return nil
}

// maxModelName bounds the client-chosen model name kept in the event.
const maxModelName = 256

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// fail answers with e and publishes the event.
func (x *exchange) fail(e *apiError) {
	x.ev.Status = e.Status
	x.ev.ErrorCode = e.Code
	x.ev.Refusal = e.Refusal
	x.ev.ResponseLen = int64(len(e.body()))
	if !x.publish(e.body()) {
		e = errJournal
	}
	writeAPIError(x.w, e)
}

// publish completes the event, records it in the journal and hands it to
// the bus, once. It reports false when the journal failed: the caller must
// then answer errJournal instead of answer.
func (x *exchange) publish(answer []byte) bool {
	if x.published {
		return true
	}
	x.published = true
	x.ev.Duration = time.Since(x.start)
	ok := true
	if j := x.s.opts.Journal; j != nil {
		_, sp := x.stage(x.r.Context(), "audit journal")
		defer sp.End()
		if err := j.Record(context.WithoutCancel(x.r.Context()), x.ev, x.raw, answer); err != nil {
			logErr("gateway: audit record failed; refusing to answer", err, "request_id", x.ev.ID, x.traceAttr)
			ok = false
			if !x.ev.Streamed {
				x.ev.Status, x.ev.ErrorCode, x.ev.Refusal = errJournal.Status, errJournal.Code, errJournal.Refusal
			}
		}
	}
	// The recorder takes the request as it came (headers, body), which
	// an event does not carry; every other consumer reads the event.
	if rec := x.s.opts.Recorder; rec != nil {
		rec(x.recordOf(x.headers))
	}
	// The detector is the bus's first, synchronous subscriber; the usage
	// ledger and the metrics follow (gateway.New subscribes them).
	_, sp := x.stage(x.r.Context(), "detect and publish")
	x.s.opts.Bus.Publish(context.WithoutCancel(x.r.Context()), x.ev)
	sp.End()
	return ok
}

// listModels answers GET /v1/models[/{id}] with the models this key may use.
func (x *exchange) listModels() {
	x.ev.Endpoint = "models"
	var data []any
	for _, name := range x.visibleModels() {
		m := map[string]any{"id": name, "object": "model", "created": 1700000000, "owned_by": "warden"}
		if x.deployment != "" {
			if name == x.deployment {
				x.ok(m)
				return
			}
			continue
		}
		data = append(data, m)
	}
	if x.deployment != "" {
		x.fail(&apiError{Status: 404, Type: "invalid_request_error", Code: "model_not_found", Refusal: "scope",
			Message: "The model `" + truncate(x.deployment, 100) + "` does not exist or you do not have access to it."})
		return
	}
	if data == nil {
		data = []any{}
	}
	x.ok(map[string]any{"object": "list", "data": data})
}

func (x *exchange) listDeployments() {
	x.ev.Endpoint = "deployments"
	data := []any{}
	for _, name := range x.visibleModels() {
		model := name
		if rt, ok := x.tab.routes[name]; ok {
			model = rt.upstream
		}
		data = append(data, map[string]any{"id": name, "model": model, "object": "deployment", "status": "succeeded",
			"owner": "organization-owner", "scale_settings": map[string]any{"scale_type": "standard"}, "created_at": 1700000000, "updated_at": 1700000000})
	}
	x.ok(map[string]any{"object": "list", "data": data})
}

func (x *exchange) visibleModels() []string {
	if x.key.Kind == keys.KindCanary {
		return x.tab.models // a decoy sees a plausible catalogue
	}
	var out []string
	for _, name := range x.tab.models {
		if x.key.AllowsModel(name) {
			out = append(out, name)
		}
	}
	return out
}

func (x *exchange) ok(v any) {
	b, _ := json.Marshal(v)
	x.ev.Status = 200
	x.ev.ResponseLen = int64(len(b))
	if !x.publish(b) {
		writeAPIError(x.w, errJournal)
		return
	}
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	x.w.WriteHeader(200)
	x.w.Write(b)
}
