package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"warden/api/apitest"
	"warden/db"
)

// Groups, sharing rules and record shares through the HTTP GraphQL API: the
// administration operations (success, bad input with nothing changed) and
// their effect on access on the very next request.
//
// Helpers are prefixed shr so that they do not collide with other files of
// the package.

// shrUsers are the identities of a test: signed up once, members of any
// number of orgs.
type shrUsers struct {
	admin, a, b, c, mgr apitest.Caller // without org
}

func shrSignupUsers(env *apitest.Env) shrUsers {
	env.T.Helper()
	return shrUsers{
		admin: env.Signup("admin@sharing.test", "Ada Admin"),
		a:     env.Signup("a@sharing.test", "Rep A"),
		b:     env.Signup("b@sharing.test", "Rep B"),
		c:     env.Signup("c@sharing.test", "Support C"),
		mgr:   env.Signup("mgr@sharing.test", "Manager M"),
	}
}

// shrWorld is one org:
//
//	CEO (admin)
//	├── West Rep (A)
//	├── East Manager (M)
//	│   └── East Rep (B)
//	└── Support (C)
//
// A, B, C and M hold the Standard profile; no role shares with peers and
// every module is PRIVATE, so each rep sees only their own records (and M
// also B's).
type shrWorld struct {
	env                *apitest.Env
	org                string
	orgKey             int64
	admin, a, b, c, m  apitest.Caller
	aID, bID, cID, mID string // member ids
}

func shrNewWorld(env *apitest.Env, u shrUsers, name string) *shrWorld {
	env.T.Helper()
	w := &shrWorld{env: env}
	w.admin = env.CreateOrg(u.admin, name)
	w.org = w.admin.Org
	w.orgKey = apitest.OrgKey(w.org)
	add := func(c apitest.Caller, role, parent string) (apitest.Caller, string) {
		key := env.AddMember(w.org, c, role, parent, false)
		return c.In(w.org), fmt.Sprintf("member_%d", key)
	}
	w.a, w.aID = add(u.a, "West Rep", "CEO")
	w.m, w.mID = add(u.mgr, "East Manager", "CEO")
	w.b, w.bID = add(u.b, "East Rep", "East Manager")
	w.c, w.cID = add(u.c, "Support", "CEO")
	return w
}

// roleID is the public id of a role of the world's org.
func (w *shrWorld) roleID(name string) string {
	w.env.T.Helper()
	var key int64
	if err := w.env.DB.Get(&key, `SELECT id FROM roles WHERE org_id = $1 AND name = $2`, w.orgKey, name); err != nil {
		w.env.T.Fatalf("role %s: %v", name, err)
	}
	return fmt.Sprintf("role_%d", key)
}

// addRole adds a role under CEO with SQL, as the roles API would, logging the
// change so the engine reloads.
func (w *shrWorld) addRole(name string) string {
	w.env.T.Helper()
	ctx := context.Background()
	tx := w.env.DB.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	var key int64
	if err := tx.GetContext(ctx, &key, `INSERT INTO roles (org_id, name, parent_id)
		SELECT $1, $2, id FROM roles WHERE org_id = $1 AND name = 'CEO' RETURNING id`, w.orgKey, name); err != nil {
		w.env.T.Fatal(err)
	}
	if err := db.LogSecurityChange(ctx, tx, w.orgKey, db.ChangeOrg, map[string]any{"role": key}); err != nil {
		w.env.T.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		w.env.T.Fatal(err)
	}
	return fmt.Sprintf("role_%d", key)
}

// shrState is what an administration write may change in an org.
type shrState struct {
	Version                                     int64
	Groups, GroupMembers, Rules, Shares, Audits int
	GroupsDigest, RulesDigest, SharesDigest     string
}

func (w *shrWorld) state() shrState {
	w.env.T.Helper()
	var s shrState
	get := func(dst any, q string) {
		if err := w.env.DB.Get(dst, q, w.orgKey); err != nil {
			w.env.T.Fatalf("%s: %v", q, err)
		}
	}
	get(&s.Version, `SELECT version FROM org_security WHERE org_id = $1`)
	get(&s.Groups, `SELECT count(*) FROM groups WHERE org_id = $1`)
	get(&s.GroupMembers, `SELECT count(*) FROM group_members WHERE org_id = $1`)
	get(&s.Rules, `SELECT count(*) FROM sharing_rules WHERE org_id = $1`)
	get(&s.Shares, `SELECT count(*) FROM record_shares WHERE org_id = $1`)
	get(&s.Audits, `SELECT count(*) FROM audit_log WHERE org_id = $1`)
	get(&s.GroupsDigest, `SELECT coalesce(string_agg(g.id || ':' || g.name || ':' || g.description, ',' ORDER BY g.id), '') FROM groups g WHERE org_id = $1`)
	get(&s.RulesDigest, `SELECT coalesce(string_agg(r.id || ':' || r.name || ':' || r.access || ':' || coalesce(r.criteria::text, '') || ':' ||
		coalesce(r.source_type, '') || coalesce(r.source_id::text, '') || ':' || r.target_type || r.target_id || r.superiors_allowed, ',' ORDER BY r.id), '')
		FROM sharing_rules r WHERE org_id = $1`)
	get(&s.SharesDigest, `SELECT coalesce(string_agg(s.record_id || ':' || s.principal_type || s.principal_id || ':' || s.access || s.include_related,
		',' ORDER BY s.record_id, s.principal_type, s.principal_id), '') FROM record_shares s WHERE org_id = $1`)
	return s
}

// unchanged fails unless the org's state equals before.
func (w *shrWorld) unchanged(t testing.TB, before shrState) {
	t.Helper()
	if after := w.state(); after != before {
		t.Errorf("a failed write changed the org:\nbefore %+v\nafter  %+v", before, after)
	}
}

// fails runs a request that must fail with code (and a message containing
// msg, when given), leak nothing and change nothing.
func (w *shrWorld) fails(t *testing.T, c apitest.Caller, code, msg, query string, vars obj) {
	t.Helper()
	env := envFor(w.env, t)
	before := w.state()
	r := env.Do(c, query, vars)
	recNoLeak(t, r)
	codes := r.Codes()
	if !slices.Contains(codes, code) {
		t.Fatalf("want %s, got %+v (data %s)", code, r.Errors, r.Data)
	}
	if msg != "" && !strings.Contains(r.Errors[0].Message, msg) {
		t.Errorf("message %q does not contain %q", r.Errors[0].Message, msg)
	}
	w.unchanged(t, before)
}

// must runs a request that must succeed and returns its data.
func (w *shrWorld) must(t testing.TB, c apitest.Caller, query string, vars obj) obj {
	t.Helper()
	return recData(envFor(w.env, t), c, query, vars)
}

const (
	shrCreateGroupQ = `mutation($in: CreateGroupInput!) { createGroup(input: $in) { id name description members { type id name } } }`
	shrUpdateGroupQ = `mutation($id: ID!, $in: UpdateGroupInput!) { updateGroup(id: $id, input: $in) { id name description members { type id name } } }`
	shrDeleteGroupQ = `mutation($id: ID!) { deleteGroup(id: $id) }`
	shrGroupsQ      = `{ groups { id name description members { type id name } } }`
	shrRuleFields   = `id module name source { type id name } criteria { op conditions { field op value } } target { type id name } access superiorsAllowed`
	shrCreateRuleQ  = `mutation($in: CreateSharingRuleInput!) { createSharingRule(input: $in) { ` + shrRuleFields + ` } }`
	shrUpdateRuleQ  = `mutation($id: ID!, $in: UpdateSharingRuleInput!) { updateSharingRule(id: $id, input: $in) { ` + shrRuleFields + ` } }`
	shrDeleteRuleQ  = `mutation($id: ID!) { deleteSharingRule(id: $id) }`
	shrRulesQ       = `query($m: Module!) { sharingRules(module: $m) { ` + shrRuleFields + ` } }`
	shrShareFields  = `module recordId principal { type id name } access includeRelated sharedBy { id } createdAt`
	shrShareQ       = `mutation($m: Module!, $ids: [ID!]!, $shares: [RecordShareInput!]!) { shareRecords(module: $m, recordIds: $ids, shares: $shares) { ` + shrShareFields + ` } }`
	shrRevokeQ      = `mutation($m: Module!, $ids: [ID!]!, $ps: [PrincipalInput!]!) { revokeRecordShares(module: $m, recordIds: $ids, principals: $ps) }`
	shrSharesQ      = `query($m: Module!, $id: ID!) { recordShares(module: $m, recordId: $id) { ` + shrShareFields + ` } }`
)

func shrP(typ, id string) obj { return obj{"type": typ, "id": id} }

func shrShare(typ, id, access string, related bool) obj {
	return obj{"principal": shrP(typ, id), "access": access, "includeRelated": related}
}

// create creates a record as c and returns its id.
func (w *shrWorld) create(t testing.TB, c apitest.Caller, mutation, input string, in obj) string {
	t.Helper()
	d := w.must(t, c, fmt.Sprintf(`mutation($in: %s!) { r: %s(input: $in) { id } }`, input, mutation), obj{"in": in})
	return recStr(d, "r", "id")
}

func (w *shrWorld) deal(t testing.TB, c apitest.Caller, name string, amount float64) string {
	t.Helper()
	return w.create(t, c, "createDeal", "CreateDealInput", obj{"name": name, "amount": amount})
}

// visible lists the ids of a module's records the caller sees.
func (w *shrWorld) visible(t testing.TB, c apitest.Caller, list string) []string {
	t.Helper()
	d := w.must(t, c, fmt.Sprintf(`{ l: %s(first: 100) { totalCount edges { node { id } } } }`, list), nil)
	ids := recIDsOf(recPath(d, "l"))
	if n, _ := recPath(d, "l", "totalCount").(float64); int(n) != len(ids) {
		t.Errorf("%s: totalCount %v but %d edges", list, n, len(ids))
	}
	return ids
}

// sees checks which of the ids the caller's list holds.
func (w *shrWorld) sees(t testing.TB, who string, c apitest.Caller, list string, want map[string]bool) {
	t.Helper()
	got := w.visible(t, c, list)
	for id, w := range want {
		if slices.Contains(got, id) != w {
			t.Errorf("%s: %s %s visible=%v, want %v (list %v)", who, list, id, !w, w, got)
		}
	}
}

// level is the caller's access level on a deal, "" when not visible.
func (w *shrWorld) level(t testing.TB, c apitest.Caller, single, id string) string {
	t.Helper()
	d := w.must(t, c, fmt.Sprintf(`query($id: ID!) { r: %s(id: $id) { id access { level } } }`, single), obj{"id": id})
	return recStr(d, "r", "access", "level")
}

func (w *shrWorld) group(t testing.TB, name string, members ...obj) string {
	t.Helper()
	if members == nil {
		members = []obj{}
	}
	d := w.must(t, w.admin, shrCreateGroupQ, obj{"in": obj{"name": name, "members": members}})
	return recStr(d, "createGroup", "id")
}

func (w *shrWorld) rule(t testing.TB, in obj) string {
	t.Helper()
	d := w.must(t, w.admin, shrCreateRuleQ, obj{"in": in})
	return recStr(d, "createSharingRule", "id")
}

func memberTypes(g any) []string {
	ms, _ := recPath(g, "members").([]any)
	out := []string{}
	for _, m := range ms {
		out = append(out, recStr(m, "type")+" "+recStr(m, "id"))
	}
	slices.Sort(out)
	return out
}

// shrReq is one GraphQL request.
type shrReq struct {
	query string
	vars  obj
}

// shrConcurrently sends the requests at the same time as c and returns each
// one's first error code ("" for success).
func shrConcurrently(env *apitest.Env, c apitest.Caller, reqs ...shrReq) []string {
	out := make([]string, len(reqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if res := env.Do(c, r.query, r.vars); len(res.Errors) > 0 {
				out[i] = res.Errors[0].Code() + ": " + res.Errors[0].Message
			}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func TestGroupAdministration(t *testing.T) {
	env := apitest.New(t)
	u := shrSignupUsers(env)
	w := shrNewWorld(env, u, "Groups Inc")
	other := shrNewWorld(env, u, "Other Org")
	eastRep := w.roleID("East Rep")
	eastMgr := w.roleID("East Manager")

	t.Run("create with every principal kind, duplicates collapse", func(t *testing.T) {
		before := w.state()
		inner := w.group(t, "Inner")
		d := w.must(t, w.admin, shrCreateGroupQ, obj{"in": obj{"name": "  Sales Team ", "description": "East and west",
			"members": []obj{shrP("USER", w.aID), shrP("USER", w.aID), shrP("ROLE", eastRep),
				shrP("ROLE_AND_SUBORDINATES", eastMgr), shrP("GROUP", inner), shrP("ROLE", eastRep)}}})
		g := recPath(d, "createGroup")
		if recStr(g, "name") != "Sales Team" || recStr(g, "description") != "East and west" {
			t.Errorf("group = %v", g)
		}
		want := []string{"GROUP " + inner, "ROLE " + eastRep, "ROLE_AND_SUBORDINATES " + eastMgr, "USER " + w.aID}
		slices.Sort(want)
		if got := memberTypes(g); !slices.Equal(got, want) {
			t.Errorf("members = %v, want %v", got, want)
		}
		for _, m := range recPath(g, "members").([]any) {
			if recStr(m, "name") == "" {
				t.Errorf("member without name: %v", m)
			}
		}
		after := w.state()
		if after.Groups != before.Groups+2 || after.GroupMembers != before.GroupMembers+4 || after.Version <= before.Version {
			t.Errorf("state %+v -> %+v", before, after)
		}
		var audits int
		_ = env.DB.Get(&audits, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'group.create' AND after IS NOT NULL`, w.orgKey)
		if audits != 2 {
			t.Errorf("%d group.create audit entries, want 2", audits)
		}
		// Any member may list the groups.
		lst := w.must(t, w.b, shrGroupsQ, nil)
		names := []string{}
		for _, g := range lst["groups"].([]any) {
			names = append(names, recStr(g, "name"))
		}
		if !slices.Equal(names, []string{"Inner", "Sales Team"}) {
			t.Errorf("groups = %v", names)
		}
		// Another org's groups are not listed.
		if lst := w.must(t, other.admin, shrGroupsQ, nil); len(lst["groups"].([]any)) != 0 {
			t.Errorf("other org lists %v", lst["groups"])
		}
	})

	// A chain G1 ⊃ G2 ⊃ G3 ⊃ G4 ⊃ G5: five deep, the most allowed.
	g5 := w.group(t, "G5", shrP("USER", w.cID))
	g4 := w.group(t, "G4", shrP("GROUP", g5))
	g3 := w.group(t, "G3", shrP("GROUP", g4))
	g2 := w.group(t, "G2", shrP("GROUP", g3))
	g1 := w.group(t, "G1", shrP("GROUP", g2))
	otherGroup := other.group(t, "Elsewhere")
	otherRole := other.roleID("West Rep")

	bad := []struct {
		name   string
		caller apitest.Caller
		code   string
		msg    string
		query  string
		vars   obj
	}{
		{"duplicate name, other case", w.admin, "CONFLICT", "already exists", shrCreateGroupQ, obj{"in": obj{"name": "sales team", "members": []obj{}}}},
		{"empty name", w.admin, "BAD_USER_INPUT", "", shrCreateGroupQ, obj{"in": obj{"name": "   ", "members": []obj{}}}},
		{"unknown member", w.admin, "NOT_FOUND", "", shrCreateGroupQ, obj{"in": obj{"name": "X", "members": []obj{shrP("USER", "member_999999")}}}},
		{"member of another org", w.admin, "NOT_FOUND", "", shrCreateGroupQ, obj{"in": obj{"name": "X", "members": []obj{shrP("USER", other.aID)}}}},
		{"role of another org", w.admin, "NOT_FOUND", "", shrCreateGroupQ, obj{"in": obj{"name": "X", "members": []obj{shrP("ROLE", otherRole)}}}},
		{"group of another org", w.admin, "NOT_FOUND", "", shrCreateGroupQ, obj{"in": obj{"name": "X", "members": []obj{shrP("GROUP", otherGroup)}}}},
		{"id of the wrong kind", w.admin, "NOT_FOUND", "", shrCreateGroupQ, obj{"in": obj{"name": "X", "members": []obj{shrP("GROUP", eastRep)}}}},
		{"depth 6 on create", w.admin, "LIMIT_EXCEEDED", "", shrCreateGroupQ, obj{"in": obj{"name": "G0", "members": []obj{shrP("GROUP", g1)}}}},
		{"depth 6 on update", w.admin, "LIMIT_EXCEEDED", "", shrUpdateGroupQ, obj{"id": g5, "in": obj{"members": []obj{shrP("GROUP", w.group(t, "G6"))}}}},
		{"cycle", w.admin, "CONFLICT", "", shrUpdateGroupQ, obj{"id": g3, "in": obj{"members": []obj{shrP("GROUP", g1)}}}},
		{"contains itself", w.admin, "CONFLICT", "", shrUpdateGroupQ, obj{"id": g5, "in": obj{"members": []obj{shrP("GROUP", g5)}}}},
		{"rename to a taken name", w.admin, "CONFLICT", "", shrUpdateGroupQ, obj{"id": g5, "in": obj{"name": "INNER"}}},
		{"update unknown group", w.admin, "NOT_FOUND", "", shrUpdateGroupQ, obj{"id": "group_999999", "in": obj{"name": "Y"}}},
		{"update group of another org", w.admin, "NOT_FOUND", "", shrUpdateGroupQ, obj{"id": otherGroup, "in": obj{"name": "Y"}}},
		{"update malformed id", w.admin, "NOT_FOUND", "", shrUpdateGroupQ, obj{"id": "deal_1", "in": obj{"name": "Y"}}},
		{"delete unknown group", w.admin, "NOT_FOUND", "", shrDeleteGroupQ, obj{"id": "group_999999"}},
		{"delete group of another org", w.admin, "NOT_FOUND", "", shrDeleteGroupQ, obj{"id": otherGroup}},
		{"delete a group inside another", w.admin, "CONFLICT", "G4", shrDeleteGroupQ, obj{"id": g5}},
		{"create without manageGroups", w.a, "FORBIDDEN", "", shrCreateGroupQ, obj{"in": obj{"name": "Mine", "members": []obj{}}}},
		{"update without manageGroups", w.a, "FORBIDDEN", "", shrUpdateGroupQ, obj{"id": g5, "in": obj{"name": "Mine"}}},
		{"delete without manageGroups", w.a, "FORBIDDEN", "", shrDeleteGroupQ, obj{"id": g1}},
	}
	for _, tc := range bad {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			w.fails(t, tc.caller, tc.code, tc.msg, tc.query, tc.vars)
		})
	}

	t.Run("update renames, describes and replaces members", func(t *testing.T) {
		before := w.state()
		d := w.must(t, w.admin, shrUpdateGroupQ, obj{"id": g5, "in": obj{"name": "Fifth", "description": "leaf"}})
		g := recPath(d, "updateGroup")
		if recStr(g, "name") != "Fifth" || recStr(g, "description") != "leaf" || !slices.Equal(memberTypes(g), []string{"USER " + w.cID}) {
			t.Errorf("after rename: %v", g)
		}
		d = w.must(t, w.admin, shrUpdateGroupQ, obj{"id": g5, "in": obj{"members": []obj{shrP("USER", w.aID), shrP("USER", w.bID), shrP("USER", w.aID)}}})
		g = recPath(d, "updateGroup")
		want := []string{"USER " + w.aID, "USER " + w.bID}
		slices.Sort(want)
		if recStr(g, "name") != "Fifth" || !slices.Equal(memberTypes(g), want) {
			t.Errorf("after member change: %v", g)
		}
		after := w.state()
		if after.GroupMembers != before.GroupMembers+1 || after.Version < before.Version+2 || after.Audits != before.Audits+2 {
			t.Errorf("state %+v -> %+v", before, after)
		}
		// An update that changes nothing writes nothing.
		same := w.state()
		w.must(t, w.admin, shrUpdateGroupQ, obj{"id": g5, "in": obj{"name": "Fifth", "members": []obj{shrP("USER", w.bID), shrP("USER", w.aID)}}})
		w.unchanged(t, same)
		var before1, after1 string
		_ = env.DB.Get(&before1, `SELECT before::text FROM audit_log WHERE org_id = $1 AND action = 'group.update' ORDER BY id DESC LIMIT 1`, w.orgKey)
		_ = env.DB.Get(&after1, `SELECT after::text FROM audit_log WHERE org_id = $1 AND action = 'group.update' ORDER BY id DESC LIMIT 1`, w.orgKey)
		if !strings.Contains(before1, w.cID) || !strings.Contains(after1, w.bID) {
			t.Errorf("audit before %s after %s", before1, after1)
		}
	})

	t.Run("concurrent updates cannot close a cycle together", func(t *testing.T) {
		// A ring X0 ⊃ X1 ⊃ ... ⊃ X3 ⊃ X0, each link added by its own request
		// at the same time: whichever comes last would close the cycle.
		for round := 0; round < 3; round++ {
			ring := make([]string, 4)
			for i := range ring {
				ring[i] = w.group(t, fmt.Sprintf("Ring %d.%d", round, i))
			}
			reqs := make([]shrReq, len(ring))
			for i := range ring {
				reqs[i] = shrReq{shrUpdateGroupQ, obj{"id": ring[i], "in": obj{"members": []obj{shrP("GROUP", ring[(i+1)%len(ring)])}}}}
			}
			errs := shrConcurrently(envFor(env, t), w.admin, reqs...)
			failed := 0
			for _, e := range errs {
				if e != "" {
					failed++
					if !strings.HasPrefix(e, "CONFLICT") {
						t.Errorf("round %d: %s, want CONFLICT", round, e)
					}
				}
			}
			if failed != 1 {
				t.Errorf("round %d: %d of %d links refused, want exactly 1: %v", round, failed, len(ring), errs)
			}
		}
	})

	t.Run("delete refuses groups in use by a rule or a share, then deletes", func(t *testing.T) {
		used := w.group(t, "Used", shrP("USER", w.bID))
		rule := w.rule(t, obj{"module": "DEALS", "name": "To used", "source": shrP("USER", w.aID), "target": shrP("GROUP", used), "access": "READ_ONLY"})
		w.fails(t, w.admin, "CONFLICT", "To used", shrDeleteGroupQ, obj{"id": used})
		w.must(t, w.admin, shrDeleteRuleQ, obj{"id": rule})
		deal := w.deal(t, w.a, "Shared with a group", 1)
		w.must(t, w.a, shrShareQ, obj{"m": "DEALS", "ids": []string{deal}, "shares": []obj{shrShare("GROUP", used, "READ_ONLY", false)}})
		w.fails(t, w.admin, "CONFLICT", "record share", shrDeleteGroupQ, obj{"id": used})
		w.must(t, w.a, shrRevokeQ, obj{"m": "DEALS", "ids": []string{deal}, "ps": []obj{shrP("GROUP", used)}})
		before := w.state()
		d := w.must(t, w.admin, shrDeleteGroupQ, obj{"id": used})
		if d["deleteGroup"] != used {
			t.Errorf("deleteGroup = %v", d["deleteGroup"])
		}
		after := w.state()
		if after.Groups != before.Groups-1 || after.GroupMembers != before.GroupMembers-1 || after.Version <= before.Version || after.Audits != before.Audits+1 {
			t.Errorf("state %+v -> %+v", before, after)
		}
		w.fails(t, w.admin, "NOT_FOUND", "", shrDeleteGroupQ, obj{"id": used})
	})
}

func TestSharingRuleAdministration(t *testing.T) {
	env := apitest.New(t)
	u := shrSignupUsers(env)
	w := shrNewWorld(env, u, "Rules Inc")
	other := shrNewWorld(env, u, "Other Rules")
	if _, err := env.DB.Exec(`INSERT INTO custom_field_definitions (org_id, module, api_name, label, type)
		VALUES ($1, 'DEALS', 'region', 'Region', 'TEXT')`, w.orgKey); err != nil {
		t.Fatal(err)
	}

	var owner string
	t.Run("create, list and audit", func(t *testing.T) {
		before := w.state()
		d := w.must(t, w.admin, shrCreateRuleQ, obj{"in": obj{"module": "DEALS", "name": " West to East ",
			"source": shrP("ROLE", w.roleID("West Rep")), "target": shrP("ROLE_AND_SUBORDINATES", w.roleID("East Manager")),
			"access": "READ_WRITE", "superiorsAllowed": true}})
		r := recPath(d, "createSharingRule")
		owner = recStr(r, "id")
		if recStr(r, "name") != "West to East" || recStr(r, "access") != "READ_WRITE" || recPath(r, "superiorsAllowed") != true ||
			recStr(r, "source", "name") != "West Rep" || recStr(r, "target", "type") != "ROLE_AND_SUBORDINATES" || recPath(r, "criteria") != nil {
			t.Errorf("rule = %v", r)
		}
		d = w.must(t, w.admin, shrCreateRuleQ, obj{"in": obj{"module": "DEALS", "name": "Big or EMEA",
			"criteria": obj{"op": "OR", "conditions": []obj{
				{"field": "amount", "op": "GTE", "value": 10000},
				{"field": "region", "op": "IN", "value": []string{"EMEA", "APAC"}},
				{"field": "closingDate", "op": "LT", "value": "2030-01-01"},
				{"field": "stage", "op": "IS_EMPTY", "value": "ignored"}}},
			"target": shrP("USER", w.cID), "access": "READ_ONLY"}})
		r = recPath(d, "createSharingRule")
		conds, _ := recPath(r, "criteria", "conditions").([]any)
		if recPath(r, "source") != nil || len(conds) != 4 || recPath(conds[0], "value") != float64(10000) || recPath(conds[3], "value") != nil {
			t.Errorf("criteria rule = %v", r)
		}
		after := w.state()
		if after.Rules != before.Rules+2 || after.Version != before.Version+2 || after.Audits != before.Audits+2 {
			t.Errorf("state %+v -> %+v", before, after)
		}
		var stored string
		_ = env.DB.Get(&stored, `SELECT criteria::text FROM sharing_rules WHERE org_id = $1 AND criteria IS NOT NULL`, w.orgKey)
		if !strings.Contains(stored, `"Conditions"`) || !strings.Contains(stored, `"Op": "OR"`) {
			t.Errorf("criteria stored as %s, want the Go field names LoadOrgData reads", stored)
		}
		l := w.must(t, w.admin, shrRulesQ, obj{"m": "DEALS"})
		if n := len(l["sharingRules"].([]any)); n != 2 {
			t.Errorf("%d DEALS rules listed, want 2", n)
		}
		if l := w.must(t, w.admin, shrRulesQ, obj{"m": "LEADS"}); len(l["sharingRules"].([]any)) != 0 {
			t.Errorf("LEADS rules: %v", l)
		}
		if l := w.must(t, other.admin, shrRulesQ, obj{"m": "DEALS"}); len(l["sharingRules"].([]any)) != 0 {
			t.Errorf("another org lists %v", l)
		}
	})

	crit := func(conds ...obj) obj { return obj{"op": "AND", "conditions": conds} }
	cond := func(f, op string, v any) obj { return obj{"field": f, "op": op, "value": v} }
	base := func(mod func(obj)) obj {
		in := obj{"module": "DEALS", "name": "R", "source": shrP("USER", w.aID), "target": shrP("USER", w.bID), "access": "READ_ONLY"}
		mod(in)
		return obj{"in": in}
	}
	otherRule := other.rule(t, obj{"module": "DEALS", "name": "Theirs", "source": shrP("USER", other.aID), "target": shrP("USER", other.bID), "access": "READ_ONLY"})
	bad := []struct {
		name   string
		caller apitest.Caller
		code   string
		query  string
		vars   obj
	}{
		{"both source and criteria", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { in["criteria"] = crit(cond("amount", "GT", 1)) })},
		{"neither source nor criteria", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { delete(in, "source") })},
		{"empty name", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { in["name"] = " " })},
		{"FULL_ACCESS is no rule level", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { in["access"] = "FULL_ACCESS" })},
		{"unknown field", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { delete(in, "source"); in["criteria"] = crit(cond("colour", "EQ", "red")) })},
		{"reference field", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { delete(in, "source"); in["criteria"] = crit(cond("account", "EQ", "account_1")) })},
		{"custom field of another module", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) {
			in["module"] = "LEADS"
			delete(in, "source")
			in["criteria"] = crit(cond("region", "EQ", "EMEA"))
		})},
		{"CONTAINS on a number", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { delete(in, "source"); in["criteria"] = crit(cond("amount", "CONTAINS", "1")) })},
		{"text for a number", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { delete(in, "source"); in["criteria"] = crit(cond("amount", "GT", "lots")) })},
		{"bad date", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { delete(in, "source"); in["criteria"] = crit(cond("closingDate", "GT", "soon")) })},
		{"IN without a list", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { delete(in, "source"); in["criteria"] = crit(cond("stage", "IN", "Won")) })},
		{"no conditions", w.admin, "BAD_USER_INPUT", shrCreateRuleQ, base(func(in obj) { delete(in, "source"); in["criteria"] = crit() })},
		{"unknown target", w.admin, "NOT_FOUND", shrCreateRuleQ, base(func(in obj) { in["target"] = shrP("GROUP", "group_999999") })},
		{"target of another org", w.admin, "NOT_FOUND", shrCreateRuleQ, base(func(in obj) { in["target"] = shrP("USER", other.bID) })},
		{"source of another org", w.admin, "NOT_FOUND", shrCreateRuleQ, base(func(in obj) { in["source"] = shrP("ROLE", other.roleID("West Rep")) })},
		{"create without manageSharing", w.a, "FORBIDDEN", shrCreateRuleQ, base(func(obj) {})},
		{"list without manageSharing", w.a, "FORBIDDEN", shrRulesQ, obj{"m": "DEALS"}},
		{"update without manageSharing", w.a, "FORBIDDEN", shrUpdateRuleQ, obj{"id": owner, "in": obj{"name": "Mine"}}},
		{"delete without manageSharing", w.a, "FORBIDDEN", shrDeleteRuleQ, obj{"id": owner}},
		{"update unknown rule", w.admin, "NOT_FOUND", shrUpdateRuleQ, obj{"id": "rule_999999", "in": obj{"name": "X"}}},
		{"update rule of another org", w.admin, "NOT_FOUND", shrUpdateRuleQ, obj{"id": otherRule, "in": obj{"name": "X"}}},
		{"update with source and criteria", w.admin, "BAD_USER_INPUT", shrUpdateRuleQ, obj{"id": owner, "in": obj{"source": shrP("USER", w.aID), "criteria": crit(cond("amount", "GT", 1))}}},
		{"update with a bad criteria", w.admin, "BAD_USER_INPUT", shrUpdateRuleQ, obj{"id": owner, "in": obj{"criteria": crit(cond("nope", "GT", 1))}}},
		{"update to an unknown target", w.admin, "NOT_FOUND", shrUpdateRuleQ, obj{"id": owner, "in": obj{"target": shrP("USER", "member_999999")}}},
		{"delete unknown rule", w.admin, "NOT_FOUND", shrDeleteRuleQ, obj{"id": "rule_999999"}},
		{"delete rule of another org", w.admin, "NOT_FOUND", shrDeleteRuleQ, obj{"id": otherRule}},
	}
	for _, tc := range bad {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			w.fails(t, tc.caller, tc.code, "", tc.query, tc.vars)
		})
	}

	t.Run("update switches kinds and keeps what is not given", func(t *testing.T) {
		d := w.must(t, w.admin, shrUpdateRuleQ, obj{"id": owner, "in": obj{"criteria": crit(cond("stage", "EQ", "Won")), "access": "READ_ONLY"}})
		r := recPath(d, "updateSharingRule")
		if recPath(r, "source") != nil || recStr(r, "criteria", "op") != "AND" || recStr(r, "access") != "READ_ONLY" ||
			recStr(r, "name") != "West to East" || recPath(r, "superiorsAllowed") != true {
			t.Errorf("after switch to criteria: %v", r)
		}
		d = w.must(t, w.admin, shrUpdateRuleQ, obj{"id": owner, "in": obj{"source": shrP("USER", w.aID), "superiorsAllowed": false}})
		r = recPath(d, "updateSharingRule")
		if recPath(r, "criteria") != nil || recStr(r, "source", "id") != w.aID || recPath(r, "superiorsAllowed") != false {
			t.Errorf("after switch to owner: %v", r)
		}
		same := w.state()
		w.must(t, w.admin, shrUpdateRuleQ, obj{"id": owner, "in": obj{"source": shrP("USER", w.aID), "name": "West to East"}})
		w.unchanged(t, same)
		var before, after string
		_ = env.DB.Get(&before, `SELECT before::text FROM audit_log WHERE org_id = $1 AND action = 'sharingRule.update' ORDER BY id DESC LIMIT 1`, w.orgKey)
		_ = env.DB.Get(&after, `SELECT after::text FROM audit_log WHERE org_id = $1 AND action = 'sharingRule.update' ORDER BY id DESC LIMIT 1`, w.orgKey)
		if !strings.Contains(before, "Won") || !strings.Contains(after, w.aID) {
			t.Errorf("audit before %s after %s", before, after)
		}
	})

	t.Run("at most 50 criteria rules per module", func(t *testing.T) {
		var have int
		_ = env.DB.Get(&have, `SELECT count(*) FROM sharing_rules WHERE org_id = $1 AND module = 'DEALS' AND criteria IS NOT NULL`, w.orgKey)
		for i := have; i < 50; i++ {
			w.rule(t, obj{"module": "DEALS", "name": fmt.Sprintf("Criteria %d", i), "criteria": crit(cond("amount", "GT", i)),
				"target": shrP("USER", w.bID), "access": "READ_ONLY"})
		}
		w.fails(t, w.admin, "LIMIT_EXCEEDED", "", shrCreateRuleQ, obj{"in": obj{"module": "DEALS", "name": "The 51st",
			"criteria": crit(cond("amount", "GT", 51)), "target": shrP("USER", w.bID), "access": "READ_ONLY"}})
		// Turning an owner-based rule into the 51st criteria rule is the same.
		w.fails(t, w.admin, "LIMIT_EXCEEDED", "", shrUpdateRuleQ, obj{"id": owner, "in": obj{"criteria": crit(cond("amount", "GT", 51))}})
		// Owner-based rules and other modules are not counted against it.
		w.rule(t, obj{"module": "DEALS", "name": "Owner based", "source": shrP("USER", w.aID), "target": shrP("USER", w.bID), "access": "READ_ONLY"})
		w.rule(t, obj{"module": "LEADS", "name": "Leads criteria", "criteria": crit(cond("company", "CONTAINS", "acme")), "target": shrP("USER", w.bID), "access": "READ_ONLY"})
	})

	t.Run("delete", func(t *testing.T) {
		before := w.state()
		d := w.must(t, w.admin, shrDeleteRuleQ, obj{"id": owner})
		if d["deleteSharingRule"] != owner {
			t.Errorf("deleteSharingRule = %v", d)
		}
		after := w.state()
		if after.Rules != before.Rules-1 || after.Version != before.Version+1 || after.Audits != before.Audits+1 {
			t.Errorf("state %+v -> %+v", before, after)
		}
		w.fails(t, w.admin, "NOT_FOUND", "", shrDeleteRuleQ, obj{"id": owner})
	})
}

func TestRecordShareAdministration(t *testing.T) {
	env := apitest.New(t)
	u := shrSignupUsers(env)
	w := shrNewWorld(env, u, "Shares Inc")
	other := shrNewWorld(env, u, "Other Shares")

	dealA := w.deal(t, w.a, "A's deal", 100)
	dealA2 := w.deal(t, w.a, "A's second deal", 200)
	dealB := w.deal(t, w.b, "B's deal", 300)
	otherDeal := other.deal(t, other.a, "Elsewhere", 1)
	// B reads dealA2 through a READ_WRITE share: visible, but not FULL_ACCESS.
	w.must(t, w.a, shrShareQ, obj{"m": "DEALS", "ids": []string{dealA2}, "shares": []obj{shrShare("USER", w.bID, "READ_WRITE", false)}})

	t.Run("share, list, replace", func(t *testing.T) {
		before := w.state()
		d := w.must(t, w.a, shrShareQ, obj{"m": "DEALS", "ids": []string{dealA, dealA}, "shares": []obj{
			shrShare("USER", w.cID, "READ_ONLY", false), shrShare("ROLE", w.roleID("Support"), "READ_WRITE", true),
			shrShare("USER", w.cID, "READ_ONLY", false)}})
		got, _ := d["shareRecords"].([]any)
		if len(got) != 2 || recStr(got[0], "recordId") != dealA || recStr(got[0], "sharedBy", "id") != w.aID ||
			recStr(got[1], "access") != "READ_WRITE" || recPath(got[1], "includeRelated") != true || recStr(got[0], "principal", "name") != "Support C" {
			t.Errorf("shareRecords = %v", got)
		}
		after := w.state()
		if after.Shares != before.Shares+2 || after.Version != before.Version+2 || after.Audits != before.Audits+1 {
			t.Errorf("state %+v -> %+v", before, after)
		}
		// Sharing again with the same principal replaces its access.
		w.must(t, w.a, shrShareQ, obj{"m": "DEALS", "ids": []string{dealA}, "shares": []obj{shrShare("USER", w.cID, "FULL_ACCESS", true)}})
		l := w.must(t, w.a, shrSharesQ, obj{"m": "DEALS", "id": dealA})
		shares, _ := l["recordShares"].([]any)
		if len(shares) != 2 || recStr(shares[0], "principal", "id") != w.cID || recStr(shares[0], "access") != "FULL_ACCESS" || recPath(shares[0], "includeRelated") != true {
			t.Errorf("recordShares = %v", shares)
		}
		if lvl := w.level(t, w.c, "deal", dealA); lvl != "FULL_ACCESS" {
			t.Errorf("C's level = %q", lvl)
		}
		// Sharing again with the same settings changes nothing.
		before = w.state()
		w.must(t, w.a, shrShareQ, obj{"m": "DEALS", "ids": []string{dealA}, "shares": []obj{shrShare("USER", w.cID, "FULL_ACCESS", true)}})
		w.unchanged(t, before)
		// The admin may list any record's shares; a viewer with FULL_ACCESS through a share too.
		if l := w.must(t, w.admin, shrSharesQ, obj{"m": "DEALS", "id": dealA}); len(l["recordShares"].([]any)) != 2 {
			t.Errorf("admin's recordShares = %v", l)
		}
		if l := w.must(t, w.c, shrSharesQ, obj{"m": "DEALS", "id": dealA}); len(l["recordShares"].([]any)) != 2 {
			t.Errorf("C's recordShares = %v", l)
		}
	})

	users := []string{}
	for i := 1; i <= 10; i++ {
		c := env.Signup(fmt.Sprintf("u%d@sharing.test", i), fmt.Sprintf("User %d", i))
		users = append(users, fmt.Sprintf("member_%d", env.AddMember(w.org, c, "Support", "CEO", false)))
	}
	roles := []string{}
	for i := 1; i <= 6; i++ {
		roles = append(roles, w.addRole(fmt.Sprintf("Extra %d", i)))
	}
	groups := []string{}
	for i := 1; i <= 6; i++ {
		groups = append(groups, w.group(t, fmt.Sprintf("Share group %d", i)))
	}
	userShares := func(ids ...string) []obj {
		out := []obj{}
		for _, id := range ids {
			out = append(out, shrShare("USER", id, "READ_ONLY", false))
		}
		return out
	}
	many := func(typ string, ids []string) []obj {
		out := []obj{}
		for _, id := range ids {
			out = append(out, shrShare(typ, id, "READ_ONLY", false))
		}
		return out
	}
	tooMany := make([]string, 501)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("deal_%d", i+1)
	}
	// dealB already has no shares; dealA has C: 10 more users make 11.
	w.must(t, w.a, shrShareQ, obj{"m": "DEALS", "ids": []string{dealA2}, "shares": userShares(users[:9]...)})

	share := func(ids []string, shares []obj) obj { return obj{"m": "DEALS", "ids": ids, "shares": shares} }
	bad := []struct {
		name   string
		caller apitest.Caller
		code   string
		msg    string
		query  string
		vars   obj
	}{
		{"11 users at once", w.b, "LIMIT_EXCEEDED", dealB, shrShareQ, share([]string{dealB}, userShares(append(users, w.cID)...))},
		{"11 users counting existing shares", w.a, "LIMIT_EXCEEDED", dealA2, shrShareQ, share([]string{dealA2}, userShares(users[9]))},
		{"6 roles", w.b, "LIMIT_EXCEEDED", "roles", shrShareQ, share([]string{dealB}, many("ROLE_AND_SUBORDINATES", roles))},
		{"6 groups", w.b, "LIMIT_EXCEEDED", "groups", shrShareQ, share([]string{dealB}, many("GROUP", groups))},
		{"501 records", w.admin, "BAD_USER_INPUT", "500", shrShareQ, share(tooMany, userShares(w.cID))},
		{"no records", w.admin, "BAD_USER_INPUT", "", shrShareQ, share([]string{}, userShares(w.cID))},
		{"no shares", w.a, "BAD_USER_INPUT", "", shrShareQ, share([]string{dealA}, []obj{})},
		{"same principal, two accesses", w.a, "BAD_USER_INPUT", "", shrShareQ, share([]string{dealA}, []obj{
			shrShare("USER", w.bID, "READ_ONLY", false), shrShare("USER", w.bID, "READ_WRITE", false)})},
		{"READ_WRITE_DELETE is no share level", w.a, "BAD_USER_INPUT", "", shrShareQ, share([]string{dealA}, []obj{shrShare("USER", w.bID, "READ_WRITE_DELETE", false)})},
		{"unknown record", w.admin, "NOT_FOUND", "deal_999999", shrShareQ, share([]string{"deal_999999"}, userShares(w.cID))},
		{"record of another org", w.admin, "NOT_FOUND", otherDeal, shrShareQ, share([]string{otherDeal}, userShares(w.cID))},
		{"id of another module", w.admin, "NOT_FOUND", "", shrShareQ, share([]string{"lead_1"}, userShares(w.cID))},
		{"unknown principal", w.a, "NOT_FOUND", "", shrShareQ, share([]string{dealA}, userShares("member_999999"))},
		{"principal of another org", w.a, "NOT_FOUND", "", shrShareQ, share([]string{dealA}, userShares(other.bID))},
		{"invisible record", w.b, "NOT_FOUND", dealA, shrShareQ, share([]string{dealA}, userShares(w.cID))},
		{"READ_WRITE is not FULL_ACCESS", w.b, "FORBIDDEN", dealA2, shrShareQ, share([]string{dealA2}, userShares(w.cID))},
		{"bulk: the middle record fails, none is shared", w.b, "FORBIDDEN", dealA2 + ":", shrShareQ, share([]string{dealB, dealA2, w.deal(t, w.b, "B's other", 1)}, userShares(w.cID))},
		{"revoke: invisible record", w.b, "NOT_FOUND", dealA, shrRevokeQ, obj{"m": "DEALS", "ids": []string{dealA}, "ps": []obj{shrP("USER", w.cID)}}},
		{"revoke: READ_WRITE is not FULL_ACCESS", w.b, "FORBIDDEN", dealA2, shrRevokeQ, obj{"m": "DEALS", "ids": []string{dealA2}, "ps": []obj{shrP("USER", w.bID)}}},
		{"revoke: record of another org", w.admin, "NOT_FOUND", "", shrRevokeQ, obj{"m": "DEALS", "ids": []string{otherDeal}, "ps": []obj{shrP("USER", w.cID)}}},
		{"revoke: no principals", w.a, "BAD_USER_INPUT", "", shrRevokeQ, obj{"m": "DEALS", "ids": []string{dealA}, "ps": []obj{}}},
		{"revoke: 501 records", w.admin, "BAD_USER_INPUT", "", shrRevokeQ, obj{"m": "DEALS", "ids": tooMany, "ps": []obj{shrP("USER", w.cID)}}},
		{"recordShares: invisible", w.b, "NOT_FOUND", "", shrSharesQ, obj{"m": "DEALS", "id": dealA}},
		{"recordShares: READ_WRITE is not FULL_ACCESS", w.b, "FORBIDDEN", "", shrSharesQ, obj{"m": "DEALS", "id": dealA2}},
		{"recordShares: unknown record", w.admin, "NOT_FOUND", "", shrSharesQ, obj{"m": "DEALS", "id": "deal_999999"}},
		{"recordShares: record of another org", w.admin, "NOT_FOUND", "", shrSharesQ, obj{"m": "DEALS", "id": otherDeal}},
	}
	for _, tc := range bad {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			w.fails(t, tc.caller, tc.code, tc.msg, tc.query, tc.vars)
		})
	}

	t.Run("concurrent shares respect the per-record limit together", func(t *testing.T) {
		// Six requests at once, each sharing the deal with one more group:
		// five fit.
		fresh := w.deal(t, w.a, "Contested", 1)
		reqs := make([]shrReq, len(groups))
		for i, g := range groups {
			reqs[i] = shrReq{shrShareQ, share([]string{fresh}, many("GROUP", []string{g}))}
		}
		errs := shrConcurrently(envFor(env, t), w.a, reqs...)
		var n int
		_ = env.DB.Get(&n, `SELECT count(*) FROM record_shares WHERE org_id = $1 AND record_id = $2`, w.orgKey, strings.TrimPrefix(fresh, "deal_"))
		if n != 5 {
			t.Errorf("the deal is shared with %d groups, want 5 (errors %v)", n, errs)
		}
		failed := 0
		for _, e := range errs {
			if e != "" {
				failed++
				if !strings.HasPrefix(e, "LIMIT_EXCEEDED") {
					t.Errorf("%s, want LIMIT_EXCEEDED", e)
				}
			}
		}
		if failed != 1 {
			t.Errorf("%d shares refused, want 1: %v", failed, errs)
		}
	})

	t.Run("a profile without share may not share", func(t *testing.T) {
		ctx := context.Background()
		tx := env.DB.MustBeginTx(ctx, nil)
		if _, err := tx.Exec(`UPDATE profiles SET module_permissions = jsonb_set(module_permissions, '{DEALS}', '["view","create","edit"]')
			WHERE org_id = $1 AND is_standard`, w.orgKey); err != nil {
			t.Fatal(err)
		}
		if err := db.LogSecurityChange(ctx, tx, w.orgKey, db.ChangeOrg, map[string]any{"profile": "standard"}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		w.fails(t, w.b, "FORBIDDEN", dealB, shrShareQ, share([]string{dealB}, userShares(w.cID)))
		w.fails(t, w.b, "FORBIDDEN", dealB, shrRevokeQ, obj{"m": "DEALS", "ids": []string{dealB}, "ps": []obj{shrP("USER", w.cID)}})
	})

	t.Run("revoke returns the number removed", func(t *testing.T) {
		before := w.state()
		d := w.must(t, w.admin, shrRevokeQ, obj{"m": "DEALS", "ids": []string{dealA, dealA2, dealB},
			"ps": []obj{shrP("USER", w.cID), shrP("USER", users[0]), shrP("USER", users[0]), shrP("GROUP", groups[0])}})
		if d["revokeRecordShares"] != float64(2) {
			t.Errorf("revokeRecordShares = %v, want 2 (C on dealA, user 1 on dealA2)", d["revokeRecordShares"])
		}
		after := w.state()
		if after.Shares != before.Shares-2 || after.Version != before.Version+2 || after.Audits != before.Audits+2 {
			t.Errorf("state %+v -> %+v", before, after)
		}
		// Nothing left to revoke: 0, nothing changed.
		before = w.state()
		if d := w.must(t, w.admin, shrRevokeQ, obj{"m": "DEALS", "ids": []string{dealA}, "ps": []obj{shrP("USER", w.cID)}}); d["revokeRecordShares"] != float64(0) {
			t.Errorf("second revoke = %v", d)
		}
		w.unchanged(t, before)
	})
}

func TestShareAccessEffects(t *testing.T) {
	env := apitest.New(t)
	u := shrSignupUsers(env)

	t.Run("owner-based rule shows A's deals to B until deleted", func(t *testing.T) {
		w := shrNewWorld(env, u, "Owner rule")
		d1, d2 := w.deal(t, w.a, "A1", 1), w.deal(t, w.a, "A2", 2)
		dc := w.deal(t, w.c, "C1", 3)
		w.sees(t, "B", w.b, "deals", map[string]bool{d1: false, d2: false, dc: false})
		rule := w.rule(t, obj{"module": "DEALS", "name": "A to B", "source": shrP("USER", w.aID), "target": shrP("USER", w.bID), "access": "READ_WRITE"})
		w.sees(t, "B", w.b, "deals", map[string]bool{d1: true, d2: true, dc: false})
		if lvl := w.level(t, w.b, "deal", d1); lvl != "READ_WRITE" {
			t.Errorf("B's level = %q", lvl)
		}
		w.sees(t, "C", w.c, "deals", map[string]bool{d1: false})
		// A deal A creates afterwards is covered at once.
		d3 := w.deal(t, w.a, "A3", 4)
		w.sees(t, "B", w.b, "deals", map[string]bool{d3: true})
		w.must(t, w.admin, shrDeleteRuleQ, obj{"id": rule})
		w.sees(t, "B", w.b, "deals", map[string]bool{d1: false, d2: false, d3: false})
	})

	t.Run("criteria rule follows the record's amount", func(t *testing.T) {
		w := shrNewWorld(env, u, "Criteria rule")
		big, small := w.deal(t, w.a, "Big", 20000), w.deal(t, w.a, "Small", 5000)
		w.rule(t, obj{"module": "DEALS", "name": "Big deals", "target": shrP("USER", w.bID), "access": "READ_ONLY",
			"criteria": obj{"op": "AND", "conditions": []obj{{"field": "amount", "op": "GT", "value": 10000}}}})
		w.sees(t, "B", w.b, "deals", map[string]bool{big: true, small: false})
		upd := `mutation($id: ID!, $amount: Float) { updateDeal(id: $id, input: {amount: $amount}) { id } }`
		w.must(t, w.a, upd, obj{"id": big, "amount": 9999.5})
		w.sees(t, "B", w.b, "deals", map[string]bool{big: false, small: false})
		w.must(t, w.a, upd, obj{"id": small, "amount": 10000.01})
		w.sees(t, "B", w.b, "deals", map[string]bool{big: false, small: true})
		w.must(t, w.a, upd, obj{"id": big, "amount": 10001})
		w.sees(t, "B", w.b, "deals", map[string]bool{big: true, small: true})
		w.must(t, w.a, upd, obj{"id": big, "amount": nil}) // an empty field matches only IS_EMPTY and NEQ
		w.sees(t, "B", w.b, "deals", map[string]bool{big: false})
		// A new matching deal is shared at once.
		fresh := w.deal(t, w.a, "Fresh", 50000)
		w.sees(t, "B", w.b, "deals", map[string]bool{fresh: true})
	})

	t.Run("criteria rule on a custom field", func(t *testing.T) {
		w := shrNewWorld(env, u, "Custom criteria")
		if _, err := env.DB.Exec(`INSERT INTO custom_field_definitions (org_id, module, api_name, label, type)
			VALUES ($1, 'DEALS', 'region', 'Region', 'TEXT')`, w.orgKey); err != nil {
			t.Fatal(err)
		}
		emea := w.create(t, w.a, "createDeal", "CreateDealInput", obj{"name": "EMEA", "customFields": obj{"region": "EMEA"}})
		us := w.create(t, w.a, "createDeal", "CreateDealInput", obj{"name": "US", "customFields": obj{"region": "US"}})
		w.rule(t, obj{"module": "DEALS", "name": "EMEA deals", "target": shrP("USER", w.bID), "access": "READ_ONLY",
			"criteria": obj{"op": "OR", "conditions": []obj{{"field": "region", "op": "IN", "value": []string{"EMEA", "APAC"}}}}})
		w.sees(t, "B", w.b, "deals", map[string]bool{emea: true, us: false})
	})

	t.Run("nested groups: a member of the inner group gets the outer group's rule", func(t *testing.T) {
		w := shrNewWorld(env, u, "Nested")
		d := w.deal(t, w.a, "A1", 1)
		inner := w.group(t, "Inner", shrP("USER", w.cID))
		outer := w.group(t, "Outer", shrP("GROUP", inner))
		w.rule(t, obj{"module": "DEALS", "name": "A to outer", "source": shrP("USER", w.aID), "target": shrP("GROUP", outer), "access": "READ_ONLY"})
		w.sees(t, "C", w.c, "deals", map[string]bool{d: true})
		w.sees(t, "B", w.b, "deals", map[string]bool{d: false})
		// Changing the inner group's members changes access at once.
		w.must(t, w.admin, shrUpdateGroupQ, obj{"id": inner, "in": obj{"members": []obj{shrP("USER", w.bID)}}})
		w.sees(t, "C", w.c, "deals", map[string]bool{d: false})
		w.sees(t, "B", w.b, "deals", map[string]bool{d: true})
		// A source group works the same way: C's records through the inner group.
		dc := w.deal(t, w.c, "C1", 1)
		w.must(t, w.admin, shrUpdateGroupQ, obj{"id": inner, "in": obj{"members": []obj{shrP("USER", w.bID), shrP("USER", w.cID)}}})
		w.rule(t, obj{"module": "DEALS", "name": "Outer to A", "source": shrP("GROUP", outer), "target": shrP("USER", w.aID), "access": "READ_ONLY"})
		w.sees(t, "A", w.a, "deals", map[string]bool{dc: true})
	})

	t.Run("superiorsAllowed opens the rule to the target's superiors", func(t *testing.T) {
		w := shrNewWorld(env, u, "Superiors")
		d := w.deal(t, w.a, "A1", 1)
		rule := w.rule(t, obj{"module": "DEALS", "name": "A to B", "source": shrP("USER", w.aID), "target": shrP("USER", w.bID), "access": "READ_ONLY"})
		w.sees(t, "B", w.b, "deals", map[string]bool{d: true})
		w.sees(t, "M", w.m, "deals", map[string]bool{d: false})
		w.must(t, w.admin, shrUpdateRuleQ, obj{"id": rule, "in": obj{"superiorsAllowed": true}})
		w.sees(t, "M", w.m, "deals", map[string]bool{d: true})
		if lvl := w.level(t, w.m, "deal", d); lvl != "READ_ONLY" {
			t.Errorf("M's level = %q", lvl)
		}
		w.sees(t, "C", w.c, "deals", map[string]bool{d: false})
		w.must(t, w.admin, shrUpdateRuleQ, obj{"id": rule, "in": obj{"superiorsAllowed": false}})
		w.sees(t, "M", w.m, "deals", map[string]bool{d: false})
		w.sees(t, "B", w.b, "deals", map[string]bool{d: true})
	})

	t.Run("a record share grants its level, and revoking removes exactly that grant", func(t *testing.T) {
		w := shrNewWorld(env, u, "Record shares")
		d := w.deal(t, w.a, "A1", 1)
		other := w.deal(t, w.a, "A2", 1)
		grp := w.group(t, "B's group", shrP("USER", w.bID))
		if lvl := w.level(t, w.b, "deal", d); lvl != "" {
			t.Fatalf("B sees the deal before any share: %q", lvl)
		}
		w.must(t, w.a, shrShareQ, obj{"m": "DEALS", "ids": []string{d}, "shares": []obj{shrShare("USER", w.bID, "READ_WRITE", false)}})
		if lvl := w.level(t, w.b, "deal", d); lvl != "READ_WRITE" {
			t.Errorf("B's level after a READ_WRITE share = %q", lvl)
		}
		w.sees(t, "B", w.b, "deals", map[string]bool{d: true, other: false})
		w.must(t, w.a, shrShareQ, obj{"m": "DEALS", "ids": []string{d}, "shares": []obj{shrShare("USER", w.bID, "FULL_ACCESS", false)}})
		if lvl := w.level(t, w.b, "deal", d); lvl != "FULL_ACCESS" {
			t.Errorf("B's level after a FULL_ACCESS share = %q", lvl)
		}
		w.must(t, w.a, shrShareQ, obj{"m": "DEALS", "ids": []string{d}, "shares": []obj{shrShare("GROUP", grp, "READ_ONLY", false)}})
		w.must(t, w.a, shrRevokeQ, obj{"m": "DEALS", "ids": []string{d}, "ps": []obj{shrP("USER", w.bID)}})
		if lvl := w.level(t, w.b, "deal", d); lvl != "READ_ONLY" {
			t.Errorf("B's level with only the group's share left = %q", lvl)
		}
		w.must(t, w.a, shrRevokeQ, obj{"m": "DEALS", "ids": []string{d}, "ps": []obj{shrP("GROUP", grp)}})
		w.sees(t, "B", w.b, "deals", map[string]bool{d: false})
		// The owner keeps their access throughout.
		if lvl := w.level(t, w.a, "deal", d); lvl != "FULL_ACCESS" {
			t.Errorf("A's level = %q", lvl)
		}
	})

	t.Run("includeRelated reaches the account's deals and contacts, one level only", func(t *testing.T) {
		w := shrNewWorld(env, u, "Related")
		acc := w.create(t, w.a, "createAccount", "CreateAccountInput", obj{"name": "Acme"})
		deal := w.create(t, w.a, "createDeal", "CreateDealInput", obj{"name": "Acme deal", "accountId": acc})
		contact := w.create(t, w.a, "createContact", "CreateContactInput", obj{"lastName": "Smith", "accountId": acc})
		task := w.create(t, w.a, "createTask", "CreateTaskInput", obj{"subject": "Call about the deal", "relatedToId": deal})
		accTask := w.create(t, w.a, "createTask", "CreateTaskInput", obj{"subject": "Call about the account", "relatedToId": acc})
		loose := w.create(t, w.a, "createDeal", "CreateDealInput", obj{"name": "No account"})

		w.must(t, w.a, shrShareQ, obj{"m": "ACCOUNTS", "ids": []string{acc}, "shares": []obj{shrShare("USER", w.bID, "READ_WRITE", true)}})
		w.sees(t, "B", w.b, "accounts", map[string]bool{acc: true})
		w.sees(t, "B", w.b, "deals", map[string]bool{deal: true, loose: false})
		w.sees(t, "B", w.b, "contacts", map[string]bool{contact: true})
		w.sees(t, "B", w.b, "tasks", map[string]bool{task: false, accTask: true})
		if lvl := w.level(t, w.b, "deal", deal); lvl != "READ_WRITE" {
			t.Errorf("B's level on the account's deal = %q", lvl)
		}
		w.sees(t, "C", w.c, "deals", map[string]bool{deal: false})

		// Without includeRelated, only the account itself.
		w.must(t, w.a, shrShareQ, obj{"m": "ACCOUNTS", "ids": []string{acc}, "shares": []obj{shrShare("USER", w.bID, "READ_ONLY", false)}})
		w.sees(t, "B", w.b, "accounts", map[string]bool{acc: true})
		w.sees(t, "B", w.b, "deals", map[string]bool{deal: false})
		w.sees(t, "B", w.b, "contacts", map[string]bool{contact: false})

		w.must(t, w.a, shrShareQ, obj{"m": "ACCOUNTS", "ids": []string{acc}, "shares": []obj{shrShare("USER", w.bID, "READ_ONLY", true)}})
		w.sees(t, "B", w.b, "deals", map[string]bool{deal: true})
		w.must(t, w.a, shrRevokeQ, obj{"m": "ACCOUNTS", "ids": []string{acc}, "ps": []obj{shrP("USER", w.bID)}})
		w.sees(t, "B", w.b, "accounts", map[string]bool{acc: false})
		w.sees(t, "B", w.b, "deals", map[string]bool{deal: false})
		w.sees(t, "B", w.b, "contacts", map[string]bool{contact: false})
		w.sees(t, "B", w.b, "tasks", map[string]bool{accTask: false})
	})

	t.Run("a failed bulk share grants nothing", func(t *testing.T) {
		w := shrNewWorld(env, u, "Bulk")
		mine1, theirs, mine2 := w.deal(t, w.b, "B1", 1), w.deal(t, w.a, "A1", 1), w.deal(t, w.b, "B2", 1)
		w.rule(t, obj{"module": "DEALS", "name": "A to B", "source": shrP("USER", w.aID), "target": shrP("USER", w.bID), "access": "READ_WRITE"})
		w.fails(t, w.b, "FORBIDDEN", theirs+":", shrShareQ, obj{"m": "DEALS", "ids": []string{mine1, theirs, mine2},
			"shares": []obj{shrShare("USER", w.cID, "READ_ONLY", false)}})
		w.sees(t, "C", w.c, "deals", map[string]bool{mine1: false, theirs: false, mine2: false})
		d := w.must(t, w.b, shrShareQ, obj{"m": "DEALS", "ids": []string{mine1, mine2}, "shares": []obj{shrShare("USER", w.cID, "READ_ONLY", false)}})
		if n := len(d["shareRecords"].([]any)); n != 2 {
			t.Errorf("%d shares returned, want 2", n)
		}
		w.sees(t, "C", w.c, "deals", map[string]bool{mine1: true, theirs: false, mine2: true})
	})
}
