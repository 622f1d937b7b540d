package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/wardenhq/warden/internal/keys"
	"github.com/wardenhq/warden/internal/store"
)

// This file holds what Authenticators outside the package (package
// identity) need of the gateway: key look-ups through the key cache, the
// client address as the pipeline sees it, and the TLS state of the
// connection, which the header-order wrapper hides from net/http.

// KeyByID returns the key with id through the key cache, so a key changed
// in the store (suspended, revoked) is seen within one watcher poll.
func (s *Server) KeyByID(ctx context.Context, id string) (*keys.Key, error) {
	now := time.Now()
	c := s.cache
	c.mu.Lock()
	if h, ok := c.byID[id]; ok {
		if e, ok := c.entries[h]; ok && e.key != nil && now.Before(e.expires) {
			c.mu.Unlock()
			return e.key, nil
		}
	}
	c.mu.Unlock()
	k, err := c.store.KeyByID(ctx, id)
	if err != nil {
		return nil, err
	}
	c.put(k.Hash, k, now)
	return k, nil
}

// KeyByHash returns the key whose secret hashes to h through the key
// cache, or (nil, nil) if there is none.
func (s *Server) KeyByHash(ctx context.Context, h keys.Hash) (*keys.Key, error) {
	k, err := s.cache.lookup(ctx, h, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return k, err
}

// ClientAddr returns r's client address: the socket peer, or the
// X-Forwarded-For hop a trusted proxy vouches for. For Extra routes, which
// see requests before the pipeline strips forwarding headers.
func (s *Server) ClientAddr(r *http.Request) netip.Addr {
	return clientAddr(r, r.Header.Values("X-Forwarded-For"), s.trusted)
}

// TLSState returns the TLS state of r's connection, or nil for plain HTTP.
// Connections accepted by ListenTLS are wrapped above the TLS layer (for
// header order), so net/http leaves r.TLS nil; the state is found through
// the connection that ConnContext put in the request context.
func TLSState(r *http.Request) *tls.ConnectionState {
	if r.TLS != nil {
		return r.TLS
	}
	oc, ok := r.Context().Value(connKey{}).(*orderConn)
	if !ok {
		return nil
	}
	tc, ok := oc.Conn.(*tls.Conn)
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	if !st.HandshakeComplete {
		return nil
	}
	return &st
}

// ListenTLS opens the main listener with TLS. The header-order wrapper sits
// above TLS, reading decrypted bytes; net/http then speaks HTTP/1.1 over
// it (cfg must offer only "http/1.1" in NextProtos) and r.TLS is nil: use
// TLSState. The handshake runs on the first read, under the server's
// read-header timeout.
func ListenTLS(addr string, cfg *tls.Config) (net.Listener, error) {
	for _, p := range cfg.NextProtos {
		if p != "http/1.1" {
			return nil, errors.New("gateway: TLS listener must offer only http/1.1")
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return orderListener{tls.NewListener(ln, cfg)}, nil
}
