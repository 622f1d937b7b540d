package gateway

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/wardenhq/warden/internal/record"
	"github.com/wardenhq/warden/internal/redact"
)

// recordOf builds the replayable record of the exchange (warden serve
// --record): headers in arrival order with credentials replaced, the body
// with secrets masked, and the key id instead of the key.
func (x *exchange) recordOf(hdr http.Header) *record.Record {
	// The query is redacted like the headers: Azure clients may send the
	// key as ?api-key=.
	rec := &record.Record{TS: x.at, ClientIP: x.ev.ClientIP, Method: x.r.Method, Path: redact.RequestURI(x.r.URL.RequestURI())}
	if x.key != nil {
		rec.KeyID, rec.KeyOwner, rec.KeyKind = x.key.ID, x.key.Owner, string(x.key.Kind)
	}
	seen := map[string]int{}
	for _, name := range x.ev.Client.HeaderNames {
		switch name {
		case "authorization":
			rec.Headers = append(rec.Headers, record.Header{Name: name, Value: "Bearer [credential]"})
			continue
		case "api-key", "cookie", "proxy-authorization", "x-api-key", "ocp-apim-subscription-key":
			rec.Headers = append(rec.Headers, record.Header{Name: name, Value: "[credential]"})
			continue
		}
		vals := hdr.Values(name)
		i := seen[name]
		seen[name]++
		v := ""
		if i < len(vals) {
			v = vals[i]
		}
		rec.Headers = append(rec.Headers, record.Header{Name: name, Value: redact.String(v)})
	}
	if len(x.raw) > 0 {
		body := redact.Bytes(x.raw)
		if json.Valid(body) {
			rec.Body = body
		} else {
			s, _ := json.Marshal(strings.ToValidUTF8(string(body), "\uFFFD"))
			rec.Body = s
		}
	}
	return rec
}
