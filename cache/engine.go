package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"warden/access"
	"warden/db"
	"warden/records"
)

// Engine hands out the access state of an org as of the version current in
// Postgres when the request asks. A request that starts after an
// access-changing mutation returned reads a version at least as new as that
// mutation's (it committed the version bump), so no revoked grant is served,
// on any instance. An instance that is behind replays the change log rather
// than rebuilding.
type Engine struct {
	DB *sqlx.DB
	// Redis, when set, shares org state between instances and carries
	// change notifications; Prefix namespaces its keys.
	Redis  redis.UniversalClient
	Prefix string
	Stats  Stats

	mu   sync.Mutex
	orgs map[int64]*orgState
}

type orgState struct {
	mu     sync.Mutex     // serialises build and catch-up
	data   access.OrgData // what the current snapshot was built from, for the Redis copy
	stored int64          // the version last written to Redis

	// current is what requests get (nil until the org is built, and after
	// a failed catch-up): read without a lock, so a request whose version
	// is already served never waits for a catch-up in progress. Only a
	// holder of mu replaces it.
	current atomic.Pointer[published]
	binding sync.Mutex // one hierarchy rebind at a time (see bindHierarchy)

	visible visibleCache // visible sets of this state, by member and module
}

// published is an org's state as handed out: a snapshot and the index, at
// the change-log version they were published at. The index may have moved
// past it in place (record changes of a catch-up in progress), never
// behind.
type published struct {
	snap    *access.Snapshot
	index   *access.Index
	version int64
}

// NewEngine returns an engine reading from the database.
func NewEngine(conn *sqlx.DB) *Engine {
	return &Engine{DB: conn, orgs: map[int64]*orgState{}}
}

func (e *Engine) state(orgID int64) *orgState {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.orgs[orgID]
	if st == nil {
		st = &orgState{}
		e.orgs[orgID] = st
	}
	return st
}

// State returns the org's snapshot and index, caught up to the org's current
// security version.
func (e *Engine) State(ctx context.Context, orgID int64) (*access.Snapshot, *access.Index, error) {
	version, err := db.CurrentVersion(ctx, e.DB, orgID)
	if err != nil {
		return nil, nil, err
	}
	return e.StateAt(ctx, orgID, version)
}

// StateAt returns the org's state at version or newer.
func (e *Engine) StateAt(ctx context.Context, orgID, version int64) (*access.Snapshot, *access.Index, error) {
	st := e.state(orgID)
	if p := st.current.Load(); p != nil && p.version >= version {
		return p.snap, p.index, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.current.Load()
	if p != nil && p.version >= version { // caught up while we waited
		return p.snap, p.index, nil
	}
	var err error
	if p == nil {
		err = e.build(ctx, st, orgID)
	} else {
		err = e.catchUp(ctx, st, orgID)
	}
	if err != nil {
		// A failed catch-up may have applied part of the log in place: drop
		// the state so the next request rebuilds it whole (fail closed,
		// never serve a half-applied index).
		st.reset()
		return nil, nil, err
	}
	p = st.current.Load()
	return p.snap, p.index, nil
}

// build loads the org: from its Redis copy when there is one, else from
// Postgres; either way it then replays the change log up to now.
func (e *Engine) build(ctx context.Context, st *orgState, orgID int64) error {
	if snap, ix, data, ok := e.loadShared(ctx, orgID); ok {
		// The copy is consistent at its version; replay what it missed.
		ix.BindHierarchy(snap)
		st.publish(snap, ix, data)
		st.stored = ix.Version()
		return e.catchUp(ctx, st, orgID)
	}
	e.Stats.Builds.Add(1)
	// One repeatable-read transaction: the org, its records and its shares
	// are one state, exactly at data.Version.
	tx, err := db.BeginSnapshot(ctx, e.DB)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	data, err := db.LoadOrgDataTx(ctx, tx, orgID)
	if err != nil {
		return err
	}
	snap, err := access.NewSnapshot(data)
	if err != nil {
		return fmt.Errorf("org %d snapshot: %w", orgID, err)
	}
	ix := access.NewIndex()
	for _, m := range records.AllModules {
		if err := e.loadModule(ctx, tx, snap, ix, orgID, m); err != nil {
			return err
		}
	}
	shares, err := db.LoadShares(ctx, tx, orgID)
	if err != nil {
		return err
	}
	_ = tx.Rollback()
	for _, sh := range shares {
		if err := ix.AddShare(sh); err != nil {
			return err
		}
	}
	ix.SetVersion(data.Version)
	ix.BindHierarchy(snap)
	st.publish(snap, ix, data)
	// Changes committed while we loaded are replayed now, so the state is
	// exactly at (or past) the version read.
	if err := e.catchUp(ctx, st, orgID); err != nil {
		return err
	}
	p := st.current.Load()
	st.stored = p.version
	e.storeShared(orgID, st.data, p.index)
	return nil
}

// loadModule streams a module's records into the index with the criteria
// rules each matches now.
func (e *Engine) loadModule(ctx context.Context, q db.Queryer, snap *access.Snapshot, ix *access.Index, orgID int64, m access.Module) error {
	fields := criteriaFields(snap, m)
	if len(fields) == 0 {
		fields = nil
	}
	kinds, err := e.fieldKinds(ctx, q, orgID, m)
	if err != nil {
		return err
	}
	return db.StreamRecordFields(ctx, q, orgID, records.MetaOf(m), fields,
		func(id, owner int64, parent *records.RecordKey, values map[string]any) error {
			records.NormalizeCriteriaValues(kinds, values)
			rec := access.IndexedRecord{Module: m, ID: id, OwnerID: owner, MatchingRules: snap.MatchingRules(m, values)}
			if parent != nil {
				rec.Parent = &access.RecordRef{Module: parent.Module, ID: parent.ID}
			}
			return ix.UpsertRecord(rec)
		})
}

func criteriaFields(snap *access.Snapshot, m access.Module) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range snap.Rules(m) {
		if r.Criteria == nil {
			continue
		}
		for _, f := range access.ReferencedFields(r.Criteria) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// catchUp replays the change log after the published version. Record and
// share changes are applied to the index in place. Org-level changes reload
// the parts of the org they touched (db.Touched) and rebuild the snapshot;
// a change of sharing rules also recomputes that module's criteria matches.
func (e *Engine) catchUp(ctx context.Context, st *orgState, orgID int64) error {
	cur := st.current.Load()
	changes, err := db.ChangesSince(ctx, e.DB, orgID, cur.version)
	if err != nil || len(changes) == 0 {
		return err
	}
	e.Stats.CatchUps.Add(1)
	snap := cur.snap
	data := st.data
	touched := db.TouchedBy(changes)
	if touched.Any() {
		if changes, touched, data, err = e.reload(ctx, orgID, cur.version, changes, touched, data); err != nil {
			return err
		}
		if touched.KeepsPeople() {
			snap, err = snap.WithGroupsAndRules(data)
		} else {
			snap, err = snap.Rebuild(data)
		}
		if err != nil {
			return fmt.Errorf("org %d snapshot: %w", orgID, err)
		}
	}
	// The index is updated in place: each change is atomic under its lock,
	// and a request that holds it sees each change whole. Requests that hold
	// the previous snapshot may see newer record facts than it describes,
	// which only ever reflects writes that have already committed.
	ix := cur.index
	kinds := map[access.Module]map[string]records.Kind{}
	for _, c := range changes {
		if c.Kind == db.ChangeRecordUpsert && kinds[recordModule(c)] == nil {
			if kinds[recordModule(c)], err = e.fieldKinds(ctx, e.DB, orgID, recordModule(c)); err != nil {
				return err
			}
		}
		if err := applyChange(snap, ix, c, kinds); err != nil {
			return fmt.Errorf("org %d change %d: %w", orgID, c.Version, err)
		}
	}
	for m := range touched.Rules {
		if err := e.recomputeCriteriaRules(ctx, cur.snap, snap, ix, orgID, m); err != nil {
			return err
		}
	}
	ix.SetVersion(changes[len(changes)-1].Version)
	st.publish(snap, ix, data)
	if snap != cur.snap {
		// Requests get the new snapshot now; its hierarchy layer follows
		// (until then visible sets are united from the owners' bitmaps:
		// slower for a manager, as exact).
		go st.bindHierarchy()
	}
	if ix.Version()-st.stored >= storeEvery {
		st.stored = ix.Version()
		e.storeShared(orgID, data, ix)
	}
	return nil
}

// reload reads the org data the changes touched. First without a
// transaction, checking afterwards that the org's version is still the
// log's last (db.ReloadOrgDataAt): then the parts reloaded and the log end
// at the same commit. When a change came in meanwhile, it reads the log
// after version again, with the org data it touched, in one snapshot
// transaction, so that a change committed after the first read of the log
// is replayed here too, never half. Either way the parts not reloaded are
// exactly as in data, because no change in the log touched them. It
// returns the log it read, what that touched and the org data.
func (e *Engine) reload(ctx context.Context, orgID, version int64, changes []db.Change, touched db.Touched, data access.OrgData) ([]db.Change, db.Touched, access.OrgData, error) {
	e.Stats.OrgReloads.Add(1)
	if touched.Parts == db.PartAll {
		e.Stats.FullReloads.Add(1)
	}
	out, ok, err := db.ReloadOrgDataAt(ctx, e.DB, data, &touched)
	if err != nil || ok {
		return changes, touched, out, err
	}
	tx, err := db.BeginSnapshot(ctx, e.DB)
	if err != nil {
		return nil, db.Touched{}, data, err
	}
	defer func() { _ = tx.Rollback() }()
	if changes, err = db.ChangesSince(ctx, tx, orgID, version); err != nil {
		return nil, db.Touched{}, data, err
	}
	touched = db.TouchedBy(changes)
	out, err = db.ReloadOrgData(ctx, tx, data, &touched)
	return changes, touched, out, err
}

func applyChange(snap *access.Snapshot, ix *access.Index, c db.Change, kinds map[access.Module]map[string]records.Kind) error {
	switch c.Kind {
	case db.ChangeRecordUpsert:
		var rc db.RecordChange
		if err := json.Unmarshal(c.Payload, &rc); err != nil {
			return err
		}
		records.NormalizeCriteriaValues(kinds[rc.Module], rc.Fields)
		return ix.UpsertRecord(access.IndexedRecord{Module: rc.Module, ID: rc.ID, OwnerID: rc.Owner,
			Parent: rc.Parent, MatchingRules: snap.MatchingRules(rc.Module, rc.Fields)})
	case db.ChangeRecordDelete:
		var rc db.RecordChange
		if err := json.Unmarshal(c.Payload, &rc); err != nil {
			return err
		}
		_, err := ix.DeleteRecord(rc.Module, rc.ID)
		return err
	case db.ChangeShareAdd:
		var sc db.ShareChange
		if err := json.Unmarshal(c.Payload, &sc); err != nil {
			return err
		}
		if _, ok := ix.Record(sc.Module, sc.RecordID); !ok {
			// Shared, then deleted by a later change this replay also
			// holds (or already reflects): the share died with the record.
			return nil
		}
		return ix.AddShare(access.Share{Module: sc.Module, RecordID: sc.RecordID, Principal: sc.Principal,
			Level: sc.Level, IncludeRelated: sc.IncludeRelated})
	case db.ChangeShareRemove:
		var sc db.ShareChange
		if err := json.Unmarshal(c.Payload, &sc); err != nil {
			return err
		}
		_, err := ix.RemoveShare(sc.Module, sc.RecordID, sc.Principal)
		return err
	}
	return nil
}

// reset forgets the org's state.
func (st *orgState) reset() {
	st.data, st.stored = access.OrgData{}, 0
	st.current.Store(nil)
}

// publish makes a snapshot and index the org's current state, at the
// index's version. Called with st.mu held.
func (st *orgState) publish(snap *access.Snapshot, ix *access.Index, data access.OrgData) {
	st.data = data
	st.current.Store(&published{snap: snap, index: ix, version: ix.Version()})
}

// bindHierarchy binds the published index's hierarchy layer (what makes a
// manager's visible set fast) to the published snapshot. It runs after the
// snapshot is published, not before: a change of roles or reporting lines
// is served as soon as the snapshot is rebuilt, and the layer's rebind
// (milliseconds for a large org) holds up neither that request nor
// readers, since BindHierarchy works it out under the index's read lock.
// Rebinding to an unchanged hierarchy costs microseconds.
func (st *orgState) bindHierarchy() {
	st.binding.Lock()
	defer st.binding.Unlock()
	rebindSlots <- struct{}{}
	defer func() { <-rebindSlots }()
	if p := st.current.Load(); p != nil {
		p.index.BindHierarchy(p.snap)
	}
}

// rebindSlots bounds the hierarchy rebinds running at once in the process,
// over every org and engine, to half its CPUs (at least one): a rebind is
// milliseconds of CPU-bound work, and the requests waiting for the change
// it follows must find a CPU free rather than queue behind it.
var rebindSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))

// recordModule is the module a record change is about.
func recordModule(c db.Change) access.Module {
	var rc struct {
		Module access.Module `json:"module"`
	}
	_ = json.Unmarshal(c.Payload, &rc)
	return rc.Module
}

// fieldKinds maps a module's fields, standard and custom, to their kinds,
// so record values reach criteria in one typed form whichever path (full
// build or change log) they came through.
func (e *Engine) fieldKinds(ctx context.Context, q sqlx.QueryerContext, orgID int64, m access.Module) (map[string]records.Kind, error) {
	out := map[string]records.Kind{}
	meta := records.MetaOf(m)
	if meta == nil {
		return out, nil
	}
	for _, f := range meta.Fields {
		out[f.Name] = f.Kind
	}
	defs, err := db.CustomFieldsOf(ctx, q, orgID, m)
	if err != nil {
		return nil, err
	}
	for _, d := range defs {
		out[d.APIName] = d.Kind()
	}
	return out, nil
}

// recomputeCriteriaRules brings the index's criteria matches of a module in
// line with a new snapshot: matches of removed rules are dropped, and only
// rules that are new or whose criteria changed are evaluated, over the
// fields they read. An owner-based rule change reads no record at all.
func (e *Engine) recomputeCriteriaRules(ctx context.Context, before, after *access.Snapshot, ix *access.Index, orgID int64, m access.Module) error {
	old := map[int64]string{}
	for _, r := range before.Rules(m) {
		if r.Criteria != nil {
			old[r.ID] = criteriaKey(r.Criteria)
		}
	}
	var changed []*access.SharingRule
	current := map[int64]bool{}
	for _, r := range after.Rules(m) {
		if r.Criteria == nil {
			continue
		}
		current[r.ID] = true
		if key, ok := old[r.ID]; !ok || key != criteriaKey(r.Criteria) {
			changed = append(changed, r)
		}
	}
	for id := range old {
		if !current[id] {
			ix.DropRule(id)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var fields []string
	for _, r := range changed {
		for _, f := range access.ReferencedFields(r.Criteria) {
			if !seen[f] {
				seen[f] = true
				fields = append(fields, f)
			}
		}
	}
	kinds, err := e.fieldKinds(ctx, e.DB, orgID, m)
	if err != nil {
		return err
	}
	matches := make([]*roaring.Bitmap, len(changed))
	for i := range matches {
		matches[i] = roaring.New()
	}
	err = db.StreamRecordFields(ctx, e.DB, orgID, records.MetaOf(m), fields,
		func(id, _ int64, _ *records.RecordKey, values map[string]any) error {
			records.NormalizeCriteriaValues(kinds, values)
			key, err := access.RecordKey(id)
			if err != nil {
				return err
			}
			for i, r := range changed {
				if access.MatchCriteria(r.Criteria, values) {
					matches[i].Add(key)
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	// Records written after the log's end are not in the index yet and are
	// ignored here; their own upserts will carry their matches.
	for i, r := range changed {
		if err := ix.SetRuleMatches(r.ID, m, matches[i]); err != nil {
			return err
		}
	}
	return nil
}

func criteriaKey(c *access.Criteria) string {
	b, _ := json.Marshal(c)
	return string(b)
}
