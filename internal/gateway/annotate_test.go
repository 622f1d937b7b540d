package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

var (
	testCFR = jsonMember{"content_filter_results", []byte(`{"hate":{"filtered":false,"severity":"safe"}}`)}
	testPFR = jsonMember{"prompt_filter_results", []byte(`[{"prompt_index":0,"content_filter_results":{}}]`)}
)

// annotateByMap is what Warden did before annotate: decode into a map, set
// the members, encode. annotate must give the same document.
func annotateByMap(b []byte, top, choice []jsonMember) ([]byte, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	for _, m := range top {
		doc[m.name] = json.RawMessage(m.value)
	}
	if cs, ok := doc["choices"].([]any); ok {
		for _, c := range cs {
			if o, ok := c.(map[string]any); ok {
				for _, m := range choice {
					o[m.name] = json.RawMessage(m.value)
				}
			}
		}
	}
	return json.Marshal(doc)
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	for _, p := range []struct {
		raw []byte
		v   *any
	}{{a, &x}, {b, &y}} {
		dec := json.NewDecoder(bytes.NewReader(p.raw))
		dec.UseNumber()
		if err := dec.Decode(p.v); err != nil {
			t.Fatalf("%s: %v", p.raw, err)
		}
	}
	return reflect.DeepEqual(x, y)
}

func TestAnnotate(t *testing.T) {
	tests := []struct {
		name, in, want string // want "": only compared with annotateByMap
	}{
		{"chat answer, order kept", `{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"total_tokens":3}}`,
			`{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop","content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}],"usage":{"total_tokens":3},"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}`},
		{"upstream's own results replaced", `{"prompt_filter_results":[1],"choices":[{"content_filter_results":{"x":1},"index":0}]}`,
			`{"choices":[{"index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}],"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}`},
		{"numbers and escapes as sent", `{"n":1.50e3,"s":"\u00e9\n","choices":[]}`, `{"n":1.50e3,"s":"\u00e9\n","choices":[],"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}`},
		{"nested choices untouched", `{"data":{"choices":[{"a":1}]},"choices":[null,7,{"b":[]}]}`, ""},
		{"choices not an array", `{"choices":{"a":1}}`, ""},
		{"no choices (responses)", `{"object":"response","output":[{"type":"message"}]}`, ""},
		{"whitespace", "{ \"choices\" : [ { \"index\" : 0 } ] , \"x\" : { } }\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := annotate([]byte(tt.in), []jsonMember{testPFR}, []jsonMember{testCFR})
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			ref, err := annotateByMap([]byte(tt.in), []jsonMember{testPFR}, []jsonMember{testCFR})
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, got, ref) {
				t.Errorf("got %s, the map encoding gives %s", got, ref)
			}
		})
	}
	for _, bad := range []string{`[1]`, `"x"`, `{"choices":[`, `{"a":1}{"b":2}`} {
		if out, err := annotate([]byte(bad), nil, []jsonMember{testCFR}); err == nil {
			t.Errorf("annotate(%s) = %s, want an error", bad, out)
		}
	}
}

// Every answer that passes the I-JSON check is annotated to the same
// document as the map encoding gives.
func FuzzAnnotate(f *testing.F) {
	for _, s := range []string{
		`{"id":"c1","choices":[{"index":0,"message":{"content":"Hi"}}]}`,
		`{"choices":[{"content_filter_results":{}},[],"s"],"prompt_filter_results":null}`,
		`{"a":{"choices":[{}]},"b":[1,2.5e-3,true,null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkIJSON(b, answerSchema) != nil {
			return
		}
		got, err := annotate(b, []jsonMember{testPFR}, []jsonMember{testCFR})
		if err != nil {
			t.Fatalf("annotate(%q): %v", b, err)
		}
		ref, err := annotateByMap(b, []jsonMember{testPFR}, []jsonMember{testCFR})
		if err != nil {
			t.Fatalf("map encoding of %q: %v", b, err)
		}
		if !sameJSON(t, got, ref) {
			t.Fatalf("annotate(%q) = %s, the map encoding gives %s", b, got, ref)
		}
	})
}

// BenchmarkAnnotate compares the splice with the map encoding it replaced,
// on a 2 KB chat answer.
func BenchmarkAnnotate(b *testing.B) {
	for _, tc := range []struct {
		name string
		fn   func([]byte, []jsonMember, []jsonMember) ([]byte, error)
	}{{"splice", annotate}, {"map", annotateByMap}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(benchAnswer)))
			for range b.N {
				if _, err := tc.fn(benchAnswer, []jsonMember{testPFR}, []jsonMember{testCFR}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
