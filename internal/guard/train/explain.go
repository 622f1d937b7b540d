package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/wardenhq/warden/internal/guard/linear"
	"github.com/wardenhq/warden/internal/guard/textnorm"
)

// explain names the features of text that weigh most on head (by the
// model's weight for that head), for reading why a fold's model judged a
// text as it did (-debug why:ROLE). Names are rebuilt from the text's
// words and 4-grams; a bucket shared by several names shows the first.
func explain(m *linear.Model, text, head string, k int) string {
	j := m.Head(head)
	if j < 0 {
		return ""
	}
	norm := string(textnorm.Normalize(nil, text))
	bucket := func(s string, idx func(n int) int) uint32 {
		f := linear.AppendFeatures(nil, []byte(s), m.Bits)
		return f[idx(len(f))]
	}
	names := map[uint32]string{}
	add := func(b uint32, name string) {
		if _, ok := names[b]; !ok {
			names[b] = name
		}
	}
	words := strings.FieldsFunc(norm, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 0x80)
	})
	for i, w := range words {
		add(bucket(w, func(int) int { return 0 }), w)
		if i > 0 {
			add(bucket(words[i-1]+" "+w, func(int) int { return 2 }), words[i-1]+"_"+w)
		}
	}
	padded := " " + norm + " "
	for i := 0; i+4 <= len(padded); i++ {
		g := padded[i : i+4]
		// The 4-gram "abcd" alone yields its 4-grams " abc"... as the last
		// ones: "abcd" is second to last.
		add(bucket(g, func(n int) int { return n - 2 }), "'"+g+"'")
	}
	type fw struct {
		name string
		w    int8
	}
	var fs []fw
	h := len(m.Heads)
	for b, name := range names {
		fs = append(fs, fw{name, m.Weights[int(b)*h+j]})
	}
	sort.Slice(fs, func(a, b int) bool { return fs[a].w > fs[b].w })
	var sb strings.Builder
	for i, f := range fs {
		if i == k {
			break
		}
		fmt.Fprintf(&sb, " %s:%d", f.name, f.w)
	}
	return sb.String()
}
