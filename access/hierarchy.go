package access

import (
	"encoding/binary"
	"runtime"
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
// O(members); when it changed it derives the new layer from the old one
// (rebind), in O(members × depth) plus bitmap operations for the members
// whose place changed only; with no layer to start from it builds one, in
// O(records × depth). VisibleSet uses the layer only with the very snapshot
// it is bound to and falls back to per-owner bitmaps otherwise, so a
// missing or stale binding costs speed, never correctness.
// BindHierarchy(nil) drops the layer. The layer is not serialized: bind
// again after UnmarshalBinary.
//
// A rebind holds the index's read lock throughout: record writes wait for
// it, readers do not. The expensive part of a new layer (the member walk,
// the unions of the moved members' records, new aggregates) is worked out
// first; the prepared moves are then applied to the aggregates in place
// under hierMu, which only the readers of the layer (VisibleSet) share, so
// a lookup of a record's facts or a count is not held up by a rebind at
// all. BindHierarchy is safe to call concurrently with anything; rebinds
// of one index run one at a time.
func (ix *Index) BindHierarchy(snap *Snapshot) {
	if snap == nil {
		ix.mu.Lock()
		ix.hier = nil
		ix.mu.Unlock()
		return
	}
	ix.binding.Lock()
	defer ix.binding.Unlock()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	old := ix.hier
	if old != nil && old.snap == snap {
		return
	}
	plan := ix.planLayer(snap, old)
	ix.hierMu.Lock()
	defer ix.hierMu.Unlock()
	if plan == nil {
		// Same hierarchy: the aggregates stand as they are.
		old.snap = snap
		return
	}
	plan.apply()
	ix.hier = plan.h
}

// layerPlan is a new hierarchy layer, ready but for the moves of records
// between aggregates it takes over from the old layer.
type layerPlan struct {
	h     *hierLayer
	moves []aggMove
}

// aggMove takes records out of some aggregates and into others.
type aggMove struct {
	mi           int
	records      *roaring.Bitmap
	leave, enter []int32 // slots
}

// apply makes the moves, in place: the old layer's aggregates taken over
// change with them, so it runs under hierMu, and the old layer is dropped
// at the same time. A member's records leave and enter different
// aggregates (a key is on one chain only), and members own disjoint
// records: the order of the moves does not matter.
func (p *layerPlan) apply() {
	for _, mv := range p.moves {
		for _, slot := range mv.leave {
			if b := p.h.aggs[mv.mi][slot]; b != nil {
				b.AndNot(mv.records)
			}
		}
		for _, slot := range mv.enter {
			b := p.h.aggs[mv.mi][slot]
			if b == nil {
				b = roaring.New()
				p.h.aggs[mv.mi][slot] = b
			}
			b.Or(mv.records)
		}
	}
}

// planLayer prepares the layer of snap's hierarchy, from old when it is of
// the same mode; nil when old is of the same hierarchy already. It changes
// neither the index nor old, so the read lock is enough.
func (ix *Index) planLayer(snap *Snapshot, old *hierLayer) *layerPlan {
	if old != nil && sameHierarchy(old.snap, snap) {
		return nil
	}
	p := &layerPlan{h: newHierLayer(snap)}
	if old != nil && old.snap.mode == snap.mode {
		ix.rebind(p, old)
	} else {
		ix.fill(p.h, p.h.aggregated())
	}
	return p
}

// aggregated lists the nodes that have an aggregate slot.
func (h *hierLayer) aggregated() []int32 {
	var nodes []int32
	for node, slot := range h.aggNode {
		if slot >= 0 {
			nodes = append(nodes, int32(node))
		}
	}
	return nodes
}

// newHierLayer numbers the aggregate slots of snap's hierarchy, empty.
func newHierLayer(snap *Snapshot) *hierLayer {
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
	for mi := range h.aggs {
		h.aggs[mi] = make([]*roaring.Bitmap, slots)
	}
	return h
}

// fill computes the aggregates of the given nodes from the owners' bitmaps.
func (ix *Index) fill(h *hierLayer, nodes []int32) {
	snap := h.snap
	f := &snap.forest
	for mi := range ix.mods {
		for _, node := range nodes {
			var bms []*roaring.Bitmap
			for _, m := range f.order[f.start[node]:f.end[node]] {
				if b := ix.ownedBy(mi, snap.members[m].ID); b != nil {
					bms = append(bms, b)
				}
			}
			if len(bms) > 0 {
				h.aggs[mi][h.aggNode[node]] = union(bms)
				yieldToRequests()
			}
		}
	}
}

// yieldToRequests lets other goroutines run between the unions of a layer's
// planning, which runs in the background, CPU-bound, for milliseconds: Go
// preempts a running goroutine only after 10 ms, and the requests waiting
// for the change the rebind follows would otherwise queue behind it. The
// planning holds the index's read lock, which readers share; apply, which
// holds up the layer's readers, does not yield.
func yieldToRequests() { runtime.Gosched() }

// ownedBy is the bitmap of module mi's records the member owns; nil when none.
func (ix *Index) ownedBy(mi int, member int64) *roaring.Bitmap {
	md := &ix.mods[mi]
	if c, ok := ix.ownerCode[member]; ok && int(c) < len(md.byOwner) && md.byOwner[c] != nil && !md.byOwner[c].IsEmpty() {
		return md.byOwner[c]
	}
	return nil
}

// rebind fills h, the empty layer of a changed hierarchy, from old, the
// layer being replaced (same mode). A node is identified across snapshots
// by its role (ROLE mode) or its manager (REPORTING mode). An aggregate
// whose node was aggregated before takes over the old bitmap, corrected by
// the records of the members that entered or left the node's subtree; a
// member entered or left exactly the subtrees of the nodes that are on one
// of its chains of ancestors (old and new) and not on the other. Moving a
// subtree of k members thus costs bitmap operations for those k members
// only, not a pass over every record (what the Q6 benchmark's moveRole and
// updateMember waited for, about a second on the M org). The old layer's
// aggregates are taken over, not copied: the moves are left in p, to be
// applied when the old layer is dropped.
func (ix *Index) rebind(p *layerPlan, old *hierLayer) {
	h := p.h
	snap, prev := h.snap, old.snap
	oldSlot := make(map[int64]int32)
	for node, slot := range old.aggNode {
		if slot >= 0 {
			oldSlot[prev.nodeKey(int32(node))] = slot
		}
	}
	var fresh []int32
	keptSlot := make(map[int64]int32, len(oldSlot)) // node key -> new slot, for aggregates taken over
	for node, slot := range h.aggNode {
		if slot < 0 {
			continue
		}
		key := snap.nodeKey(int32(node))
		os, ok := oldSlot[key]
		if !ok {
			fresh = append(fresh, int32(node))
			continue
		}
		keptSlot[key] = slot
		for mi := range h.aggs {
			h.aggs[mi][slot] = old.aggs[mi][os]
		}
	}
	// Members whose chains changed are grouped by the aggregates they leave
	// and enter: a moved subtree's members all leave and enter the same
	// ones, so each group's records are unioned once per module and then
	// applied with one AndNot or Or per aggregate, rather than one union per
	// aggregate or one Or per member into a large bitmap.
	type moveGroup struct {
		leave, enter []int32 // kept slots
		members      []int64
	}
	groups := map[string]*moveGroup{}
	var order []*moveGroup // deterministic application order
	var before, after []int64
	var leave, enter []int32
	var sig []byte
	// A member's chains follow from its node in each snapshot (its role in
	// ROLE mode): members sharing both nodes share the outcome, worked out
	// once per pair of nodes (-1: not in that snapshot).
	type nodes struct{ before, after int32 }
	outcome := map[nodes]*moveGroup{}
	nodeIn := func(s *Snapshot, member int64) int32 {
		if m, ok := s.memberIdx[member]; ok {
			return s.forest.nodeOf[m]
		}
		return -1
	}
	adjust := func(member int64) {
		key := nodes{nodeIn(prev, member), nodeIn(snap, member)}
		if g, seen := outcome[key]; seen {
			if g != nil {
				g.members = append(g.members, member)
			}
			return
		}
		outcome[key] = nil
		before = prev.ancestorKeys(member, before[:0])
		after = snap.ancestorKeys(member, after[:0])
		if slices.Equal(before, after) {
			return
		}
		leave, enter, sig = leave[:0], enter[:0], sig[:0]
		for _, k := range before {
			if slot, ok := keptSlot[k]; ok && !slices.Contains(after, k) {
				leave = append(leave, slot)
				sig = binary.AppendVarint(sig, int64(slot))
			}
		}
		sig = append(sig, '|')
		for _, k := range after {
			if slot, ok := keptSlot[k]; ok && !slices.Contains(before, k) {
				enter = append(enter, slot)
				sig = binary.AppendVarint(sig, int64(slot))
			}
		}
		if len(leave)+len(enter) == 0 {
			return
		}
		g := groups[string(sig)]
		if g == nil {
			g = &moveGroup{leave: slices.Clone(leave), enter: slices.Clone(enter)}
			groups[string(sig)] = g
			order = append(order, g)
		}
		outcome[key] = g
		g.members = append(g.members, member)
	}
	// Most members keep their node, and their node keeps its chain: they
	// are recognised by array lookups (members numbered alike in both
	// snapshots, a verdict per node) before any map is consulted.
	const unknown, same, differs = 0, 1, 2
	chainVerdict := make([]int8, len(snap.forest.parent))
	kept := func(i int, member int64) bool {
		if i >= len(prev.members) || prev.members[i].ID != member {
			return false
		}
		was, now := prev.forest.nodeOf[i], snap.forest.nodeOf[i]
		if prev.nodeKey(was) != snap.nodeKey(now) {
			return false
		}
		if chainVerdict[now] == unknown {
			chainVerdict[now] = differs
			if sameChain(prev, was, snap, now) {
				chainVerdict[now] = same
			}
		}
		return chainVerdict[now] == same
	}
	aligned := len(prev.members) == len(snap.members)
	for i, m := range snap.members {
		aligned = aligned && prev.members[i].ID == m.ID
		if !kept(i, m.ID) {
			adjust(m.ID)
		}
	}
	if !aligned { // members left the org's snapshot, maybe
		for _, m := range prev.members {
			if _, still := snap.memberIdx[m.ID]; !still {
				adjust(m.ID)
			}
		}
	}
	var bms []*roaring.Bitmap
	for _, g := range order {
		for mi := range ix.mods {
			bms = bms[:0]
			for _, m := range g.members {
				if b := ix.ownedBy(mi, m); b != nil {
					bms = append(bms, b)
				}
			}
			if len(bms) > 0 {
				p.moves = append(p.moves, aggMove{mi: mi, records: union(bms), leave: g.leave, enter: g.enter})
				yieldToRequests()
			}
		}
	}
	ix.fill(h, fresh)
}

// nodeKey identifies a node of the forest across snapshots: its role's id
// in ROLE mode, its manager's member id in REPORTING mode.
func (s *Snapshot) nodeKey(node int32) int64 {
	if s.mode == HierarchyRole {
		return s.roles[node].ID
	}
	return s.members[node].ID
}

// sameChain reports whether node a of s and node b of t have the same keys
// on their chains of ancestors, themselves included.
func sameChain(s *Snapshot, a int32, t *Snapshot, b int32) bool {
	for a >= 0 && b >= 0 {
		if s.nodeKey(a) != t.nodeKey(b) {
			return false
		}
		a, b = s.forest.parent[a], t.forest.parent[b]
	}
	return a < 0 && b < 0
}

// ancestorKeys appends the keys of the member's node and of its ancestors,
// nearest first; none when the member is not in the snapshot.
func (s *Snapshot) ancestorKeys(member int64, out []int64) []int64 {
	m, ok := s.memberIdx[member]
	if !ok {
		return out
	}
	f := &s.forest
	for node := f.nodeOf[m]; node >= 0; node = f.parent[node] {
		out = append(out, s.nodeKey(node))
	}
	return out
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
