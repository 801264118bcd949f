package access

import (
	"math/rand"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestRebindKeepsUnaffectedAggregates: after one member changes role, the
// layer is rebound without recomputing what the move did not touch: every
// aggregate whose subtree kept its members is the very bitmap it was (no
// pass over the owners' records), and every aggregate is exact.
func TestRebindKeepsUnaffectedAggregates(t *testing.T) {
	defer func(a int) { aggMinMembers = a }(aggMinMembers)
	aggMinMembers = 1
	r := rand.New(rand.NewSource(7))
	checked := 0
	for trial := 0; trial < 40; trial++ {
		w, snap, ix, ok := boundRoleWorld(t, r)
		if !ok {
			continue
		}
		before := map[int64]struct {
			members map[int64]bool
			bms     [numModules]*roaring.Bitmap
		}{}
		for node, slot := range ix.hier.aggNode {
			if slot < 0 {
				continue
			}
			e := before[snap.nodeKey(int32(node))]
			e.members = subtreeMembers(snap, int32(node))
			for mi := range e.bms {
				e.bms[mi] = ix.hier.aggs[mi][slot]
			}
			before[snap.nodeKey(int32(node))] = e
		}

		m := r.Intn(len(w.org.Members))
		w.org.Members[m].RoleID = w.org.Roles[r.Intn(len(w.org.Roles))].ID
		next, err := NewSnapshot(w.org)
		if err != nil {
			t.Fatal(err)
		}
		ix.BindHierarchy(next)
		if !checkLayer(t, ix, "after a member's move") {
			return
		}
		for node, slot := range ix.hier.aggNode {
			if slot < 0 {
				continue
			}
			old, ok := before[next.nodeKey(int32(node))]
			if !ok || !sameSet(old.members, subtreeMembers(next, int32(node))) {
				continue
			}
			for mi := range old.bms {
				if old.bms[mi] != nil && ix.hier.aggs[mi][slot] != old.bms[mi] {
					t.Fatalf("trial %d: node %d kept its members, yet its %s aggregate was rebuilt", trial, node, Modules[mi])
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no aggregate was left untouched by a move: the test checked nothing")
	}
}

// TestPlanningLeavesTheOldLayerExact: a new layer is planned while readers
// may still be using the old one (BindHierarchy holds only the read lock
// meanwhile), so planning must not change any bitmap of the old layer:
// every one of them still holds exactly what it held. Binding then makes
// the new layer exact.
func TestPlanningLeavesTheOldLayerExact(t *testing.T) {
	defer func(a int) { aggMinMembers = a }(aggMinMembers)
	aggMinMembers = 1
	r := rand.New(rand.NewSource(11))
	moves := 0
	for trial := 0; trial < 40; trial++ {
		w, _, ix, ok := boundRoleWorld(t, r)
		if !ok {
			continue
		}
		old := ix.hier
		var kept [numModules][]*roaring.Bitmap
		for mi := range old.aggs {
			for _, b := range old.aggs[mi] {
				if b != nil {
					b = b.Clone()
				}
				kept[mi] = append(kept[mi], b)
			}
		}
		for i := 0; i < 3; i++ {
			m := r.Intn(len(w.org.Members))
			w.org.Members[m].RoleID = w.org.Roles[r.Intn(len(w.org.Roles))].ID
		}
		next, err := NewSnapshot(w.org)
		if err != nil {
			t.Fatal(err)
		}
		if ix.planLayer(next, old) == nil {
			continue // the moves left the hierarchy as it was
		}
		moves++
		for mi := range old.aggs {
			for slot, b := range old.aggs[mi] {
				if (b == nil) != (kept[mi][slot] == nil) || (b != nil && !b.Equals(kept[mi][slot])) {
					t.Fatalf("trial %d: planning changed the old layer's %s aggregate %d", trial, Modules[mi], slot)
				}
			}
		}
		ix.BindHierarchy(next)
		if !checkLayer(t, ix, "after the moves") {
			return
		}
	}
	if moves == 0 {
		t.Fatal("no trial changed the hierarchy: the test checked nothing")
	}
}

// boundRoleWorld is a random world in ROLE mode with room for moves (3
// roles, 2 members at least), its snapshot and its index bound to it;
// false when the world drawn is not one.
func boundRoleWorld(t *testing.T, r *rand.Rand) (*world, *Snapshot, *Index, bool) {
	t.Helper()
	w := newWorld(r)
	if w.org.HierarchyMode != HierarchyRole || len(w.org.Roles) < 3 || len(w.org.Members) < 2 {
		return nil, nil, nil, false
	}
	snap, err := NewSnapshot(w.org)
	if err != nil {
		t.Fatal(err)
	}
	ix := w.buildIndex(t, snap)
	ix.BindHierarchy(snap)
	return w, snap, ix, true
}

func subtreeMembers(s *Snapshot, node int32) map[int64]bool {
	f := &s.forest
	out := map[int64]bool{}
	for _, m := range f.order[f.start[node]:f.end[node]] {
		out[s.members[m].ID] = true
	}
	return out
}

func sameSet(a, b map[int64]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// TestLayerApplyHoldsUpOnlyItsReaders: while a rebind applies its moves to
// the layer (under hierMu, held here as apply holds it), a record's facts
// and a module's count are served: they do not read the layer, and a
// request checking one record must not wait for a role change's rebind.
func TestLayerApplyHoldsUpOnlyItsReaders(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for trial := 0; trial < 20; trial++ {
		w, _, ix, ok := boundRoleWorld(t, r)
		if !ok || len(w.records) == 0 {
			continue
		}
		var ref RecordRef
		for ref = range w.records {
			break
		}
		ix.hierMu.Lock()
		served := make(chan bool, 1)
		go func() {
			_, known := ix.Facts(ref.Module, ref.ID)
			_ = ix.Count(ref.Module)
			served <- known
		}()
		select {
		case known := <-served:
			if !known {
				t.Errorf("trial %d: the facts of %s are unknown to the index", trial, ref)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("trial %d: a lookup of %s waited for the layer's apply", trial, ref)
		}
		ix.hierMu.Unlock()
		return
	}
	t.Fatal("no trial built a role world with records")
}
