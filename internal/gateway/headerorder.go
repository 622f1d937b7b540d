package gateway

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"sync"
)

// Go's net/http hands handlers a map of headers, which loses their order;
// but the order of header names is a strong client fingerprint (an SDK
// always sends the same order, a reverse proxy that rebuilds requests sends
// another). orderConn keeps the bytes most recently read from a connection
// so the handler can recover the names, in order, of the request it serves.
// It is used for HTTP/1.x only; HTTP/2 requests fall back to sorted names.

const maxHeaderBuf = 64 << 10

type orderConn struct {
	net.Conn
	mu   sync.Mutex
	buf  []byte
	skip int // body bytes of the last request still to come; not kept
}

func (c *orderConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		b := p[:n]
		if c.skip > 0 {
			k := min(c.skip, len(b))
			c.skip -= k
			b = b[k:]
		}
		if len(c.buf)+len(b) > maxHeaderBuf {
			// Keep the tail: a request's header block is read before its
			// handler runs, and bodies are not needed.
			c.buf = c.buf[:0]
			if len(b) > maxHeaderBuf {
				b = b[len(b)-maxHeaderBuf:]
			}
		}
		c.buf = append(c.buf, b...)
		c.mu.Unlock()
	}
	return n, err
}

// takeHeaderNames returns the lower-cased header names of the request whose
// header block was read last, in order, and forgets the bytes up to the end
// of its body (as far as Content-Length tells).
func (c *orderConn) takeHeaderNames(method string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := []byte(method + " ")
	start := -1
	if bytes.HasPrefix(c.buf, prefix) {
		start = 0 // the usual case: the buffer starts at this request
	} else if j := bytes.LastIndex(c.buf, []byte(method+" /")); j >= 0 {
		start = j // after a chunked body or a lost sync
	}
	if start < 0 {
		return nil
	}
	block := c.buf[start:]
	end := bytes.Index(block, []byte("\r\n\r\n"))
	if end < 0 {
		return nil
	}
	lines := bytes.Split(block[:end], []byte("\r\n"))
	names := make([]string, 0, len(lines)-1)
	bodyLen := 0
	for _, l := range lines[1:] {
		k, v, ok := bytes.Cut(l, []byte(":"))
		if !ok || len(k) == 0 || k[0] == ' ' || k[0] == '\t' {
			continue
		}
		name := string(bytes.ToLower(bytes.TrimSpace(k)))
		if name == "content-length" {
			if n, err := strconv.Atoi(string(bytes.TrimSpace(v))); err == nil && n > 0 {
				bodyLen = n
			}
		}
		names = append(names, name)
	}
	rest := block[end+4:]
	if bodyLen <= len(rest) {
		c.buf = append(c.buf[:0], rest[bodyLen:]...)
	} else {
		c.skip = bodyLen - len(rest)
		c.buf = c.buf[:0]
	}
	return names
}

type connKey struct{}

// connContext is http.Server.ConnContext: it lets handlers find their conn.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if oc, ok := c.(*orderConn); ok {
		return context.WithValue(ctx, connKey{}, oc)
	}
	return ctx
}

// orderListener wraps accepted connections in orderConn.
type orderListener struct{ net.Listener }

func (l orderListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &orderConn{Conn: c}, nil
}

type headerNamesKey struct{}

// WithHeaderNames returns a context that tells the gateway the order of the
// request's header names, for requests that did not come from a connection
// (replay of recorded traffic). Names are lower-cased by the caller.
func WithHeaderNames(ctx context.Context, names []string) context.Context {
	return context.WithValue(ctx, headerNamesKey{}, names)
}
