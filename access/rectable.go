package access

import (
	"slices"
	"unsafe"
)

// recTable maps record ids to recEntry for one module. It replaces a
// map[uint32]recEntry, which cost about 30 bytes a record and was the
// largest part of a big org's index; a record here costs 10 and a little.
//
// Ids come from one sequence shared by every org, so a big org's ids are
// dense and mostly increasing while a small org's are scattered. Like
// roaring, the table splits ids by their high 16 bits into chunks sorted by
// those bits, each holding only the ids it has: a scattered id costs one
// small chunk, never a page. New ids are usually the largest, so set checks
// the last chunk first and appends; an insert or delete elsewhere moves
// entries of one chunk only.
//
// Being a slice, len(t) counts chunks, not records: use t.len().
type recTable []recChunk

type recChunk struct {
	hi   uint16
	keys []uint16 // low 16 bits of the ids, sorted
	vals []packedRec
}

// packedRec is a recEntry in 8 bytes instead of 12: owner<<modBits |
// parentMod+1 in the high half, parentID in the low. Keys apart from values
// keep a binary search within the 2-byte keys, which stay in cache.
type packedRec uint64

const (
	modBits = 3
	// maxOwnerCode bounds the owner codes a packedRec can hold: 2^29
	// distinct owners per org, far above any real org. Index.upsert checks.
	maxOwnerCode = 1<<(32-modBits) - 1
)

// Fails to compile if a module index no longer fits in modBits.
var _ [1<<modBits - 1 - numModules]struct{}

func pack(r recEntry) packedRec {
	return packedRec(r.owner<<modBits|uint32(r.parentMod+1))<<32 | packedRec(r.parentID)
}

func (p packedRec) entry() recEntry {
	hi := uint32(p >> 32)
	return recEntry{owner: hi >> modBits, parentID: uint32(p), parentMod: int8(hi&(1<<modBits-1)) - 1}
}

// chunk returns where the chunk for hi is or would be, and whether it is.
func (t recTable) chunk(hi uint16) (int, bool) {
	n := len(t)
	switch {
	case n == 0 || t[n-1].hi < hi:
		return n, false
	case t[n-1].hi == hi:
		return n - 1, true
	}
	// By hand: slices.BinarySearchFunc copies each 56-byte chunk it compares.
	i, j := 0, n-1 // t[n-1].hi > hi
	for i < j {
		h := int(uint(i+j) >> 1)
		if t[h].hi < hi {
			i = h + 1
		} else {
			j = h
		}
	}
	return i, t[i].hi == hi
}

func (c *recChunk) find(lo uint16) (int, bool) {
	k := c.keys
	n := len(k)
	switch {
	case n == 0 || k[n-1] < lo:
		return n, false
	case k[n-1] == lo:
		return n - 1, true
	}
	return slices.BinarySearch(k, lo)
}

func (t recTable) get(id uint32) (recEntry, bool) {
	ci, ok := t.chunk(uint16(id >> 16))
	if !ok {
		return recEntry{}, false
	}
	c := &t[ci]
	i, ok := c.find(uint16(id))
	if !ok {
		return recEntry{}, false
	}
	return c.vals[i].entry(), true
}

// set stores r for id. r.owner must be at most maxOwnerCode: callers check.
func (t *recTable) set(id uint32, r recEntry) {
	hi, lo := uint16(id>>16), uint16(id)
	ci, ok := t.chunk(hi)
	if !ok {
		if ci == len(*t) && ci >= 2 {
			// Ids have moved on: the chunk before last will hardly grow
			// again, so give back its append slack (an eighth on average).
			// Not the last one: stragglers still arrive for it.
			p := &(*t)[ci-2]
			p.keys, p.vals = slices.Clone(p.keys), slices.Clone(p.vals)
		}
		*t = slices.Insert(*t, ci, recChunk{hi: hi})
	}
	c := &(*t)[ci]
	i, ok := c.find(lo)
	if ok {
		c.vals[i] = pack(r)
		return
	}
	c.keys = slices.Insert(c.keys, i, lo)
	c.vals = slices.Insert(c.vals, i, pack(r))
}

func (t *recTable) delete(id uint32) bool {
	ci, ok := t.chunk(uint16(id >> 16))
	if !ok {
		return false
	}
	c := &(*t)[ci]
	i, ok := c.find(uint16(id))
	if !ok {
		return false
	}
	c.keys = slices.Delete(c.keys, i, i+1)
	c.vals = slices.Delete(c.vals, i, i+1)
	switch {
	case len(c.keys) == 0:
		*t = slices.Delete(*t, ci, ci+1)
	case len(c.vals) < cap(c.vals)/4:
		// Give back what a mass delete freed. A quarter, not a half: after
		// the copy, adding and removing one record must not copy again.
		c.keys, c.vals = slices.Clone(c.keys), slices.Clone(c.vals)
	}
	return true
}

func (t recTable) len() int {
	n := 0
	for _, c := range t {
		n += len(c.keys)
	}
	return n
}

func (t recTable) clone() recTable {
	out := make(recTable, len(t))
	for i, c := range t {
		out[i] = recChunk{c.hi, slices.Clone(c.keys), slices.Clone(c.vals)}
	}
	return out
}

// sizeBytes counts capacity, not length: append's slack is memory held too.
func (t recTable) sizeBytes() uint64 {
	n := uint64(cap(t)) * uint64(unsafe.Sizeof(recChunk{}))
	for _, c := range t {
		n += uint64(cap(c.keys))*2 + uint64(cap(c.vals))*8
	}
	return n
}
