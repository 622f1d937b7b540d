//go:build !linux

package linear

// newTable returns n zeroed weights (see the linux version for huge pages).
func newTable(n int) []int8 { return make([]int8, n) }
