package access

import (
	"math/rand"
	"slices"
	"sync"
	"testing"
)

// TestIndexConcurrentReadersAndWriter runs visible sets, facts and
// serialization against an index that a writer keeps changing and a binder
// keeps rebinding between two hierarchies; under -race it proves the
// locking, every reader's result stays self-consistent, and the layer is
// exact at the end, whatever writes happened while a rebind was worked out.
func TestIndexConcurrentReadersAndWriter(t *testing.T) {
	defer func(a int) { aggMinMembers = a }(aggMinMembers)
	aggMinMembers = 1
	r := rand.New(rand.NewSource(7))
	w := newWorld(r)
	w.org.Defaults = map[Module]Level{}
	w.nextID = 1 << 20 // room for the writer's new records
	snap, err := NewSnapshot(w.org)
	if err != nil {
		t.Fatal(err)
	}
	moved := w.org
	moved.Members = slices.Clone(w.org.Members)
	for i := range moved.Members {
		if i%3 == 0 && len(moved.Roles) > 0 && moved.HierarchyMode == HierarchyRole {
			moved.Members[i].RoleID = moved.Roles[r.Intn(len(moved.Roles))].ID
		}
	}
	other, err := NewSnapshot(moved)
	if err != nil {
		t.Fatal(err)
	}
	ix := w.buildIndex(t, snap)
	ix.BindHierarchy(snap)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				ix.BindHierarchy(other)
			} else {
				ix.BindHierarchy(snap)
			}
		}
	}()
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := w.org.Members[(g+i)%len(w.org.Members)]
				for _, mod := range Modules {
					vs := snap.VisibleSet(ix, m.ID, mod)
					if !vs.All && vs.IDs == nil {
						t.Error("nil IDs")
						return
					}
					if !vs.All {
						vs.IDs.Add(1) // the caller owns the result
					}
				}
				if f, ok := ix.Facts(Deals, int64(i)); ok {
					snap.Explain(m.ID, f)
				}
				if i%50 == 0 {
					if _, err := ix.MarshalBinary(); err != nil {
						t.Error(err)
						return
					}
					_ = ix.Clone().SizeBytes()
				}
			}
		}(g)
	}
	wr := rand.New(rand.NewSource(8))
	for i := 0; i < 400; i++ {
		refs := w.refs()
		switch wr.Intn(4) {
		case 0:
			x := w.newRecord(wr)
			if err := ix.UpsertRecord(w.indexed(snap, x)); err != nil {
				t.Fatal(err)
			}
		case 1:
			if len(refs) > 0 {
				x := w.records[refs[wr.Intn(len(refs))]]
				x.owner = w.org.Members[wr.Intn(len(w.org.Members))].ID
				if err := ix.UpsertRecord(w.indexed(snap, x)); err != nil {
					t.Fatal(err)
				}
			}
		case 2:
			if sh, ok := w.randShare(wr); ok {
				err := ix.Update(func(tx *IndexTx) error {
					if err := tx.AddShare(sh); err != nil {
						return err
					}
					_, err := tx.RemoveShare(sh.Module, sh.RecordID, sh.Principal)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				delete(w.shares[RecordRef{sh.Module, sh.RecordID}], sh.Principal)
			}
		case 3:
			if len(refs) > 0 {
				ref := refs[wr.Intn(len(refs))]
				delete(w.records, ref)
				delete(w.shares, ref)
				if _, err := ix.DeleteRecord(ref.Module, ref.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	close(stop)
	wg.Wait()
	ix.BindHierarchy(snap)
	if !checkLayer(t, ix, "after concurrent run") || !w.check(t, snap, ix, "after concurrent run") {
		t.Fail()
	}
}
