package audit

import (
	"encoding/json"
	"testing"
)

// scanIndex must read what encoding/json reads from any event encoding/json
// accepts, or say it cannot. It does not validate the values it skips (nor
// did ParseLeaf ever validate the event): on input encoding/json refuses it
// may read something, and must not crash.
var leafIndexSeeds = []string{
	`{"id":"r1","ts":"2026-03-01T12:00:00.123456789Z","key_id":"k1","key_owner":"acme","client":{"key_id":"nested","h":["a","}"]},"s":"x\"y"}`,
	`{}`,
	`{"key_id":"a","key_id":"b"}`,
	`{"Key_ID":"upper"}`,
	`{"key\u005fid":"escaped"}`,
	` { "ts" : "2026-03-01T12:00:00Z" , "n" : -1.5e3 , "b" : true } `,
	`{"key_id":5}`,
	`{"key_id":"a"`,
	`{"a":[1,{"b":"]"}],"key_owner":"t"}`,
	`[]`,
	`{"a":}`,
}

func checkLeafIndex(t *testing.T, s string) {
	var want LeafIndex
	wantErr := json.Unmarshal([]byte(s), &want)
	got, ok, err := scanIndex([]byte(s))
	if !ok {
		return // Index falls back to json.Unmarshal
	}
	if err != nil {
		if wantErr == nil {
			t.Fatalf("scanIndex(%q): %v, encoding/json reads it", s, err)
		}
		return
	}
	if wantErr != nil {
		return
	}
	if got.KeyID != want.KeyID || got.Team != want.Team || !got.Time.Equal(want.Time) {
		t.Fatalf("scanIndex(%q) = %+v, encoding/json reads %+v", s, got, want)
	}
}

func TestScanIndexAgreesWithJSON(t *testing.T) {
	for _, s := range leafIndexSeeds {
		t.Run(s, func(t *testing.T) { checkLeafIndex(t, s) })
	}
}

func FuzzScanIndex(f *testing.F) {
	for _, s := range leafIndexSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkLeafIndex(t, s) })
}

// BenchmarkLeafIndex is what Verify adds per entry to check the index
// columns; BenchmarkLeafIndexUnmarshal what a plain json.Unmarshal costs.
func BenchmarkLeafIndex(b *testing.B) {
	l := benchLeaf(b)
	for b.Loop() {
		if _, err := l.Index(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLeafIndexUnmarshal(b *testing.B) {
	l := benchLeaf(b)
	for b.Loop() {
		var x LeafIndex
		if err := json.Unmarshal(l.Event, &x); err != nil {
			b.Fatal(err)
		}
	}
}

func benchLeaf(b *testing.B) *Leaf {
	f := newFixture(b, Config{})
	p, err := f.log.prepare(testEvent(1, "k_0001"), nil)
	if err != nil {
		b.Fatal(err)
	}
	l, err := ParseLeaf(p.entry.Leaf)
	if err != nil {
		b.Fatal(err)
	}
	return l
}
