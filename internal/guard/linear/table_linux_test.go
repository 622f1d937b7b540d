package linear

import (
	"testing"
	"unsafe"
)

// TestNewTable: a large table starts on a huge-page boundary, has the
// length and capacity asked for, and is zeroed; a small one is plain.
func TestNewTable(t *testing.T) {
	for _, n := range []int{0, 100, hugePage - 1, hugePage, 2621440, 3 * hugePage} {
		tab := newTable(n)
		if len(tab) != n || cap(tab) != n {
			t.Fatalf("n=%d: len %d cap %d", n, len(tab), cap(tab))
		}
		if n >= hugePage && uintptr(unsafe.Pointer(&tab[0]))%hugePage != 0 {
			t.Errorf("n=%d: table not on a huge-page boundary", n)
		}
		for i, v := range tab {
			if v != 0 {
				t.Fatalf("n=%d: weight %d is %d", n, i, v)
			}
		}
	}
}
