package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr returns the client's address: the socket peer, or, when the
// peer is a trusted proxy, the X-Forwarded-For hop just before the first
// trusted proxy counted from the right. Hops left of that are supplied by
// the client and cannot be trusted.
func clientAddr(r *http.Request, xff []string, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if len(trusted) == 0 || !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, h := range xff {
		for _, p := range strings.Split(h, ",") {
			hops = append(hops, strings.TrimSpace(p))
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return peer // a malformed hop: trust nothing beyond the peer
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return peer
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func parseAddr(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// hopHeaders are removed from every inbound request before any stage sees
// it (RFC 9110 section 7.6.1), together with client-sent X-Forwarded-* and
// Forwarded, which only a trusted proxy may set. Warden builds upstream
// requests from scratch, so nothing of the client's headers travels upstream.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// stripHeaders removes hop-by-hop and forwarding headers and returns the
// X-Forwarded-For values for clientAddr.
func stripHeaders(h http.Header) (xff []string) {
	if c := h.Get("Connection"); c != "" {
		for _, f := range strings.Split(c, ",") {
			if f = strings.TrimSpace(f); f != "" {
				h.Del(f)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	xff = h.Values("X-Forwarded-For")
	for k := range h {
		if strings.HasPrefix(k, "X-Forwarded-") || k == "Forwarded" {
			delete(h, k)
		}
	}
	return xff
}
