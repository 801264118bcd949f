package access

import "math/bits"

// bitset is a fixed-size set of dense member indexes.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)>>6) }

func (b bitset) set(i int32)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) has(i int32) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }

func (b bitset) or(o bitset) {
	for i := range o {
		b[i] |= o[i]
	}
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

func (b bitset) clone() bitset { return append(bitset(nil), b...) }

// each calls f for every index in b, in increasing order.
func (b bitset) each(f func(i int32)) {
	for wi, w := range b {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			f(int32(wi<<6 + t))
			w &= w - 1
		}
	}
}

// rangeWords calls f with each word of the bit range [lo, hi) and the mask
// of the range within it, while f returns true; it reports whether f always did.
func rangeWords(lo, hi int32, f func(w int, mask uint64) bool) bool {
	for lo < hi {
		w := lo >> 6
		end := min(hi, (w+1)<<6)
		width := uint(end - lo)
		mask := ^uint64(0)
		if width < 64 {
			mask = (uint64(1)<<width - 1)
		}
		mask <<= uint(lo & 63)
		if !f(int(w), mask) {
			return false
		}
		lo = end
	}
	return true
}

// allInRange reports whether every bit of [lo, hi) is set.
func (b bitset) allInRange(lo, hi int32) bool {
	return rangeWords(lo, hi, func(w int, mask uint64) bool { return b[w]&mask == mask })
}

// anyInRange reports whether some bit of [lo, hi) is set.
func (b bitset) anyInRange(lo, hi int32) bool {
	return !rangeWords(lo, hi, func(w int, mask uint64) bool { return b[w]&mask == 0 })
}
