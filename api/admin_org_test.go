package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/api/apitest"
	"warden/db"
)

// Tests of the org administration API: roles, members, hierarchy mode,
// module defaults and the audit log, through HTTP GraphQL. Helpers are
// prefixed "ao" to keep clear of the package's other test files.

type aoObj = map[string]any

// aoOrg is an org set up for a test: its Administrator and what the
// administration API needs to name.
type aoOrg struct {
	env      *apitest.Env
	admin    apitest.Caller
	adminID  string // the Administrator's member id
	id       string // org id
	key      int64
	topRole  string
	adminPrf string // Administrator profile id
	stdPrf   string // Standard profile id
}

func aoNewOrg(env *apitest.Env, email, name string) *aoOrg {
	env.T.Helper()
	admin := env.CreateOrg(env.Signup(email, "Admin of "+name), name)
	o := &aoOrg{env: env, admin: admin, id: admin.Org, key: apitest.OrgKey(admin.Org)}
	var out struct {
		Viewer   struct{ Member struct{ ID string } }
		Roles    []struct{ ID, Name string }
		Profiles []struct {
			ID, Name      string
			Administrator bool
		}
	}
	env.Must(admin, `{ viewer { member { id } } roles { id name } profiles { id name administrator } }`, nil, &out)
	o.adminID = out.Viewer.Member.ID
	o.topRole = out.Roles[0].ID
	for _, p := range out.Profiles {
		if p.Administrator {
			o.adminPrf = p.ID
		} else if p.Name == "Standard" {
			o.stdPrf = p.ID
		}
	}
	if o.adminID == "" || o.topRole == "" || o.adminPrf == "" || o.stdPrf == "" {
		env.T.Fatalf("org set-up incomplete: %+v", out)
	}
	return o
}

// must runs a request that must succeed and returns its data.
func (o *aoOrg) must(c apitest.Caller, query string, vars aoObj) aoObj {
	o.env.T.Helper()
	var out aoObj
	o.env.Must(c, query, vars, &out)
	return out
}

const aoRoleSel = `id name shareWithPeers parent { id }`
const aoMemberSel = `id name email status role { id name } profile { id name } reportsTo { id } timeZone`

func (o *aoOrg) createRole(name, parent string) string {
	o.env.T.Helper()
	in := aoObj{"name": name}
	if parent != "" {
		in["parentId"] = parent
	}
	d := o.must(o.admin, `mutation($in: CreateRoleInput!) { createRole(input: $in) { id } }`, aoObj{"in": in})
	return aoStr(d, "createRole", "id")
}

// addMember signs a user up and adds them to the org with the role (Standard
// profile unless another is given); it returns the user acting in the org
// and their member id.
func (o *aoOrg) addMember(email, name, role string, extra aoObj) (apitest.Caller, string) {
	o.env.T.Helper()
	c := o.env.Signup(email, name)
	in := aoObj{"email": email, "name": name, "roleId": role, "profileId": o.stdPrf}
	for k, v := range extra {
		in[k] = v
	}
	d := o.must(o.admin, `mutation($in: AddMemberInput!) { addMember(input: $in) { id } }`, aoObj{"in": in})
	return c.In(o.id), aoStr(d, "addMember", "id")
}

func (o *aoOrg) version() int64 {
	o.env.T.Helper()
	var v int64
	if err := o.env.DB.Get(&v, `SELECT version FROM org_security WHERE org_id = $1`, o.key); err != nil {
		o.env.T.Fatal(err)
	}
	return v
}

// lastAudit is the org's newest audit entry, as the API shows it.
func (o *aoOrg) lastAudit() aoObj {
	o.env.T.Helper()
	d := o.must(o.admin, `{ auditLog(first: 1) { edges { node { id action targetType targetId actor { id } before after } } } }`, nil)
	edges, _ := aoPath(d, "auditLog", "edges").([]any)
	if len(edges) == 0 {
		o.env.T.Fatal("audit log is empty")
	}
	return edges[0].(aoObj)["node"].(aoObj)
}

// wantAudit checks the newest audit entry: action, target, actor, and the
// before and after fields given (nil: the whole value is null).
func (o *aoOrg) wantAudit(action, targetID string, before, after aoObj) {
	o.env.T.Helper()
	e := o.lastAudit()
	if e["action"] != action || e["targetId"] != targetID || aoStr(e, "actor", "id") != o.adminID {
		o.env.T.Fatalf("audit entry %v, want action %s on %s by %s", e, action, targetID, o.adminID)
	}
	check := func(what string, got any, want aoObj) {
		if want == nil {
			if got != nil {
				o.env.T.Errorf("audit %s of %s: %v, want null", what, action, got)
			}
			return
		}
		g, ok := got.(aoObj)
		if !ok {
			o.env.T.Fatalf("audit %s of %s: %v, want an object", what, action, got)
		}
		for k, v := range want {
			if fmt.Sprint(g[k]) != fmt.Sprint(v) {
				o.env.T.Errorf("audit %s.%s of %s: %v, want %v (entry %v)", what, k, action, g[k], v, e)
			}
		}
	}
	check("before", e["before"], before)
	check("after", e["after"], after)
}

// aoWrite writes set-up rows with SQL and bumps the org's security version
// as the API would; query returns one bigint.
func aoWrite(env *apitest.Env, orgKey int64, kind string, payload any, query string, args ...any) int64 {
	env.T.Helper()
	ctx := context.Background()
	tx := env.DB.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	var id int64
	if err := tx.GetContext(ctx, &id, query, args...); err != nil {
		env.T.Fatalf("%s: %v", query, err)
	}
	if err := db.LogSecurityChange(ctx, tx, orgKey, kind, payload); err != nil {
		env.T.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		env.T.Fatal(err)
	}
	return id
}

// aoState fingerprints everything the administration API writes, for the
// orgs given and the global identities: a rejected change must leave it as is.
func aoState(env *apitest.Env, orgKeys ...int64) string {
	env.T.Helper()
	var parts []string
	q := func(query string, args ...any) {
		var rows []string
		if err := env.DB.Select(&rows, query, args...); err != nil {
			env.T.Fatalf("%s: %v", query, err)
		}
		parts = append(parts, strings.Join(rows, ";"))
	}
	for _, k := range orgKeys {
		q(`SELECT id || ':' || name || ':' || coalesce(parent_id::text, '') || ':' || share_with_peers FROM roles WHERE org_id = $1 ORDER BY id`, k)
		q(`SELECT id || ':' || user_id || ':' || role_id || ':' || profile_id || ':' || coalesce(reports_to_id::text, '') || ':' ||
			coalesce(shift_id::text, '') || ':' || coalesce(time_zone, '') || ':' || status FROM members WHERE org_id = $1 ORDER BY id`, k)
		q(`SELECT o.hierarchy_mode || ':' || s.version FROM orgs o JOIN org_security s ON s.org_id = o.id WHERE o.id = $1`, k)
		q(`SELECT module || ':' || default_access FROM module_sharing WHERE org_id = $1 ORDER BY module`, k)
		q(`SELECT count(*)::text FROM audit_log WHERE org_id = $1`, k)
		q(`SELECT count(*)::text FROM security_changes WHERE org_id = $1`, k)
	}
	q(`SELECT id || ':' || email || ':' || name || ':' || coalesce(password_hash, '') || ':' || coalesce(default_org_id::text, '') FROM users ORDER BY id`)
	return strings.Join(parts, "\n")
}

// aoCase is a request that must be rejected with a code and change nothing.
type aoCase struct {
	name  string
	as    apitest.Caller
	query string
	vars  aoObj
	code  string
	msg   string // a part of the error message, when it matters
}

func aoReject(t *testing.T, env *apitest.Env, orgKeys []int64, cases []aoCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := *env
			e.T = t
			before := aoState(&e, orgKeys...)
			r := e.Fails(tc.as, tc.code, tc.query, tc.vars)
			for _, er := range r.Errors {
				low := strings.ToLower(er.Message)
				for _, w := range []string{"sql", "pq:", "violates", "constraint", "panic", ".go:"} {
					if strings.Contains(low, w) {
						t.Errorf("error message leaks internals: %q", er.Message)
					}
				}
				if tc.msg != "" && !strings.Contains(er.Message, tc.msg) {
					t.Errorf("error message %q does not mention %q", er.Message, tc.msg)
				}
			}
			if after := aoState(&e, orgKeys...); after != before {
				t.Errorf("a rejected request changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

func aoPath(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(aoObj)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func aoStr(v any, keys ...string) string { s, _ := aoPath(v, keys...).(string); return s }

// aoDeals lists the deals the caller sees: id -> access level.
func aoDeals(env *apitest.Env, c apitest.Caller) map[string]string {
	env.T.Helper()
	var out struct {
		Deals struct {
			Edges []struct {
				Node struct {
					ID     string
					Access struct{ Level string }
				}
			}
		}
	}
	env.Must(c, `{ deals(first: 100) { edges { node { id access { level } } } } }`, nil, &out)
	got := map[string]string{}
	for _, e := range out.Deals.Edges {
		got[e.Node.ID] = e.Node.Access.Level
	}
	return got
}

func aoCreateDeal(env *apitest.Env, c apitest.Caller, name string) string {
	env.T.Helper()
	var out struct{ CreateDeal struct{ ID string } }
	env.Must(c, `mutation($in: CreateDealInput!) { createDeal(input: $in) { id } }`, aoObj{"in": aoObj{"name": name}}, &out)
	return out.CreateDeal.ID
}

// aoSees checks whether the caller sees the deal, and at which level.
func aoSees(t *testing.T, env *apitest.Env, c apitest.Caller, who, deal, wantLevel string) {
	t.Helper()
	e := *env
	e.T = t
	level, ok := aoDeals(&e, c)[deal]
	switch {
	case wantLevel == "" && ok:
		t.Errorf("%s sees deal %s (level %s), want not visible", who, deal, level)
	case wantLevel != "" && !ok:
		t.Errorf("%s does not see deal %s, want level %s", who, deal, wantLevel)
	case wantLevel != "" && level != wantLevel:
		t.Errorf("%s sees deal %s at level %s, want %s", who, deal, level, wantLevel)
	}
}

const (
	aoCreateRoleQ = `mutation($in: CreateRoleInput!) { createRole(input: $in) { ` + aoRoleSel + ` } }`
	aoUpdateRoleQ = `mutation($id: ID!, $in: UpdateRoleInput!) { updateRole(id: $id, input: $in) { ` + aoRoleSel + ` } }`
	aoMoveRoleQ   = `mutation($id: ID!, $p: ID!) { moveRole(id: $id, parentId: $p) { ` + aoRoleSel + ` } }`
	aoDeleteRoleQ = `mutation($id: ID!, $to: ID!) { deleteRole(id: $id, transferToRoleId: $to) }`
	aoAddQ        = `mutation($in: AddMemberInput!) { addMember(input: $in) { ` + aoMemberSel + ` } }`
	aoUpdateQ     = `mutation($id: ID!, $in: UpdateMemberInput!) { updateMember(id: $id, input: $in) { ` + aoMemberSel + ` } }`
	aoDeactQ      = `mutation($id: ID!) { deactivateMember(id: $id) { ` + aoMemberSel + ` } }`
	aoReactQ      = `mutation($id: ID!) { reactivateMember(id: $id) { ` + aoMemberSel + ` } }`
	aoModeQ       = `mutation($m: HierarchyMode!) { setHierarchyMode(mode: $m) { hierarchyMode securityVersion moduleSharing { module defaultAccess } } }`
	aoSharingQ    = `mutation($m: Module!, $a: DefaultAccess!) { setModuleSharing(module: $m, defaultAccess: $a) { hierarchyMode securityVersion moduleSharing { module defaultAccess } } }`
)

func TestAdminRoles(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "admin@roles.test", "Roles Inc")
	other := aoNewOrg(env, "admin@other.test", "Other Inc")
	otherRole := other.createRole("Elsewhere", "")
	std, _ := o.addMember("std@roles.test", "Stan Dard", o.topRole, nil)

	// createRole: defaults to the top role; explicit parent; shareWithPeers.
	v0 := o.version()
	d := o.must(o.admin, aoCreateRoleQ, aoObj{"in": aoObj{"name": "  Sales Manager  "}})
	mgr := aoStr(d, "createRole", "id")
	if aoStr(d, "createRole", "name") != "Sales Manager" || aoStr(d, "createRole", "parent", "id") != o.topRole ||
		aoPath(d, "createRole", "shareWithPeers") != false {
		t.Fatalf("createRole: %v", d)
	}
	if v := o.version(); v <= v0 {
		t.Errorf("createRole did not bump the security version (%d -> %d)", v0, v)
	}
	o.wantAudit("role.create", mgr, nil, aoObj{"id": mgr, "name": "Sales Manager", "parentId": o.topRole, "shareWithPeers": false})

	d = o.must(o.admin, aoCreateRoleQ, aoObj{"in": aoObj{"name": "Sales Rep", "parentId": mgr, "shareWithPeers": true}})
	rep := aoStr(d, "createRole", "id")
	if aoStr(d, "createRole", "parent", "id") != mgr || aoPath(d, "createRole", "shareWithPeers") != true {
		t.Fatalf("createRole under a parent: %v", d)
	}
	o.wantAudit("role.create", rep, nil, aoObj{"parentId": mgr, "shareWithPeers": true})
	intern := o.createRole("Intern", rep)

	// updateRole: rename (case change of itself is no conflict) and peers.
	v0 = o.version()
	d = o.must(o.admin, aoUpdateRoleQ, aoObj{"id": rep, "in": aoObj{"name": "SALES REP", "shareWithPeers": false}})
	if aoStr(d, "updateRole", "name") != "SALES REP" || aoPath(d, "updateRole", "shareWithPeers") != false {
		t.Fatalf("updateRole: %v", d)
	}
	if o.version() <= v0 {
		t.Error("updateRole did not bump the security version")
	}
	o.wantAudit("role.update", rep, aoObj{"name": "Sales Rep", "shareWithPeers": true}, aoObj{"name": "SALES REP", "shareWithPeers": false})

	// moveRole: Intern from under Sales Rep to under Sales Manager.
	d = o.must(o.admin, aoMoveRoleQ, aoObj{"id": intern, "p": mgr})
	if aoStr(d, "moveRole", "parent", "id") != mgr {
		t.Fatalf("moveRole: %v", d)
	}
	o.wantAudit("role.move", intern, aoObj{"parentId": rep}, aoObj{"parentId": mgr})

	// A reporting line for the checks below: m1 (Sales Manager) manages r1 (SALES REP).
	_, m1 := o.addMember("m1@roles.test", "Mia Manager", mgr, nil)
	_, r1 := o.addMember("r1@roles.test", "Ron Rep", rep, aoObj{"reportsToId": m1})

	// Groups, rules and shares that name a role block its deletion.
	grouped := o.createRole("Grouped", "")
	ruled := o.createRole("Ruled", "")
	shared := o.createRole("Shared", "")
	g := aoWrite(env, o.key, db.ChangeOrg, aoObj{"t": "group"}, `INSERT INTO groups (org_id, name) VALUES ($1, 'Key accounts team') RETURNING id`, o.key)
	aoWrite(env, o.key, db.ChangeOrg, aoObj{"t": "group"}, `INSERT INTO group_members (org_id, group_id, principal_type, principal_id)
		VALUES ($1, $2, 'ROLE_AND_SUBORDINATES', $3) RETURNING group_id`, o.key, g, aoKey(grouped))
	aoWrite(env, o.key, db.ChangeRules, aoObj{"module": "DEALS"}, `INSERT INTO sharing_rules (org_id, module, name, source_type, source_id,
		target_type, target_id, access) VALUES ($1, 'DEALS', 'Ruled to top', 'ROLE', $2, 'ROLE', $3, 'READ_ONLY') RETURNING id`,
		o.key, aoKey(ruled), aoKey(o.topRole))
	deal := aoCreateDeal(env, o.admin, "Shared deal")
	aoWrite(env, o.key, db.ChangeOrg, aoObj{"t": "share"}, `INSERT INTO record_shares (org_id, module, record_id, principal_type, principal_id, access)
		VALUES ($1, 'DEALS', $2, 'ROLE', $3, 'READ_ONLY') RETURNING record_id`, o.key, aoKey(deal), aoKey(shared))

	long := strings.Repeat("x", 101)
	keys := []int64{o.key, other.key}
	aoReject(t, env, keys, []aoCase{
		{"create/empty name", o.admin, aoCreateRoleQ, aoObj{"in": aoObj{"name": "   "}}, "BAD_USER_INPUT", ""},
		{"create/name too long", o.admin, aoCreateRoleQ, aoObj{"in": aoObj{"name": long}}, "BAD_USER_INPUT", ""},
		{"create/duplicate name, other case", o.admin, aoCreateRoleQ, aoObj{"in": aoObj{"name": "sales manager"}}, "CONFLICT", "Sales Manager"},
		{"create/unknown parent", o.admin, aoCreateRoleQ, aoObj{"in": aoObj{"name": "New", "parentId": "role_999999"}}, "NOT_FOUND", ""},
		{"create/parent of another org", o.admin, aoCreateRoleQ, aoObj{"in": aoObj{"name": "New", "parentId": otherRole}}, "NOT_FOUND", ""},
		{"create/parent id of another type", o.admin, aoCreateRoleQ, aoObj{"in": aoObj{"name": "New", "parentId": o.adminID}}, "NOT_FOUND", ""},
		{"create/standard member", std, aoCreateRoleQ, aoObj{"in": aoObj{"name": "New"}}, "FORBIDDEN", ""},

		{"update/unknown id", o.admin, aoUpdateRoleQ, aoObj{"id": "role_999999", "in": aoObj{"name": "X"}}, "NOT_FOUND", ""},
		{"update/role of another org", o.admin, aoUpdateRoleQ, aoObj{"id": otherRole, "in": aoObj{"name": "X"}}, "NOT_FOUND", ""},
		{"update/duplicate name", o.admin, aoUpdateRoleQ, aoObj{"id": rep, "in": aoObj{"name": "INTERN"}}, "CONFLICT", ""},
		{"update/empty name", o.admin, aoUpdateRoleQ, aoObj{"id": rep, "in": aoObj{"name": ""}}, "BAD_USER_INPUT", ""},
		{"update/nothing", o.admin, aoUpdateRoleQ, aoObj{"id": rep, "in": aoObj{}}, "BAD_USER_INPUT", ""},
		{"update/standard member", std, aoUpdateRoleQ, aoObj{"id": rep, "in": aoObj{"name": "X"}}, "FORBIDDEN", ""},

		{"move/top role", o.admin, aoMoveRoleQ, aoObj{"id": o.topRole, "p": mgr}, "CONFLICT", ""},
		{"move/under itself", o.admin, aoMoveRoleQ, aoObj{"id": mgr, "p": mgr}, "CONFLICT", ""},
		{"move/cycle under its child", o.admin, aoMoveRoleQ, aoObj{"id": mgr, "p": rep}, "CONFLICT", ""},
		{"move/breaks a reporting line", o.admin, aoMoveRoleQ, aoObj{"id": rep, "p": o.topRole}, "CONFLICT", "reporting manager"},
		{"move/unknown parent", o.admin, aoMoveRoleQ, aoObj{"id": rep, "p": "role_999999"}, "NOT_FOUND", ""},
		{"move/parent of another org", o.admin, aoMoveRoleQ, aoObj{"id": rep, "p": otherRole}, "NOT_FOUND", ""},
		{"move/role of another org", o.admin, aoMoveRoleQ, aoObj{"id": otherRole, "p": o.topRole}, "NOT_FOUND", ""},
		{"move/standard member", std, aoMoveRoleQ, aoObj{"id": intern, "p": rep}, "FORBIDDEN", ""},

		{"delete/top role", o.admin, aoDeleteRoleQ, aoObj{"id": o.topRole, "to": mgr}, "CONFLICT", ""},
		{"delete/has child roles", o.admin, aoDeleteRoleQ, aoObj{"id": mgr, "to": o.topRole}, "CONFLICT", "Intern"},
		{"delete/transfer to itself", o.admin, aoDeleteRoleQ, aoObj{"id": rep, "to": rep}, "BAD_USER_INPUT", ""},
		{"delete/unknown transfer role", o.admin, aoDeleteRoleQ, aoObj{"id": rep, "to": "role_999999"}, "NOT_FOUND", ""},
		{"delete/transfer role of another org", o.admin, aoDeleteRoleQ, aoObj{"id": rep, "to": otherRole}, "NOT_FOUND", ""},
		{"delete/role of another org", o.admin, aoDeleteRoleQ, aoObj{"id": otherRole, "to": o.topRole}, "NOT_FOUND", ""},
		{"delete/transfer breaks a reporting line", o.admin, aoDeleteRoleQ, aoObj{"id": rep, "to": mgr}, "CONFLICT", "Ron Rep"},
		{"delete/used by a group", o.admin, aoDeleteRoleQ, aoObj{"id": grouped, "to": o.topRole}, "CONFLICT", "Key accounts team"},
		{"delete/used by a sharing rule", o.admin, aoDeleteRoleQ, aoObj{"id": ruled, "to": o.topRole}, "CONFLICT", "Ruled to top"},
		{"delete/used by record shares", o.admin, aoDeleteRoleQ, aoObj{"id": shared, "to": o.topRole}, "CONFLICT", "1 record of DEALS"},
		{"delete/standard member", std, aoDeleteRoleQ, aoObj{"id": intern, "to": o.topRole}, "FORBIDDEN", ""},
	})

	// deleteRole: Intern's members move to the transfer role.
	_, i1 := o.addMember("i1@roles.test", "Ivy Intern", intern, nil)
	v0 = o.version()
	d = o.must(o.admin, aoDeleteRoleQ, aoObj{"id": intern, "to": rep})
	if d["deleteRole"] != intern {
		t.Fatalf("deleteRole: %v", d)
	}
	if o.version() <= v0 {
		t.Error("deleteRole did not bump the security version")
	}
	o.wantAudit("role.delete", intern, aoObj{"members": []any{i1}}, aoObj{"transferToRoleId": rep, "movedMembers": []any{i1}})
	d = o.must(o.admin, `query($id: ID!) { member(id: $id) { role { id } } roles { id } }`, aoObj{"id": i1})
	if aoStr(d, "member", "role", "id") != rep {
		t.Errorf("the deleted role's member is in role %v, want %s", aoPath(d, "member", "role"), rep)
	}
	for _, r := range d["roles"].([]any) {
		if r.(aoObj)["id"] == intern {
			t.Error("the deleted role is still listed")
		}
	}
	_ = r1
}

// aoKey is the numeric key of a public id.
func aoKey(id string) int64 {
	var n int64
	_, _ = fmt.Sscanf(id[strings.LastIndex(id, "_")+1:], "%d", &n)
	return n
}

func TestAdminMembers(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "admin@members.test", "Members Inc")
	other := aoNewOrg(env, "admin@elsewhere.test", "Elsewhere Inc")
	otherRole := other.createRole("Their role", "")
	_, otherMember := other.addMember("them@elsewhere.test", "Their Member", otherRole, nil)
	mgr := o.createRole("Manager", "")
	rep := o.createRole("Rep", mgr)
	std, stdID := o.addMember("std@members.test", "Stan Dard", mgr, nil)

	// addMember, a new identity with a password: it can sign in, and the org
	// becomes its default.
	v0 := o.version()
	d := o.must(o.admin, aoAddQ, aoObj{"in": aoObj{"email": "new@members.test", "name": "Nina New", "password": "a long enough secret",
		"roleId": rep, "profileId": o.stdPrf, "reportsToId": stdID, "timeZone": "Europe/Paris"}})
	nina := aoStr(d, "addMember", "id")
	if aoStr(d, "addMember", "name") != "Nina New" || aoStr(d, "addMember", "role", "id") != rep ||
		aoStr(d, "addMember", "reportsTo", "id") != stdID || aoStr(d, "addMember", "timeZone") != "Europe/Paris" ||
		aoStr(d, "addMember", "status") != "ACTIVE" {
		t.Fatalf("addMember: %v", d)
	}
	if o.version() <= v0 {
		t.Error("addMember did not bump the security version")
	}
	o.wantAudit("member.add", nina, nil, aoObj{"email": "new@members.test", "roleId": rep, "reportsToId": stdID, "status": "ACTIVE"})
	var login struct {
		Login struct {
			Token  string
			Viewer struct{ ActiveOrg struct{ ID string } }
		}
	}
	env.Must(apitest.Caller{}, `mutation { login(email: "new@members.test", password: "a long enough secret") { token viewer { activeOrg { id } } } }`, nil, &login)
	if login.Login.Viewer.ActiveOrg.ID != o.id {
		t.Errorf("the new member's default org is %q, want %s", login.Login.Viewer.ActiveOrg.ID, o.id)
	}
	ninaC := apitest.Caller{Token: login.Login.Token}
	if got := aoMemberIDOf(env, ninaC); got != nina {
		t.Errorf("the new member acts as %q without X-Org-ID, want %s", got, nina)
	}

	// addMember without a password: the identity exists, but cannot sign in.
	o.must(o.admin, aoAddQ, aoObj{"in": aoObj{"email": "nopw@members.test", "name": "No Password", "roleId": rep, "profileId": o.stdPrf}})
	r := env.Do(apitest.Caller{}, `mutation { login(email: "nopw@members.test", password: "whatever whatever") { token } }`, nil)
	if len(r.Errors) == 0 || r.Errors[0].Code() != "UNAUTHENTICATED" {
		t.Errorf("a member added without a password signed in: %+v", r)
	}

	// addMember, an existing identity (another org's member): the same user
	// joins, no duplicate identity, its own name kept.
	var users0 int
	_ = env.DB.Get(&users0, `SELECT count(*) FROM users`)
	d = o.must(o.admin, aoAddQ, aoObj{"in": aoObj{"email": "THEM@elsewhere.test", "name": "ignored", "roleId": rep, "profileId": o.stdPrf}})
	them := aoStr(d, "addMember", "id")
	var users1 int
	_ = env.DB.Get(&users1, `SELECT count(*) FROM users`)
	if users1 != users0 || aoStr(d, "addMember", "name") != "Their Member" || aoStr(d, "addMember", "email") != "them@elsewhere.test" {
		t.Errorf("existing identity: users %d -> %d, member %v", users0, users1, d)
	}

	aoReject(t, env, []int64{o.key, other.key}, []aoCase{
		{"add/already a member", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "new@members.test", "name": "N", "roleId": rep, "profileId": o.stdPrf}}, "CONFLICT", ""},
		{"add/invalid email", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "not an email", "name": "N", "roleId": rep, "profileId": o.stdPrf}}, "BAD_USER_INPUT", ""},
		{"add/empty name of a new identity", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": " ", "roleId": rep, "profileId": o.stdPrf}}, "BAD_USER_INPUT", ""},
		{"add/weak password", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": "X", "password": "short", "roleId": rep, "profileId": o.stdPrf}}, "BAD_USER_INPUT", ""},
		{"add/password of an existing identity", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "admin@elsewhere.test", "name": "X", "password": "a long enough secret", "roleId": rep, "profileId": o.stdPrf}}, "BAD_USER_INPUT", ""},
		{"add/unknown role", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": "X", "roleId": "role_999999", "profileId": o.stdPrf}}, "NOT_FOUND", ""},
		{"add/role of another org", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": "X", "roleId": otherRole, "profileId": o.stdPrf}}, "NOT_FOUND", ""},
		{"add/profile of another org", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": "X", "roleId": rep, "profileId": other.stdPrf}}, "NOT_FOUND", ""},
		{"add/unknown shift", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": "X", "roleId": rep, "profileId": o.stdPrf, "shiftId": "shift_999999"}}, "NOT_FOUND", ""},
		{"add/manager of another org", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": "X", "roleId": rep, "profileId": o.stdPrf, "reportsToId": otherMember}}, "NOT_FOUND", ""},
		{"add/manager not above", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": "X", "roleId": mgr, "profileId": o.stdPrf, "reportsToId": stdID}}, "BAD_USER_INPUT", ""},
		{"add/invalid time zone", o.admin, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": "X", "roleId": rep, "profileId": o.stdPrf, "timeZone": "Mars/Olympus"}}, "BAD_USER_INPUT", ""},
		{"add/standard member", std, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": "X", "roleId": rep, "profileId": o.stdPrf}}, "FORBIDDEN", ""},
		{"add/standard member gives Administrator", std, aoAddQ, aoObj{"in": aoObj{"email": "x@members.test", "name": "X", "roleId": rep, "profileId": o.adminPrf}}, "FORBIDDEN", ""},

		{"update/unknown member", o.admin, aoUpdateQ, aoObj{"id": "member_999999", "in": aoObj{"roleId": rep}}, "NOT_FOUND", ""},
		{"update/member of another org", o.admin, aoUpdateQ, aoObj{"id": otherMember, "in": aoObj{"roleId": rep}}, "NOT_FOUND", ""},
		{"update/role of another org", o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"roleId": otherRole}}, "NOT_FOUND", ""},
		{"update/nothing", o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{}}, "BAD_USER_INPUT", ""},
		{"update/role above its manager's", o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"roleId": mgr}}, "CONFLICT", "Stan Dard"},
		{"update/manager's role below a report", o.admin, aoUpdateQ, aoObj{"id": stdID, "in": aoObj{"roleId": rep}}, "CONFLICT", "Nina New"},
		{"update/reports to a peer", o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"reportsToId": them}}, "BAD_USER_INPUT", ""},
		{"update/reports to themselves", o.admin, aoUpdateQ, aoObj{"id": stdID, "in": aoObj{"reportsToId": stdID}}, "BAD_USER_INPUT", ""},
		{"update/cycle: manager reports to report", o.admin, aoUpdateQ, aoObj{"id": stdID, "in": aoObj{"reportsToId": nina}}, "BAD_USER_INPUT", ""},
		{"update/role and manager, manager not above", o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"roleId": o.topRole, "reportsToId": them}}, "BAD_USER_INPUT", ""},
		{"update/role and same manager, manager not above", o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"roleId": o.topRole, "reportsToId": stdID}}, "CONFLICT", ""},
		{"update/invalid time zone", o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"timeZone": "Local"}}, "BAD_USER_INPUT", ""},
		{"update/last Administrator's profile", o.admin, aoUpdateQ, aoObj{"id": o.adminID, "in": aoObj{"profileId": o.stdPrf}}, "CONFLICT", "last active Administrator"},
		{"update/standard member", std, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"timeZone": "UTC"}}, "FORBIDDEN", ""},

		{"deactivate/yourself", o.admin, aoDeactQ, aoObj{"id": o.adminID}, "CONFLICT", ""},
		{"deactivate/member of another org", o.admin, aoDeactQ, aoObj{"id": otherMember}, "NOT_FOUND", ""},
		{"deactivate/malformed id", o.admin, aoDeactQ, aoObj{"id": "nonsense"}, "NOT_FOUND", ""},
		{"deactivate/standard member", std, aoDeactQ, aoObj{"id": nina}, "FORBIDDEN", ""},
		{"reactivate/member of another org", o.admin, aoReactQ, aoObj{"id": otherMember}, "NOT_FOUND", ""},
		{"reactivate/standard member", std, aoReactQ, aoObj{"id": nina}, "FORBIDDEN", ""},
	})

	// updateMember: a role and a manager at once (the combined check), then
	// the manager alone, then an explicit null clears it, inline and
	// through a variable, while an absent field keeps it.
	v0 = o.version()
	d = o.must(o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"roleId": mgr, "reportsToId": o.adminID}})
	if aoStr(d, "updateMember", "role", "id") != mgr || aoStr(d, "updateMember", "reportsTo", "id") != o.adminID {
		t.Fatalf("updateMember role and manager: %v", d)
	}
	if o.version() <= v0 {
		t.Error("updateMember did not bump the security version")
	}
	o.wantAudit("member.update", nina, aoObj{"roleId": rep, "reportsToId": stdID}, aoObj{"roleId": mgr, "reportsToId": o.adminID})

	d = o.must(o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"timeZone": "Asia/Tokyo"}})
	if aoStr(d, "updateMember", "reportsTo", "id") != o.adminID || aoStr(d, "updateMember", "timeZone") != "Asia/Tokyo" {
		t.Fatalf("an absent reportsToId changed the manager: %v", d)
	}
	d = o.must(o.admin, `mutation($id: ID!) { updateMember(id: $id, input: {reportsToId: null}) { reportsTo { id } timeZone } }`, aoObj{"id": nina})
	if aoPath(d, "updateMember", "reportsTo") != nil || aoStr(d, "updateMember", "timeZone") != "Asia/Tokyo" {
		t.Fatalf("an inline null did not clear the manager (or touched the time zone): %v", d)
	}
	o.wantAudit("member.update", nina, aoObj{"reportsToId": o.adminID}, aoObj{"reportsToId": nil})
	o.must(o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"reportsToId": o.adminID}})
	d = o.must(o.admin, `mutation($id: ID!, $mgr: ID) { updateMember(id: $id, input: {reportsToId: $mgr, timeZone: "UTC"}) { reportsTo { id } } }`, aoObj{"id": nina})
	if aoStr(d, "updateMember", "reportsTo", "id") != o.adminID {
		t.Fatalf("a field bound to an unset variable cleared the manager: %v", d)
	}
	d = o.must(o.admin, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"reportsToId": nil}})
	if aoPath(d, "updateMember", "reportsTo") != nil {
		t.Fatalf("a null in variables did not clear the manager: %v", d)
	}

	// Profile change.
	d = o.must(o.admin, aoUpdateQ, aoObj{"id": them, "in": aoObj{"profileId": o.adminPrf}})
	if aoStr(d, "updateMember", "profile", "id") != o.adminPrf {
		t.Fatalf("profile change: %v", d)
	}
	o.wantAudit("member.update", them, aoObj{"profileId": o.stdPrf}, aoObj{"profileId": o.adminPrf})

	// deactivateMember: the member is refused in the org at once, whether
	// naming it or by default; its records stay; reactivation restores it.
	ninaOrg := ninaC.In(o.id)
	deal := aoCreateDeal(env, ninaOrg, "Nina's deal")
	v0 = o.version()
	d = o.must(o.admin, aoDeactQ, aoObj{"id": nina})
	if aoStr(d, "deactivateMember", "status") != "INACTIVE" {
		t.Fatalf("deactivateMember: %v", d)
	}
	if o.version() <= v0 {
		t.Error("deactivateMember did not bump the security version")
	}
	o.wantAudit("member.deactivate", nina, aoObj{"status": "ACTIVE"}, aoObj{"status": "INACTIVE"})
	env.Fails(ninaOrg, "FORBIDDEN", `{ deals(first: 10) { totalCount } }`, nil)
	env.Fails(ninaC, "FORBIDDEN", `{ deals(first: 10) { totalCount } }`, nil)
	if _, ok := aoDeals(env, o.admin)[deal]; !ok {
		t.Error("the deactivated member's deal is gone")
	}
	// Deactivating again changes nothing.
	before := aoState(env, o.key)
	o.must(o.admin, aoDeactQ, aoObj{"id": nina})
	if aoState(env, o.key) != before {
		t.Error("deactivating an INACTIVE member wrote something")
	}

	d = o.must(o.admin, aoReactQ, aoObj{"id": nina})
	if aoStr(d, "reactivateMember", "status") != "ACTIVE" {
		t.Fatalf("reactivateMember: %v", d)
	}
	o.wantAudit("member.reactivate", nina, aoObj{"status": "INACTIVE"}, aoObj{"status": "ACTIVE"})
	if _, ok := aoDeals(env, ninaOrg)[deal]; !ok {
		t.Error("the reactivated member does not see their deal")
	}
	if got := aoMemberIDOf(env, ninaC); got != nina {
		t.Errorf("the reactivated member acts as %q by default, want %s", got, nina)
	}

	// A member with manageUsers but not the Administrator profile: cannot
	// deactivate the last Administrator, nor touch Administrators at all,
	// nor change their own role or profile.
	users := aoWrite(env, o.key, db.ChangeOrg, aoObj{"t": "profile"}, `INSERT INTO profiles (org_id, name, module_permissions, setup_permissions)
		VALUES ($1, 'User admins', '{}', '{manageUsers}') RETURNING id`, o.key)
	usersPrf := fmt.Sprintf("profile_%d", users)
	o.must(o.admin, aoUpdateQ, aoObj{"id": stdID, "in": aoObj{"profileId": usersPrf}})
	o.must(o.admin, aoUpdateQ, aoObj{"id": them, "in": aoObj{"profileId": o.stdPrf}}) // back to one Administrator
	aoReject(t, env, []int64{o.key}, []aoCase{
		{"deactivate/last Administrator", std, aoDeactQ, aoObj{"id": o.adminID}, "CONFLICT", "last active Administrator"},
		{"update/take the Administrator profile", std, aoUpdateQ, aoObj{"id": o.adminID, "in": aoObj{"profileId": o.stdPrf}}, "FORBIDDEN", ""},
		{"update/give the Administrator profile", std, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"profileId": o.adminPrf}}, "FORBIDDEN", ""},
		{"update/own role", std, aoUpdateQ, aoObj{"id": stdID, "in": aoObj{"roleId": o.topRole}}, "FORBIDDEN", ""},
	})
	// ... but can manage other members.
	d = o.must(std, aoUpdateQ, aoObj{"id": nina, "in": aoObj{"timeZone": "America/New_York"}})
	if aoStr(d, "updateMember", "timeZone") != "America/New_York" {
		t.Errorf("a manageUsers member could not update a member: %v", d)
	}
}

// aoMemberIDOf is the caller's member id in the org it acts in ("" when none).
func aoMemberIDOf(env *apitest.Env, c apitest.Caller) string {
	env.T.Helper()
	var out struct {
		Viewer struct{ Member *struct{ ID string } }
	}
	env.Must(c, `{ viewer { member { id } } }`, nil, &out)
	if out.Viewer.Member == nil {
		return ""
	}
	return out.Viewer.Member.ID
}

// TestAdminRoleAccessEffects: role changes take effect on the very next
// request.
func TestAdminRoleAccessEffects(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "admin@effects.test", "Effects Inc")
	mgr := o.createRole("Manager", "")
	rep := o.createRole("Rep", mgr)
	mgrC, _ := o.addMember("manager@effects.test", "Mo Manager", mgr, nil)
	repC, repID := o.addMember("rep@effects.test", "Rae Rep", rep, nil)
	deal := aoCreateDeal(env, repC, "Rep's deal")

	aoSees(t, env, mgrC, "the manager (above the rep)", deal, "FULL_ACCESS")
	aoSees(t, env, repC, "the rep (owner)", deal, "FULL_ACCESS")

	// Siblings: the manager loses the deal on the next request.
	o.must(o.admin, aoMoveRoleQ, aoObj{"id": rep, "p": o.topRole})
	aoSees(t, env, mgrC, "the manager (a sibling now)", deal, "")
	aoSees(t, env, o.admin, "the Administrator", deal, "FULL_ACCESS")

	// The rep joins the Manager role: peers only with shareWithPeers.
	o.must(o.admin, aoUpdateQ, aoObj{"id": repID, "in": aoObj{"roleId": mgr}})
	aoSees(t, env, mgrC, "the manager (same role, no peer sharing)", deal, "")
	o.must(o.admin, aoUpdateRoleQ, aoObj{"id": mgr, "in": aoObj{"shareWithPeers": true}})
	aoSees(t, env, mgrC, "the manager (a peer)", deal, "READ_WRITE_DELETE")
	o.must(o.admin, aoUpdateRoleQ, aoObj{"id": mgr, "in": aoObj{"shareWithPeers": false}})
	aoSees(t, env, mgrC, "the manager (peer sharing off)", deal, "")

	// The rep back under the manager's role.
	o.must(o.admin, aoUpdateQ, aoObj{"id": repID, "in": aoObj{"roleId": rep}})
	o.must(o.admin, aoMoveRoleQ, aoObj{"id": rep, "p": mgr})
	aoSees(t, env, mgrC, "the manager (above again)", deal, "FULL_ACCESS")
}

func TestAdminModuleSharing(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "admin@sharing.test", "Sharing Inc")
	other := aoNewOrg(env, "admin@sharing-other.test", "Other Sharing Inc")
	a := o.createRole("Team A", "")
	b := o.createRole("Team B", "")
	aC, _ := o.addMember("a@sharing.test", "Ann A", a, nil)
	bC, bID := o.addMember("b@sharing.test", "Ben B", b, nil)
	deal := aoCreateDeal(env, aC, "A's deal")
	aoSees(t, env, bC, "B (private default)", deal, "")

	v0 := o.version()
	d := o.must(o.admin, aoSharingQ, aoObj{"m": "DEALS", "a": "PUBLIC_READ_ONLY"})
	if fmt.Sprint(aoPath(d, "setModuleSharing", "securityVersion")) != fmt.Sprint(o.version()) || o.version() <= v0 {
		t.Errorf("setModuleSharing: settings %v, version %d -> %d", d, v0, o.version())
	}
	found := false
	for _, ms := range aoPath(d, "setModuleSharing", "moduleSharing").([]any) {
		if ms.(aoObj)["module"] == "DEALS" {
			found = ms.(aoObj)["defaultAccess"] == "PUBLIC_READ_ONLY"
		}
	}
	if !found {
		t.Errorf("setModuleSharing returned the settings before the change: %v", d)
	}
	o.wantAudit("org.setModuleSharing", o.id, aoObj{"module": "DEALS", "defaultAccess": "PRIVATE"}, aoObj{"module": "DEALS", "defaultAccess": "PUBLIC_READ_ONLY"})
	aoSees(t, env, bC, "B (public read only)", deal, "READ_ONLY")
	var one struct {
		Deal struct {
			Access struct{ CanRead, CanEdit bool }
		}
	}
	env.Must(bC, `query($id: ID!) { deal(id: $id) { access { canRead canEdit } } }`, aoObj{"id": deal}, &one)
	if !one.Deal.Access.CanRead || one.Deal.Access.CanEdit {
		t.Errorf("B's permissions on a PUBLIC_READ_ONLY deal: %+v", one.Deal.Access)
	}

	o.must(o.admin, aoSharingQ, aoObj{"m": "DEALS", "a": "PUBLIC_READ_WRITE_DELETE"})
	aoSees(t, env, bC, "B (public read write delete)", deal, "READ_WRITE_DELETE")
	o.must(o.admin, aoSharingQ, aoObj{"m": "DEALS", "a": "PRIVATE"})
	aoSees(t, env, bC, "B (private again)", deal, "")
	// The same value again writes nothing.
	before := aoState(env, o.key)
	o.must(o.admin, aoSharingQ, aoObj{"m": "DEALS", "a": "PRIVATE"})
	if aoState(env, o.key) != before {
		t.Error("setting the current default wrote something")
	}

	aoReject(t, env, []int64{o.key, other.key}, []aoCase{
		{"unknown module", o.admin, aoSharingQ, aoObj{"m": "WIDGETS", "a": "PRIVATE"}, "BAD_USER_INPUT", ""},
		{"unknown access", o.admin, aoSharingQ, aoObj{"m": "DEALS", "a": "FULL_ACCESS"}, "BAD_USER_INPUT", ""},
		{"standard member", bC, aoSharingQ, aoObj{"m": "DEALS", "a": "PUBLIC_READ_ONLY"}, "FORBIDDEN", ""},
		{"mode/standard member", bC, aoModeQ, aoObj{"m": "REPORTING"}, "FORBIDDEN", ""},
		{"mode/unknown mode", o.admin, aoModeQ, aoObj{"m": "MATRIX"}, "BAD_USER_INPUT", ""},
	})
	_ = bID
}

// TestAdminHierarchyMode: REPORTING mode follows the reporting lines,
// transitively; reportsTo changes take effect at once.
func TestAdminHierarchyMode(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "admin@mode.test", "Mode Inc")
	dir := o.createRole("Director", "")
	mgr := o.createRole("Manager", dir)
	rep := o.createRole("Rep", mgr)
	d1C, d1 := o.addMember("d1@mode.test", "Dee One", dir, nil)
	d2C, _ := o.addMember("d2@mode.test", "Dee Two", dir, nil)
	m1C, m1 := o.addMember("m1@mode.test", "Em One", mgr, aoObj{"reportsToId": d1})
	m2C, m2 := o.addMember("m2@mode.test", "Em Two", mgr, aoObj{"reportsToId": d1})
	r1C, r1 := o.addMember("r1@mode.test", "Ar One", rep, aoObj{"reportsToId": m1})
	deal := aoCreateDeal(env, r1C, "r1's deal")

	type want struct {
		who   string
		c     apitest.Caller
		level string
	}
	check := func(when string, ws ...want) {
		t.Helper()
		for _, w := range ws {
			aoSees(t, env, w.c, w.who+" ("+when+")", deal, w.level)
		}
	}
	// ROLE mode: every member of a role above sees it.
	check("ROLE mode", want{"d1", d1C, "FULL_ACCESS"}, want{"d2", d2C, "FULL_ACCESS"},
		want{"m1", m1C, "FULL_ACCESS"}, want{"m2", m2C, "FULL_ACCESS"})

	v0 := o.version()
	d := o.must(o.admin, aoModeQ, aoObj{"m": "REPORTING"})
	if aoStr(d, "setHierarchyMode", "hierarchyMode") != "REPORTING" || o.version() <= v0 {
		t.Fatalf("setHierarchyMode: %v (version %d -> %d)", d, v0, o.version())
	}
	o.wantAudit("org.setHierarchyMode", o.id, aoObj{"hierarchyMode": "ROLE"}, aoObj{"hierarchyMode": "REPORTING"})
	// REPORTING: r1 -> m1 -> d1.
	check("REPORTING, r1 reports to m1", want{"d1", d1C, "FULL_ACCESS"}, want{"d2", d2C, ""},
		want{"m1", m1C, "FULL_ACCESS"}, want{"m2", m2C, ""})

	o.must(o.admin, aoUpdateQ, aoObj{"id": r1, "in": aoObj{"reportsToId": m2}})
	check("REPORTING, r1 reports to m2", want{"d1", d1C, "FULL_ACCESS"}, want{"m1", m1C, ""}, want{"m2", m2C, "FULL_ACCESS"})

	o.must(o.admin, aoUpdateQ, aoObj{"id": m2, "in": aoObj{"reportsToId": nil}})
	check("REPORTING, m2 reports to nobody", want{"d1", d1C, ""}, want{"m2", m2C, "FULL_ACCESS"})

	o.must(o.admin, `mutation($id: ID!) { updateMember(id: $id, input: {reportsToId: null}) { id } }`, aoObj{"id": r1})
	check("REPORTING, r1 reports to nobody", want{"d1", d1C, ""}, want{"m1", m1C, ""}, want{"m2", m2C, ""})

	d = o.must(o.admin, aoModeQ, aoObj{"m": "ROLE"})
	if aoStr(d, "setHierarchyMode", "hierarchyMode") != "ROLE" {
		t.Fatalf("setHierarchyMode back: %v", d)
	}
	check("ROLE mode again", want{"d2", d2C, "FULL_ACCESS"}, want{"m1", m1C, "FULL_ACCESS"})
}

func TestAdminAuditLog(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "admin@audit.test", "Audit Inc")
	other := aoNewOrg(env, "admin@audit-other.test", "Other Audit Inc")
	var roles []string
	for i := range 5 {
		roles = append(roles, o.createRole(fmt.Sprintf("Role %d", i), ""))
	}
	std, stdID := o.addMember("std@audit.test", "Stan Dard", roles[0], nil)
	o.must(o.admin, aoUpdateRoleQ, aoObj{"id": roles[1], "in": aoObj{"name": "Role one"}})
	other.createRole("Their role", "")

	const q = `query($first: Int!, $after: String, $f: AuditFilter) { auditLog(first: $first, after: $after, filter: $f) {
		totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id at action targetType targetId actor { id } before after } } } }`
	page := func(first int, after string, f aoObj) (nodes []aoObj, total int, next string, more bool) {
		t.Helper()
		vars := aoObj{"first": first, "f": f}
		if after != "" {
			vars["after"] = after
		}
		d := o.must(o.admin, q, vars)
		for _, e := range aoPath(d, "auditLog", "edges").([]any) {
			nodes = append(nodes, e.(aoObj)["node"].(aoObj))
		}
		total = int(aoPath(d, "auditLog", "totalCount").(float64))
		next = aoStr(d, "auditLog", "pageInfo", "endCursor")
		more, _ = aoPath(d, "auditLog", "pageInfo", "hasNextPage").(bool)
		return
	}

	// Everything, newest first, in pages of 2: org.create, 5 role.create,
	// member.add, role.update = 8 entries.
	var all []aoObj
	after, total := "", 0
	for {
		nodes, n, next, more := page(2, after, nil)
		total = n
		all = append(all, nodes...)
		if !more {
			break
		}
		after = next
	}
	if total != 8 || len(all) != 8 {
		t.Fatalf("audit log: total %d, %d entries, want 8", total, len(all))
	}
	var actions []string
	for i, e := range all {
		actions = append(actions, e["action"].(string))
		if i > 0 && aoKey(all[i-1]["id"].(string)) <= aoKey(e["id"].(string)) {
			t.Errorf("audit log is not newest first: %v then %v", all[i-1]["id"], e["id"])
		}
	}
	wantActions := []string{"role.update", "member.add", "role.create", "role.create", "role.create", "role.create", "role.create", "org.create"}
	if !slices.Equal(actions, wantActions) {
		t.Errorf("actions %v, want %v", actions, wantActions)
	}
	upd := all[0]
	if upd["targetType"] != "role" || upd["targetId"] != roles[1] || aoStr(upd, "actor", "id") != o.adminID ||
		aoStr(upd, "before", "name") != "Role 1" || aoStr(upd, "after", "name") != "Role one" {
		t.Errorf("role.update entry: %v", upd)
	}
	if all[2]["before"] != nil || aoStr(all[2], "after", "name") != "Role 4" {
		t.Errorf("role.create entry: %v", all[2])
	}
	for _, e := range all {
		if strings.Contains(fmt.Sprint(e), "Their role") {
			t.Errorf("another org's entry in the audit log: %v", e)
		}
	}

	// Filters.
	nodes, n, _, _ := page(100, "", aoObj{"action": "role.create"})
	if n != 5 || len(nodes) != 5 {
		t.Errorf("filter by action: %d (%d)", n, len(nodes))
	}
	nodes, n, _, _ = page(100, "", aoObj{"targetType": "member"})
	if n != 1 || len(nodes) != 1 || nodes[0]["targetId"] != stdID {
		t.Errorf("filter by target type: %d %v", n, nodes)
	}
	_, n, _, _ = page(100, "", aoObj{"actorId": o.adminID})
	if n != 8 {
		t.Errorf("filter by actor: %d, want 8", n)
	}
	_, n, _, _ = page(100, "", aoObj{"actorId": stdID})
	if n != 0 {
		t.Errorf("filter by an actor without entries: %d", n)
	}
	// A filtered cursor continues the filtered list.
	first, _, next, more := page(3, "", aoObj{"action": "role.create"})
	rest, _, _, _ := page(10, next, aoObj{"action": "role.create"})
	if !more || len(first) != 3 || len(rest) != 2 {
		t.Errorf("filtered pages: %d then %d (more %v)", len(first), len(rest), more)
	}

	// An entry is appended by the change and nothing else touches the log.
	before := aoState(env, o.key)
	o.must(o.admin, q, aoObj{"first": 100})
	if aoState(env, o.key) != before {
		t.Error("reading the audit log wrote something")
	}

	_, _, otherCursor, _ := func() ([]aoObj, int, string, bool) {
		d := other.must(other.admin, `{ auditLog(first: 1) { pageInfo { endCursor } } }`, nil)
		return nil, 0, aoStr(d, "auditLog", "pageInfo", "endCursor"), false
	}()
	var otherMember string
	{
		d := other.must(other.admin, `{ viewer { member { id } } }`, nil)
		otherMember = aoStr(d, "viewer", "member", "id")
	}
	aoReject(t, env, []int64{o.key, other.key}, []aoCase{
		{"standard member", std, q, aoObj{"first": 10}, "FORBIDDEN", ""},
		{"first too large", o.admin, q, aoObj{"first": 101}, "BAD_USER_INPUT", ""},
		{"first zero", o.admin, q, aoObj{"first": 0}, "BAD_USER_INPUT", ""},
		{"forged cursor", o.admin, q, aoObj{"first": 10, "after": "bm90IGEgY3Vyc29y"}, "BAD_USER_INPUT", ""},
		{"cursor of another org", o.admin, q, aoObj{"first": 10, "after": otherCursor}, "BAD_USER_INPUT", ""},
		{"actor of another org", o.admin, q, aoObj{"first": 10, "f": aoObj{"actorId": otherMember}}, "NOT_FOUND", ""},
		{"actor id of another type", o.admin, q, aoObj{"first": 10, "f": aoObj{"actorId": roles[0]}}, "NOT_FOUND", ""},
	})
}

// TestAdminSecurityVersionConsistency: every successful change bumps the
// org's security version and appends exactly one audit entry.
func TestAdminSecurityVersionConsistency(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "admin@version.test", "Version Inc")
	role := o.createRole("Team", "")
	_, m := o.addMember("m@version.test", "Max Member", role, nil)
	other := o.createRole("Other team", "")
	steps := []struct {
		name  string
		query string
		vars  aoObj
	}{
		{"createRole", aoCreateRoleQ, aoObj{"in": aoObj{"name": "Extra"}}},
		{"updateRole", aoUpdateRoleQ, aoObj{"id": role, "in": aoObj{"shareWithPeers": true}}},
		{"moveRole", aoMoveRoleQ, aoObj{"id": other, "p": role}},
		{"updateMember", aoUpdateQ, aoObj{"id": m, "in": aoObj{"roleId": other}}},
		{"deactivateMember", aoDeactQ, aoObj{"id": m}},
		{"reactivateMember", aoReactQ, aoObj{"id": m}},
		{"setHierarchyMode", aoModeQ, aoObj{"m": "REPORTING"}},
		{"setModuleSharing", aoSharingQ, aoObj{"m": "LEADS", "a": "PUBLIC_READ_WRITE"}},
		{"deleteRole", aoDeleteRoleQ, aoObj{"id": other, "to": role}},
	}
	for _, s := range steps {
		var audits0, audits1 int
		_ = env.DB.Get(&audits0, `SELECT count(*) FROM audit_log WHERE org_id = $1`, o.key)
		v0 := o.version()
		r := env.Do(o.admin, s.query, s.vars)
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", s.name, r.Errors)
		}
		_ = env.DB.Get(&audits1, `SELECT count(*) FROM audit_log WHERE org_id = $1`, o.key)
		if v := o.version(); v != v0+1 || audits1 != audits0+1 {
			t.Errorf("%s: version %d -> %d, audit entries %d -> %d; want one step each", s.name, v0, v, audits0, audits1)
		}
		var raw json.RawMessage
		if err := env.DB.Get(&raw, `SELECT payload FROM security_changes WHERE org_id = $1 ORDER BY version DESC LIMIT 1`, o.key); err != nil {
			t.Fatal(err)
		}
		var kind string
		_ = env.DB.Get(&kind, `SELECT kind FROM security_changes WHERE org_id = $1 ORDER BY version DESC LIMIT 1`, o.key)
		if kind != db.ChangeOrg {
			t.Errorf("%s: security change of kind %q, want %q (%s)", s.name, kind, db.ChangeOrg, raw)
		}
	}
}

// TestAdminConcurrentChanges: changes validated against the state they
// change, even when they race: the org's lock serialises them.
func TestAdminConcurrentChanges(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "admin@race.test", "Race Inc")

	run := func(n int, fn func(i int) *apitest.Response) (ok int, codes []string) {
		var wg sync.WaitGroup
		results := make([]*apitest.Response, n)
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = fn(i) }()
		}
		wg.Wait()
		for _, r := range results {
			if len(r.Errors) == 0 {
				ok++
			} else {
				codes = append(codes, r.Errors[0].Code())
			}
		}
		return ok, codes
	}
	isAll := func(codes []string, code string) bool {
		for _, c := range codes {
			if c != code {
				return false
			}
		}
		return true
	}

	// The same role name, eight times at once: one role.
	ok, codes := run(8, func(i int) *apitest.Response {
		return env.Do(o.admin, aoCreateRoleQ, aoObj{"in": aoObj{"name": fmt.Sprintf("Twin%s", strings.Repeat(" ", i%2))}})
	})
	var n int
	_ = env.DB.Get(&n, `SELECT count(*) FROM roles WHERE org_id = $1 AND lower(name) = 'twin'`, o.key)
	if ok != 1 || n != 1 || !isAll(codes, "CONFLICT") {
		t.Errorf("concurrent createRole of one name: %d succeeded (%v), %d roles", ok, codes, n)
	}

	// Two roles moved under each other at once: one move, no cycle.
	x, y := o.createRole("X", ""), o.createRole("Y", "")
	ok, codes = run(2, func(i int) *apitest.Response {
		if i == 0 {
			return env.Do(o.admin, aoMoveRoleQ, aoObj{"id": x, "p": y})
		}
		return env.Do(o.admin, aoMoveRoleQ, aoObj{"id": y, "p": x})
	})
	if ok != 1 || !isAll(codes, "CONFLICT") {
		t.Errorf("concurrent mutual moveRole: %d succeeded (%v)", ok, codes)
	}
	aoDeals(env, o.admin) // the org's access state still builds

	// The same new member, four times at once: one identity, one member.
	ok, codes = run(4, func(i int) *apitest.Response {
		return env.Do(o.admin, aoAddQ, aoObj{"in": aoObj{"email": "once@race.test", "name": "Once", "roleId": x, "profileId": o.stdPrf}})
	})
	_ = env.DB.Get(&n, `SELECT count(*) FROM users WHERE email = 'once@race.test'`)
	if ok != 1 || n != 1 || !isAll(codes, "CONFLICT") {
		t.Errorf("concurrent addMember of one email: %d succeeded (%v), %d users", ok, codes, n)
	}
}

// TestAdminRoleMoveRacesAnotherWriter: a change validated against a state
// that another writer changes before the lock is granted starts over with
// the new state: two moves that are each fine alone never make a cycle.
func TestAdminRoleMoveRacesAnotherWriter(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "admin@stale.test", "Stale Inc")
	x, y := o.createRole("X", ""), o.createRole("Y", "")
	aoDeals(env, o.admin) // the engine holds the state with X and Y siblings

	// Another writer (another instance, say) holds the org's lock and moves
	// Y under X ...
	ctx := context.Background()
	tx := env.DB.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	if _, err := db.LockOrg(ctx, tx, o.key); err != nil {
		t.Fatal(err)
	}
	tx.MustExecContext(ctx, `UPDATE roles SET parent_id = $2 WHERE id = $1`, aoKey(y), aoKey(x))
	if err := db.LogSecurityChange(ctx, tx, o.key, db.ChangeOrg, aoObj{"t": "move"}); err != nil {
		t.Fatal(err)
	}
	// ... while the API is asked to move X under Y, and waits for the lock.
	done := make(chan *apitest.Response, 1)
	go func() { done <- env.Do(o.admin, aoMoveRoleQ, aoObj{"id": x, "p": y}) }()
	waited := false
	for range 200 {
		var n int
		if err := env.DB.Get(&n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			waited = true
			break
		}
		select {
		case r := <-done:
			t.Fatalf("the move did not wait for the org's lock: %+v", r)
		case <-time.After(25 * time.Millisecond):
		}
	}
	if !waited {
		t.Fatal("the move never waited for the org's lock")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if len(r.Errors) == 0 || r.Errors[0].Code() != "CONFLICT" {
		t.Fatalf("moving X under Y after Y moved under X: %+v (data %s), want CONFLICT", r.Errors, r.Data)
	}
	var parent int64
	if err := env.DB.Get(&parent, `SELECT parent_id FROM roles WHERE id = $1`, aoKey(x)); err != nil || parent != aoKey(o.topRole) {
		t.Errorf("X's parent is %d (%v), want the top role", parent, err)
	}
	aoDeals(env, o.admin) // the org's access state still builds
}
