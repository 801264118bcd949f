package access

import (
	"github.com/RoaringBitmap/roaring/v2"
)

// VisibleSet is the set of records of one module a viewer may read.
type VisibleSet struct {
	// All: every record of the module (an Administrator, or a module whose
	// org default is PUBLIC_*): list without any visibility predicate.
	All bool
	// IDs holds the visible record ids when All is false; never nil then.
	// It belongs to the caller (a fresh bitmap, not shared with the index).
	IDs *roaring.Bitmap
}

// Contains reports whether record id is in the set. With All, any id is.
func (v VisibleSet) Contains(id int64) bool {
	if v.All {
		return true
	}
	k, err := RecordKey(id)
	return err == nil && v.IDs != nil && v.IDs.Contains(k)
}

// Count is the number of visible records of module m in ix: the totalCount
// of an unfiltered list.
func (v VisibleSet) Count(ix *Index, m Module) uint64 {
	if v.All {
		return ix.Count(m)
	}
	if v.IDs == nil {
		return 0
	}
	return v.IDs.GetCardinality()
}

// complementMinOwners is the number of owners with records below which the
// complement strategy (all records minus those of hidden owners) is not
// worth its bookkeeping. A variable only so tests can force either strategy.
var complementMinOwners = 32

// VisibleSet computes the records of module m that viewer may read, as the
// union of index bitmaps selected by the viewer's grants: the records of
// its visible owners (self, subordinates, peers, sources of applicable
// owner-based rules), of applicable criteria rules, and those shared
// directly or through a parent with one of its principals. It is the
// set-at-a-time form of Explain and agrees with it exactly: id is in the
// set iff Explain(viewer, ix.Facts(m, id)).Permissions.Read.
//
// It fails closed: an unknown or inactive viewer, or one whose profile lacks
// view on m, gets an empty set (so does a nil index). Administrators and
// modules with a public default get All.
//
// Speed: a leaf viewer costs a few microseconds; a manager's subordinates
// cost a few unions when ix has a hierarchy layer bound to s
// (Index.BindHierarchy), otherwise one small bitmap per subordinate, united
// in time linear in their records. The result is the caller's to keep or
// cache (per org, security version and member).
func (s *Snapshot) VisibleSet(ix *Index, viewer int64, m Module) VisibleSet {
	vi, ok := s.memberIdx[viewer]
	mi := moduleIndex(m)
	if !ok || mi < 0 || !s.members[vi].Active || !s.modulePerms(vi, m).Has(PermView) {
		return VisibleSet{IDs: roaring.New()}
	}
	if s.profiles[s.memberProf[vi]].Administrator || s.defaults[mi] > LevelNone {
		return VisibleSet{All: true}
	}
	if ix == nil {
		return VisibleSet{IDs: roaring.New()}
	}
	owners := s.visibleOwners(vi, mi)

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	ix.hierMu.RLock()
	defer ix.hierMu.RUnlock()
	md := &ix.mods[mi]
	bms := make([]*roaring.Bitmap, 0, 16)

	if h := ix.hier; h != nil && h.snap == s && owners.count() >= aggMinMembers {
		// Whole subtrees of visible owners come from the hierarchy layer.
		bms = h.coverOwners(ix, mi, owners, bms)
	} else if n := owners.count(); md.ownersWithRecs >= complementMinOwners && 2*n > md.ownersWithRecs {
		// Most owners are visible: all records minus those of the others.
		hidden := make([]*roaring.Bitmap, 0, max(md.ownersWithRecs-n, 0)+1)
		for code, b := range md.byOwner {
			if b == nil {
				continue
			}
			j, known := s.memberIdx[ix.ownerIDs[code]]
			if !known || !owners.has(j) {
				hidden = append(hidden, b)
			}
		}
		part := md.all.Clone()
		if len(hidden) > 0 {
			part.AndNot(union(hidden))
		}
		bms = append(bms, part)
	} else {
		owners.each(func(j int32) {
			if c, ok := ix.ownerCode[s.members[j].ID]; ok && int(c) < len(md.byOwner) && md.byOwner[c] != nil {
				bms = append(bms, md.byOwner[c])
			}
		})
	}
	for _, ri := range s.rulesByModule[mi] {
		if s.rules[ri].Criteria != nil && s.ruleReach[ri].has(vi) {
			if b := md.byRule[s.rules[ri].ID]; b != nil {
				bms = append(bms, b)
			}
		}
	}
	for _, p := range s.principalsOf(vi) {
		if b := md.byShare[p]; b != nil {
			bms = append(bms, b)
		}
		if b := md.byRelated[p]; b != nil {
			bms = append(bms, b)
		}
	}
	return VisibleSet{IDs: union(bms)}
}
