package mock

import (
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/provider"
)

func init() { provider.Register("mock", newProvider) }

// newProvider serves the mock in process: the OpenAI adapter with a
// transport that calls the Handler directly, so the whole gateway path
// (including streaming) runs exactly as against a remote server.
func newProvider(cfg config.Provider, _ *http.Client) (provider.Provider, error) {
	client := &http.Client{Transport: InProcess(&Handler{Latency: cfg.Latency})}
	return provider.New(config.Provider{Name: cfg.Name, Type: "openai", BaseURL: "http://warden-mock/v1"}, client)
}

// InProcess returns a RoundTripper that serves requests with h in process,
// streaming the answer through a pipe.
func InProcess(h http.Handler) http.RoundTripper { return inProcess{h} }

type inProcess struct{ h http.Handler }

var errAborted = errors.New("mock: connection cut")

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				w.WriteHeader(http.StatusOK)
				pw.CloseWithError(errAborted)
				return
			}
			w.WriteHeader(http.StatusOK)
			pw.Close()
		}()
		t.h.ServeHTTP(w, req)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status:        http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          pr,
		ContentLength: -1,
		Request:       req,
	}, nil
}

// pipeWriter is an http.ResponseWriter that writes into a pipe.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
	status int
	sent   http.Header
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(status int) {
	w.once.Do(func() {
		w.status = status
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}

// Flush implements http.Flusher; a pipe has no buffer to flush.
func (w *pipeWriter) Flush() {}
