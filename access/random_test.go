package access

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// The randomized differential test: random orgs and random change
// sequences applied incrementally to an Index, checked after every change
// against a naive oracle that reads access-model.md literally (walking
// parent pointers, expanding groups recursively, scanning every share).

type oRecord struct {
	ref    RecordRef
	owner  int64
	fields map[string]any
	parent *RecordRef
}

// world is the oracle's state: the org as data plus records and shares.
type world struct {
	org     OrgData
	records map[RecordRef]*oRecord
	shares  map[RecordRef]map[Principal]Share
	nextID  int64
	nextRID int64
	sample  int
}

func (w *world) member(id int64) (Member, bool) {
	for _, m := range w.org.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

func (w *world) roleParent(id int64) int64 {
	for _, r := range w.org.Roles {
		if r.ID == id {
			return r.ParentID
		}
	}
	return 0
}

// roleAbove: a is a strict ancestor of b.
func (w *world) roleAbove(a, b int64) bool {
	for p := w.roleParent(b); p != 0; p = w.roleParent(p) {
		if p == a {
			return true
		}
	}
	return false
}

func (w *world) inPrincipal(m Member, p Principal, depth int) bool {
	if depth > 20 {
		panic("group nesting too deep in oracle")
	}
	switch p.Type {
	case PrincipalUser:
		return m.ID == p.ID
	case PrincipalRole:
		return m.RoleID == p.ID
	case PrincipalRoleAndSubordinates:
		return m.RoleID == p.ID || w.roleAbove(p.ID, m.RoleID)
	case PrincipalGroup:
		for _, g := range w.org.Groups {
			if g.ID == p.ID {
				for _, q := range g.Members {
					if w.inPrincipal(m, q, depth+1) {
						return true
					}
				}
			}
		}
	}
	return false
}

func (w *world) superior(v, o Member) bool {
	if w.org.HierarchyMode == HierarchyRole {
		return w.roleAbove(v.RoleID, o.RoleID)
	}
	for cur := o.ReportsToID; cur != 0; {
		if cur == v.ID {
			return true
		}
		m, _ := w.member(cur)
		cur = m.ReportsToID
	}
	return false
}

func (w *world) profile(id int64) Profile {
	for _, p := range w.org.Profiles {
		if p.ID == id {
			return p
		}
	}
	panic("no profile")
}

// oracle computes the level and permissions of viewer on x literally.
func (w *world) oracle(viewer int64, x *oRecord) (Level, Permissions) {
	v, ok := w.member(viewer)
	if !ok || !v.Active {
		return LevelNone, Permissions{}
	}
	lvl := LevelNone
	grant := func(l Level) {
		if l > lvl {
			lvl = l
		}
	}
	prof := w.profile(v.ProfileID)
	if prof.Administrator {
		grant(LevelFullAccess)
	}
	o, ownerKnown := w.member(x.owner)
	if x.owner == v.ID {
		grant(LevelFullAccess)
	}
	if ownerKnown && w.superior(v, o) {
		grant(LevelFullAccess)
	}
	if ownerKnown && w.org.HierarchyMode == HierarchyRole && o.ID != v.ID && o.RoleID == v.RoleID {
		for _, r := range w.org.Roles {
			if r.ID == v.RoleID && r.ShareWithPeers {
				grant(LevelReadWriteDelete)
			}
		}
	}
	grant(w.org.Defaults[x.ref.Module])
	for _, r := range w.org.Rules {
		if r.Module != x.ref.Module {
			continue
		}
		applies := false
		if r.Source != nil {
			applies = ownerKnown && w.inPrincipal(o, *r.Source, 0)
		} else {
			applies = MatchCriteria(r.Criteria, x.fields)
		}
		if !applies {
			continue
		}
		if w.inPrincipal(v, r.Target, 0) {
			grant(r.Level)
		} else if r.SuperiorsAllowed {
			for _, t := range w.org.Members {
				if w.inPrincipal(t, r.Target, 0) && w.superior(v, t) {
					grant(r.Level)
				}
			}
		}
	}
	for p, sh := range w.shares[x.ref] {
		if w.inPrincipal(v, p, 0) {
			grant(sh.Level)
		}
	}
	if x.parent != nil {
		for p, sh := range w.shares[*x.parent] {
			if sh.IncludeRelated && w.inPrincipal(v, p, 0) {
				grant(sh.Level)
			}
		}
	}
	ps := prof.Modules[x.ref.Module]
	if prof.Administrator {
		ps = AllPermissions
	}
	var perms Permissions
	if ps.Has(PermView) {
		perms = Permissions{
			Read:        lvl >= LevelReadOnly,
			Edit:        ps.Has(PermEdit) && lvl >= LevelReadWrite,
			Delete:      ps.Has(PermDelete) && lvl >= LevelReadWriteDelete,
			Share:       ps.Has(PermShare) && lvl == LevelFullAccess,
			ChangeOwner: ps.Has(PermChangeOwner) && lvl == LevelFullAccess,
		}
	}
	return lvl, perms
}

func (w *world) bruteFacts(x *oRecord) *BruteFacts {
	f := &BruteFacts{Mod: x.ref.Module, ID: x.ref.ID, Owner: x.owner, Fields: x.fields}
	for _, sh := range w.shares[x.ref] {
		f.Direct = append(f.Direct, sh)
	}
	if x.parent != nil {
		for _, sh := range w.shares[*x.parent] {
			f.Related = append(f.Related, sh)
		}
	}
	return f
}

// ---- generation ----

var (
	stages = []any{"Qualification", "Proposal", "Negotiation", "Closed Won", "closed won", ""}
	cities = []any{"Dubai", "dubai", "São Paulo", "", nil, "Paris"}
)

func randFields(r *rand.Rand) map[string]any {
	f := map[string]any{
		"stage":  stages[r.Intn(len(stages))],
		"city":   cities[r.Intn(len(cities))],
		"amount": float64(r.Intn(5) * 5000),
	}
	switch r.Intn(4) {
	case 0:
		delete(f, "amount")
	case 1:
		f["amount"] = int64(r.Intn(5) * 5000)
	}
	if r.Intn(3) == 0 {
		f["vip"] = r.Intn(2) == 0
	}
	return f
}

func randCriteria(r *rand.Rand) *Criteria {
	pool := []Condition{
		{Field: "stage", Op: OpEq, Value: "Proposal"},
		{Field: "stage", Op: OpNeq, Value: "Closed Won"},
		{Field: "stage", Op: OpIn, Value: []any{"Negotiation", "closed won"}},
		{Field: "stage", Op: OpContains, Value: "WON"},
		{Field: "stage", Op: OpIsEmpty},
		{Field: "city", Op: OpIsEmpty},
		{Field: "city", Op: OpNeq, Value: "Dubai"},
		{Field: "city", Op: OpContains, Value: "sÃo"},
		{Field: "amount", Op: OpGt, Value: 10000.0},
		{Field: "amount", Op: OpLte, Value: 5000},
		{Field: "amount", Op: OpGte, Value: "5000"}, // type mismatch: never
		{Field: "amount", Op: OpIsEmpty},
		{Field: "vip", Op: OpEq, Value: true},
	}
	c := &Criteria{Op: And}
	if r.Intn(2) == 0 {
		c.Op = Or
	}
	for n := 1 + r.Intn(3); n > 0; n-- {
		c.Conditions = append(c.Conditions, pool[r.Intn(len(pool))])
	}
	return c
}

func (w *world) randPrincipal(r *rand.Rand) Principal {
	for {
		switch r.Intn(4) {
		case 0:
			return User(w.org.Members[r.Intn(len(w.org.Members))].ID)
		case 1:
			return RolePrincipal(w.org.Roles[r.Intn(len(w.org.Roles))].ID)
		case 2:
			return RoleAndSubordinates(w.org.Roles[r.Intn(len(w.org.Roles))].ID)
		case 3:
			if len(w.org.Groups) > 0 {
				return GroupPrincipal(w.org.Groups[r.Intn(len(w.org.Groups))].ID)
			}
		}
	}
}

var ruleLevels = []Level{LevelReadOnly, LevelReadWrite, LevelReadWriteDelete}
var shareLevels = []Level{LevelReadOnly, LevelReadWrite, LevelFullAccess}

func (w *world) randRule(r *rand.Rand) SharingRule {
	w.nextRID++
	rule := SharingRule{ID: w.nextRID, Module: Modules[1+r.Intn(4)], Name: fmt.Sprintf("rule %d", w.nextRID),
		Target: w.randPrincipal(r), Level: ruleLevels[r.Intn(3)], SuperiorsAllowed: r.Intn(2) == 0}
	if r.Intn(2) == 0 {
		src := w.randPrincipal(r)
		rule.Source = &src
	} else {
		rule.Criteria = randCriteria(r)
	}
	return rule
}

// randGroups makes groups where group i may contain groups j < i, keeping
// every chain at most MaxGroupDepth long.
func (w *world) randGroups(r *rand.Rand, n int) {
	w.org.Groups = nil
	depth := map[int64]int{}
	for i := 0; i < n; i++ {
		g := Group{ID: int64(300 + i), Name: fmt.Sprintf("g%d", i)}
		d := 1
		for k := r.Intn(4); k >= 0; k-- {
			if i > 0 && r.Intn(2) == 0 {
				h := w.org.Groups[r.Intn(i)]
				if depth[h.ID]+1 <= MaxGroupDepth {
					g.Members = append(g.Members, GroupPrincipal(h.ID))
					d = max(d, depth[h.ID]+1)
					continue
				}
			}
			switch r.Intn(3) {
			case 0:
				g.Members = append(g.Members, User(w.org.Members[r.Intn(len(w.org.Members))].ID))
			case 1:
				g.Members = append(g.Members, RolePrincipal(w.org.Roles[r.Intn(len(w.org.Roles))].ID))
			default:
				g.Members = append(g.Members, RoleAndSubordinates(w.org.Roles[r.Intn(len(w.org.Roles))].ID))
			}
		}
		depth[g.ID] = d
		w.org.Groups = append(w.org.Groups, g)
	}
}

func randProfile(r *rand.Rand, id int64) Profile {
	p := Profile{ID: id, Name: fmt.Sprintf("p%d", id), Modules: map[Module]PermissionSet{}}
	for _, m := range Modules {
		var ps PermissionSet
		if r.Intn(6) != 0 {
			ps = ps.With(PermView)
		}
		for _, q := range []Permission{PermCreate, PermEdit, PermDelete, PermShare, PermChangeOwner} {
			if r.Intn(2) == 0 {
				ps = ps.With(q)
			}
		}
		if r.Intn(8) != 0 {
			p.Modules[m] = ps
		}
	}
	return p
}

func (w *world) randManager(r *rand.Rand, m Member) int64 {
	var cands []int64
	for _, o := range w.org.Members {
		if o.ID != m.ID && w.roleAbove(o.RoleID, m.RoleID) {
			cands = append(cands, o.ID)
		}
	}
	if len(cands) == 0 || r.Intn(4) == 0 {
		return 0
	}
	return cands[r.Intn(len(cands))]
}

func newWorld(r *rand.Rand) *world {
	w := &world{records: map[RecordRef]*oRecord{}, shares: map[RecordRef]map[Principal]Share{}, nextRID: 500}
	// Record ids: sometimes near the top of the 32-bit range.
	w.nextID = int64(1 + r.Intn(1000))
	if r.Intn(5) == 0 {
		w.nextID = math.MaxUint32 - 200
	}
	w.org.OrgID = 1
	if r.Intn(2) == 0 {
		w.org.HierarchyMode = HierarchyReporting
	}
	nRoles := 1 + r.Intn(8)
	for i := 0; i < nRoles; i++ {
		role := Role{ID: int64(100 + i), Name: fmt.Sprintf("r%d", i), ShareWithPeers: r.Intn(3) == 0}
		if i > 0 {
			role.ParentID = int64(100 + r.Intn(i))
		}
		w.org.Roles = append(w.org.Roles, role)
	}
	w.org.Profiles = []Profile{{ID: 1, Name: "Administrator", Administrator: true}}
	for i := 0; i < 3; i++ {
		w.org.Profiles = append(w.org.Profiles, randProfile(r, int64(2+i)))
	}
	nMembers := 2 + r.Intn(9)
	for i := 0; i < nMembers; i++ {
		m := Member{ID: int64(10 + i), Name: fmt.Sprintf("m%d", i), RoleID: w.org.Roles[r.Intn(nRoles)].ID,
			ProfileID: int64(2 + r.Intn(3)), Active: r.Intn(10) != 0}
		if r.Intn(10) == 0 {
			m.ProfileID = 1
		}
		w.org.Members = append(w.org.Members, m)
	}
	for i := range w.org.Members {
		w.org.Members[i].ReportsToID = w.randManager(r, w.org.Members[i])
	}
	w.randGroups(r, r.Intn(6))
	w.org.Defaults = map[Module]Level{}
	for _, m := range Modules {
		if r.Intn(5) == 0 {
			w.org.Defaults[m] = Level(1 + r.Intn(3))
		}
	}
	for n := r.Intn(6); n > 0; n-- {
		w.org.Rules = append(w.org.Rules, w.randRule(r))
	}
	for n := 8 + r.Intn(16); n > 0; n-- {
		w.newRecord(r)
	}
	for n := r.Intn(8); n > 0; n-- {
		w.randShare(r)
	}
	return w
}

func (w *world) refs(mods ...Module) []RecordRef {
	var out []RecordRef
	for ref := range w.records {
		if len(mods) == 0 || slices.Contains(mods, ref.Module) {
			out = append(out, ref)
		}
	}
	slices.SortFunc(out, func(a, b RecordRef) int { return int(a.ID - b.ID) })
	return out
}

func (w *world) randParent(r *rand.Rand, m Module) *RecordRef {
	var cands []RecordRef
	switch m {
	case Contacts, Deals:
		cands = w.refs(Accounts)
	case Tasks:
		cands = w.refs(Accounts, Contacts, Deals, Leads)
	}
	if len(cands) == 0 || r.Intn(3) == 0 {
		return nil
	}
	p := cands[r.Intn(len(cands))]
	return &p
}

// randOwner is a member, now and then an id that is no member of the org
// (a membership removed while its records stay).
func (w *world) randOwner(r *rand.Rand) int64 {
	if r.Intn(15) == 0 {
		return 77777
	}
	return w.org.Members[r.Intn(len(w.org.Members))].ID
}

func (w *world) newRecord(r *rand.Rand) *oRecord {
	m := Modules[r.Intn(len(Modules))]
	x := &oRecord{ref: RecordRef{m, w.nextID}, owner: w.randOwner(r), fields: randFields(r)}
	w.nextID += int64(1 + r.Intn(3))
	x.parent = w.randParent(r, m)
	w.records[x.ref] = x
	return x
}

func (w *world) randShare(r *rand.Rand) (Share, bool) {
	refs := w.refs()
	if len(refs) == 0 {
		return Share{}, false
	}
	ref := refs[r.Intn(len(refs))]
	sh := Share{Module: ref.Module, RecordID: ref.ID, Principal: w.randPrincipal(r), Level: shareLevels[r.Intn(3)],
		IncludeRelated: r.Intn(2) == 0}
	if w.shares[ref] == nil {
		w.shares[ref] = map[Principal]Share{}
	}
	w.shares[ref][sh.Principal] = sh
	return sh, true
}

func (w *world) indexed(snap *Snapshot, x *oRecord) IndexedRecord {
	return IndexedRecord{Module: x.ref.Module, ID: x.ref.ID, OwnerID: x.owner, Parent: x.parent,
		MatchingRules: snap.MatchingRules(x.ref.Module, x.fields)}
}

func (w *world) buildIndex(t *testing.T, snap *Snapshot) *Index {
	ix := NewIndex()
	for _, ref := range w.refs() {
		if err := ix.UpsertRecord(w.indexed(snap, w.records[ref])); err != nil {
			t.Fatal(err)
		}
	}
	for _, ref := range w.refs() {
		for _, sh := range w.shares[ref] {
			if err := ix.AddShare(sh); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ix
}

func (w *world) ruleMatches(r *SharingRule) *roaring.Bitmap {
	b := roaring.New()
	for ref, x := range w.records {
		if ref.Module == r.Module && MatchCriteria(r.Criteria, x.fields) {
			b.Add(uint32(ref.ID))
		}
	}
	return b
}

// check compares engine and oracle for every member (and a stranger) and
// every record.
func (w *world) check(t *testing.T, snap *Snapshot, ix *Index, step string) bool {
	t.Helper()
	viewers := []int64{999999}
	for _, m := range w.org.Members {
		viewers = append(viewers, m.ID)
	}
	refs := w.refs()
	for _, v := range viewers {
		for _, m := range Modules {
			vs := snap.VisibleSet(ix, v, m)
			reads := uint64(0)
			for _, ref := range refs {
				if ref.Module != m {
					continue
				}
				x := w.records[ref]
				wantLevel, wantPerms := w.oracle(v, x)
				if wantPerms.Read {
					reads++
				}
				bruteFacts := w.bruteFacts(x)
				bruteLevel, brutePerms := snap.Access(v, bruteFacts)
				facts, ok := ix.Facts(ref.Module, ref.ID)
				if !ok {
					t.Errorf("%s: %s missing from the index", step, ref)
					return false
				}
				lvl, perms := snap.Access(v, facts)
				// Explain runs the same evaluation as Access, plus words: check
				// it on a sample to keep the test fast.
				explainLevel, explainPerms := wantLevel, wantPerms
				if w.sample++; w.sample%5 == 0 {
					e := snap.Explain(v, facts)
					explainLevel, explainPerms = e.Level, e.Permissions
				}
				if bruteLevel != wantLevel || brutePerms != wantPerms || lvl != wantLevel || perms != wantPerms ||
					explainLevel != wantLevel || explainPerms != wantPerms || vs.Contains(ref.ID) != wantPerms.Read {
					t.Errorf("%s: viewer %d, record %s (owner %d, parent %v, fields %v): oracle %s %+v; brute %s; index %s; visible %v",
						step, v, ref, x.owner, x.parent, x.fields, wantLevel, wantPerms,
						describe(snap.Explain(v, bruteFacts)), describe(snap.Explain(v, facts)), vs.Contains(ref.ID))
					return false
				}
			}
			if !vs.All && vs.IDs.GetCardinality() != reads {
				t.Errorf("%s: viewer %d, %s: visible set has %d ids, %d records are readable (phantom ids)", step, v, m, vs.IDs.GetCardinality(), reads)
				return false
			}
		}
	}
	return true
}

func describe(e Explanation) string {
	s := fmt.Sprintf("%s %+v [", e.Level, e.Permissions)
	for _, g := range e.Grants {
		s += fmt.Sprintf(" %s/%s/%s", g.Source, g.Level, g.Via)
	}
	return s + " ] " + e.Note
}

func TestRandomDifferential(t *testing.T) {
	orgs, changes := 300, 30
	if raceEnabled {
		orgs = 80
	}
	if testing.Short() {
		orgs = 40
	}
	r := rand.New(rand.NewSource(20240601))
	states := 0
	defer func(v, a int) { complementMinOwners, aggMinMembers = v, a }(complementMinOwners, aggMinMembers)
	for o := 0; o < orgs; o++ {
		// Odd orgs take the complement path of VisibleSet whenever most
		// owners are visible; even ones always union owner bitmaps.
		complementMinOwners = 1 << 30
		if o%2 == 1 {
			complementMinOwners = 1
		}
		// Orgs o%3 == 1 bind the hierarchy layer with every subtree
		// aggregated and rebind it on every new snapshot; o%3 == 2 bind it
		// with subtrees of 2+ members and leave it stale now and then (the
		// fallback path); o%3 == 0 never bind it.
		layer := o % 3
		aggMinMembers = layer
		w := newWorld(r)
		snap, err := NewSnapshot(w.org)
		if err != nil {
			t.Fatalf("org %d: %v", o, err)
		}
		ix := w.buildIndex(t, snap)
		for _, rule := range w.org.Rules {
			if rule.Criteria != nil {
				if err := ix.SetRuleMatches(rule.ID, rule.Module, w.ruleMatches(&rule)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if layer > 0 {
			ix.BindHierarchy(snap)
		}
		if !w.check(t, snap, ix, fmt.Sprintf("org %d initial", o)) {
			return
		}
		for c := 0; c < changes; c++ {
			what, resnap := w.change(t, r, snap, ix)
			if resnap {
				if snap, err = NewSnapshot(w.org); err != nil {
					t.Fatalf("org %d change %d (%s): %v", o, c, what, err)
				}
				if layer == 1 || (layer == 2 && r.Intn(3) > 0) {
					ix.BindHierarchy(snap)
				}
			}
			states++
			step := fmt.Sprintf("org %d change %d (%s)", o, c, what)
			if !w.check(t, snap, ix, step) || !checkLayer(t, ix, step) {
				return
			}
		}
		// The incremental index equals one built from scratch, and survives
		// serialization and cloning.
		fresh := w.buildIndex(t, snap)
		for _, rule := range w.org.Rules {
			if rule.Criteria != nil {
				_ = fresh.SetRuleMatches(rule.ID, rule.Module, w.ruleMatches(&rule))
			}
		}
		a, _ := ix.MarshalBinary()
		b, _ := fresh.MarshalBinary()
		_ = b // owner codes may be numbered differently; compare by content below
		assertSameIndex(t, fmt.Sprintf("org %d incremental vs fresh", o), ix, fresh)
		back := NewIndex()
		if err := back.UnmarshalBinary(a); err != nil {
			t.Fatalf("org %d: unmarshal: %v", o, err)
		}
		c, _ := back.MarshalBinary()
		if !bytes.Equal(a, c) {
			t.Fatalf("org %d: marshal round trip differs", o)
		}
		assertSameIndex(t, fmt.Sprintf("org %d round trip", o), ix, back)
		assertSameIndex(t, fmt.Sprintf("org %d clone", o), ix, ix.Clone())
		if !checkLayer(t, ix.Clone(), fmt.Sprintf("org %d clone", o)) {
			return
		}
		if !w.check(t, snap, back, fmt.Sprintf("org %d after round trip", o)) {
			return
		}
	}
	t.Logf("%d orgs, %d states checked", orgs, states)
}

// checkLayer verifies that every aggregate of the hierarchy layer holds
// exactly the records owned in its subtree.
func checkLayer(t *testing.T, ix *Index, step string) bool {
	t.Helper()
	h := ix.hier
	if h == nil {
		return true
	}
	f := &h.snap.forest
	for mi := range ix.mods {
		md := &ix.mods[mi]
		for node, slot := range h.aggNode {
			if slot < 0 {
				continue
			}
			want := roaring.New()
			for _, m := range f.order[f.start[node]:f.end[node]] {
				if c, ok := ix.ownerCode[h.snap.members[m].ID]; ok && int(c) < len(md.byOwner) && md.byOwner[c] != nil {
					want.Or(md.byOwner[c])
				}
			}
			got := h.aggs[mi][slot]
			if got == nil {
				got = roaring.New()
			}
			if !got.Equals(want) {
				t.Errorf("%s: %s: aggregate of node %d has %v, want %v", step, Modules[mi], node, got, want)
				return false
			}
		}
	}
	return true
}

// assertSameIndex compares two indexes by content (owner codes aside).
func assertSameIndex(t *testing.T, what string, a, b *Index) {
	t.Helper()
	for mi, m := range Modules {
		ma, mb := &a.mods[mi], &b.mods[mi]
		if !ma.all.Equals(mb.all) || ma.recs.len() != mb.recs.len() || ma.ownersWithRecs != mb.ownersWithRecs {
			t.Fatalf("%s: %s: records differ", what, m)
		}
		it := ma.all.Iterator()
		for it.HasNext() {
			id := int64(it.Next())
			ra, _ := a.Record(m, id)
			rb, _ := b.Record(m, id)
			if ra.OwnerID != rb.OwnerID || fmt.Sprint(ra.Parent) != fmt.Sprint(rb.Parent) || !slices.Equal(ra.MatchingRules, rb.MatchingRules) {
				t.Fatalf("%s: %s/%d: %+v vs %+v", what, m, id, ra, rb)
			}
			sa, sb := a.Shares(m, id), b.Shares(m, id)
			cmpShare := func(x, y Share) int {
				return int(x.Principal.ID-y.Principal.ID)*8 + int(x.Principal.Type) - int(y.Principal.Type)
			}
			slices.SortFunc(sa, cmpShare)
			slices.SortFunc(sb, cmpShare)
			if !slices.Equal(sa, sb) {
				t.Fatalf("%s: %s/%d shares: %v vs %v", what, m, id, sa, sb)
			}
		}
		for _, pair := range []struct {
			name string
			x, y map[Principal]*roaring.Bitmap
		}{{"byShare", ma.byShare, mb.byShare}, {"byRelated", ma.byRelated, mb.byRelated}} {
			if len(pair.x) != len(pair.y) {
				t.Fatalf("%s: %s %s: %d vs %d grantees", what, m, pair.name, len(pair.x), len(pair.y))
			}
			for p, bm := range pair.x {
				if !bm.Equals(pair.y[p]) {
					t.Fatalf("%s: %s %s %v differ", what, m, pair.name, p)
				}
			}
		}
		if len(ma.byRule) != len(mb.byRule) {
			t.Fatalf("%s: %s rules: %d vs %d", what, m, len(ma.byRule), len(mb.byRule))
		}
		for id, bm := range ma.byRule {
			if !bm.Equals(mb.byRule[id]) {
				t.Fatalf("%s: %s rule %d differs", what, m, id)
			}
		}
	}
}

// change applies one random change to the world and the index; it reports
// what it did and whether the snapshot must be rebuilt.
func (w *world) change(t *testing.T, r *rand.Rand, snap *Snapshot, ix *Index) (string, bool) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	refs := w.refs()
	switch k := r.Intn(100); {
	case k < 30 && len(refs) > 0: // update a record: owner, fields, parent
		x := w.records[refs[r.Intn(len(refs))]]
		what := "update " + x.ref.String()
		if r.Intn(2) == 0 {
			x.owner = w.randOwner(r)
			what += " owner"
		}
		if r.Intn(2) == 0 {
			x.fields = randFields(r)
			what += " fields"
		}
		if r.Intn(3) == 0 {
			if p := w.randParent(r, x.ref.Module); p == nil || *p != x.ref {
				x.parent = p
				what += " parent"
			}
		}
		must(ix.UpsertRecord(w.indexed(snap, x)))
		return what, false
	case k < 40: // new record
		x := w.newRecord(r)
		must(ix.UpsertRecord(w.indexed(snap, x)))
		return "create " + x.ref.String(), false
	case k < 48 && len(refs) > 0: // delete a record
		ref := refs[r.Intn(len(refs))]
		delete(w.records, ref)
		delete(w.shares, ref)
		ok, err := ix.DeleteRecord(ref.Module, ref.ID)
		must(err)
		if !ok {
			t.Fatalf("delete %s: not indexed", ref)
		}
		return "delete " + ref.String(), false
	case k < 62: // add or replace a share
		sh, ok := w.randShare(r)
		if !ok {
			return "nothing", false
		}
		must(ix.AddShare(sh))
		return fmt.Sprintf("share %s/%d to %s at %s related=%v", sh.Module, sh.RecordID, sh.Principal, sh.Level, sh.IncludeRelated), false
	case k < 70: // revoke a share
		for _, ref := range refs {
			for p := range w.shares[ref] {
				delete(w.shares[ref], p)
				ok, err := ix.RemoveShare(ref.Module, ref.ID, p)
				must(err)
				if !ok {
					t.Fatalf("revoke %s %s: not indexed", ref, p)
				}
				return fmt.Sprintf("revoke %s from %s", ref, p), false
			}
		}
		return "nothing", false
	case k < 78: // add a rule
		rule := w.randRule(r)
		w.org.Rules = append(w.org.Rules, rule)
		if rule.Criteria != nil {
			must(ix.SetRuleMatches(rule.ID, rule.Module, w.ruleMatches(&rule)))
		}
		return fmt.Sprintf("add rule %d", rule.ID), true
	case k < 84 && len(w.org.Rules) > 0: // drop a rule
		i := r.Intn(len(w.org.Rules))
		rule := w.org.Rules[i]
		w.org.Rules = slices.Delete(w.org.Rules, i, i+1)
		ix.DropRule(rule.ID)
		return fmt.Sprintf("drop rule %d", rule.ID), true
	case k < 90: // a member changes: status, profile or role
		i := r.Intn(len(w.org.Members))
		m := &w.org.Members[i]
		switch r.Intn(3) {
		case 0:
			m.Active = !m.Active
		case 1:
			m.ProfileID = int64(1 + r.Intn(len(w.org.Profiles)))
		default:
			m.RoleID = w.org.Roles[r.Intn(len(w.org.Roles))].ID
			m.ReportsToID = w.randManager(r, *m)
			for j := range w.org.Members { // keep reporting lines valid
				o := &w.org.Members[j]
				if o.ReportsToID == m.ID && !w.roleAbove(m.RoleID, o.RoleID) {
					o.ReportsToID = 0
				}
			}
		}
		return fmt.Sprintf("member %d changes", m.ID), true
	case k < 94: // groups change
		w.randGroups(r, r.Intn(6))
		for i := 0; i < len(w.org.Rules); i++ { // rules and shares may name vanished groups
			if !w.principalExists(w.org.Rules[i].Target) || (w.org.Rules[i].Source != nil && !w.principalExists(*w.org.Rules[i].Source)) {
				ix.DropRule(w.org.Rules[i].ID)
				w.org.Rules = slices.Delete(w.org.Rules, i, i+1)
				i--
			}
		}
		return "groups change", true
	case k < 96: // an org default changes
		m := Modules[r.Intn(len(Modules))]
		w.org.Defaults[m] = Level(r.Intn(4))
		return "default of " + string(m), true
	case k < 98 && len(w.org.Members) > 2: // a membership is removed; its records stay
		i := r.Intn(len(w.org.Members))
		gone := w.org.Members[i].ID
		w.org.Members = slices.Delete(w.org.Members, i, i+1)
		for j := range w.org.Members {
			if w.org.Members[j].ReportsToID == gone {
				w.org.Members[j].ReportsToID = 0
			}
		}
		for j := range w.org.Groups {
			w.org.Groups[j].Members = slices.DeleteFunc(w.org.Groups[j].Members, func(p Principal) bool { return p == User(gone) })
		}
		for j := 0; j < len(w.org.Rules); j++ {
			if rl := w.org.Rules[j]; rl.Target == User(gone) || (rl.Source != nil && *rl.Source == User(gone)) {
				ix.DropRule(rl.ID)
				w.org.Rules = slices.Delete(w.org.Rules, j, j+1)
				j--
			}
		}
		return fmt.Sprintf("member %d removed", gone), true
	default: // hierarchy mode flips
		w.org.HierarchyMode = 1 - w.org.HierarchyMode
		return "hierarchy mode", true
	}
}

func (w *world) principalExists(p Principal) bool {
	if p.Type != PrincipalGroup {
		return true
	}
	for _, g := range w.org.Groups {
		if g.ID == p.ID {
			return true
		}
	}
	return false
}
