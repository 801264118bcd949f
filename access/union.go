package access

import (
	"math"

	"github.com/RoaringBitmap/roaring/v2"
)

// unionFastOrMax is the number of bitmaps up to which roaring.FastOr is
// used. Past it, FastOr degrades: it grows array containers one merge at a
// time (O(k·n) for k bitmaps), which is what a manager's hundreds of small
// per-owner bitmaps look like.
const unionFastOrMax = 12

// union returns the union of bms as a new bitmap, in time linear in their
// total cardinality: values are scattered into dense 65,536-bit chunks (one
// per container key present) and each chunk becomes one container.
func union(bms []*roaring.Bitmap) *roaring.Bitmap {
	if len(bms) <= unionFastOrMax {
		return roaring.FastOr(bms...)
	}
	lo, hi := uint32(math.MaxUint32), uint32(0)
	for _, b := range bms {
		if !b.IsEmpty() {
			lo, hi = min(lo, b.Minimum()), max(hi, b.Maximum())
		}
	}
	if lo > hi {
		return roaring.New()
	}
	loKey := lo >> 16
	chunks := make([]*[1024]uint64, hi>>16-loKey+1) // at most 65,536 pointers
	buf := make([]uint32, 0, 1024)
	for _, b := range bms {
		// ToExistingArray fills a slice of the bitmap's exact length.
		if n := int(b.GetCardinality()); cap(buf) < n {
			buf = make([]uint32, n)
		} else {
			buf = buf[:n]
		}
		vals := *b.ToExistingArray(&buf)
		var cur *[1024]uint64
		curKey := uint32(math.MaxUint32)
		for _, x := range vals {
			if k := x >> 16; k != curKey {
				curKey = k
				cur = chunks[k-loKey]
				if cur == nil {
					cur = new([1024]uint64)
					chunks[k-loKey] = cur
				}
			}
			cur[(x&0xFFFF)>>6] |= 1 << (x & 63)
		}
		buf = vals[:0]
	}
	out := roaring.New()
	for i, c := range chunks {
		if c == nil {
			continue
		}
		part := roaring.FromDense(c[:], false)
		if key := uint32(i) + loKey; key != 0 {
			part = roaring.AddOffset64(part, int64(key)<<16)
		}
		out.Or(part)
	}
	return out
}
