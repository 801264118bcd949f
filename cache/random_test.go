package cache_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"warden/access"
	"warden/cache"
	"warden/db"
	"warden/db/dbtest"
	"warden/records"
)

// The randomized differential test of the served path. Several orgs are
// written to Postgres; then a long random sequence of changes is applied one
// at a time, each exactly as the API writes it (the data change and its
// db.LogSecurityChange, of the right kind and payload, in one transaction).
// After each change the org's access as served by cache.Engine
// (Engine.State → Snapshot.VisibleSet and Snapshot.Explain on Index.Facts)
// is compared with brute force built from scratch from the database
// (engine_test.go), for every member and every record. Four engines share
// the database:
//
//   - incremental: has seen every step (catch-up by one change at a time);
//   - lagging: catches up only now and then, so it replays batches of
//     changes of every kind at once;
//   - fresh: a new engine created at random points (full build);
//   - redis-restored: a new engine sharing state through Redis, which
//     restores the copy an earlier one stored and replays the log from
//     its version (left out when Redis cannot be reached).
//
// Meanwhile readers hammer the incremental engine concurrently, so -race
// sees catch-ups running under live reads.
//
// The seed is random and printed on failure; WARDEN_SEED=n replays the same
// orgs and changes.
// -long (or WARDEN_LONG=1) runs many more steps.

var longFlag = flag.Bool("long", false, "run the long randomized tests")

func longRun() bool { return *longFlag || os.Getenv("WARDEN_LONG") == "1" }

func seed(t *testing.T) int64 {
	if s := os.Getenv("WARDEN_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("WARDEN_SEED: %v", err)
		}
		return n
	}
	return time.Now().UnixNano()
}

// logRecord logs a record's index facts as resolvers.logRecord does.
func logRecord(ctx context.Context, tx *sqlx.Tx, rec records.Record) error {
	rc := db.RecordChange{Module: records.ModuleOf(rec), ID: rec.Base().Key, Owner: rec.Base().OwnerID, Fields: records.FieldValues(rec)}
	if pm, pid, ok := records.ParentOf(rec); ok {
		rc.Parent = &access.RecordRef{Module: pm, ID: pid}
	}
	err := db.LogSecurityChange(ctx, tx, rec.Base().OrgID, db.ChangeRecordUpsert, rc)
	return err
}

func TestRandomServedPath(t *testing.T) {
	s := seed(t)
	steps, norgs := 120, 3
	if longRun() {
		steps, norgs = 3000, 5
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d: replay with WARDEN_SEED=%d go test -race -run TestRandomServedPath ./cache/", s, s)
		}
	})
	ctx := context.Background()
	conn := dbtest.Open(t)
	w := &world{t: t, ctx: ctx, conn: conn, rng: rand.New(rand.NewSource(s)), brute: map[int64]*bruteOrg{}}
	start := time.Now()
	for i := 0; i < norgs; i++ {
		w.newOrg(i)
	}
	incremental, lagging := cache.NewEngine(conn), cache.NewEngine(conn)
	shared := sharedEngines(t, conn)
	for _, org := range w.orgs {
		w.check("incremental", incremental, org)
		w.check("lagging", lagging, org)
	}

	stop := make(chan struct{})
	var readers sync.WaitGroup
	var reads atomic.Int64
	for i := 0; i < 2; i++ {
		readers.Add(1)
		go func(i int) {
			defer readers.Done()
			r := rand.New(rand.NewSource(s + int64(i) + 1))
			orgs := slices.Clone(w.orgs)
			for {
				select {
				case <-stop:
					return
				default:
				}
				org := orgs[r.Intn(len(orgs))]
				snap, ix, err := incremental.State(ctx, org)
				if err != nil {
					t.Errorf("concurrent reader: %v", err)
					return
				}
				ms := snap.Members()
				mem := ms[r.Intn(len(ms))].ID
				mod := access.Modules[r.Intn(len(access.Modules))]
				// Only exercise: the index is updated in place, so a reader's
				// snapshot and index may be a change apart and need not agree.
				vs := incremental.VisibleSet(org, snap, ix, mem, mod)
				ix.Records(mod).Iterate(func(id uint32) bool {
					if f, ok := ix.Facts(mod, int64(id)); ok && vs.Contains(int64(id)) {
						snap.Explain(mem, f)
					}
					return true
				})
				reads.Add(1)
				time.Sleep(time.Millisecond) // leave the CPU to the writer now and then
			}
		}(i)
	}
	defer func() {
		close(stop)
		readers.Wait()
	}()

	kinds := map[string]int{}
	setup := len(w.history)
	for step := 0; step < steps && !t.Failed(); step++ {
		org := w.orgs[w.rng.Intn(len(w.orgs))]
		kind, desc := w.randomChange(org)
		kinds[kind]++
		w.history = append(w.history, fmt.Sprintf("step %d org %d: %s", step, org, desc))
		w.reload(org)
		w.check("incremental", incremental, org)
		if w.rng.Intn(4) == 0 {
			w.check("lagging", lagging, org)
		}
		if w.rng.Intn(12) == 0 {
			w.check("fresh", cache.NewEngine(conn), org)
		}
		if shared != nil && w.rng.Intn(8) == 0 {
			w.check("redis-restored", shared(), org)
		}
	}
	fresh := cache.NewEngine(conn)
	for _, org := range w.orgs {
		w.check("lagging", lagging, org)
		w.check("fresh", fresh, org)
		if shared != nil {
			w.check("redis-restored", shared(), org)
		}
	}
	t.Logf("seed %d: %d orgs, %d changes %v, %d (member, record) checks, %d concurrent reads, in %s",
		s, norgs, len(w.history)-setup, kinds, w.checks, reads.Load(), time.Since(start).Round(time.Millisecond))
	// Most org-level changes reload only the parts they touched; the
	// comparisons above are what proves that sound, so they must have run.
	reloads, full := incremental.Stats.OrgReloads.Load(), incremental.Stats.FullReloads.Load()
	t.Logf("incremental engine: %d org reloads, %d of them full", reloads, full)
	if reloads == 0 || full*2 > reloads {
		t.Errorf("only %d of %d org reloads were partial: the partial path went untested", reloads-full, reloads)
	}
}

// sharedEngines returns a maker of fresh engines that share org state
// through Redis (a private key prefix): the first to build an org stores
// it, later ones restore the stored copy (of whatever version it has) and
// replay the change log from there. nil when Redis cannot be reached.
func sharedEngines(t *testing.T, conn *sqlx.DB) func() *cache.Engine {
	opt, err := redis.ParseURL(dbtest.RedisURL())
	if err != nil {
		t.Logf("no Redis (%v): the redis-restored engine is left out", err)
		return nil
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		t.Logf("no Redis (%v): the redis-restored engine is left out", err)
		return nil
	}
	prefix := dbtest.RedisPrefix()
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, err := rdb.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
		_ = rdb.Close()
	})
	var made []*cache.Engine
	t.Cleanup(func() {
		var hits int64
		for _, e := range made {
			hits += e.Stats.RedisHits.Load()
		}
		t.Logf("%d redis-restored engines, %d restored an org from Redis", len(made), hits)
	})
	return func() *cache.Engine {
		e := cache.NewEngine(conn)
		e.Redis, e.Prefix = rdb, prefix
		made = append(made, e)
		return e
	}
}

// world is the database under test and the generator's view of it.
type world struct {
	t       *testing.T
	ctx     context.Context
	conn    *sqlx.DB
	rng     *rand.Rand
	orgs    []int64
	brute   map[int64]*bruteOrg // each org as it stands
	history []string
	checks  int
	users   int
}

func (w *world) reload(org int64) {
	w.t.Helper()
	b, err := loadBrute(w.ctx, w.conn, org)
	if err != nil {
		w.t.Fatalf("load org %d: %v", org, err)
	}
	w.brute[org] = b
}

func (w *world) check(name string, eng *cache.Engine, org int64) {
	w.t.Helper()
	if w.t.Failed() {
		return
	}
	n, bad, err := compareEngine(w.ctx, eng, w.brute[org])
	w.checks += n
	if err == nil && len(bad) == 0 {
		return
	}
	from := max(0, len(w.history)-12)
	w.t.Errorf("%s engine disagrees with brute force on org %d after %d changes (setup included); the last ones:\n\t%s",
		name, org, len(w.history), strings.Join(w.history[from:], "\n\t"))
	if err != nil {
		w.t.Errorf("%s engine: %v", name, err)
	}
	for _, mm := range bad {
		w.t.Errorf("%s engine: %s", name, mm)
	}
}

// tx runs one change: fn writes it, and the change is logged with kind and
// payload in the same transaction (fn may log more, as the API does).
func (w *world) tx(fn func(tx *sqlx.Tx) error) {
	w.t.Helper()
	tx, err := w.conn.BeginTxx(w.ctx, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	// Durability is not under test: do not wait for the WAL flush (the
	// commit is visible to every session at once all the same).
	if _, err := tx.ExecContext(w.ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		w.t.Fatal(err)
	}
	if err := fn(tx); err != nil {
		w.t.Fatalf("change: %v\nhistory:\n\t%s", err, strings.Join(w.history, "\n\t"))
	}
	if err := tx.Commit(); err != nil {
		w.t.Fatal(err)
	}
}

// orgChange logs the change as the API does, with payload() (called after
// fn, so it may name what fn created): db.OrgChange for administration
// actions, {"group": id} for groups. What an instance catching up reloads
// follows from it (db.Touched), so these must be the API's payloads.
func (w *world) orgChange(org int64, payload func() any, fn func(tx *sqlx.Tx) error) {
	w.tx(func(tx *sqlx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		err := db.LogSecurityChange(w.ctx, tx, org, db.ChangeOrg, payload())
		return err
	})
}

func action(name, targetType string, id int64) func() any {
	return func() any { return db.OrgChange{Action: name, TargetType: targetType, TargetID: id} }
}

func groupChange(id *int64) func() any {
	return func() any { return map[string]any{"group": *id} }
}

// ---- value domains ----

func (w *world) pick(n int) int { return w.rng.Intn(n) }
func (w *world) chance(p float64) bool {
	return w.rng.Float64() < p
}

var (
	textValues  = []string{"alpha", "Alpha", "beta", "gamma delta", "", "zeta", "Won"}
	floatValues = []float64{0, 1000, 50000.5, 75000, 1e6}
	intValues   = []int64{0, 10, 50, 75, 90, 100}
	dateValues  = []string{"2024-01-31", "2024-06-01", "2025-12-31"}
	timeValues  = []string{"2024-06-01T00:00:00Z", "2024-06-01T10:30:00+02:00", "2024-05-31T23:59:59.5Z", "2025-01-01T12:00:00Z"}
	tierValues  = []string{"gold", "silver", "", "Gold"}
	scoreValues = []float64{1, 2.5, 10, 100}
)

// columnValue is a random value of a field as the API's parsed input would
// carry it; nil (NULL) for optional fields now and then.
func (w *world) columnValue(f fieldDef) any {
	if !f.mandatory && w.chance(0.2) {
		return nil
	}
	switch f.kind {
	case kText:
		v := textValues[w.pick(len(textValues))]
		if f.mandatory && v == "" {
			v = "x"
		}
		return v
	case kFloat:
		return floatValues[w.pick(len(floatValues))]
	case kInt:
		return intValues[w.pick(len(intValues))]
	case kDate:
		d, _ := records.ParseDate(dateValues[w.pick(len(dateValues))])
		return d
	case kTime:
		t, _ := time.Parse(time.RFC3339Nano, timeValues[w.pick(len(timeValues))])
		return t
	case kCustomText:
		return tierValues[w.pick(len(tierValues))]
	case kCustomNum:
		return scoreValues[w.pick(len(scoreValues))]
	}
	return nil
}

// criteriaValue is a random criteria value of a field's kind, as stored
// JSON reads back.
func (w *world) criteriaValue(f fieldDef) any {
	switch f.kind {
	case kText, kCustomText:
		vs := append(slices.Clone(textValues), tierValues...)
		return vs[w.pick(len(vs))]
	case kFloat, kCustomNum:
		vs := append(slices.Clone(floatValues), scoreValues...)
		return vs[w.pick(len(vs))]
	case kInt:
		return float64(intValues[w.pick(len(intValues))])
	case kDate:
		return dateValues[w.pick(len(dateValues))]
	case kTime:
		if w.chance(0.3) {
			return dateValues[w.pick(len(dateValues))]
		}
		return timeValues[w.pick(len(timeValues))]
	}
	return nil
}

func (w *world) criteria(m access.Module) *access.Criteria {
	fields := append(slices.Clone(moduleFields[m]), customFields...)
	c := &access.Criteria{Op: access.And}
	if w.chance(0.5) {
		c.Op = access.Or
	}
	for n := 1 + w.pick(3); n > 0; n-- {
		f := fields[w.pick(len(fields))]
		var ops []access.ConditionOp
		switch f.kind {
		case kText, kCustomText:
			ops = []access.ConditionOp{access.OpEq, access.OpNeq, access.OpIn, access.OpContains, access.OpIsEmpty, access.OpLt, access.OpGte}
		default:
			ops = []access.ConditionOp{access.OpEq, access.OpNeq, access.OpIn, access.OpLt, access.OpLte, access.OpGt, access.OpGte, access.OpIsEmpty}
		}
		cond := access.Condition{Field: f.name, Op: ops[w.pick(len(ops))]}
		switch cond.Op {
		case access.OpIsEmpty:
		case access.OpIn:
			var list []any
			for k := 1 + w.pick(3); k > 0; k-- {
				list = append(list, w.criteriaValue(f))
			}
			cond.Value = list
		case access.OpContains:
			v, _ := w.criteriaValue(f).(string)
			if len(v) > 2 && w.chance(0.5) {
				v = strings.ToUpper(v[1:3])
			}
			cond.Value = v
		default:
			cond.Value = w.criteriaValue(f)
		}
		c.Conditions = append(c.Conditions, cond)
	}
	return c
}

// permissions is a random valid module permission set (prerequisites hold).
func (w *world) permissions() access.PermissionSet {
	var s access.PermissionSet
	if w.chance(0.85) {
		s = s.With(access.PermView)
		for _, p := range []access.Permission{access.PermEdit, access.PermDelete, access.PermShare, access.PermChangeOwner, access.PermExport} {
			if w.chance(0.5) {
				s = s.With(p)
			}
		}
	}
	if w.chance(0.6) {
		s = s.With(access.PermCreate)
		if w.chance(0.3) {
			s = s.With(access.PermImport)
		}
	}
	if s.Has(access.PermEdit) && w.chance(0.3) {
		s = s.With(access.PermMassUpdate)
	}
	if s.Has(access.PermDelete) && w.chance(0.3) {
		s = s.With(access.PermMassDelete)
	}
	return s
}

func modulePermsJSON(perms map[access.Module]access.PermissionSet) string {
	out := map[string][]string{}
	for m, s := range perms {
		out[string(m)] = s.Names()
		if out[string(m)] == nil {
			out[string(m)] = []string{}
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// ---- org generation ----

// newOrg writes a random org: created as createOrg does, then roles,
// profiles, members, groups, defaults, rules, records and shares.
func (w *world) newOrg(n int) {
	ctx := w.ctx
	var org int64
	w.tx(func(tx *sqlx.Tx) error {
		u, err := w.newUser(tx)
		if err != nil {
			return err
		}
		o, err := db.CreateOrg(ctx, tx, u, fmt.Sprintf("Random %d", n), "UTC")
		if err != nil {
			return err
		}
		org = o.Org.Key
		mode := "ROLE"
		if w.chance(0.4) {
			mode = "REPORTING"
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET hierarchy_mode = $2 WHERE id = $1`, org, mode); err != nil {
			return err
		}
		roles := []int64{o.TopRole.Key}
		for i := 1 + w.pick(6); i > 0; i-- {
			var id int64
			if err := tx.GetContext(ctx, &id, `INSERT INTO roles (org_id, name, parent_id, share_with_peers) VALUES ($1, $2, $3, $4) RETURNING id`,
				org, fmt.Sprintf("Role %d", len(roles)), roles[w.pick(len(roles))], w.chance(0.3)); err != nil {
				return err
			}
			roles = append(roles, id)
		}
		profiles := []int64{o.Admin.Key, o.Standard.Key}
		for i := 1 + w.pick(2); i > 0; i-- {
			perms := map[access.Module]access.PermissionSet{}
			for _, m := range access.Modules {
				perms[m] = w.permissions()
			}
			var id int64
			if err := tx.GetContext(ctx, &id, `INSERT INTO profiles (org_id, name, module_permissions) VALUES ($1, $2, $3) RETURNING id`,
				org, fmt.Sprintf("Profile %d", len(profiles)), modulePermsJSON(perms)); err != nil {
				return err
			}
			profiles = append(profiles, id)
		}
		for i := 5 + w.pick(6); i > 0; i-- {
			if _, err := w.insertMember(tx, org, roles, profiles, nil); err != nil {
				return err
			}
		}
		err = db.LogSecurityChange(ctx, tx, org, db.ChangeOrg, map[string]any{"setup": "members"})
		return err
	})
	w.orgs = append(w.orgs, org)
	// Reporting managers, groups, defaults and rules through the change
	// generators, then records and shares. The generators choose from the
	// org as last loaded, which may lag a few changes behind: that only
	// narrows their choice.
	w.reload(org)
	note := func(desc string) { w.history = append(w.history, fmt.Sprintf("setup of org %d: %s", org, desc)) }
	for i := 0; i < 6; i++ {
		note(w.setManager(org))
	}
	for i := 1 + w.pick(3); i > 0; i-- {
		note(w.createGroup(org))
		w.reload(org)
	}
	for _, m := range access.Modules {
		if w.chance(0.3) {
			note(w.setDefault(org, m))
		}
	}
	for i := 2 + w.pick(5); i > 0; i-- {
		note(w.createRule(org))
	}
	for i := 18 + w.pick(12); i > 0; i-- {
		note(w.createRecord(org))
		if i%6 == 0 {
			w.reload(org)
		}
	}
	w.reload(org)
	for i := 4 + w.pick(6); i > 0; i-- {
		note(w.addShare(org))
	}
	w.reload(org)
}

func (w *world) newUser(tx *sqlx.Tx) (int64, error) {
	w.users++
	u, err := db.CreateUser(w.ctx, tx, fmt.Sprintf("user%d@random.test", w.users), fmt.Sprintf("User %02d", w.users%37), "")
	if err != nil {
		return 0, err
	}
	return u.Key, nil
}

// insertMember adds a member with a random role and profile; b (when known)
// gives the role tree to choose a reporting manager from.
func (w *world) insertMember(tx *sqlx.Tx, org int64, roles, profiles []int64, b *bruteOrg) (int64, error) {
	uid, err := w.newUser(tx)
	if err != nil {
		return 0, err
	}
	role := roles[w.pick(len(roles))]
	var mgr *int64
	if b != nil && w.chance(0.5) {
		if cands := managerCandidates(b, role, 0); len(cands) > 0 {
			mgr = &cands[w.pick(len(cands))]
		}
	}
	status := "ACTIVE"
	if w.chance(0.1) {
		status = "INACTIVE"
	}
	var id int64
	err = tx.GetContext(w.ctx, &id, `INSERT INTO members (org_id, user_id, role_id, profile_id, reports_to_id, status)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, org, uid, role, profiles[w.pick(len(profiles))], mgr, status)
	return id, err
}

// ---- role tree helpers on a brute org ----

func roleParents(b *bruteOrg) map[int64]int64 {
	out := map[int64]int64{}
	for _, r := range b.data.Roles {
		out[r.ID] = r.ParentID
	}
	return out
}

// strictAncestor reports whether role a is a strict ancestor of role r.
func strictAncestor(parents map[int64]int64, a, r int64) bool {
	for p := parents[r]; p != 0; p = parents[p] {
		if p == a {
			return true
		}
	}
	return false
}

// managerCandidates are the members that may manage a member of role
// (their role a strict ancestor of it), except member self.
func managerCandidates(b *bruteOrg, role, self int64) []int64 {
	parents := roleParents(b)
	var out []int64
	for _, m := range b.data.Members {
		if m.ID != self && strictAncestor(parents, m.RoleID, role) {
			out = append(out, m.ID)
		}
	}
	return out
}

// reportingValid reports whether every reporting link still goes to a
// strict ancestor role with the given role tree and member roles.
func reportingValid(b *bruteOrg, parents map[int64]int64, roleOf map[int64]int64) bool {
	for _, m := range b.data.Members {
		if m.ReportsToID != 0 && !strictAncestor(parents, roleOf[m.ReportsToID], roleOf[m.ID]) {
			return false
		}
	}
	return true
}

func memberRoles(b *bruteOrg) map[int64]int64 {
	out := map[int64]int64{}
	for _, m := range b.data.Members {
		out[m.ID] = m.RoleID
	}
	return out
}

// principal is a random principal of the org.
func (w *world) principal(b *bruteOrg) access.Principal {
	for {
		switch w.pick(4) {
		case 0:
			return access.User(b.data.Members[w.pick(len(b.data.Members))].ID)
		case 1:
			return access.RolePrincipal(b.data.Roles[w.pick(len(b.data.Roles))].ID)
		case 2:
			return access.RoleAndSubordinates(b.data.Roles[w.pick(len(b.data.Roles))].ID)
		case 3:
			if len(b.data.Groups) > 0 {
				return access.GroupPrincipal(b.data.Groups[w.pick(len(b.data.Groups))].ID)
			}
		}
	}
}

func (w *world) activeMember(b *bruteOrg) int64 {
	var act []int64
	for _, m := range b.data.Members {
		if m.Active {
			act = append(act, m.ID)
		}
	}
	if len(act) == 0 {
		return b.data.Members[0].ID
	}
	return act[w.pick(len(act))]
}

// ---- changes ----

// randomChange applies one random change to the org and returns its kind
// and a description.
func (w *world) randomChange(org int64) (string, string) {
	type change struct {
		kind   string
		weight int
		apply  func(int64) (string, bool)
	}
	changes := []change{
		{"record.create", 10, func(o int64) (string, bool) { return w.createRecord(o), true }},
		{"record.update", 18, w.updateRecord},
		{"record.delete", 6, w.deleteRecord},
		{"share.add", 10, func(o int64) (string, bool) { return w.addShare(o), true }},
		{"share.remove", 7, w.removeShare},
		{"rule.create", 4, func(o int64) (string, bool) { return w.createRule(o), true }},
		{"rule.update", 4, w.updateRule},
		{"rule.delete", 3, w.deleteRule},
		{"org.default", 3, func(o int64) (string, bool) {
			return w.setDefault(o, access.Modules[w.pick(len(access.Modules))]), true
		}},
		{"org.mode", 2, func(o int64) (string, bool) { return w.toggleMode(o), true }},
		{"member.role", 3, w.setMemberRole},
		{"member.profile", 3, func(o int64) (string, bool) { return w.setMemberProfile(o), true }},
		{"member.manager", 3, func(o int64) (string, bool) { return w.setManager(o), true }},
		{"member.status", 3, func(o int64) (string, bool) { return w.toggleStatus(o), true }},
		{"member.add", 1, func(o int64) (string, bool) { return w.addMember(o), true }},
		{"role.peers", 2, func(o int64) (string, bool) { return w.togglePeers(o), true }},
		{"role.create", 1, func(o int64) (string, bool) { return w.createRole(o), true }},
		{"role.move", 2, w.moveRole},
		{"group.create", 1, func(o int64) (string, bool) { return w.createGroup(o), true }},
		{"group.update", 3, w.updateGroup},
		{"group.delete", 1, w.deleteGroup},
		{"profile.permissions", 2, w.setProfilePermissions},
	}
	total := 0
	for _, c := range changes {
		total += c.weight
	}
	for {
		n := w.pick(total)
		for _, c := range changes {
			if n >= c.weight {
				n -= c.weight
				continue
			}
			if desc, ok := c.apply(org); ok {
				return c.kind, desc
			}
			break // not applicable now: draw again
		}
	}
}

// recordColumns are random values for some fields of a record of m.
func (w *world) recordColumns(b *bruteOrg, m access.Module, create bool, current map[string]any) map[string]any {
	cols := map[string]any{}
	for _, f := range moduleFields[m] {
		if create && f.mandatory || w.chance(0.25) {
			cols[f.column] = w.columnValue(f)
		}
	}
	if create || w.chance(0.3) {
		custom := map[string]any{}
		for k, v := range current {
			custom[k] = v
		}
		for _, f := range customFields {
			if w.chance(0.5) {
				if v := w.columnValue(f); v != nil {
					custom[f.name] = v
				} else {
					delete(custom, f.name)
				}
			}
		}
		cols["custom"] = custom
	}
	// The parent: an account for contacts and deals, any record but a task
	// for tasks; sometimes none.
	if create || w.chance(0.2) {
		switch m {
		case records.Contacts, records.Deals:
			cols["account_id"] = nil
			if accs := b.recs[records.Accounts]; len(accs) > 0 && w.chance(0.8) {
				cols["account_id"] = accs[w.pick(len(accs))].id
			}
			if m == records.Deals && w.chance(0.5) {
				cols["contact_id"] = nil
				if cs := b.recs[records.Contacts]; len(cs) > 0 {
					cols["contact_id"] = cs[w.pick(len(cs))].id
				}
			}
		case records.Tasks:
			cols["related_module"], cols["related_id"] = nil, nil
			var cands []*bruteRec
			for _, pm := range []access.Module{records.Leads, records.Contacts, records.Accounts, records.Deals} {
				cands = append(cands, b.recs[pm]...)
			}
			if len(cands) > 0 && w.chance(0.8) {
				p := cands[w.pick(len(cands))]
				cols["related_module"], cols["related_id"] = string(p.mod), p.id
			}
		}
	}
	return cols
}

func describeCols(cols map[string]any) string {
	keys := make([]string, 0, len(cols))
	for k := range cols {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		v := cols[k]
		if t, ok := v.(time.Time); ok {
			v = t.Format(time.RFC3339Nano)
		}
		if d, ok := v.(records.Date); ok {
			v = d.String()
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return strings.Join(parts, " ")
}

func (w *world) createRecord(org int64) string {
	b := w.brute[org]
	m := access.Modules[w.pick(len(access.Modules))]
	cols := w.recordColumns(b, m, true, nil)
	cols["owner_id"] = w.activeMember(b)
	cols["created_by"] = w.activeMember(b)
	var id int64
	w.tx(func(tx *sqlx.Tx) error {
		rec, err := db.InsertRecord(w.ctx, tx, org, records.MetaOf(m), cols)
		if err != nil {
			return err
		}
		id = rec.Base().Key
		return logRecord(w.ctx, tx, rec)
	})
	return fmt.Sprintf("create %s/%d %s", m, id, describeCols(cols))
}

func (w *world) randomRecord(b *bruteOrg) *bruteRec {
	all := b.allRecs()
	if len(all) == 0 {
		return nil
	}
	return all[w.pick(len(all))]
}

func (w *world) updateRecord(org int64) (string, bool) {
	b := w.brute[org]
	r := w.randomRecord(b)
	if r == nil {
		return "", false
	}
	current := map[string]any{}
	for _, f := range customFields {
		if v, ok := r.fields[f.name]; ok {
			current[f.name] = v
		}
	}
	cols := w.recordColumns(b, r.mod, false, current)
	if w.chance(0.2) {
		cols["owner_id"] = w.activeMember(b) // a transfer (changeOwner)
	}
	if len(cols) == 0 {
		cols[moduleFields[r.mod][0].column] = w.columnValue(moduleFields[r.mod][0])
	}
	w.tx(func(tx *sqlx.Tx) error {
		meta := records.MetaOf(r.mod)
		if _, err := db.GetRecordForUpdate(w.ctx, tx, org, meta, r.id); err != nil {
			return err
		}
		rec, err := db.UpdateRecord(w.ctx, tx, org, meta, r.id, cols)
		if err != nil {
			return err
		}
		return logRecord(w.ctx, tx, rec)
	})
	return fmt.Sprintf("update %s/%d %s", r.mod, r.id, describeCols(cols)), true
}

// deleteRecord deletes as resolvers.deleteRecord does: children detached
// (and logged), shares dropped, the record.delete logged.
func (w *world) deleteRecord(org int64) (string, bool) {
	b := w.brute[org]
	if len(b.allRecs()) < 12 {
		return "", false
	}
	r := w.randomRecord(b)
	var orphans []string
	w.tx(func(tx *sqlx.Tx) error {
		meta := records.MetaOf(r.mod)
		if _, err := db.GetRecordForUpdate(w.ctx, tx, org, meta, r.id); err != nil {
			return err
		}
		children, err := db.DetachChildren(w.ctx, tx, org, r.mod, r.id)
		if err != nil {
			return err
		}
		if err := db.DeleteRecord(w.ctx, tx, org, meta, r.id); err != nil {
			return err
		}
		if err := db.LogSecurityChange(w.ctx, tx, org, db.ChangeRecordDelete, db.RecordChange{Module: r.mod, ID: r.id}); err != nil {
			return err
		}
		for _, c := range children {
			orphans = append(orphans, fmt.Sprintf("%s/%d", records.ModuleOf(c), c.Base().Key))
			if err := logRecord(w.ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	return fmt.Sprintf("delete %s/%d (orphans %v)", r.mod, r.id, orphans), true
}

var shareLevels = []access.Level{access.LevelReadOnly, access.LevelReadWrite, access.LevelFullAccess}

// addShare shares a record (or changes the level of an existing share) as
// shareRecords does: upsert and share.add.
func (w *world) addShare(org int64) string {
	b := w.brute[org]
	r := w.randomRecord(b)
	sh := access.Share{Module: r.mod, RecordID: r.id, Principal: w.principal(b),
		Level: shareLevels[w.pick(len(shareLevels))], IncludeRelated: w.chance(0.5)}
	w.tx(func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(w.ctx, `INSERT INTO record_shares (org_id, module, record_id, principal_type, principal_id, access, include_related, shared_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (org_id, module, record_id, principal_type, principal_id) DO UPDATE SET
				access = EXCLUDED.access, include_related = EXCLUDED.include_related, shared_by = EXCLUDED.shared_by`,
			org, string(sh.Module), sh.RecordID, sh.Principal.Type.String(), sh.Principal.ID, sh.Level.String(), sh.IncludeRelated,
			b.data.Members[0].ID); err != nil {
			return err
		}
		err := db.LogSecurityChange(w.ctx, tx, org, db.ChangeShareAdd, db.ShareChange{Module: sh.Module, RecordID: sh.RecordID,
			Principal: sh.Principal, Level: sh.Level, IncludeRelated: sh.IncludeRelated})
		return err
	})
	return fmt.Sprintf("share %s/%d with %s %s related=%v", sh.Module, sh.RecordID, sh.Principal, sh.Level, sh.IncludeRelated)
}

func (w *world) removeShare(org int64) (string, bool) {
	b := w.brute[org]
	if len(b.shares) == 0 {
		return "", false
	}
	sh := b.shares[w.pick(len(b.shares))]
	w.tx(func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(w.ctx, `DELETE FROM record_shares WHERE org_id = $1 AND module = $2 AND record_id = $3
			AND principal_type = $4 AND principal_id = $5`, org, string(sh.Module), sh.RecordID, sh.Principal.Type.String(), sh.Principal.ID); err != nil {
			return err
		}
		err := db.LogSecurityChange(w.ctx, tx, org, db.ChangeShareRemove, db.ShareChange{Module: sh.Module, RecordID: sh.RecordID,
			Principal: sh.Principal, Level: sh.Level, IncludeRelated: sh.IncludeRelated})
		return err
	})
	return fmt.Sprintf("revoke %s/%d from %s", sh.Module, sh.RecordID, sh.Principal), true
}

var ruleLevels = []access.Level{access.LevelReadOnly, access.LevelReadWrite, access.LevelReadWriteDelete}

// ruleRow is a random rule of module m.
func (w *world) ruleRow(b *bruteOrg, m access.Module) access.SharingRule {
	r := access.SharingRule{Module: m, Name: fmt.Sprintf("rule %d", w.pick(1000)), Target: w.principal(b),
		Level: ruleLevels[w.pick(len(ruleLevels))], SuperiorsAllowed: w.chance(0.4)}
	if w.chance(0.5) {
		src := w.principal(b)
		r.Source = &src
	} else {
		r.Criteria = w.criteria(m)
	}
	return r
}

func ruleArgs(r access.SharingRule) (srcType, srcID, crit any) {
	if r.Source != nil {
		return r.Source.Type.String(), r.Source.ID, nil
	}
	cj, _ := json.Marshal(r.Criteria)
	return nil, nil, string(cj)
}

func describeRule(r access.SharingRule) string {
	s := fmt.Sprintf("%s rule to %s %s superiors=%v", r.Module, r.Target, r.Level, r.SuperiorsAllowed)
	if r.Source != nil {
		return s + fmt.Sprintf(" source %s", r.Source)
	}
	cj, _ := json.Marshal(r.Criteria)
	return s + " criteria " + string(cj)
}

func (w *world) rulesChange(org int64, m access.Module, fn func(tx *sqlx.Tx) error) {
	w.tx(func(tx *sqlx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		err := db.LogSecurityChange(w.ctx, tx, org, db.ChangeRules, map[string]any{"module": m})
		return err
	})
}

func (w *world) createRule(org int64) string {
	b := w.brute[org]
	r := w.ruleRow(b, access.Modules[w.pick(len(access.Modules))])
	st, sid, crit := ruleArgs(r)
	var id int64
	w.rulesChange(org, r.Module, func(tx *sqlx.Tx) error {
		return tx.GetContext(w.ctx, &id, `INSERT INTO sharing_rules (org_id, module, name, source_type, source_id, criteria,
			target_type, target_id, access, superiors_allowed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			org, string(r.Module), r.Name, st, sid, crit, r.Target.Type.String(), r.Target.ID, r.Level.String(), r.SuperiorsAllowed)
	})
	return fmt.Sprintf("create rule %d: %s", id, describeRule(r))
}

func (w *world) updateRule(org int64) (string, bool) {
	b := w.brute[org]
	if len(b.data.Rules) == 0 {
		return "", false
	}
	old := b.data.Rules[w.pick(len(b.data.Rules))]
	r := w.ruleRow(b, old.Module)
	if w.chance(0.5) { // keep the kind, change only some parts
		r.Source, r.Criteria = old.Source, old.Criteria
		if old.Criteria != nil && w.chance(0.5) {
			r.Criteria = w.criteria(old.Module)
		}
	}
	st, sid, crit := ruleArgs(r)
	w.rulesChange(org, old.Module, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `UPDATE sharing_rules SET name = $3, source_type = $4, source_id = $5, criteria = $6,
			target_type = $7, target_id = $8, access = $9, superiors_allowed = $10 WHERE org_id = $1 AND id = $2`,
			org, old.ID, r.Name, st, sid, crit, r.Target.Type.String(), r.Target.ID, r.Level.String(), r.SuperiorsAllowed)
		return err
	})
	return fmt.Sprintf("update rule %d: %s", old.ID, describeRule(r)), true
}

func (w *world) deleteRule(org int64) (string, bool) {
	b := w.brute[org]
	if len(b.data.Rules) == 0 {
		return "", false
	}
	r := b.data.Rules[w.pick(len(b.data.Rules))]
	w.rulesChange(org, r.Module, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `DELETE FROM sharing_rules WHERE org_id = $1 AND id = $2`, org, r.ID)
		return err
	})
	return fmt.Sprintf("delete rule %d", r.ID), true
}

var defaults = []string{"PRIVATE", "PRIVATE", "PUBLIC_READ_ONLY", "PUBLIC_READ_WRITE", "PUBLIC_READ_WRITE_DELETE"}

func (w *world) setDefault(org int64, m access.Module) string {
	d := defaults[w.pick(len(defaults))]
	w.orgChange(org, action("org.setModuleSharing", "org", org), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `INSERT INTO module_sharing (org_id, module, default_access) VALUES ($1, $2, $3)
			ON CONFLICT (org_id, module) DO UPDATE SET default_access = EXCLUDED.default_access`, org, string(m), d)
		return err
	})
	return fmt.Sprintf("default %s %s", m, d)
}

func (w *world) toggleMode(org int64) string {
	mode := "REPORTING"
	if w.brute[org].data.HierarchyMode == access.HierarchyReporting {
		mode = "ROLE"
	}
	w.orgChange(org, action("org.setHierarchyMode", "org", org), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `UPDATE orgs SET hierarchy_mode = $2 WHERE id = $1`, org, mode)
		return err
	})
	return "hierarchy mode " + mode
}

// setMemberRole moves a member to another role, refused (not applied) when
// a reporting link would no longer go up the role tree.
func (w *world) setMemberRole(org int64) (string, bool) {
	b := w.brute[org]
	m := b.data.Members[w.pick(len(b.data.Members))]
	role := b.data.Roles[w.pick(len(b.data.Roles))].ID
	roleOf := memberRoles(b)
	roleOf[m.ID] = role
	if role == m.RoleID || !reportingValid(b, roleParents(b), roleOf) {
		return "", false
	}
	w.orgChange(org, action("member.update", "member", m.ID), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `UPDATE members SET role_id = $3 WHERE org_id = $1 AND id = $2`, org, m.ID, role)
		return err
	})
	return fmt.Sprintf("member %d to role %d", m.ID, role), true
}

func (w *world) setMemberProfile(org int64) string {
	b := w.brute[org]
	m := b.data.Members[w.pick(len(b.data.Members))]
	p := b.data.Profiles[w.pick(len(b.data.Profiles))].ID
	if p == b.data.Profiles[0].ID && w.chance(0.7) { // fewer administrators
		p = b.data.Profiles[1].ID
	}
	w.orgChange(org, action("member.update", "member", m.ID), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `UPDATE members SET profile_id = $3 WHERE org_id = $1 AND id = $2`, org, m.ID, p)
		return err
	})
	return fmt.Sprintf("member %d to profile %d", m.ID, p)
}

// setManager sets or clears a member's reporting manager (one whose role
// is a strict ancestor of the member's, so there is no cycle).
func (w *world) setManager(org int64) string {
	b := w.brute[org]
	m := b.data.Members[w.pick(len(b.data.Members))]
	var mgr *int64
	if cands := managerCandidates(b, m.RoleID, m.ID); len(cands) > 0 && w.chance(0.8) {
		mgr = &cands[w.pick(len(cands))]
	}
	w.orgChange(org, action("member.update", "member", m.ID), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `UPDATE members SET reports_to_id = $3 WHERE org_id = $1 AND id = $2`, org, m.ID, mgr)
		return err
	})
	if mgr == nil {
		return fmt.Sprintf("member %d reports to nobody", m.ID)
	}
	return fmt.Sprintf("member %d reports to %d", m.ID, *mgr)
}

func (w *world) toggleStatus(org int64) string {
	b := w.brute[org]
	m := b.data.Members[w.pick(len(b.data.Members))]
	status := "INACTIVE"
	if !m.Active {
		status = "ACTIVE"
	}
	act := "member.deactivate"
	if status == "ACTIVE" {
		act = "member.reactivate"
	}
	w.orgChange(org, action(act, "member", m.ID), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `UPDATE members SET status = $3 WHERE org_id = $1 AND id = $2`, org, m.ID, status)
		return err
	})
	return fmt.Sprintf("member %d %s", m.ID, status)
}

func (w *world) addMember(org int64) string {
	b := w.brute[org]
	var roles, profiles []int64
	for _, r := range b.data.Roles {
		roles = append(roles, r.ID)
	}
	for _, p := range b.data.Profiles {
		profiles = append(profiles, p.ID)
	}
	var id int64
	w.orgChange(org, func() any { return db.OrgChange{Action: "member.add", TargetType: "member", TargetID: id} }, func(tx *sqlx.Tx) error {
		var err error
		id, err = w.insertMember(tx, org, roles, profiles, b)
		return err
	})
	return fmt.Sprintf("add member %d", id)
}

func (w *world) togglePeers(org int64) string {
	b := w.brute[org]
	r := b.data.Roles[w.pick(len(b.data.Roles))]
	w.orgChange(org, action("role.update", "role", r.ID), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `UPDATE roles SET share_with_peers = NOT share_with_peers WHERE org_id = $1 AND id = $2`, org, r.ID)
		return err
	})
	return fmt.Sprintf("role %d shareWithPeers=%v", r.ID, !r.ShareWithPeers)
}

func (w *world) createRole(org int64) string {
	b := w.brute[org]
	parent := b.data.Roles[w.pick(len(b.data.Roles))].ID
	var id int64
	w.orgChange(org, func() any { return db.OrgChange{Action: "role.create", TargetType: "role", TargetID: id} }, func(tx *sqlx.Tx) error {
		return tx.GetContext(w.ctx, &id, `INSERT INTO roles (org_id, name, parent_id, share_with_peers) VALUES ($1, $2, $3, $4) RETURNING id`,
			org, fmt.Sprintf("Role %d", len(b.data.Roles)), parent, w.chance(0.3))
	})
	return fmt.Sprintf("create role %d under %d", id, parent)
}

// moveRole moves a role (and its subtree) under another role outside the
// subtree, refused when a reporting link would no longer go up the tree.
func (w *world) moveRole(org int64) (string, bool) {
	b := w.brute[org]
	r := b.data.Roles[w.pick(len(b.data.Roles))]
	p := b.data.Roles[w.pick(len(b.data.Roles))].ID
	parents := roleParents(b)
	if r.ParentID == 0 || p == r.ID || p == r.ParentID || strictAncestor(parents, r.ID, p) {
		return "", false
	}
	parents[r.ID] = p
	if !reportingValid(b, parents, memberRoles(b)) {
		return "", false
	}
	w.orgChange(org, action("role.move", "role", r.ID), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `UPDATE roles SET parent_id = $3 WHERE org_id = $1 AND id = $2`, org, r.ID, p)
		return err
	})
	return fmt.Sprintf("move role %d under %d", r.ID, p), true
}

// groupMembers are 1 to 3 random principals for group g: groups only among
// those created before it, so nesting never cycles (and stays shallow).
func (w *world) groupMembers(b *bruteOrg, g int64) []access.Principal {
	var out []access.Principal
	for n := 1 + w.pick(3); n > 0; n-- {
		p := w.principal(b)
		if p.Type == access.PrincipalGroup && p.ID >= g {
			continue
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func (w *world) writeGroupMembers(tx *sqlx.Tx, org, g int64, ps []access.Principal) error {
	if _, err := tx.ExecContext(w.ctx, `DELETE FROM group_members WHERE org_id = $1 AND group_id = $2`, org, g); err != nil {
		return err
	}
	for _, p := range ps {
		if _, err := tx.ExecContext(w.ctx, `INSERT INTO group_members (org_id, group_id, principal_type, principal_id) VALUES ($1, $2, $3, $4)`,
			org, g, p.Type.String(), p.ID); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) createGroup(org int64) string {
	b := w.brute[org]
	var id int64
	var ps []access.Principal
	w.orgChange(org, groupChange(&id), func(tx *sqlx.Tx) error {
		if err := tx.GetContext(w.ctx, &id, `INSERT INTO groups (org_id, name) VALUES ($1, $2) RETURNING id`,
			org, fmt.Sprintf("Group %d", w.pick(1_000_000))); err != nil {
			return err
		}
		ps = w.groupMembers(b, id)
		return w.writeGroupMembers(tx, org, id, ps)
	})
	return fmt.Sprintf("create group %d %v", id, ps)
}

func (w *world) updateGroup(org int64) (string, bool) {
	b := w.brute[org]
	if len(b.data.Groups) == 0 {
		return "", false
	}
	g := b.data.Groups[w.pick(len(b.data.Groups))]
	ps := w.groupMembers(b, g.ID)
	w.orgChange(org, groupChange(&g.ID), func(tx *sqlx.Tx) error {
		return w.writeGroupMembers(tx, org, g.ID, ps)
	})
	return fmt.Sprintf("group %d members %v", g.ID, ps), true
}

// deleteGroup deletes a group nothing refers to (the API refuses others).
func (w *world) deleteGroup(org int64) (string, bool) {
	b := w.brute[org]
	if len(b.data.Groups) == 0 {
		return "", false
	}
	g := b.data.Groups[w.pick(len(b.data.Groups))]
	p := access.GroupPrincipal(g.ID)
	for _, o := range b.data.Groups {
		if slices.Contains(o.Members, p) {
			return "", false
		}
	}
	for _, r := range b.data.Rules {
		if r.Target == p || (r.Source != nil && *r.Source == p) {
			return "", false
		}
	}
	for _, sh := range b.shares {
		if sh.Principal == p {
			return "", false
		}
	}
	w.orgChange(org, groupChange(&g.ID), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `DELETE FROM groups WHERE org_id = $1 AND id = $2`, org, g.ID)
		return err
	})
	return fmt.Sprintf("delete group %d", g.ID), true
}

func (w *world) setProfilePermissions(org int64) (string, bool) {
	b := w.brute[org]
	var editable []access.Profile
	for _, p := range b.data.Profiles {
		if !p.Administrator {
			editable = append(editable, p)
		}
	}
	if len(editable) == 0 {
		return "", false
	}
	p := editable[w.pick(len(editable))]
	perms := map[access.Module]access.PermissionSet{}
	for _, m := range access.Modules {
		perms[m] = p.Modules[m]
		if w.chance(0.5) {
			perms[m] = w.permissions()
		}
	}
	w.orgChange(org, action("profile.update", "profile", p.ID), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(w.ctx, `UPDATE profiles SET module_permissions = $3 WHERE org_id = $1 AND id = $2`,
			org, p.ID, modulePermsJSON(perms))
		return err
	})
	return fmt.Sprintf("profile %d permissions %v", p.ID, perms), true
}
