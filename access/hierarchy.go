package access

import (
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// aggMinMembers is the subtree size (in members) from which the hierarchy
// layer keeps an aggregate bitmap. Smaller subtrees are cheap to union from
// their owners' bitmaps. A variable only so tests can aggregate everything.
var aggMinMembers = 16

// hierLayer keeps, for every large enough subtree of a snapshot's hierarchy
// (a role and the roles below it in ROLE mode, a manager and everyone
// reporting to it in REPORTING mode), the bitmap of the records its members
// own, per module. A manager's subordinates then cost a few unions instead
// of one per subordinate. It is derived data, valid for the hierarchy it
// was built from; VisibleSet uses it only with that same snapshot.
type hierLayer struct {
	snap    *Snapshot
	aggNode []int32                       // node -> aggregate slot, -1 when none
	aggs    [numModules][]*roaring.Bitmap // slot -> records owned in the subtree (nil: none yet)
	chains  map[uint32][]int32            // owner code -> slots of its node and aggregated ancestors
}

// BindHierarchy builds (or keeps) the hierarchy layer for snap: aggregate
// bitmaps of the records owned in each large subtree of snap's hierarchy,
// maintained incrementally by every later record write. Call it whenever a
// new snapshot is in use: when the hierarchy (mode, roles, members' roles
// and reporting lines) is unchanged it only re-points the layer, in
// O(members); otherwise it rebuilds it, in O(records × depth). VisibleSet
// uses the layer only with the very snapshot it is bound to and falls back
// to per-owner bitmaps otherwise, so a missing or stale binding costs speed,
// never correctness. BindHierarchy(nil) drops the layer. The layer is not
// serialized: bind again after UnmarshalBinary.
func (ix *Index) BindHierarchy(snap *Snapshot) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if snap == nil {
		ix.hier = nil
		return
	}
	if h := ix.hier; h != nil && slices.Equal(h.snap.hierKey, snap.hierKey) {
		h.snap = snap
		return
	}
	f := &snap.forest
	h := &hierLayer{snap: snap, aggNode: make([]int32, len(f.start)), chains: map[uint32][]int32{}}
	slots := 0
	for node := range f.start {
		h.aggNode[node] = -1
		if f.end[node]-f.start[node] >= int32(aggMinMembers) {
			h.aggNode[node] = int32(slots)
			slots++
		}
	}
	for mi := range ix.mods {
		md := &ix.mods[mi]
		h.aggs[mi] = make([]*roaring.Bitmap, slots)
		for node, slot := range h.aggNode {
			if slot < 0 {
				continue
			}
			var bms []*roaring.Bitmap
			for _, m := range f.order[f.start[node]:f.end[node]] {
				if c, ok := ix.ownerCode[snap.members[m].ID]; ok && int(c) < len(md.byOwner) && md.byOwner[c] != nil {
					bms = append(bms, md.byOwner[c])
				}
			}
			if len(bms) > 0 {
				h.aggs[mi][slot] = union(bms)
			}
		}
	}
	ix.hier = h
}

// chain returns the aggregate slots an owner's records belong to.
func (h *hierLayer) chain(ix *Index, code uint32) []int32 {
	if c, ok := h.chains[code]; ok {
		return c
	}
	var c []int32
	if m, ok := h.snap.memberIdx[ix.ownerIDs[code]]; ok {
		f := &h.snap.forest
		for node := f.nodeOf[m]; node >= 0; node = f.parent[node] {
			if slot := h.aggNode[node]; slot >= 0 {
				c = append(c, slot)
			}
		}
	}
	h.chains[code] = c
	return c
}

// owned records that owner code now owns (or no longer owns) id of module mi.
func (h *hierLayer) owned(ix *Index, mi int, code, id uint32, add bool) {
	for _, slot := range h.chain(ix, code) {
		b := h.aggs[mi][slot]
		if add {
			if b == nil {
				b = roaring.New()
				h.aggs[mi][slot] = b
			}
			b.Add(id)
		} else if b != nil {
			b.Remove(id)
		}
	}
}

func (h *hierLayer) clone() *hierLayer {
	c := &hierLayer{snap: h.snap, aggNode: slices.Clone(h.aggNode), chains: make(map[uint32][]int32, len(h.chains))}
	for k, v := range h.chains {
		c.chains[k] = v // never modified in place
	}
	for mi := range h.aggs {
		c.aggs[mi] = make([]*roaring.Bitmap, len(h.aggs[mi]))
		for i, b := range h.aggs[mi] {
			if b != nil {
				c.aggs[mi][i] = b.Clone()
			}
		}
	}
	return c
}

func (h *hierLayer) sizeBytes() uint64 {
	n := uint64(len(h.aggNode))*4 + uint64(len(h.chains))*40
	for mi := range h.aggs {
		for _, b := range h.aggs[mi] {
			if b != nil {
				n += b.GetSizeInBytes() + 48
			}
		}
	}
	return n
}

// coverOwners appends to bms the bitmaps of the records owned by the
// members in owners (a bitset of dense member indexes), using whole-subtree
// aggregates wherever every member of a subtree is in owners.
func (h *hierLayer) coverOwners(ix *Index, mi int, owners bitset, bms []*roaring.Bitmap) []*roaring.Bitmap {
	s := h.snap
	f := &s.forest
	md := &ix.mods[mi]
	pb := newBitset(len(f.order))
	owners.each(func(m int32) { pb.set(f.pos[m]) })
	addOwner := func(m int32) {
		if c, ok := ix.ownerCode[s.members[m].ID]; ok && int(c) < len(md.byOwner) && md.byOwner[c] != nil {
			bms = append(bms, md.byOwner[c])
		}
	}
	addRange := func(lo, hi int32) {
		for p := lo; p < hi; p++ {
			if pb.has(p) {
				addOwner(f.order[p])
			}
		}
	}
	var visit func(node int32)
	visit = func(node int32) {
		if slot := h.aggNode[node]; slot >= 0 && pb.allInRange(f.start[node], f.end[node]) {
			if b := h.aggs[mi][slot]; b != nil && !b.IsEmpty() {
				bms = append(bms, b)
			}
			return
		}
		addRange(f.start[node], f.ownEnd[node])
		for _, c := range f.children[node] {
			if !pb.anyInRange(f.start[c], f.end[c]) {
				continue
			}
			if h.aggNode[c] >= 0 {
				visit(c)
			} else {
				addRange(f.start[c], f.end[c])
			}
		}
	}
	for _, r := range f.roots {
		if pb.anyInRange(f.start[r], f.end[r]) {
			visit(r)
		}
	}
	return bms
}
