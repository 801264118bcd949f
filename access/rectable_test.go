package access

import (
	"encoding/binary"
	"errors"
	"iter"
	"maps"
	"math"
	"math/rand"
	"runtime"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// all yields the table's entries in id order.
func (t recTable) all() iter.Seq2[uint32, recEntry] {
	return func(yield func(uint32, recEntry) bool) {
		for _, c := range t {
			for i, lo := range c.keys {
				if !yield(uint32(c.hi)<<16|uint32(lo), c.vals[i].entry()) {
					return
				}
			}
		}
	}
}

// checkTable compares t with want entry by entry and checks the layout
// invariants set, delete and get rely on.
func checkTable(t *testing.T, what string, tab recTable, want map[uint32]recEntry) {
	t.Helper()
	if tab.len() != len(want) {
		t.Fatalf("%s: len %d, want %d", what, tab.len(), len(want))
	}
	ids := slices.Sorted(maps.Keys(want))
	i := 0
	for id, r := range tab.all() {
		if i >= len(ids) || id != ids[i] || r != want[id] {
			t.Fatalf("%s: entry %d is %d:%+v, want %d:%+v", what, i, id, r, ids[min(i, len(ids)-1)], want[ids[min(i, len(ids)-1)]])
		}
		i++
	}
	for ci, c := range tab {
		if len(c.keys) == 0 || len(c.keys) != len(c.vals) || !slices.IsSorted(c.keys) || (ci > 0 && tab[ci-1].hi >= c.hi) {
			t.Fatalf("%s: chunk %d (hi %d) is malformed", what, ci, c.hi)
		}
		for k := 1; k < len(c.keys); k++ {
			if c.keys[k-1] == c.keys[k] {
				t.Fatalf("%s: chunk %d holds %d twice", what, ci, c.keys[k])
			}
		}
	}
	if sz := tab.sizeBytes(); sz < uint64(len(want))*10 {
		t.Fatalf("%s: sizeBytes %d is less than the %d entries take", what, sz, len(want))
	}
}

func TestPackRec(t *testing.T) {
	for _, r := range []recEntry{
		{owner: 0, parentID: 0, parentMod: -1},
		{owner: 1, parentID: 1, parentMod: 0},
		{owner: maxOwnerCode, parentID: math.MaxUint32, parentMod: numModules - 1},
		{owner: 12345, parentID: 1 << 31, parentMod: 2},
		{owner: maxOwnerCode - 1, parentID: 65536, parentMod: -1},
	} {
		if got := pack(r).entry(); got != r {
			t.Errorf("pack(%+v).entry() = %+v", r, got)
		}
	}
}

func TestRecTable(t *testing.T) {
	e := func(owner uint32) recEntry { return recEntry{owner: owner, parentMod: -1} }
	type op struct {
		del bool
		id  uint32
		r   recEntry
		ok  bool // delete's result
	}
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"empty", nil},
		{"zero and max", []op{{id: 0, r: e(1)}, {id: math.MaxUint32, r: e(2)}}},
		{"chunk boundary", []op{{id: 65536, r: e(1)}, {id: 65535, r: e(2)}, {id: 65537, r: e(3)}, {id: 131071, r: e(4)}}},
		{"overwrite keeps one entry", []op{{id: 7, r: e(1)}, {id: 7, r: recEntry{owner: 2, parentID: 9, parentMod: 3}}}},
		{"descending", []op{{id: 300000, r: e(1)}, {id: 200000, r: e(2)}, {id: 100000, r: e(3)}, {id: 3, r: e(4)}, {id: 2, r: e(5)}}},
		{"delete absent", []op{{id: 5, r: e(1)}, {del: true, id: 6}, {del: true, id: 70000}}},
		{"delete last of a chunk drops it", []op{{id: 65536, r: e(1)}, {id: 1, r: e(2)}, {del: true, id: 65536, ok: true}, {del: true, id: 65536}}},
		{"delete middle", []op{{id: 1, r: e(1)}, {id: 2, r: e(2)}, {id: 3, r: e(3)}, {del: true, id: 2, ok: true}, {id: 2, r: e(4)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tab recTable
			want := map[uint32]recEntry{}
			for i, o := range tc.ops {
				if o.del {
					if got := tab.delete(o.id); got != o.ok {
						t.Fatalf("op %d: delete(%d) = %v, want %v", i, o.id, got, o.ok)
					}
					delete(want, o.id)
				} else {
					tab.set(o.id, o.r)
					want[o.id] = o.r
				}
				checkTable(t, tc.name, tab, want)
			}
			for id, r := range want {
				if got, ok := tab.get(id); !ok || got != r {
					t.Fatalf("get(%d) = %+v, %v; want %+v", id, got, ok, r)
				}
			}
			if _, ok := tab.get(123456789); ok {
				t.Fatal("get of an absent id found it")
			}
		})
	}
}

// TestRecTableRandom runs random sets, deletes and gets against a map.
func TestRecTableRandom(t *testing.T) {
	edges := []uint32{0, 1, 65534, 65535, 65536, 65537, 131071, 131072, 1<<31 - 1, 1 << 31, math.MaxUint32 - 65536, math.MaxUint32 - 1, math.MaxUint32}
	for _, tc := range []struct {
		name string
		id   func(r *rand.Rand) uint32
	}{
		{"dense", func(r *rand.Rand) uint32 { return 1_000_000 + uint32(r.Intn(200_000)) }},
		// A chunk each for 8,192 spots over the whole range, a few ids a spot.
		{"sparse", func(r *rand.Rand) uint32 { return uint32(r.Intn(8192))*524_287 + uint32(r.Intn(8)) }},
		{"edges", func(r *rand.Rand) uint32 { return edges[r.Intn(len(edges))] + uint32(r.Intn(3)) - 1 }},
		{"mixed", func(r *rand.Rand) uint32 {
			switch r.Intn(3) {
			case 0:
				return uint32(r.Intn(300_000))
			case 1:
				return edges[r.Intn(len(edges))]
			}
			return r.Uint32()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewSource(int64(len(tc.name))))
			var tab recTable
			want := map[uint32]recEntry{}
			ops := 200_000
			if raceEnabled {
				ops = 40_000
			}
			for i := range ops {
				id := tc.id(r)
				switch x := r.Intn(10); {
				case x < 5:
					e := recEntry{owner: uint32(r.Intn(maxOwnerCode + 1)), parentMod: -1}
					if r.Intn(2) == 0 {
						e.parentMod, e.parentID = int8(r.Intn(numModules)), r.Uint32()
					}
					tab.set(id, e)
					want[id] = e
				case x < 8:
					_, had := want[id]
					if got := tab.delete(id); got != had {
						t.Fatalf("op %d: delete(%d) = %v, want %v", i, id, got, had)
					}
					delete(want, id)
				default:
					w, had := want[id]
					if got, ok := tab.get(id); ok != had || got != w {
						t.Fatalf("op %d: get(%d) = %+v, %v; want %+v, %v", i, id, got, ok, w, had)
					}
				}
				if i%20_000 == 0 {
					checkTable(t, tc.name, tab, want)
				}
			}
			checkTable(t, tc.name, tab, want)
			c := tab.clone()
			checkTable(t, tc.name+" clone", c, want)
			for id := range want { // the clone shares nothing with the original
				c.delete(id)
			}
			checkTable(t, tc.name+" after emptying the clone", tab, want)
			checkTable(t, tc.name+" emptied clone", c, nil)
		})
	}
}

// TestUnmarshalRecordChecks: the per-record table is built from sorted
// pairs; an encoding giving a record two owners or two parents, or a parent
// to a record nobody owns, must be refused.
func TestUnmarshalRecordChecks(t *testing.T) {
	enc := func(owners [][]uint32, children map[uint32][]uint32) []byte {
		buf := []byte(indexMagic)
		buf = binary.AppendVarint(buf, 1)
		buf = binary.AppendUvarint(buf, uint64(len(owners)))
		for i := range owners {
			buf = binary.AppendVarint(buf, int64(100+i))
		}
		bm := func(ids []uint32) {
			data, _ := roaring.BitmapOf(ids...).ToBytes()
			buf = binary.AppendUvarint(buf, uint64(len(data)))
			buf = append(buf, data...)
		}
		for mi := range numModules {
			if mi != 0 {
				buf = append(buf, 0, 0, 0, 0)
				continue
			}
			buf = binary.AppendUvarint(buf, uint64(len(owners)))
			for code, ids := range owners {
				buf = binary.AppendUvarint(buf, uint64(code))
				bm(ids)
			}
			buf = binary.AppendUvarint(buf, uint64(len(children)))
			for _, pid := range slices.Sorted(maps.Keys(children)) {
				buf = binary.AppendUvarint(buf, 2)
				buf = binary.AppendUvarint(buf, uint64(pid))
				bm(children[pid])
			}
			buf = append(buf, 0, 0)
		}
		return buf
	}
	ok := enc([][]uint32{{1, 70000}, {2, 3}}, map[uint32][]uint32{9: {1, 3}, 8: {70000}})
	ix := NewIndex()
	if err := ix.UnmarshalBinary(ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, owner int64
		parent    *RecordRef
	}{{1, 100, &RecordRef{Accounts, 9}}, {2, 101, nil}, {3, 101, &RecordRef{Accounts, 9}}, {70000, 100, &RecordRef{Accounts, 8}}} {
		got, found := ix.Record(Leads, c.id)
		if !found || got.OwnerID != c.owner || (got.Parent == nil) != (c.parent == nil) || (c.parent != nil && *got.Parent != *c.parent) {
			t.Errorf("record %d: %+v, want owner %d parent %v", c.id, got, c.owner, c.parent)
		}
	}
	if again, _ := ix.MarshalBinary(); string(again) != string(ok) {
		t.Error("a decoded index does not encode to the same bytes")
	}
	for name, data := range map[string][]byte{
		"two owners":      enc([][]uint32{{1, 2}, {2}}, nil),
		"two parents":     enc([][]uint32{{1, 2}}, map[uint32][]uint32{8: {1}, 9: {1}}),
		"orphan child":    enc([][]uint32{{1, 2}}, map[uint32][]uint32{9: {5}}),
		"last child only": enc([][]uint32{{1}}, map[uint32][]uint32{9: {math.MaxUint32}}),
	} {
		if err := NewIndex().UnmarshalBinary(data); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: got %v, want a corrupt-encoding error", name, err)
		}
	}
}

// recStore lets the benchmark drive the old map and the table alike.
type recStore interface {
	get(uint32) (recEntry, bool)
	set(uint32, recEntry)
}

type recMap map[uint32]recEntry

func (m recMap) get(id uint32) (recEntry, bool) { r, ok := m[id]; return r, ok }
func (m recMap) set(id uint32, r recEntry)      { m[id] = r }

// benchRecIDs returns n ids as one big org gets them from the shared
// sequence: increasing with small gaps where other orgs' records interleave,
// now and then a long run of theirs, and a few arriving out of order.
func benchRecIDs(n int, r *rand.Rand) []uint32 {
	ids := make([]uint32, n)
	id := uint32(1_000_000)
	for i := range ids {
		id += 1 + uint32(r.Intn(2))
		if r.Intn(1000) == 0 {
			id += uint32(r.Intn(50_000))
		}
		ids[i] = id
	}
	for range n / 100 {
		i := r.Intn(n - 64)
		j := i + r.Intn(64)
		ids[i], ids[j] = ids[j], ids[i]
	}
	return ids
}

// BenchmarkRecTable compares the per-record map the index used to keep with
// recTable, on 1.35M ids of a big org (the 1,000,000-deal bench org's size)
// and on 10,000 ids of a small org scattered over 200M ids of the sequence.
// B/entry is the live heap a built store holds; est-B/entry is what
// Index.SizeBytes charges for it.
//
//	go test -run '^$' -bench RecTable -benchtime 2s ./access/
func BenchmarkRecTable(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	big := benchRecIDs(1_350_000, r)
	small := make([]uint32, 10_000)
	for i := range small {
		small[i] = 1_000_000 + uint32(i)*20_000 + uint32(r.Intn(20_000))
	}
	e := recEntry{owner: 1234, parentID: 5_000_000, parentMod: 2}
	stores := []struct {
		name string
		new  func() recStore
		est  func(recStore) uint64
	}{
		{"map", func() recStore { return recMap{} }, func(s recStore) uint64 { return uint64(len(s.(recMap))) * (4 + 12 + 16) }},
		{"table", func() recStore { return &recTable{} }, func(s recStore) uint64 { return s.(*recTable).sizeBytes() }},
	}
	build := func(st recStore, ids []uint32) recStore {
		for _, id := range ids {
			st.set(id, e)
		}
		return st
	}
	for _, set := range []struct {
		name string
		ids  []uint32
	}{{"big", big}, {"small", small}} {
		for _, s := range stores {
			b.Run(set.name+"/"+s.name+"/build", func(b *testing.B) {
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				st := build(s.new(), set.ids)
				runtime.GC()
				runtime.ReadMemStats(&m1)
				n := float64(len(set.ids))
				est := s.est(st)
				runtime.KeepAlive(st)
				for b.Loop() {
					build(s.new(), set.ids)
				}
				b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "B/entry")
				b.ReportMetric(float64(est)/n, "est-B/entry")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/set")
			})
			perm := r.Perm(len(set.ids))
			b.Run(set.name+"/"+s.name+"/get", func(b *testing.B) {
				st := build(s.new(), set.ids)
				i := 0
				for b.Loop() {
					if _, ok := st.get(set.ids[perm[i]]); !ok {
						b.Fatal("lost an id")
					}
					if i++; i == len(perm) {
						i = 0
					}
				}
			})
			b.Run(set.name+"/"+s.name+"/update", func(b *testing.B) {
				st := build(s.new(), set.ids)
				i := 0
				for b.Loop() {
					st.set(set.ids[perm[i]], e)
					if i++; i == len(perm) {
						i = 0
					}
				}
			})
		}
	}
}
