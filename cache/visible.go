package cache

import (
	"sync"

	"warden/access"
)

// Visible sets are remembered per org, member and module for as long as the
// org's access state stays where it was: a rep paging through a list, or a
// dashboard polling a count, unites the index's bitmaps once per change of
// the org's access rather than once per request.

// maxVisiblePerOrg bounds the memory: at most this many sets per org are
// kept (then the org's cache starts afresh).
const maxVisiblePerOrg = 512

type visibleKey struct {
	member int64
	module access.Module
}

type visibleEntry struct {
	snap    *access.Snapshot
	index   *access.Index
	version int64
	set     access.VisibleSet
}

type visibleCache struct {
	mu      sync.Mutex
	entries map[visibleKey]visibleEntry
}

// VisibleSet is snap.VisibleSet(ix, member, m), remembered. snap and ix are
// a state the engine handed out for the org; a set is reused only with the
// same snapshot, index and index version, so it is exactly what computing
// it again would give. The set is shared: callers must not modify it.
func (e *Engine) VisibleSet(orgID int64, snap *access.Snapshot, ix *access.Index, member int64, m access.Module) access.VisibleSet {
	version := ix.Version()
	if set, ok := e.knownVisibleSet(orgID, snap, ix, version, member, m); ok {
		return set
	}
	c := &e.state(orgID).visible
	key := visibleKey{member, m}
	set := snap.VisibleSet(ix, member, m)
	e.Stats.VisibleComputed.Add(1)
	if ix.Version() != version {
		return set // the index moved on meanwhile: the set is right, its version is not known
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxVisiblePerOrg {
		c.entries = make(map[visibleKey]visibleEntry)
	}
	c.entries[key] = visibleEntry{snap: snap, index: ix, version: version, set: set}
	c.mu.Unlock()
	return set
}

// KnownVisibleSet is VisibleSet when it is kept already, without working
// it out otherwise.
func (e *Engine) KnownVisibleSet(orgID int64, snap *access.Snapshot, ix *access.Index, member int64, m access.Module) (access.VisibleSet, bool) {
	return e.knownVisibleSet(orgID, snap, ix, ix.Version(), member, m)
}

func (e *Engine) knownVisibleSet(orgID int64, snap *access.Snapshot, ix *access.Index, version, member int64, m access.Module) (access.VisibleSet, bool) {
	c := &e.state(orgID).visible
	c.mu.Lock()
	ent, ok := c.entries[visibleKey{member, m}]
	c.mu.Unlock()
	if ok && ent.snap == snap && ent.index == ix && ent.version == version {
		e.Stats.VisibleHits.Add(1)
		return ent.set, true
	}
	return access.VisibleSet{}, false
}
