package gateway

import (
	"bytes"
	"context"
	"net"
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
	mu  sync.Mutex
	buf []byte
}

func (c *orderConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if len(c.buf)+n > maxHeaderBuf {
			// Keep the tail: a request's header block is read before its
			// handler runs, and bodies are not needed.
			keep := maxHeaderBuf / 4
			if len(c.buf) > keep {
				c.buf = append(c.buf[:0], c.buf[len(c.buf)-keep:]...)
			}
		}
		if n <= maxHeaderBuf {
			c.buf = append(c.buf, p[:n]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

// takeHeaderNames returns the lower-cased header names of the last complete
// request header block read, in order, and forgets the bytes up to its end.
func (c *orderConn) takeHeaderNames(method string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := -1
	prefix := []byte(method + " ")
	// Find the last request line of this method that starts a line.
	for i := len(c.buf); i > 0; {
		j := bytes.LastIndex(c.buf[:i], prefix)
		if j < 0 {
			break
		}
		if j == 0 || c.buf[j-1] == '\n' {
			start = j
			break
		}
		i = j
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
	for _, l := range lines[1:] {
		k, _, ok := bytes.Cut(l, []byte(":"))
		if !ok || len(k) == 0 || k[0] == ' ' || k[0] == '\t' {
			continue
		}
		names = append(names, string(bytes.ToLower(bytes.TrimSpace(k))))
	}
	c.buf = append(c.buf[:0], block[end+4:]...)
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
