package access

import (
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// benchOrg: 2,000 members on a role tree of depth 6 with 3 children per role
// (364 roles), 200,000 deals with Zipf-skewed owners and ids spread as if
// other orgs interleaved on the global sequence, 40 owner-based rules, 10
// criteria rules, 20,000 shares, 50 groups.
type benchOrg struct {
	data                      OrgData
	snap                      *Snapshot
	ix                        *Index // hierarchy layer bound
	plain                     *Index // no hierarchy layer
	leaf, depth3, depth1, top int64
	ids                       []int64
	members                   []int64
	fields                    []map[string]any
}

var (
	benchOnce sync.Once
	bench     *benchOrg
)

func buildBenchOrg() *benchOrg {
	r := rand.New(rand.NewSource(1))
	org := OrgData{OrgID: 1, Version: 1}
	// Role tree, breadth first: depth d has 3^d roles.
	type rl struct {
		id    int64
		depth int
	}
	roles := []rl{{1, 0}}
	org.Roles = append(org.Roles, Role{ID: 1, Name: "CEO"})
	for i := 0; i < len(roles); i++ {
		if roles[i].depth == 5 {
			continue
		}
		for c := 0; c < 3; c++ {
			id := int64(len(roles) + 1)
			roles = append(roles, rl{id, roles[i].depth + 1})
			org.Roles = append(org.Roles, Role{ID: id, ParentID: roles[i].id, Name: fmt.Sprintf("role %d", id), ShareWithPeers: id%7 == 0})
		}
	}
	var leaves []int64
	for _, x := range roles {
		if x.depth == 5 {
			leaves = append(leaves, x.id)
		}
	}
	org.Profiles = []Profile{{ID: 1, Name: "Administrator", Administrator: true},
		{ID: 2, Name: "Standard", Modules: map[Module]PermissionSet{Deals: StandardPermissions, Accounts: StandardPermissions}}}
	b := &benchOrg{}
	// One member per non-leaf role, the rest on leaves.
	nextMember := int64(100000)
	roleOfDepth := map[int]int64{}
	for _, x := range roles {
		if x.depth < 5 {
			org.Members = append(org.Members, Member{ID: nextMember, RoleID: x.id, ProfileID: 2, Active: true})
			if _, ok := roleOfDepth[x.depth]; !ok {
				roleOfDepth[x.depth] = nextMember
			}
			nextMember++
		}
	}
	for len(org.Members) < 2000*benchScale() {
		org.Members = append(org.Members, Member{ID: nextMember, RoleID: leaves[r.Intn(len(leaves))], ProfileID: 2, Active: true})
		nextMember++
	}
	b.top, b.depth1, b.depth3 = roleOfDepth[0], roleOfDepth[1], roleOfDepth[3]
	b.leaf = org.Members[len(org.Members)-1].ID
	for _, m := range org.Members {
		b.members = append(b.members, m.ID)
	}
	randPrincipal := func() Principal {
		switch r.Intn(4) {
		case 0:
			return User(b.members[r.Intn(len(b.members))])
		case 1:
			return RolePrincipal(roles[r.Intn(len(roles))].id)
		case 2:
			return RoleAndSubordinates(roles[40+r.Intn(len(roles)-40)].id)
		default:
			return GroupPrincipal(int64(1 + r.Intn(50)))
		}
	}
	for g := 1; g <= 50; g++ {
		grp := Group{ID: int64(g), Name: fmt.Sprintf("group %d", g)}
		for k := 0; k < 10; k++ {
			if r.Intn(4) == 0 {
				grp.Members = append(grp.Members, RolePrincipal(roles[r.Intn(len(roles))].id))
			} else {
				grp.Members = append(grp.Members, User(b.members[r.Intn(len(b.members))]))
			}
		}
		org.Groups = append(org.Groups, grp)
	}
	for i := 1; i <= 40; i++ {
		src := randPrincipal()
		if src.Type == PrincipalRoleAndSubordinates || src.Type == PrincipalGroup {
			src = RolePrincipal(roles[r.Intn(len(roles))].id)
		}
		org.Rules = append(org.Rules, SharingRule{ID: int64(i), Module: Deals, Name: fmt.Sprintf("owner rule %d", i),
			Source: &src, Target: randPrincipal(), Level: LevelReadOnly, SuperiorsAllowed: i%3 == 0})
	}
	stages := []string{"Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"}
	for i := 41; i <= 50; i++ {
		c := &Criteria{Op: And, Conditions: []Condition{{Field: "stage", Op: OpEq, Value: stages[i%5]},
			{Field: "amount", Op: OpGt, Value: float64(50000 + 10000*(i%4))}}}
		org.Rules = append(org.Rules, SharingRule{ID: int64(i), Module: Deals, Name: fmt.Sprintf("criteria rule %d", i),
			Criteria: c, Target: randPrincipal(), Level: LevelReadWrite, SuperiorsAllowed: i%2 == 0})
	}
	snap, err := NewSnapshot(org)
	if err != nil {
		panic(err)
	}
	b.snap, b.data = snap, org
	b.ix = NewIndex()
	zipf := rand.NewZipf(r, 1.1, 20, uint64(len(b.members)-1))
	perm := r.Perm(len(b.members))
	id := int64(1000)
	for i := 0; i < 200000*benchScale(); i++ {
		id += int64(1 + r.Intn(9)) // other orgs' records interleave on the sequence
		f := map[string]any{"stage": stages[r.Intn(5)], "amount": float64(r.Intn(100) * 1000)}
		owner := b.members[perm[zipf.Uint64()]]
		if err := b.ix.UpsertRecord(IndexedRecord{Module: Deals, ID: id, OwnerID: owner, MatchingRules: snap.MatchingRules(Deals, f)}); err != nil {
			panic(err)
		}
		b.ids = append(b.ids, id)
		b.fields = append(b.fields, f)
	}
	for i := 0; i < 20000*benchScale(); i++ {
		sh := Share{Module: Deals, RecordID: b.ids[r.Intn(len(b.ids))], Level: shareLevels[r.Intn(3)]}
		if r.Intn(10) < 6 {
			sh.Principal = User(b.members[r.Intn(len(b.members))])
		} else {
			sh.Principal = randPrincipal()
		}
		if err := b.ix.AddShare(sh); err != nil {
			panic(err)
		}
	}
	b.plain = b.ix.Clone()
	b.ix.BindHierarchy(b.snap)
	return b
}

// benchScale multiplies the bench org's members, deals and shares:
// WARDEN_ACCESS_BENCH_SCALE=5 is the size of the bench's M org (10,000
// members, 1,000,000 deals); the default 1 is S.
func benchScale() int {
	if n, err := strconv.Atoi(os.Getenv("WARDEN_ACCESS_BENCH_SCALE")); err == nil && n > 0 {
		return n
	}
	return 1
}

func getBench(b *testing.B) *benchOrg {
	benchOnce.Do(func() { bench = buildBenchOrg() })
	return bench
}

func BenchmarkVisibleSet(b *testing.B) {
	o := getBench(b)
	for _, ix := range []struct {
		name string
		ix   *Index
	}{{"layer", o.ix}, {"nolayer", o.plain}} {
		for _, v := range []struct {
			name string
			id   int64
		}{{"leaf-rep", o.leaf}, {"depth3-manager", o.depth3}, {"depth1-manager", o.depth1}, {"top", o.top}} {
			b.Run(ix.name+"/"+v.name, func(b *testing.B) {
				b.ReportAllocs()
				var n uint64
				for b.Loop() {
					vs := o.snap.VisibleSet(ix.ix, v.id, Deals)
					n = vs.IDs.GetCardinality()
				}
				b.ReportMetric(float64(n), "visible")
				b.ReportMetric(float64(len(o.snap.VisibleOwnerSet(v.id, Deals))), "owners")
			})
		}
	}
}

// BenchmarkNewSnapshot: what every instance pays for an org-level change.
func BenchmarkNewSnapshot(b *testing.B) {
	o := getBench(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewSnapshot(o.data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRebindMoveRole: the hierarchy layer after a role (depth 4, with
// its leaf roles and their members) moves to another parent and back, as
// the Q6 moveRole change does; per op one move or one move back.
// BenchmarkRebuildMemberMoved: the snapshot after one member's role
// changed, built by Rebuild from the previous one (NewSnapshot is what
// BenchmarkNewSnapshot measures).
func BenchmarkRebuildMemberMoved(b *testing.B) {
	o := getBench(b)
	moved := o.data
	moved.Members = slices.Clone(o.data.Members)
	last := &moved.Members[len(moved.Members)-1]
	last.RoleID = moved.Roles[len(moved.Roles)/2].ID
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.snap.Rebuild(moved); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWithGroupsAndRules: the snapshot after a group or rule change.
func BenchmarkWithGroupsAndRules(b *testing.B) {
	o := getBench(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.snap.WithGroupsAndRules(o.data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRebindMoveRole(b *testing.B) {
	o := getBench(b)
	ix := o.ix.Clone()
	ix.BindHierarchy(o.snap)
	// Roles are numbered breadth first: 1 at depth 0, 2-4, 5-13, 14-40,
	// 41-121 at depth 4 (parents 14-40).
	moved := o.data
	moved.Roles = slices.Clone(o.data.Roles)
	for i, r := range moved.Roles {
		if r.ID == 121 {
			moved.Roles[i].ParentID = 14
		}
	}
	snaps := [2]*Snapshot{}
	for i, d := range []OrgData{moved, o.data} {
		s, err := NewSnapshot(d)
		if err != nil {
			b.Fatal(err)
		}
		snaps[i] = s
	}
	n := 0
	for b.Loop() {
		ix.BindHierarchy(snaps[n%2])
		n++
	}
}

func BenchmarkBindHierarchy(b *testing.B) {
	o := getBench(b)
	ix := o.plain.Clone()
	for b.Loop() {
		ix.BindHierarchy(nil)
		ix.BindHierarchy(o.snap)
	}
}

func BenchmarkUpsertRecord(b *testing.B) {
	o := getBench(b)
	ix := o.ix.Clone()
	r := rand.New(rand.NewSource(2))
	b.ReportAllocs()
	for b.Loop() {
		k := r.Intn(len(o.ids))
		f := o.fields[k]
		if r.Intn(2) == 0 {
			f = map[string]any{"stage": "Negotiation", "amount": float64(r.Intn(100) * 1000)}
		}
		err := ix.UpsertRecord(IndexedRecord{Module: Deals, ID: o.ids[k], OwnerID: o.members[r.Intn(len(o.members))],
			MatchingRules: o.snap.MatchingRules(Deals, f)})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAccess(b *testing.B) {
	o := getBench(b)
	facts, _ := o.ix.Facts(Deals, o.ids[12345])
	b.ReportAllocs()
	for b.Loop() {
		o.snap.Access(o.depth3, facts)
	}
}

func BenchmarkIndexUnmarshal(b *testing.B) {
	o := getBench(b)
	data, err := o.ix.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(data)), "bytes")
	b.ReportMetric(float64(o.ix.SizeBytes()), "heap-bytes")
	for b.Loop() {
		if err := NewIndex().UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}
