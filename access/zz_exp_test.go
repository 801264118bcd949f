package access

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

func collectOwnerBitmaps(o *benchOrg, viewer int64) []*roaring.Bitmap {
	vi := o.snap.memberIdx[viewer]
	owners := o.snap.visibleOwners(vi, moduleIndex(Deals))
	md := &o.ix.mods[moduleIndex(Deals)]
	var bms []*roaring.Bitmap
	owners.each(func(j int32) {
		if c, ok := o.ix.ownerCode[o.snap.members[j].ID]; ok && int(c) < len(md.byOwner) && md.byOwner[c] != nil {
			bms = append(bms, md.byOwner[c])
		}
	})
	return bms
}

func BenchmarkUnionStrategies(b *testing.B) {
	o := getBench(b)
	for _, v := range []struct {
		name string
		id   int64
	}{{"depth3", o.depth3}, {"depth1", o.depth1}} {
		bms := collectOwnerBitmaps(o, v.id)
		b.Run(v.name+"/FastOr", func(b *testing.B) {
			for b.Loop() {
				roaring.FastOr(bms...)
			}
		})
		b.Run(v.name+"/HeapOr", func(b *testing.B) {
			for b.Loop() {
				roaring.HeapOr(bms...)
			}
		})
		b.Run(v.name+"/ParOr", func(b *testing.B) {
			for b.Loop() {
				roaring.ParOr(0, bms...)
			}
		})
		b.Run(v.name+"/dense", func(b *testing.B) {
			all := o.ix.mods[moduleIndex(Deals)].all
			for b.Loop() {
				denseOr(all, bms)
			}
		})
	}
}

func denseOr(all *roaring.Bitmap, bms []*roaring.Bitmap) *roaring.Bitmap {
	lo := all.Minimum() &^ 63
	hi := all.Maximum()
	words := make([]uint64, (hi-lo)/64+1)
	buf := make([]uint32, 256)
	for _, b := range bms {
		it := b.ManyIterator()
		for {
			n := it.NextMany(buf)
			if n == 0 {
				break
			}
			for _, x := range buf[:n] {
				d := x - lo
				words[d>>6] |= 1 << (d & 63)
			}
		}
	}
	out := roaring.New()
	out.FromDense(words, false)
	if lo != 0 {
		// shift: rebuild (experiment only)
	}
	return out
}

func BenchmarkUnionDense(b *testing.B) {
	o := getBench(b)
	for _, v := range []struct {
		name string
		id   int64
	}{{"depth3", o.depth3}, {"depth1", o.depth1}} {
		bms := collectOwnerBitmaps(o, v.id)
		want := roaring.FastOr(bms...)
		if !union(bms).Equals(want) {
			b.Fatal("union differs")
		}
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				union(bms)
			}
		})
	}
}

func TestUnionProfile(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	o := getBench(nil)
	bms := collectOwnerBitmaps(o, o.depth1)
	var tot uint64
	var conts int
	for _, b := range bms {
		tot += b.GetCardinality()
		conts += len(b.ToArray()) / 1
		st := b.Stats()
		_ = st
	}
	t.Logf("bitmaps %d, total values %d", len(bms), tot)
	start := testingNow()
	for i := 0; i < 50; i++ {
		union(bms)
	}
	t.Logf("union: %v per call", testingSince(start)/50)
}
