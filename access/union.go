package access

import (
	"cmp"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// unionFastOrMax is the number of small bitmaps up to which roaring.FastOr
// is used. Past it FastOr degrades: it grows array containers one merge at
// a time (O(k·n) for k bitmaps), which is what a manager's hundreds of
// small per-owner bitmaps look like.
const unionFastOrMax = 12

// denseMaxKeys is the widest range of container keys (65,536 ids each)
// accumulated in one contiguous word array (8 KiB per key).
const denseMaxKeys = 64

// unionSmallMax is the size of roaring's array containers: the values per
// container key above which a bitmap counts as dense.
const unionSmallMax = 4096

type sizedBitmap struct {
	b     *roaring.Bitmap
	card  uint64
	dense bool
}

// union returns the union of bms as a new bitmap. Dense bitmaps go to
// roaring.FastOr, which ORs their bitmap containers word by word; a long
// tail of sparse ones is first accumulated, when that is cheaper, in time
// linear in their total cardinality into dense 65,536-bit words per
// container key, which become one container each. bms may be reordered.
func union(bms []*roaring.Bitmap) *roaring.Bitmap {
	if len(bms) <= unionFastOrMax {
		return roaring.FastOr(bms...)
	}
	// Large ones first (FastOr's accumulator then starts with their bitmap
	// containers), then a tail of small ones accumulated densely.
	// A bitmap is dense when its values average more than an array
	// container holds per key it spans: its containers are (mostly) bitmap
	// containers, which FastOr ORs word by word.
	all := make([]sizedBitmap, len(bms))
	for i, b := range bms {
		all[i] = sizedBitmap{b: b, card: b.GetCardinality()}
		if c := all[i].card; c > unionSmallMax {
			keys := uint64(b.Maximum()>>16-b.Minimum()>>16) + 1
			all[i].dense = c/keys > unionSmallMax
		}
	}
	slices.SortFunc(all, func(x, y sizedBitmap) int {
		if x.dense != y.dense {
			if x.dense {
				return -1
			}
			return 1
		}
		return cmp.Compare(y.card, x.card)
	})
	small := len(all)
	for i, x := range all {
		if !x.dense {
			small = i
			break
		}
	}
	for i, x := range all {
		bms[i] = x.b
	}
	if small > 0 {
		// OR the sparse tail in place into the union of the dense ones:
		// their bitmap containers absorb arrays in O(values).
		var out *roaring.Bitmap
		if small == 1 {
			out = bms[0].Clone()
		} else {
			out = roaring.FastOr(bms[:small]...)
		}
		for _, b := range bms[small:] {
			out.Or(b)
		}
		return out
	}
	if !denseWorthIt(all) {
		return roaring.FastOr(bms...)
	}
	return denseUnion(bms)
}

// denseWorthIt estimates whether dense accumulation beats FastOr for a tail
// of k small bitmaps holding S values over K container keys: FastOr grows
// arrays merge by merge, about k·S/2 element moves; the dense way touches
// each value once plus about 2,048 words per key (clear, count, build).
func denseWorthIt(tail []sizedBitmap) bool {
	var values uint64
	lo, hi := uint32(math.MaxUint32), uint32(0)
	for _, x := range tail {
		values += x.card
		if x.card > 0 {
			lo, hi = min(lo, x.b.Minimum()), max(hi, x.b.Maximum())
		}
	}
	if lo > hi {
		return false
	}
	keys := uint64(hi>>16-lo>>16) + 1
	return uint64(len(tail))*values/2 > values+2048*keys
}

// denseUnion unions bitmaps by scattering their values into dense chunks.
func denseUnion(bms []*roaring.Bitmap) *roaring.Bitmap {
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
	nKeys := hi>>16 - loKey + 1
	var buf []uint32
	values := func(b *roaring.Bitmap) []uint32 {
		// ToExistingArray fills a slice of the bitmap's exact length.
		if n := int(b.GetCardinality()); cap(buf) < n {
			buf = make([]uint32, n, max(n, unionSmallMax))
		} else {
			buf = buf[:n]
		}
		return *b.ToExistingArray(&buf)
	}
	if nKeys <= denseMaxKeys {
		// One word array for the whole key range, one container per key.
		words := make([]uint64, nKeys<<10)
		base := loKey << 16
		for _, b := range bms {
			for _, x := range values(b) {
				d := x - base
				words[d>>6] |= 1 << (d & 63)
			}
		}
		out := roaring.FromDense(words, false)
		if base != 0 {
			out = roaring.AddOffset64(out, int64(base))
		}
		return out
	}
	// A wide key range (ids spread over the sequence): chunks per key present.
	chunks := make([]*[1024]uint64, nKeys) // at most 65,536 pointers
	for _, b := range bms {
		var cur *[1024]uint64
		curKey := uint32(math.MaxUint32)
		for _, x := range values(b) {
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
