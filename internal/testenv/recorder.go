package testenv

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// Recorder is a local HTTP server standing in for a webhook, an upstream or
// a token endpoint: it keeps a copy of every request it is sent, for the
// test to check what the code under test sent.
type Recorder struct {
	*httptest.Server

	mu   sync.Mutex
	reqs []Request
}

// Request is what a Recorder kept of one request.
type Request struct {
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
}

// NewRecorder starts a Recorder that answers every request with reply (nil:
// an empty 200) after recording it; reply reads the body as sent. The
// server is closed when the test ends.
func NewRecorder(t testing.TB, reply http.HandlerFunc) *Recorder {
	r := &Recorder{}
	r.Server = httptest.NewServer(r.handler(reply))
	t.Cleanup(r.Close)
	return r
}

// NewTLSRecorder is NewRecorder over HTTPS; its Client trusts the server.
func NewTLSRecorder(t testing.TB, reply http.HandlerFunc) *Recorder {
	r := &Recorder{}
	r.Server = httptest.NewTLSServer(r.handler(reply))
	t.Cleanup(r.Close)
	return r
}

func (r *Recorder) handler(reply http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, Request{Method: req.Method, URL: req.URL, Header: req.Header.Clone(), Body: body})
		r.mu.Unlock()
		if reply != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
			reply(w, req)
		}
	}
}

// Requests returns the requests received so far, oldest first.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}
