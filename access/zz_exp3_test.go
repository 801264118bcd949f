package access

import (
	"math/rand"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

func BenchmarkUnionSynthetic(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	for _, k := range []int{100, 700} {
		var bms []*roaring.Bitmap
		for i := 0; i < k; i++ {
			bm := roaring.New()
			for j := 0; j < 100; j++ {
				bm.Add(uint32(r.Intn(1 << 20)))
			}
			bms = append(bms, bm)
		}
		b.Run("dense"+string(rune('0'+k/100)), func(b *testing.B) {
			for b.Loop() {
				union(bms)
			}
		})
		b.Run("fastor"+string(rune('0'+k/100)), func(b *testing.B) {
			for b.Loop() {
				roaring.FastOr(bms...)
			}
		})
		b.Run("paror"+string(rune('0'+k/100)), func(b *testing.B) {
			for b.Loop() {
				roaring.ParOr(0, bms...)
			}
		})
	}
}
