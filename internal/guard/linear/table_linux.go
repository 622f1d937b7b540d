package linear

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on linux/amd64 and arm64.
const hugePage = 2 << 20

// newTable returns n zeroed weights. A table of a huge page or more is
// placed on huge-page boundaries and the kernel is asked (madvise) to back
// it with huge pages: a check reads one row per feature at random places
// in the table, and with 4 KB pages nearly every read also misses the
// TLB once the rest of a request has pushed the table's pages out of it.
// The advice is only that: where the kernel has transparent huge pages off
// or none to spare, the table is ordinary memory. It is Go memory either
// way, freed with the model.
func newTable(n int) []int8 {
	if n < hugePage {
		return make([]int8, n)
	}
	raw := make([]int8, n+hugePage)
	off := int((hugePage - uintptr(unsafe.Pointer(&raw[0]))%hugePage) % hugePage)
	t := raw[off : off+n : off+n]
	// Whole huge pages only, so the table takes no more memory than its
	// size: 2 of a 2.6 MB table's 2.6 MB (its rest stays on small pages).
	whole := n &^ (hugePage - 1)
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Pointer(&t[0])), whole), syscall.MADV_HUGEPAGE)
	return t
}
