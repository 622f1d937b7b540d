package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequest sends arbitrary requests to the console without a valid
// session: nothing may panic, and nothing under /console/api/ or the
// session endpoint may succeed or echo the admin token.
func FuzzRequest(f *testing.F) {
	f.Add("GET", "/console/api/v1/keys", "", "", "")
	f.Add("POST", "/console/session", `{"token":"x"}`, "application/json", "")
	f.Add("POST", "/console/api/v1/keys/k/revoke", `{}`, "application/json", "warden_console=abc")
	f.Add("DELETE", "/console/session", "", "", "warden_console=")
	f.Add("GET", "/console/%2e%2e/%2e%2e/etc/passwd", "", "", "")
	f.Add("GET", "/console/assets/../../console.go", "", "", "")
	f.Add("PATCH", "/console/api/v1/../../admin/v1/keys", `{"rpm":1}`, "application/json", "")
	h, _, _ := newConsole(f)
	f.Fuzz(func(t *testing.T, method, path, body, ct, cookie string) {
		if len(body) > 1<<16 || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") {
			return
		}
		switch method {
		case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		default:
			return
		}
		r, err := http.NewRequest(method, "http://127.0.0.1:8081"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		r.RemoteAddr = "127.0.0.1:1"
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		if cookie != "" && !strings.ContainsAny(cookie, "\r\n") {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if strings.Contains(w.Body.String(), token) {
			t.Fatalf("%s %s: answer contains the admin token", method, path)
		}
		p := r.URL.Path
		if (strings.HasPrefix(p, Prefix+"api/") || (p == Prefix+"session" && method != "POST")) && w.Code < 300 {
			t.Fatalf("%s %s without a session: %d", method, path, w.Code)
		}
	})
}
