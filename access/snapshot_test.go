package access_test

import (
	"math"
	"slices"
	"testing"

	"warden/access"
	"warden/access/scenariotest"
)

func loadScenario(t *testing.T, name string) (*scenariotest.Scenario, *access.Snapshot, *access.Index) {
	t.Helper()
	sc, err := scenariotest.Load(scenarioDir + "/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := sc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ix, err := sc.Index(snap)
	if err != nil {
		t.Fatal(err)
	}
	return sc, snap, ix
}

func TestHierarchyAndPrincipals(t *testing.T) {
	sc, snap, _ := loadScenario(t, "nested-group-rule")
	id := func(names ...string) []int64 {
		out := []int64{}
		for _, n := range names {
			out = append(out, sc.MemberIDs[n])
		}
		slices.Sort(out)
		return out
	}
	eq := func(what string, got, want []int64) {
		t.Helper()
		if got == nil {
			got = []int64{}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	eq("superiors of r1", snap.Superiors(sc.MemberIDs["r1"]), id("m1", "m2", "ceo"))
	eq("subordinates of m1", snap.Subordinates(sc.MemberIDs["m1"]), id("r1", "r2", "r3", "r4"))
	eq("subordinates of kl", snap.Subordinates(sc.MemberIDs["kl"]), id("k1", "admin"))
	eq("peers of r1 (no shareWithPeers)", snap.Peers(sc.MemberIDs["r1"]), id())
	eq("group outer", snap.MembersOf(access.GroupPrincipal(sc.GroupIDs["outer"])), id("k1", "r3"))
	eq("role and subordinates mgr", snap.MembersOf(access.RoleAndSubordinates(sc.RoleIDs["mgr"])), id("m1", "m2", "r1", "r2", "r3", "r4"))
	eq("role mgr", snap.MembersOf(access.RolePrincipal(sc.RoleIDs["mgr"])), id("m1", "m2"))

	k1 := sc.MemberIDs["k1"]
	want := []access.Principal{access.User(k1), access.RolePrincipal(sc.RoleIDs["mkt"]),
		access.RoleAndSubordinates(sc.RoleIDs["mkt"]), access.RoleAndSubordinates(sc.RoleIDs["mktlead"]),
		access.RoleAndSubordinates(sc.RoleIDs["ceo"]), access.GroupPrincipal(sc.GroupIDs["inner"]),
		access.GroupPrincipal(sc.GroupIDs["outer"])}
	got := snap.PrincipalsOf(k1)
	for _, p := range want {
		if !slices.Contains(got, p) || !snap.IsMemberOf(k1, p) {
			t.Errorf("k1 should belong to %v (principals %v)", p, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("k1 principals: got %v, want %v", got, want)
	}
	if snap.IsSuperior(sc.MemberIDs["m1"], sc.MemberIDs["m2"]) || !snap.IsSuperior(sc.MemberIDs["m2"], sc.MemberIDs["r1"]) {
		t.Error("ROLE mode: same-role managers are not superiors; any higher role is")
	}

	// REPORTING mode: only the chain of managers.
	sc2, snap2, _ := loadScenario(t, "reporting-hierarchy")
	if got := snap2.Superiors(sc2.MemberIDs["r1"]); !slices.Equal(got, []int64{sc2.MemberIDs["ceo"], sc2.MemberIDs["m1"]}) {
		t.Errorf("REPORTING superiors of r1: %v", got)
	}
	if snap2.IsSuperior(sc2.MemberIDs["m2"], sc2.MemberIDs["r1"]) || !snap2.IsSuperior(sc2.MemberIDs["ceo"], sc2.MemberIDs["r1"]) {
		t.Error("REPORTING: superiors are the transitive managers only")
	}
	sc3, snap3, _ := loadScenario(t, "share-with-peers")
	if got := snap3.Peers(sc3.MemberIDs["r1"]); len(got) != 3 || slices.Contains(got, sc3.MemberIDs["r1"]) {
		t.Errorf("peers of r1: %v", got)
	}
}

func grantSources(e access.Explanation) []string {
	var out []string
	for _, g := range e.Grants {
		out = append(out, g.Source.String())
	}
	return out
}

func TestExplainGrants(t *testing.T) {
	type tc struct {
		scenario, member, record string
		sources                  []string
		check                    func(t *testing.T, sc *scenariotest.Scenario, e access.Explanation)
	}
	tests := []tc{
		{"share-with-peers", "r2", "DEALS/d1", []string{"PEER"}, func(t *testing.T, sc *scenariotest.Scenario, e access.Explanation) {
			if e.Grants[0].MemberID != sc.MemberIDs["r1"] || e.Grants[0].Via != "peer of r1 in role Sales Rep" {
				t.Errorf("peer grant: %+v", e.Grants[0])
			}
		}},
		{"share-with-peers", "r1", "DEALS/d1", []string{"OWNER"}, nil},
		{"role-hierarchy", "ceo", "DEALS/d1", []string{"HIERARCHY"}, func(t *testing.T, sc *scenariotest.Scenario, e access.Explanation) {
			if e.Grants[0].Via != "role CEO above role Sales Rep" {
				t.Errorf("via: %q", e.Grants[0].Via)
			}
		}},
		{"reporting-hierarchy", "ceo", "DEALS/d1", []string{"HIERARCHY"}, func(t *testing.T, sc *scenariotest.Scenario, e access.Explanation) {
			if e.Grants[0].Via != "manager of r1 through m1" {
				t.Errorf("via: %q", e.Grants[0].Via)
			}
		}},
		{"criteria-superiors", "kl", "DEALS/d1", []string{"SHARING_RULE"}, func(t *testing.T, sc *scenariotest.Scenario, e access.Explanation) {
			g := e.Grants[0]
			if !g.ThroughSuperiors || g.MemberID != sc.MemberIDs["k1"] || g.RuleID != sc.RuleIDs["big-deals"] || g.Level != access.LevelReadOnly {
				t.Errorf("rule grant: %+v", g)
			}
		}},
		{"criteria-superiors", "k1", "DEALS/d3", []string{"SHARING_RULE"}, func(t *testing.T, sc *scenariotest.Scenario, e access.Explanation) {
			if e.Grants[0].ThroughSuperiors {
				t.Errorf("k1 is the target itself: %+v", e.Grants[0])
			}
		}},
		{"record-shares", "k1", "CONTACTS/c1", []string{"RELATED_SHARE"}, func(t *testing.T, sc *scenariotest.Scenario, e access.Explanation) {
			g := e.Grants[0]
			if g.Record == nil || g.Record.ID != sc.RecordIDs["ACCOUNTS/acme"] || g.Principal != access.RoleAndSubordinates(sc.RoleIDs["mkt"]) {
				t.Errorf("related grant: %+v", g)
			}
		}},
		{"record-shares", "r1", "DEALS/d3", []string{"RECORD_SHARE"}, nil},
		{"record-shares", "admin", "DEALS/d1", []string{"ADMINISTRATOR", "RELATED_SHARE"}, nil},
		{"org-defaults", "r1", "DEALS/d2", []string{"ORG_DEFAULT"}, nil},
		{"profile-caps", "m2", "DEALS/d1", []string{"HIERARCHY"}, func(t *testing.T, sc *scenariotest.Scenario, e access.Explanation) {
			if e.Permissions != (access.Permissions{}) || e.Note == "" {
				t.Errorf("no view: %+v", e)
			}
		}},
		{"role-hierarchy", "k1", "DEALS/d1", nil, nil},
	}
	for _, c := range tests {
		t.Run(c.scenario+"/"+c.member+"/"+c.record, func(t *testing.T) {
			sc, snap, ix := loadScenario(t, c.scenario)
			rec, _ := sc.Record(c.record)
			facts, _ := ix.Facts(rec.Module, rec.ID)
			e := snap.Explain(sc.MemberIDs[c.member], facts)
			if !slices.Equal(grantSources(e), c.sources) {
				t.Fatalf("grants: got %v, want %v", grantSources(e), c.sources)
			}
			for _, g := range e.Grants {
				if g.Via == "" {
					t.Errorf("grant without words: %+v", g)
				}
			}
			if c.check != nil {
				c.check(t, sc, e)
			}
		})
	}
}

func TestInactiveAndUnknownViewersFailClosed(t *testing.T) {
	sc, err := scenariotest.Load(scenarioDir + "/role-hierarchy.json")
	if err != nil {
		t.Fatal(err)
	}
	for i := range sc.Org.Members {
		if sc.Org.Members[i].ID == sc.MemberIDs["ceo"] {
			sc.Org.Members[i].Active = false
		}
	}
	snap, _ := sc.Snapshot()
	ix, _ := sc.Index(snap)
	rec, _ := sc.Record("DEALS/d1")
	facts, _ := ix.Facts(rec.Module, rec.ID)
	for _, v := range []int64{sc.MemberIDs["ceo"], 424242} {
		e := snap.Explain(v, facts)
		if e.Level != access.LevelNone || len(e.Grants) != 0 || e.Note == "" {
			t.Errorf("viewer %d: %+v", v, e)
		}
		vs := snap.VisibleSet(ix, v, access.Deals)
		if vs.All || !vs.IDs.IsEmpty() {
			t.Errorf("viewer %d sees %v", v, vs)
		}
		if snap.FieldAccess(v, access.Deals, "amount") != access.FieldHidden || snap.Can(v, access.Deals, access.PermView) {
			t.Errorf("viewer %d keeps profile rights", v)
		}
	}
	// The inactive ceo's own records stay governed by the rules: m1 still
	// sees d4 as its owner, and the ceo's subordinates nothing new.
	if !snap.VisibleSet(ix, sc.MemberIDs["m1"], access.Deals).Contains(sc.RecordIDs["DEALS/d4"]) {
		t.Error("m1 lost its own record")
	}
}

func TestNewSnapshotRejects(t *testing.T) {
	base := func() access.OrgData {
		return access.OrgData{
			Roles:    []access.Role{{ID: 1, Name: "top"}, {ID: 2, ParentID: 1, Name: "mid"}},
			Profiles: []access.Profile{{ID: 1, Name: "Administrator", Administrator: true}},
			Members:  []access.Member{{ID: 10, RoleID: 1, ProfileID: 1, Active: true}, {ID: 11, RoleID: 2, ProfileID: 1, ReportsToID: 10, Active: true}},
			Groups:   []access.Group{{ID: 20, Members: []access.Principal{access.User(10)}}},
		}
	}
	if _, err := access.NewSnapshot(base()); err != nil {
		t.Fatalf("base org: %v", err)
	}
	src := access.User(10)
	tests := []struct {
		name   string
		break_ func(o *access.OrgData)
	}{
		{"unknown parent role", func(o *access.OrgData) { o.Roles[1].ParentID = 9 }},
		{"role cycle", func(o *access.OrgData) { o.Roles[0].ParentID = 2 }},
		{"duplicate role", func(o *access.OrgData) { o.Roles[1].ID = 1 }},
		{"unknown member role", func(o *access.OrgData) { o.Members[0].RoleID = 9 }},
		{"unknown profile", func(o *access.OrgData) { o.Members[0].ProfileID = 9 }},
		{"unknown manager", func(o *access.OrgData) { o.Members[1].ReportsToID = 99 }},
		{"reporting cycle", func(o *access.OrgData) { o.Members[0].ReportsToID = 11 }},
		{"duplicate member", func(o *access.OrgData) { o.Members[1].ID = 10 }},
		{"unknown group member", func(o *access.OrgData) { o.Groups[0].Members = append(o.Groups[0].Members, access.User(99)) }},
		{"group cycle", func(o *access.OrgData) {
			o.Groups = append(o.Groups, access.Group{ID: 21, Members: []access.Principal{access.GroupPrincipal(20)}})
			o.Groups[0].Members = append(o.Groups[0].Members, access.GroupPrincipal(21))
		}},
		{"rule with source and criteria", func(o *access.OrgData) {
			o.Rules = []access.SharingRule{{ID: 1, Module: access.Deals, Source: &src, Criteria: &access.Criteria{Op: access.And},
				Target: src, Level: access.LevelReadOnly}}
		}},
		{"rule with neither", func(o *access.OrgData) {
			o.Rules = []access.SharingRule{{ID: 1, Module: access.Deals, Target: src, Level: access.LevelReadOnly}}
		}},
		{"rule at full access", func(o *access.OrgData) {
			o.Rules = []access.SharingRule{{ID: 1, Module: access.Deals, Source: &src, Target: src, Level: access.LevelFullAccess}}
		}},
		{"rule to unknown group", func(o *access.OrgData) {
			o.Rules = []access.SharingRule{{ID: 1, Module: access.Deals, Source: &src, Target: access.GroupPrincipal(99), Level: access.LevelReadOnly}}
		}},
		{"default full access", func(o *access.OrgData) {
			o.Defaults = map[access.Module]access.Level{access.Deals: access.LevelFullAccess}
		}},
		{"unknown module default", func(o *access.OrgData) { o.Defaults = map[access.Module]access.Level{"INVOICES": access.LevelReadOnly} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			tc.break_(&o)
			if _, err := access.NewSnapshot(o); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestValidators(t *testing.T) {
	sc, snap, _ := loadScenario(t, "nested-group-rule")
	m, r, g := sc.MemberIDs, sc.RoleIDs, sc.GroupIDs
	groups := sc.Org.Groups
	chain := func(n int) []access.Group { // g1 contains g2 ... contains gn
		var out []access.Group
		for i := 1; i <= n; i++ {
			grp := access.Group{ID: int64(i), Name: "g"}
			if i < n {
				grp.Members = []access.Principal{access.GroupPrincipal(int64(i + 1))}
			}
			out = append(out, grp)
		}
		return out
	}
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"group: nesting a group in its member is a cycle",
			access.ValidateGroupNesting(groups, g["inner"], []access.Principal{access.GroupPrincipal(g["outer"])}), access.CodeConflict},
		{"group: self", snap.ValidateGroup(g["inner"], []access.Principal{access.GroupPrincipal(g["inner"])}), access.CodeConflict},
		{"group: fine", snap.ValidateGroup(g["inner"], []access.Principal{access.User(m["r1"]), access.RolePrincipal(r["rep"])}), ""},
		{"group: unknown member", snap.ValidateGroup(g["inner"], []access.Principal{access.User(999)}), access.CodeNotFound},
		{"group: chain of 5 is allowed", access.ValidateGroupNesting(chain(4), 0, []access.Principal{access.GroupPrincipal(1)}), ""},
		{"group: chain of 6 is not", access.ValidateGroupNesting(chain(5), 0, []access.Principal{access.GroupPrincipal(1)}), access.CodeLimitExceeded},
		{"group: unknown nested group", access.ValidateGroupNesting(chain(3), 3, []access.Principal{access.GroupPrincipal(4)}), access.CodeNotFound},
		{"group: lengthening a chain of 5 at its end", access.ValidateGroupNesting(append(chain(5), access.Group{ID: 6}), 5,
			[]access.Principal{access.GroupPrincipal(6)}), access.CodeLimitExceeded},
		{"group: editing the middle of a chain of 5", access.ValidateGroupNesting(chain(5), 3,
			[]access.Principal{access.GroupPrincipal(4), access.User(1)}), ""},
		{"role move: under own child", snap.ValidateRoleMove(r["mgr"], r["rep"]), access.CodeConflict},
		{"role move: under itself", snap.ValidateRoleMove(r["mgr"], r["mgr"]), access.CodeConflict},
		{"role move: second top", snap.ValidateRoleMove(r["mgr"], 0), access.CodeConflict},
		{"role move: sideways breaks reporting lines", snap.ValidateRoleMove(r["rep"], r["mktlead"]), access.CodeConflict},
		{"role move: unknown", snap.ValidateRoleMove(999, r["ceo"]), access.CodeNotFound},
		{"role move: k1's manager kl would no longer be above", snap.ValidateRoleMove(r["mkt"], r["ceo"]), access.CodeConflict},
		{"role move: fine", snap.ValidateRoleMove(r["mktlead"], r["mgr"]), ""},
		{"reports to: a higher role", snap.ValidateReportsTo(m["r1"], m["ceo"]), ""},
		{"reports to: same role", snap.ValidateReportsTo(m["r1"], m["r2"]), access.CodeBadUserInput},
		{"reports to: a lower role", snap.ValidateReportsTo(m["m1"], m["r1"]), access.CodeBadUserInput},
		{"reports to: other branch", snap.ValidateReportsTo(m["k1"], m["m1"]), access.CodeBadUserInput},
		{"reports to: none", snap.ValidateReportsTo(m["k1"], 0), ""},
		{"member role: above its manager", snap.ValidateMemberRole(m["r1"], r["ceo"]), access.CodeConflict},
		{"member role: fine", snap.ValidateMemberRole(m["k1"], r["mkt"]), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := access.ErrorCode(tc.err); got != tc.code || (tc.code == "" && tc.err != nil) {
				t.Errorf("got %v (code %q), want %q", tc.err, got, tc.code)
			}
		})
	}
}

func TestShareLimits(t *testing.T) {
	share := func(p access.Principal) access.Share {
		return access.Share{Module: access.Deals, RecordID: 1, Principal: p, Level: access.LevelReadOnly}
	}
	var users, roles, groups []access.Share
	for i := int64(1); i <= 11; i++ {
		users = append(users, share(access.User(i)))
	}
	for i := int64(1); i <= 3; i++ {
		roles = append(roles, share(access.RolePrincipal(i)), share(access.RoleAndSubordinates(i)))
	}
	for i := int64(1); i <= 6; i++ {
		groups = append(groups, share(access.GroupPrincipal(i)))
	}
	tests := []struct {
		name             string
		existing, adding []access.Share
		code             string
	}{
		{"10 users", users[:9], users[9:10], ""},
		{"11 users", users[:10], users[10:], access.CodeLimitExceeded},
		{"re-sharing with the same user is a replacement", users[:10], users[9:10], ""},
		{"5 roles of both kinds", roles[:4], roles[4:5], ""},
		{"6 roles of both kinds", roles[:5], roles[5:], access.CodeLimitExceeded},
		{"5 groups", nil, groups[:5], ""},
		{"6 groups", groups[:1], groups[1:], access.CodeLimitExceeded},
		{"other records do not count", []access.Share{{Module: access.Deals, RecordID: 2, Principal: access.User(99)}}, users[:10], ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := access.CheckShareLimits(tc.existing, tc.adding)
			if got := access.ErrorCode(err); got != tc.code {
				t.Errorf("got %v, want code %q", err, tc.code)
			}
		})
	}
}

func TestValidateRuleLimits(t *testing.T) {
	org := access.OrgData{
		Roles:    []access.Role{{ID: 1, Name: "top"}},
		Profiles: []access.Profile{{ID: 1, Name: "Standard", Modules: map[access.Module]access.PermissionSet{access.Deals: access.StandardPermissions}}},
		Members:  []access.Member{{ID: 10, RoleID: 1, ProfileID: 1, Active: true}},
	}
	src := access.User(10)
	crit := &access.Criteria{Op: access.And, Conditions: []access.Condition{{Field: "amount", Op: access.OpGt, Value: 1.0}}}
	kinds := map[string]access.FieldKind{"amount": access.FieldKindNumber}
	for i := int64(1); i <= access.MaxRulesPerModule; i++ {
		r := access.SharingRule{ID: i, Module: access.Deals, Name: "r", Target: src, Level: access.LevelReadOnly, Source: &src}
		if i <= access.MaxCriteriaRulesPerModule {
			r.Source, r.Criteria = nil, crit
		}
		org.Rules = append(org.Rules, r)
	}
	snap, err := access.NewSnapshot(org)
	if err != nil {
		t.Fatal(err)
	}
	owner := access.SharingRule{ID: 1000, Module: access.Deals, Name: "new", Source: &src, Target: src, Level: access.LevelReadOnly}
	if err := snap.ValidateRule(owner, kinds); access.ErrorCode(err) != access.CodeLimitExceeded {
		t.Errorf("rule 301: %v", err)
	}
	owner.Module = access.Accounts
	if err := snap.ValidateRule(owner, kinds); err != nil {
		t.Errorf("other module: %v", err)
	}
	update := org.Rules[len(org.Rules)-1] // an update keeps its id: no new rule
	update.Level = access.LevelReadWrite
	if err := snap.ValidateRule(update, kinds); err != nil {
		t.Errorf("update: %v", err)
	}
	critRule := access.SharingRule{ID: 2000, Module: access.Deals, Name: "c", Criteria: crit, Target: src, Level: access.LevelReadOnly}
	org.Rules = org.Rules[:access.MaxRulesPerModule-1]
	snap, _ = access.NewSnapshot(org)
	if err := snap.ValidateRule(critRule, kinds); access.ErrorCode(err) != access.CodeLimitExceeded {
		t.Errorf("criteria rule 51: %v", err)
	}
	bad := critRule
	bad.Level = access.LevelFullAccess
	if err := snap.ValidateRule(bad, kinds); access.ErrorCode(err) != access.CodeBadUserInput {
		t.Errorf("full access rule: %v", err)
	}
}

func TestProfilesAndFields(t *testing.T) {
	tests := []struct {
		name string
		ps   access.PermissionSet
		ok   bool
	}{
		{"standard", access.StandardPermissions, true},
		{"all", access.AllPermissions, true},
		{"edit without view", access.PermissionSet(0).With(access.PermEdit), false},
		{"import without create", access.PermissionSet(0).With(access.PermView, access.PermImport), false},
		{"massUpdate without edit", access.PermissionSet(0).With(access.PermView, access.PermMassUpdate), false},
		{"massDelete without delete", access.PermissionSet(0).With(access.PermView, access.PermEdit, access.PermMassDelete), false},
		{"export without view", access.PermissionSet(0).With(access.PermExport), false},
	}
	for _, tc := range tests {
		if err := tc.ps.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if err := access.ValidateFieldPermission(access.Deals, "name", access.FieldHidden); err == nil {
		t.Error("the mandatory field was hidden")
	}
	if err := access.ValidateFieldPermission(access.Deals, "createdAt", access.FieldReadOnly); err == nil {
		t.Error("a system field was restricted")
	}
	org := access.OrgData{
		Roles: []access.Role{{ID: 1, Name: "top"}},
		Profiles: []access.Profile{{ID: 1, Name: "Administrator", Administrator: true},
			{ID: 2, Name: "Standard", Modules: map[access.Module]access.PermissionSet{access.Contacts: access.StandardPermissions},
				Fields: map[access.Module]map[string]access.FieldAccess{access.Contacts: {"bankAccountNumber": access.FieldHidden, "email": access.FieldReadOnly}}}},
		Members: []access.Member{{ID: 10, RoleID: 1, ProfileID: 1, Active: true}, {ID: 11, RoleID: 1, ProfileID: 2, Active: true}},
	}
	snap, err := access.NewSnapshot(org)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		member int64
		m      access.Module
		field  string
		want   access.FieldAccess
	}{
		{10, access.Contacts, "bankAccountNumber", access.FieldReadWrite},
		{11, access.Contacts, "bankAccountNumber", access.FieldHidden},
		{11, access.Contacts, "email", access.FieldReadOnly},
		{11, access.Contacts, "mailingCity", access.FieldReadWrite},
		{11, access.Contacts, "lastName", access.FieldReadWrite},
		{11, access.Deals, "amount", access.FieldHidden}, // no view on DEALS
	} {
		if got := snap.FieldAccess(c.member, c.m, c.field); got != c.want {
			t.Errorf("member %d %s.%s: got %s, want %s", c.member, c.m, c.field, got, c.want)
		}
	}
	if got := snap.HiddenFields(11, access.Contacts); !slices.Equal(got, []string{"bankAccountNumber"}) {
		t.Errorf("hidden fields: %v", got)
	}
	if !snap.HasSetup(10, access.SetupManageSharing) || snap.HasSetup(11, access.SetupManageSharing) {
		t.Error("setup permissions")
	}
}

func TestIndexRejects(t *testing.T) {
	ix := access.NewIndex()
	big := int64(math.MaxUint32) + 1
	if err := ix.UpsertRecord(access.IndexedRecord{Module: access.Deals, ID: big, OwnerID: 1}); err == nil {
		t.Error("id above MaxUint32 accepted")
	}
	if err := ix.UpsertRecord(access.IndexedRecord{Module: access.Deals, ID: math.MaxUint32, OwnerID: 1}); err != nil {
		t.Errorf("MaxUint32 rejected: %v", err)
	}
	if err := ix.UpsertRecord(access.IndexedRecord{Module: access.Deals, ID: 5, OwnerID: 1,
		Parent: &access.RecordRef{Module: access.Accounts, ID: big}}); err == nil {
		t.Error("parent id above MaxUint32 accepted")
	}
	if err := ix.UpsertRecord(access.IndexedRecord{Module: access.Deals, ID: 5, OwnerID: 1,
		Parent: &access.RecordRef{Module: access.Deals, ID: 5}}); err == nil {
		t.Error("a record was its own parent")
	}
	if err := ix.UpsertRecord(access.IndexedRecord{Module: "INVOICES", ID: 5, OwnerID: 1}); err == nil {
		t.Error("unknown module accepted")
	}
	if err := ix.AddShare(access.Share{Module: access.Deals, RecordID: 6, Principal: access.User(1), Level: access.LevelReadOnly}); err == nil {
		t.Error("share of a record not indexed accepted")
	}
	if err := ix.AddShare(access.Share{Module: access.Deals, RecordID: math.MaxUint32, Principal: access.User(1)}); err == nil {
		t.Error("share granting nothing accepted")
	}
	if _, err := access.ToBitmap([]int64{1, big}); err == nil {
		t.Error("ToBitmap truncated")
	}
	if err := ix.UpsertRecord(access.IndexedRecord{Module: access.Deals, ID: 7, OwnerID: 1, MatchingRules: []int64{42}}); err != nil {
		t.Fatal(err)
	}
	if err := ix.UpsertRecord(access.IndexedRecord{Module: access.Accounts, ID: 8, OwnerID: 1, MatchingRules: []int64{42}}); err == nil {
		t.Error("a DEALS rule matched an account")
	}
	if err := ix.SetRuleMatches(42, access.Accounts, nil); err == nil {
		t.Error("rule moved modules without a drop")
	}
	data, err := ix.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n++ { // every truncation fails cleanly
		if err := access.NewIndex().UnmarshalBinary(data[:n]); err == nil {
			t.Fatalf("truncated encoding (%d of %d bytes) accepted", n, len(data))
		}
	}
	if ix.SizeBytes() == 0 {
		t.Error("size")
	}
}
