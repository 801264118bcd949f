package access

import (
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestUnion checks union against roaring's Or on random inputs that take
// every path: few bitmaps, many small ones (dense chunks), mixes with large
// ones, values at key 0 and near MaxUint32, empty bitmaps.
func TestUnion(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	iters := 200
	if raceEnabled {
		iters = 40
	}
	for iter := 0; iter < iters; iter++ {
		n := r.Intn(60)
		var bms []*roaring.Bitmap
		want := roaring.New()
		for i := 0; i < n; i++ {
			b := roaring.New()
			size := r.Intn(50)
			if r.Intn(8) == 0 {
				size = 5000 + r.Intn(15000) // large: bitmap containers
			}
			base := uint32(r.Intn(4)) << 16
			if r.Intn(4) == 0 {
				base = math.MaxUint32 - 1<<17
			}
			vals := make([]uint32, size)
			if size > 1000 { // large and dense: strided, sorted by construction
				step := 1 + r.Intn(6)
				for j := range vals {
					vals[j] = base + uint32(j*step)
				}
			} else {
				for j := range vals {
					vals[j] = base + uint32(r.Intn(1<<17))
				}
				slices.Sort(vals)
			}
			b.AddMany(vals)
			if r.Intn(10) == 0 {
				b.Add(0)
				b.Add(math.MaxUint32)
			}
			want.Or(b)
			bms = append(bms, b)
		}
		before := make(map[*roaring.Bitmap]*roaring.Bitmap, len(bms))
		for _, b := range bms {
			before[b] = b.Clone()
		}
		got := union(bms)
		if !got.Equals(want) {
			t.Fatalf("iteration %d (%d bitmaps): union has %d values, want %d", iter, n, got.GetCardinality(), want.GetCardinality())
		}
		// Both dense paths, whatever the cost model picks: compact key
		// ranges (one word array) and wide ones (chunks per key).
		if d := denseUnion(bms); !d.Equals(want) {
			t.Fatalf("iteration %d: denseUnion has %d values, want %d", iter, d.GetCardinality(), want.GetCardinality())
		}
		for b, was := range before { // inputs untouched
			if !b.Equals(was) {
				t.Fatalf("iteration %d: union modified an input", iter)
			}
		}
		got.Add(12345) // the result is the caller's
		for _, b := range bms {
			if b == got {
				t.Fatal("union returned an input")
			}
		}
	}
}
