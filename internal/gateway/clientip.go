package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr returns the client's address: the socket peer, or, when the
// peer is a trusted proxy, the X-Forwarded-For hop just before the first
// untrusted one counted from the right. Hops left of that are supplied by
// the client and cannot be trusted.
//
// Each hop may be a bare address, "ip:port" or "[ipv6]:port" (proxies
// write all three). A hop that is none of these ("unknown", an obfuscated
// RFC 7239 identifier, garbage) ends the walk: it stands where the client
// is, so the client is unknown and the zero Addr is returned. Falling back
// to the trusted proxy instead would give every such request the proxy's
// address, which may be allowed by a key's networks and would merge all
// of them into one client for the detector.
func clientAddr(r *http.Request, xff []string, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if len(trusted) == 0 || !isTrusted(peer, trusted) {
		return peer
	}
	// Walk right to left over every header line and every comma-separated
	// hop without building the list: the chain is attacker-sized.
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			hop := line
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				line = ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue // "a,,b": empty list elements are ignored (RFC 9110 section 5.6.1)
			}
			a, ok := parseHop(hop)
			if !ok {
				return netip.Addr{}
			}
			if !isTrusted(a, trusted) {
				return a
			}
		}
	}
	return peer
}

// parseHop reads one X-Forwarded-For element: "192.0.2.1", "192.0.2.1:443",
// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:443".
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), a.Zone() == ""
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Addr().Zone() == ""
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() && a.Zone() == "" {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
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
