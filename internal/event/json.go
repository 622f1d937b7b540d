package event

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends e encoded as encoding/json's Marshal encodes it, byte
// for byte, and returns the extended buffer.
//
// Every request's audit entry is its event in JSON, encoded on the request's
// path, and in a cluster every event is encoded once more to reach the
// instance that owns its key's detector state. encoding/json walks the
// struct by reflection; inside a busy gateway, where its type information
// is out of the cache by the next request, that cost 31 µs of CPU per
// request at 1,000 req/s (docs/benchmarks.md, "Latency budget"). This
// encoder writes the fields in their declared order with the same rules
// (omitempty, HTML-safe escaping, invalid UTF-8 as U+FFFD, floats as
// encoding/json formats them, map keys sorted). TestAppendJSONMatchesMarshal
// fills every field of Event by reflection and compares the bytes with
// json.Marshal's, so a field added to Event and not here fails the tests.
//
// The errors are json.Marshal's: a NaN or infinite float, or a time whose
// year is outside 0-9999.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	var w jw
	w.b = dst
	w.b = append(w.b, '{')
	w.str(`"id":`, e.ID)
	w.time(`,"ts":`, e.Time)
	w.int(`,"duration_ns":`, int64(e.Duration))
	w.strOmit(`,"instance":`, e.Instance)
	w.strOmit(`,"key_id":`, e.KeyID)
	w.strOmit(`,"key_owner":`, e.KeyOwner)
	w.strOmit(`,"key_kind":`, e.KeyKind)
	w.strOmit(`,"auth_method":`, e.AuthMethod)
	w.str(`,"client_ip":`, e.ClientIP)
	w.b = append(w.b, `,"client":`...)
	w.client(&e.Client)
	w.str(`,"fingerprint":`, e.Fingerprint)
	w.str(`,"method":`, e.Method)
	w.str(`,"path":`, e.Path)
	w.strOmit(`,"style":`, e.Style)
	w.strOmit(`,"endpoint":`, e.Endpoint)
	w.strOmit(`,"model":`, e.Model)
	w.strOmit(`,"provider":`, e.Provider)
	w.strOmit(`,"upstream_model":`, e.Upstream)
	w.int(`,"request_bytes":`, e.RequestLen)
	w.b = append(w.b, `,"features":`...)
	w.features(&e.Features)
	w.int(`,"status":`, int64(e.Status))
	w.strOmit(`,"error_code":`, e.ErrorCode)
	w.strOmit(`,"refusal":`, e.Refusal)
	w.intOmit(`,"retry_after_ns":`, int64(e.RetryAfter))
	if len(e.Guard) > 0 {
		w.b = append(w.b, `,"guard":[`...)
		for i := range e.Guard {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.verdict(&e.Guard[i])
		}
		w.b = append(w.b, ']')
	}
	w.int(`,"response_bytes":`, e.ResponseLen)
	w.boolOmit(`,"streamed":`, e.Streamed)
	w.boolOmit(`,"stream_cut":`, e.StreamCut)
	w.strOmit(`,"finish_reason":`, e.FinishReason)
	w.boolOmit(`,"upstream_429":`, e.Upstream429)
	w.intOmit(`,"upstream_ns":`, int64(e.UpstreamTime))
	w.intOmit(`,"attempts":`, int64(e.Attempts))
	if len(e.Tries) > 0 {
		w.b = append(w.b, `,"tries":[`...)
		for i, t := range e.Tries {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.str(`{"deployment":`, t.Deployment)
			w.intOmit(`,"status":`, int64(t.Status))
			w.b = append(w.b, '}')
		}
		w.b = append(w.b, ']')
	}
	w.intOmit(`,"prompt_tokens":`, int64(e.PromptTokens))
	w.intOmit(`,"completion_tokens":`, int64(e.CompletionTokens))
	w.intOmit(`,"images":`, int64(e.Images))
	if e.CostUSD != 0 {
		w.float(`,"cost_usd":`, e.CostUSD)
	}
	w.strOmit(`,"action":`, e.Action)
	if a := e.Actor; a != nil {
		w.str(`,"actor":{"subject":`, a.Subject)
		w.strOmit(`,"email":`, a.Email)
		w.str(`,"role":`, a.Role)
		w.str(`,"method":`, a.Method)
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, '}')
	if w.err != nil {
		return dst, fmt.Errorf("event %s: %w", e.ID, w.err)
	}
	return w.b, nil
}

func (w *jw) client(c *Client) {
	w.b = append(w.b, '{')
	n := len(w.b)
	w.strOmit(`,"user_agent":`, c.UserAgent)
	w.strsOmit(`,"header_names":`, c.HeaderNames)
	w.boolOmit(`,"sdk_headers":`, c.SDKHeaders)
	w.strOmit(`,"sdk_lang":`, c.SDKLang)
	w.strOmit(`,"sdk_version":`, c.SDKVersion)
	w.strOmit(`,"api_version":`, c.APIVersion)
	w.boolOmit(`,"both_auth":`, c.BothAuth)
	w.close(n)
}

func (w *jw) features(f *Features) {
	w.b = append(w.b, '{')
	n := len(w.b)
	w.boolOmit(`,"stream":`, f.Stream)
	w.intOmit(`,"max_tokens":`, int64(f.MaxTokens))
	w.floatPtr(`,"temperature":`, f.Temperature)
	w.floatPtr(`,"top_p":`, f.TopP)
	w.floatPtr(`,"presence_penalty":`, f.PresencePen)
	w.floatPtr(`,"frequency_penalty":`, f.FrequencyPen)
	w.intOmit(`,"n":`, int64(f.N))
	w.intOmit(`,"messages":`, int64(f.Messages))
	w.int(`,"prompt_chars":`, int64(f.PromptChars))
	w.boolOmit(`,"empty_prompt":`, f.EmptyPrompt)
	w.strOmit(`,"user":`, f.User)
	w.strOmit(`,"conv_root":`, f.ConvRoot)
	w.strOmit(`,"system_hash":`, f.SystemHash)
	w.strOmit(`,"image_size":`, f.ImageSize)
	w.strOmit(`,"image_quality":`, f.ImageQuality)
	w.strsOmit(`,"phrases":`, f.Phrases)
	w.close(n)
}

func (w *jw) verdict(v *Verdict) {
	w.str(`{"stage":`, v.Stage)
	w.str(`,"action":`, v.Action)
	w.strOmit(`,"category":`, v.Category)
	if len(v.Scores) > 0 {
		keys := make([]string, 0, len(v.Scores))
		for k := range v.Scores {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		w.b = append(w.b, `,"scores":{`...)
		for i, k := range keys {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = appendString(w.b, k)
			w.float(":", v.Scores[k])
		}
		w.b = append(w.b, '}')
	}
	w.strOmit(`,"rule":`, v.Rule)
	w.b = append(w.b, '}')
}

// jw is AppendJSON's writer: the buffer and the first error. Every method
// takes the text before the value, starting with the comma that separates
// it from the previous member; close removes it when the member is the
// object's first.
type jw struct {
	b   []byte
	err error
}

// close ends an object opened at n-1 whose members were all written with
// a leading comma: the first one's comma goes.
func (w *jw) close(n int) {
	if len(w.b) > n && w.b[n] == ',' {
		w.b = append(w.b[:n], w.b[n+1:]...)
	}
	w.b = append(w.b, '}')
}

func (w *jw) str(key, s string) {
	w.b = append(w.b, key...)
	w.b = appendString(w.b, s)
}

func (w *jw) strOmit(key, s string) {
	if s != "" {
		w.str(key, s)
	}
}

func (w *jw) strsOmit(key string, ss []string) {
	if len(ss) == 0 {
		return
	}
	w.b = append(w.b, key...)
	w.b = append(w.b, '[')
	for i, s := range ss {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendString(w.b, s)
	}
	w.b = append(w.b, ']')
}

func (w *jw) int(key string, v int64) {
	w.b = append(w.b, key...)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jw) intOmit(key string, v int64) {
	if v != 0 {
		w.int(key, v)
	}
}

func (w *jw) boolOmit(key string, v bool) {
	if v {
		w.b = append(w.b, key...)
		w.b = append(w.b, "true"...)
	}
}

func (w *jw) floatPtr(key string, v *float64) {
	if v != nil {
		w.float(key, *v)
	}
}

// float writes f as encoding/json does: the shortest representation that
// reads back the same, in exponent form only below 1e-6 and from 1e21, with
// the exponent's leading zero dropped (1e-7, not 1e-07).
func (w *jw) float(key string, f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		if w.err == nil {
			w.err = fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
		}
		f = 0
	}
	w.b = append(w.b, key...)
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.b = strconv.AppendFloat(w.b, f, format, -1, 64)
	if format == 'e' {
		if n := len(w.b); n >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
			w.b[n-2] = w.b[n-1]
			w.b = w.b[:n-1]
		}
	}
}

// time writes t as time.Time's MarshalJSON does (RFC 3339 with the
// nanoseconds that are not zero).
func (w *jw) time(key string, t time.Time) {
	w.b = append(w.b, key...)
	w.b = append(w.b, '"')
	b, err := t.AppendText(w.b)
	if err != nil {
		if w.err == nil {
			w.err = errors.New("json: Time.MarshalJSON: " + err.Error())
		}
		b = w.b
	}
	w.b = append(b, '"')
}

// appendString writes s as a JSON string as encoding/json does by default:
// <, > and & escaped for HTML, control characters as \n, \t and the like
// or \u00XX, invalid UTF-8 as U+FFFD, and U+2028 and U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
