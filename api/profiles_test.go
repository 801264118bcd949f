package api_test

import (
	"fmt"
	"strings"
	"testing"

	"warden/api/apitest"
)

// Tests of profiles, module and setup permissions through HTTP GraphQL
// (access-model.md, Profiles). Helpers are prefixed "pf"; the org set-up
// helpers of admin_org_test.go (aoNewOrg, aoReject...) are reused.

const (
	pfProfileSel    = `id name administrator standard setupPermissions modulePermissions { module view create edit delete share changeOwner export import massUpdate massDelete }`
	pfCreateProfile = `mutation($in: CreateProfileInput!) { createProfile(input: $in) { ` + pfProfileSel + ` } }`
	pfUpdateProfile = `mutation($id: ID!, $in: UpdateProfileInput!) { updateProfile(id: $id, input: $in) { ` + pfProfileSel + ` } }`
	pfDeleteProfile = `mutation($id: ID!, $to: ID!) { deleteProfile(id: $id, transferToProfileId: $to) }`
	pfSetFields     = `mutation($p: ID!, $m: Module!, $f: [FieldPermissionInput!]!) { setFieldPermissions(profileId: $p, module: $m, fields: $f) { field access custom restrictable } }`
	pfCreateField   = `mutation($in: CreateCustomFieldInput!) { createCustomField(input: $in) { id module apiName label type picklistValues } }`
)

// pfState is aoState plus everything profiles, field permissions and custom
// fields write, and the records' values: a rejected change leaves it as is.
func pfState(env *apitest.Env, orgKey int64) string {
	env.T.Helper()
	var parts []string
	q := func(query string) {
		var rows []string
		if err := env.DB.Select(&rows, query, orgKey); err != nil {
			env.T.Fatalf("%s: %v", query, err)
		}
		parts = append(parts, strings.Join(rows, ";"))
	}
	q(`SELECT id || ':' || name || ':' || module_permissions::text || ':' || setup_permissions::text FROM profiles WHERE org_id = $1 ORDER BY id`)
	q(`SELECT profile_id || ':' || module || ':' || field || ':' || access FROM field_permissions WHERE org_id = $1 ORDER BY 1`)
	q(`SELECT id || ':' || module || ':' || api_name || ':' || label || ':' || type || ':' || picklist_values::text FROM custom_field_definitions WHERE org_id = $1 ORDER BY id`)
	for _, table := range []string{"leads", "contacts", "accounts", "deals", "tasks"} {
		q(`SELECT row_to_json(t)::text FROM (SELECT * FROM ` + table + ` WHERE org_id = $1 ORDER BY id) t`)
	}
	return aoState(env, orgKey) + "\n" + strings.Join(parts, "\n")
}

// pfReject runs requests that must fail with a code, naming msg, and change nothing.
func pfReject(t *testing.T, env *apitest.Env, orgKey int64, cases []aoCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := *env
			e.T = t
			before := pfState(&e, orgKey)
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
			if after := pfState(&e, orgKey); after != before {
				t.Errorf("a rejected request changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// pfModule finds a module's permissions in a profile object.
func pfModule(p aoObj, module string) aoObj {
	list, _ := p["modulePermissions"].([]any)
	for _, x := range list {
		if mp := x.(aoObj); mp["module"] == module {
			return mp
		}
	}
	return nil
}

// pfPerms lists the permissions a profile holds on a module, in the API's order.
func pfPerms(p aoObj, module string) string {
	mp := pfModule(p, module)
	var out []string
	for _, n := range []string{"view", "create", "edit", "delete", "share", "changeOwner", "export", "import", "massUpdate", "massDelete"} {
		if mp[n] == true {
			out = append(out, n)
		}
	}
	return strings.Join(out, " ")
}

// pfProfile creates a profile as the org's administrator and returns it.
func (o *aoOrg) pfProfile(in aoObj) aoObj {
	o.env.T.Helper()
	return o.must(o.admin, pfCreateProfile, aoObj{"in": in})["createProfile"].(aoObj)
}

// pfSetFieldAccess sets a profile's access to fields of a module.
func (o *aoOrg) pfSetFieldAccess(profile, module string, fields map[string]string) {
	o.env.T.Helper()
	var list []aoObj
	for f, a := range fields {
		list = append(list, aoObj{"field": f, "access": a})
	}
	o.must(o.admin, pfSetFields, aoObj{"p": profile, "m": module, "f": list})
}

// pfCustomField defines a custom field and returns its id.
func (o *aoOrg) pfCustomField(module, apiName, typ string, picklist ...string) string {
	o.env.T.Helper()
	in := aoObj{"module": module, "apiName": apiName, "label": "Label of " + apiName, "type": typ}
	if len(picklist) > 0 {
		in["picklistValues"] = picklist
	}
	return aoStr(o.must(o.admin, pfCreateField, aoObj{"in": in}), "createCustomField", "id")
}

// pfMember adds a member with the profile under a "Rep" role of the top role.
func (o *aoOrg) pfMember(email, name, profile string) (apitest.Caller, string) {
	o.env.T.Helper()
	var role string
	for _, r := range o.must(o.admin, `{ roles { id name } }`, nil)["roles"].([]any) {
		if r.(aoObj)["name"] == "Rep" {
			role = aoStr(r, "id")
		}
	}
	if role == "" {
		role = o.createRole("Rep", "")
	}
	return o.addMember(email, name, role, aoObj{"profileId": profile})
}

func TestProfilesAdministration(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "pf-admin@example.com", "Profiles Inc")
	sam, _ := o.pfMember("pf-sam@example.com", "Sam Standard", o.stdPrf)

	t.Run("create with module and setup permissions, audited", func(t *testing.T) {
		v := o.version()
		p := o.pfProfile(aoObj{"name": "Sales Rep", "setupPermissions": []string{"viewAuditLog"}, "modulePermissions": []aoObj{
			{"module": "DEALS", "view": true, "create": true, "edit": true, "import": true},
			{"module": "CONTACTS", "view": true}}})
		if got := pfPerms(p, "DEALS"); got != "view create edit import" {
			t.Errorf("DEALS permissions %q", got)
		}
		if got := pfPerms(p, "CONTACTS"); got != "view" {
			t.Errorf("CONTACTS permissions %q", got)
		}
		if got := pfPerms(p, "LEADS"); got != "" {
			t.Errorf("a module not named has permissions %q", got)
		}
		if fmt.Sprint(p["setupPermissions"]) != "[viewAuditLog]" || p["administrator"] != false || p["standard"] != false {
			t.Errorf("profile %v", p)
		}
		if o.version() <= v {
			t.Error("creating a profile did not bump the security version")
		}
		o.wantAudit("profile.create", aoStr(p, "id"), nil, aoObj{"name": "Sales Rep", "setupPermissions": []any{"viewAuditLog"}})
	})

	t.Run("clone copies module, setup and field permissions", func(t *testing.T) {
		o.pfSetFieldAccess(o.stdPrf, "CONTACTS", map[string]string{"bankAccountNumber": "HIDDEN", "phone": "READ_ONLY"})
		p := o.pfProfile(aoObj{"name": "Standard Copy", "cloneFromId": o.stdPrf,
			"modulePermissions": []aoObj{{"module": "TASKS", "share": false, "delete": true}}})
		for _, m := range []string{"LEADS", "CONTACTS", "ACCOUNTS", "DEALS"} {
			if got := pfPerms(p, m); got != "view create edit share" {
				t.Errorf("%s permissions of the clone %q, want Standard's", m, got)
			}
		}
		if got := pfPerms(p, "TASKS"); got != "view create edit delete" {
			t.Errorf("TASKS permissions of the clone %q, want Standard's with share off and delete on", got)
		}
		d := o.must(o.admin, `query($m: Module!) { profiles { id fieldPermissions(module: $m) { field access } } }`, aoObj{"m": "CONTACTS"})
		got := map[string]string{}
		for _, pr := range d["profiles"].([]any) {
			if aoStr(pr, "id") != aoStr(p, "id") {
				continue
			}
			for _, f := range pr.(aoObj)["fieldPermissions"].([]any) {
				got[aoStr(f, "field")] = aoStr(f, "access")
			}
		}
		if got["bankAccountNumber"] != "HIDDEN" || got["phone"] != "READ_ONLY" || got["email"] != "READ_WRITE" || got["lastName"] != "READ_WRITE" {
			t.Errorf("clone's CONTACTS field permissions %v", got)
		}
		// The clone is independent: changing Standard leaves it alone.
		o.pfSetFieldAccess(o.stdPrf, "CONTACTS", map[string]string{"phone": "READ_WRITE"})
		d = o.must(o.admin, `query($m: Module!) { profiles { id fieldPermissions(module: $m) { field access } } }`, aoObj{"m": "CONTACTS"})
		for _, pr := range d["profiles"].([]any) {
			for _, f := range pr.(aoObj)["fieldPermissions"].([]any) {
				if aoStr(f, "field") == "phone" && aoStr(pr, "id") == aoStr(p, "id") && aoStr(f, "access") != "READ_ONLY" {
					t.Errorf("changing Standard changed its clone's phone to %s", aoStr(f, "access"))
				}
			}
		}
	})

	t.Run("clone of Administrator is an ordinary profile with every permission", func(t *testing.T) {
		p := o.pfProfile(aoObj{"name": "Almost Admin", "cloneFromId": o.adminPrf})
		if p["administrator"] != false || pfPerms(p, "DEALS") != "view create edit delete share changeOwner export import massUpdate massDelete" ||
			len(p["setupPermissions"].([]any)) != 7 {
			t.Errorf("clone of Administrator %v", p)
		}
		o.must(o.admin, pfUpdateProfile, aoObj{"id": aoStr(p, "id"), "in": aoObj{"name": "Almost Admin, trimmed", "setupPermissions": []string{}}})
	})

	t.Run("update renames and changes permissions, audited before and after", func(t *testing.T) {
		p := o.pfProfile(aoObj{"name": "Support", "modulePermissions": []aoObj{{"module": "TASKS", "view": true, "create": true}}})
		id := aoStr(p, "id")
		u := o.must(o.admin, pfUpdateProfile, aoObj{"id": id, "in": aoObj{"name": "Support Desk",
			"modulePermissions": []aoObj{{"module": "TASKS", "edit": true, "create": nil}}, "setupPermissions": []string{"manageShifts"}}})["updateProfile"].(aoObj)
		if u["name"] != "Support Desk" || pfPerms(u, "TASKS") != "view create edit" || fmt.Sprint(u["setupPermissions"]) != "[manageShifts]" {
			t.Errorf("updated profile %v", u)
		}
		o.wantAudit("profile.update", id, aoObj{"name": "Support", "setupPermissions": []any{}},
			aoObj{"name": "Support Desk", "setupPermissions": []any{"manageShifts"}})
		e := o.lastAudit()
		if fmt.Sprint(aoPath(e, "before", "modulePermissions", "TASKS")) != "[view create]" ||
			fmt.Sprint(aoPath(e, "after", "modulePermissions", "TASKS")) != "[view create edit]" {
			t.Errorf("audit entry does not carry the permissions before and after: %v", e)
		}
		// Nothing to change: nothing written.
		v := o.version()
		o.must(o.admin, pfUpdateProfile, aoObj{"id": id, "in": aoObj{"name": "Support Desk"}})
		if o.version() != v {
			t.Error("an update that changes nothing bumped the security version")
		}
	})

	t.Run("Standard is editable", func(t *testing.T) {
		u := o.must(o.admin, pfUpdateProfile, aoObj{"id": o.stdPrf, "in": aoObj{"modulePermissions": []aoObj{{"module": "LEADS", "delete": true}}}})["updateProfile"].(aoObj)
		if pfPerms(u, "LEADS") != "view create edit delete share" || u["standard"] != true {
			t.Errorf("Standard after update %v", u)
		}
		o.must(o.admin, pfUpdateProfile, aoObj{"id": o.stdPrf, "in": aoObj{"modulePermissions": []aoObj{{"module": "LEADS", "delete": false}}}})
	})

	t.Run("delete moves the members, audited", func(t *testing.T) {
		p := o.pfProfile(aoObj{"name": "Temporary", "cloneFromId": o.stdPrf})
		tmp, tmpID := o.pfMember("pf-tmp@example.com", "Tina Temp", aoStr(p, "id"))
		if aoStr(o.must(tmp, `{ viewer { member { profile { id } } } }`, nil), "viewer", "member", "profile", "id") != aoStr(p, "id") {
			t.Fatal("member does not hold the new profile")
		}
		got := o.must(o.admin, pfDeleteProfile, aoObj{"id": aoStr(p, "id"), "to": o.stdPrf})
		if got["deleteProfile"] != aoStr(p, "id") {
			t.Errorf("deleteProfile returned %v", got)
		}
		if aoStr(o.must(tmp, `{ viewer { member { profile { id } } } }`, nil), "viewer", "member", "profile", "id") != o.stdPrf {
			t.Error("the deleted profile's member did not move to the transfer profile")
		}
		o.wantAudit("profile.delete", aoStr(p, "id"), aoObj{"name": "Temporary"},
			aoObj{"deleted": true, "transferToProfileId": o.stdPrf, "movedMembers": []any{tmpID}})
	})

	other := aoNewOrg(env, "pf-other@example.com", "Other Profiles Inc")
	salesRep := ""
	for _, p := range o.must(o.admin, `{ profiles { id name } }`, nil)["profiles"].([]any) {
		if aoStr(p, "name") == "Sales Rep" {
			salesRep = aoStr(p, "id")
		}
	}
	pfReject(t, env, o.key, []aoCase{
		{name: "edit needs view", as: o.admin, query: pfUpdateProfile, code: "BAD_USER_INPUT", msg: "edit needs view",
			vars: aoObj{"id": salesRep, "in": aoObj{"modulePermissions": []aoObj{{"module": "DEALS", "view": false}}}}},
		{name: "import needs create", as: o.admin, query: pfUpdateProfile, code: "BAD_USER_INPUT", msg: "import needs create",
			vars: aoObj{"id": salesRep, "in": aoObj{"modulePermissions": []aoObj{{"module": "DEALS", "create": false}}}}},
		{name: "delete needs view", as: o.admin, query: pfCreateProfile, code: "BAD_USER_INPUT", msg: "delete needs view",
			vars: aoObj{"in": aoObj{"name": "X", "modulePermissions": []aoObj{{"module": "LEADS", "delete": true}}}}},
		{name: "share needs view", as: o.admin, query: pfCreateProfile, code: "BAD_USER_INPUT", msg: "share needs view",
			vars: aoObj{"in": aoObj{"name": "X", "modulePermissions": []aoObj{{"module": "LEADS", "share": true}}}}},
		{name: "changeOwner needs view", as: o.admin, query: pfCreateProfile, code: "BAD_USER_INPUT", msg: "changeOwner needs view",
			vars: aoObj{"in": aoObj{"name": "X", "modulePermissions": []aoObj{{"module": "LEADS", "changeOwner": true}}}}},
		{name: "export needs view", as: o.admin, query: pfCreateProfile, code: "BAD_USER_INPUT", msg: "export needs view",
			vars: aoObj{"in": aoObj{"name": "X", "modulePermissions": []aoObj{{"module": "LEADS", "export": true}}}}},
		{name: "massUpdate needs edit", as: o.admin, query: pfCreateProfile, code: "BAD_USER_INPUT", msg: "massUpdate needs edit",
			vars: aoObj{"in": aoObj{"name": "X", "modulePermissions": []aoObj{{"module": "LEADS", "view": true, "massUpdate": true}}}}},
		{name: "massDelete needs delete", as: o.admin, query: pfCreateProfile, code: "BAD_USER_INPUT", msg: "massDelete needs delete",
			vars: aoObj{"in": aoObj{"name": "X", "modulePermissions": []aoObj{{"module": "LEADS", "view": true, "edit": true, "massDelete": true}}}}},
		{name: "clone breaking a prerequisite", as: o.admin, query: pfCreateProfile, code: "BAD_USER_INPUT", msg: "share needs view",
			vars: aoObj{"in": aoObj{"name": "X", "cloneFromId": o.stdPrf, "modulePermissions": []aoObj{{"module": "TASKS", "view": false, "edit": false, "create": false}}}}},
		{name: "module named twice", as: o.admin, query: pfCreateProfile, code: "BAD_USER_INPUT", msg: "DEALS",
			vars: aoObj{"in": aoObj{"name": "X", "modulePermissions": []aoObj{{"module": "DEALS", "view": true}, {"module": "DEALS", "view": false}}}}},
		{name: "unknown setup permission", as: o.admin, query: pfCreateProfile, code: "BAD_USER_INPUT", msg: "manageEverything",
			vars: aoObj{"in": aoObj{"name": "X", "setupPermissions": []string{"manageEverything"}}}},
		{name: "empty name", as: o.admin, query: pfCreateProfile, code: "BAD_USER_INPUT", vars: aoObj{"in": aoObj{"name": "  "}}},
		{name: "name in use", as: o.admin, query: pfCreateProfile, code: "CONFLICT", msg: "Sales Rep",
			vars: aoObj{"in": aoObj{"name": "sales rep"}}},
		{name: "clone of an unknown profile", as: o.admin, query: pfCreateProfile, code: "NOT_FOUND",
			vars: aoObj{"in": aoObj{"name": "X", "cloneFromId": "profile_999999"}}},
		{name: "nothing to update", as: o.admin, query: pfUpdateProfile, code: "BAD_USER_INPUT", vars: aoObj{"id": salesRep, "in": aoObj{}}},
		{name: "update Administrator", as: o.admin, query: pfUpdateProfile, code: "CONFLICT", msg: "Administrator",
			vars: aoObj{"id": o.adminPrf, "in": aoObj{"name": "Boss"}}},
		{name: "narrow Administrator", as: o.admin, query: pfUpdateProfile, code: "CONFLICT", msg: "Administrator",
			vars: aoObj{"id": o.adminPrf, "in": aoObj{"modulePermissions": []aoObj{{"module": "DEALS", "massDelete": false}}}}},
		{name: "delete Administrator", as: o.admin, query: pfDeleteProfile, code: "CONFLICT", msg: "Administrator",
			vars: aoObj{"id": o.adminPrf, "to": o.stdPrf}},
		{name: "restrict a field of Administrator", as: o.admin, query: pfSetFields, code: "CONFLICT", msg: "Administrator",
			vars: aoObj{"p": o.adminPrf, "m": "CONTACTS", "f": []aoObj{{"field": "email", "access": "HIDDEN"}}}},
		{name: "delete Standard", as: o.admin, query: pfDeleteProfile, code: "CONFLICT", msg: "Standard",
			vars: aoObj{"id": o.stdPrf, "to": salesRep}},
		{name: "delete into itself", as: o.admin, query: pfDeleteProfile, code: "BAD_USER_INPUT",
			vars: aoObj{"id": salesRep, "to": salesRep}},
		{name: "transfer to an unknown profile", as: o.admin, query: pfDeleteProfile, code: "NOT_FOUND",
			vars: aoObj{"id": salesRep, "to": "profile_999999"}},
		{name: "a profile of another org", as: o.admin, query: pfUpdateProfile, code: "NOT_FOUND",
			vars: aoObj{"id": other.stdPrf, "in": aoObj{"name": "Mine now"}}},
		{name: "a member moved to a profile of another org", as: o.admin, query: pfDeleteProfile, code: "NOT_FOUND",
			vars: aoObj{"id": salesRep, "to": other.stdPrf}},
		{name: "createProfile needs manageProfiles", as: sam, query: pfCreateProfile, code: "FORBIDDEN", msg: "manageProfiles",
			vars: aoObj{"in": aoObj{"name": "Mine"}}},
		{name: "updateProfile needs manageProfiles", as: sam, query: pfUpdateProfile, code: "FORBIDDEN", msg: "manageProfiles",
			vars: aoObj{"id": o.stdPrf, "in": aoObj{"setupPermissions": []string{"manageUsers"}}}},
		{name: "deleteProfile needs manageProfiles", as: sam, query: pfDeleteProfile, code: "FORBIDDEN", msg: "manageProfiles",
			vars: aoObj{"id": salesRep, "to": o.stdPrf}},
		{name: "setFieldPermissions needs manageProfiles", as: sam, query: pfSetFields, code: "FORBIDDEN", msg: "manageProfiles",
			vars: aoObj{"p": o.stdPrf, "m": "CONTACTS", "f": []aoObj{{"field": "email", "access": "READ_WRITE"}}}},
		{name: "reading another profile's field permissions needs manageProfiles", as: sam, code: "FORBIDDEN",
			query: `{ profiles { name fieldPermissions(module: DEALS) { field } } }`},
	})

	t.Run("a profile manager cannot climb", func(t *testing.T) {
		pm := o.pfProfile(aoObj{"name": "Profile Manager", "cloneFromId": o.stdPrf, "setupPermissions": []string{"manageProfiles"}})
		pam, _ := o.pfMember("pf-pam@example.com", "Pam Manager", aoStr(pm, "id"))
		pfReject(t, env, o.key, []aoCase{
			{name: "edit the profile they hold", as: pam, query: pfUpdateProfile, code: "FORBIDDEN", msg: "hold",
				vars: aoObj{"id": aoStr(pm, "id"), "in": aoObj{"setupPermissions": []string{"manageProfiles", "manageUsers"}}}},
			{name: "grant a setup permission they lack", as: pam, query: pfUpdateProfile, code: "FORBIDDEN", msg: "manageUsers",
				vars: aoObj{"id": o.stdPrf, "in": aoObj{"setupPermissions": []string{"manageUsers"}}}},
			{name: "clone Administrator", as: pam, query: pfCreateProfile, code: "FORBIDDEN",
				vars: aoObj{"in": aoObj{"name": "Ladder", "cloneFromId": o.adminPrf}}},
			{name: "unhide a field of their own profile", as: pam, query: pfSetFields, code: "FORBIDDEN",
				vars: aoObj{"p": aoStr(pm, "id"), "m": "CONTACTS", "f": []aoObj{{"field": "bankAccountNumber", "access": "READ_WRITE"}}}},
		})
		// What they hold, they may give; their own profile's field permissions they may read.
		o.must(pam, pfCreateProfile, aoObj{"in": aoObj{"name": "Junior Profile Manager", "setupPermissions": []string{"manageProfiles"}}})
		o.must(pam, `{ viewer { member { profile { fieldPermissions(module: CONTACTS) { field access } } } } }`, nil)
	})
}

// TestProfilesChangeTakesEffectEverywhere: a profile or field-permission
// change is seen by the next request, on this instance and on another one.
func TestProfilesChangeTakesEffectEverywhere(t *testing.T) {
	t.Parallel()
	one, two := inInstances(t)
	o := aoNewOrg(one, "pf-inst-admin@example.com", "Profiles Everywhere")
	p := o.pfProfile(aoObj{"name": "Dealer", "cloneFromId": o.stdPrf})
	dan, _ := o.pfMember("pf-dan@example.com", "Dan Dealer", aoStr(p, "id"))
	deal := aoCreateDeal(one, dan, "Big one")
	one.Must(dan, `mutation($id: ID!) { updateDeal(id: $id, input: {amount: 5}) { id } }`, aoObj{"id": deal}, nil)
	// Both instances have the org warm.
	for _, env := range []*apitest.Env{one, two} {
		env.Must(dan, `{ deals(first: 5) { totalCount edges { node { amount } } } }`, nil, nil)
	}
	steps := []struct {
		name   string
		change func()
		check  func(env *apitest.Env)
	}{
		{"field hidden", func() { o.pfSetFieldAccess(aoStr(p, "id"), "DEALS", map[string]string{"amount": "HIDDEN"}) }, func(env *apitest.Env) {
			r := env.Do(dan, `{ deals(first: 5) { edges { node { amount } } } }`, nil)
			if fmt.Sprint(r.Codes()) != "[FIELD_FORBIDDEN]" {
				t.Errorf("reading a field just hidden: %v", r.Errors)
			}
		}},
		{"edit revoked", func() {
			o.must(o.admin, pfUpdateProfile, aoObj{"id": aoStr(p, "id"), "in": aoObj{"modulePermissions": []aoObj{{"module": "DEALS", "edit": false}}}})
		}, func(env *apitest.Env) {
			env.Fails(dan, "FORBIDDEN", `mutation($id: ID!) { updateDeal(id: $id, input: {name: "x"}) { id } }`, aoObj{"id": deal})
		}},
		{"view revoked", func() {
			o.must(o.admin, pfUpdateProfile, aoObj{"id": aoStr(p, "id"), "in": aoObj{"modulePermissions": []aoObj{{"module": "DEALS", "view": false, "share": false}}}})
		}, func(env *apitest.Env) {
			env.Fails(dan, "FORBIDDEN", `{ deals(first: 5) { totalCount } }`, nil)
		}},
		{"moved to Standard by deleting the profile", func() {
			o.must(o.admin, pfDeleteProfile, aoObj{"id": aoStr(p, "id"), "to": o.stdPrf})
		}, func(env *apitest.Env) {
			var out struct{ Deals struct{ TotalCount int } }
			env.Must(dan, `{ deals(first: 5) { totalCount } }`, nil, &out)
			if out.Deals.TotalCount != 1 {
				t.Errorf("after the move to Standard, %d deals", out.Deals.TotalCount)
			}
		}},
	}
	for _, s := range steps {
		s.change()
		for i, env := range []*apitest.Env{one, two} {
			t.Run(fmt.Sprintf("%s/instance %d", s.name, i+1), func(t *testing.T) {
				e := *env
				e.T = t
				s.check(&e)
			})
		}
	}
}

// TestProfilesModulePermissionsEnforced: every path of a module honours the
// profile's module permissions, and every administration operation its
// setup permission.
func TestProfilesModulePermissionsEnforced(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "pf-mod-admin@example.com", "Module Permissions")
	// Limited: DEALS view only; ACCOUNTS nothing; CONTACTS view, create, edit.
	lim := o.pfProfile(aoObj{"name": "Limited", "modulePermissions": []aoObj{
		{"module": "DEALS", "view": true}, {"module": "CONTACTS", "view": true, "create": true, "edit": true}}})
	lee, _ := o.pfMember("pf-lee@example.com", "Lee Limited", aoStr(lim, "id"))
	// Records Lee owns, made by the administrator for Lee (ownerId).
	leeID := aoStr(o.must(lee, `{ viewer { member { id } } }`, nil), "viewer", "member", "id")
	mk := func(typ string, in aoObj) string {
		in["ownerId"] = leeID
		d := o.must(o.admin, fmt.Sprintf(`mutation($in: Create%sInput!) { create%s(input: $in) { id } }`, typ, typ), aoObj{"in": in})
		return aoStr(d, "create"+typ, "id")
	}
	account := mk("Account", aoObj{"name": "Acme"})
	deal := mk("Deal", aoObj{"name": "Own deal", "accountId": account})
	contact := mk("Contact", aoObj{"lastName": "Own contact", "accountId": account})

	t.Run("owner's access is capped by the profile", func(t *testing.T) {
		d := o.must(lee, `query($d: ID!, $c: ID!) { deal(id: $d) { access { level canRead canEdit canDelete canShare canChangeOwner } account { id } }
			contact(id: $c) { access { canEdit canDelete canShare } account { id } } }`, aoObj{"d": deal, "c": contact})
		if got := fmt.Sprint(aoPath(d, "deal", "access")); got != "map[canChangeOwner:false canDelete:false canEdit:false canRead:true canShare:false level:FULL_ACCESS]" {
			t.Errorf("deal access %s", got)
		}
		if got := fmt.Sprint(aoPath(d, "contact", "access")); got != "map[canDelete:false canEdit:true canShare:false]" {
			t.Errorf("contact access %s", got)
		}
		if aoPath(d, "deal", "account") != nil || aoPath(d, "contact", "account") != nil {
			t.Error("a relation into a module the profile cannot view is not null")
		}
	})

	cases := []aoCase{
		{name: "list without view", query: `{ accounts(first: 5) { totalCount } }`, code: "FORBIDDEN", msg: "ACCOUNTS"},
		{name: "lookup without view", query: `query($id: ID!) { account(id: $id) { id } }`, vars: aoObj{"id": account}, code: "FORBIDDEN"},
		{name: "org field without view", query: `query($o: ID!) { org(id: $o) { accounts(first: 5) { totalCount } } }`, vars: aoObj{"o": o.id}, code: "FORBIDDEN"},
		{name: "update without view", query: `mutation($id: ID!) { updateAccount(id: $id, input: {name: "x"}) { id } }`, vars: aoObj{"id": account}, code: "FORBIDDEN"},
		{name: "delete without view", query: `mutation($id: ID!) { deleteAccount(id: $id) }`, vars: aoObj{"id": account}, code: "FORBIDDEN"},
		{name: "create without view", query: `mutation { createAccount(input: {name: "x"}) { id } }`, code: "FORBIDDEN"},
		{name: "fieldPermissions without view", query: `{ fieldPermissions(module: ACCOUNTS) { field } }`, code: "FORBIDDEN"},
		{name: "customFieldDefinitions without view", query: `{ customFieldDefinitions(module: ACCOUNTS) { id } }`, code: "FORBIDDEN"},
		{name: "create without create", query: `mutation { createDeal(input: {name: "x"}) { id } }`, code: "FORBIDDEN", msg: "create"},
		{name: "update own record without edit", query: `mutation($id: ID!) { updateDeal(id: $id, input: {name: "x"}) { id } }`, vars: aoObj{"id": deal}, code: "FORBIDDEN", msg: "edit"},
		{name: "delete own record without delete", query: `mutation($id: ID!) { deleteContact(id: $id) }`, vars: aoObj{"id": contact}, code: "FORBIDDEN", msg: "delete"},
		{name: "create for another owner without changeOwner", query: `mutation($o: ID!) { createContact(input: {lastName: "x", ownerId: $o}) { id } }`,
			vars: aoObj{"o": o.adminID}, code: "FORBIDDEN", msg: "changeOwner"},
		{name: "share own record without share", query: `mutation($id: ID!, $p: ID!) { shareRecords(module: CONTACTS, recordIds: [$id], shares: [{principal: {type: USER, id: $p}, access: READ_ONLY}]) { recordId } }`,
			vars: aoObj{"id": contact, "p": o.adminID}, code: "FORBIDDEN"},
		{name: "link a record of a module without view", query: `mutation($id: ID!, $a: ID!) { updateContact(id: $id, input: {accountId: $a}) { id } }`,
			vars: aoObj{"id": contact, "a": account}, code: "BAD_USER_INPUT"},
	}
	for i := range cases {
		cases[i].as = lee
	}
	pfReject(t, env, o.key, cases)

	// Every administration operation needs its setup permission: refused
	// without it, and let through (whatever else it then says) with exactly it.
	admin := []struct {
		perm, name, query string
		vars              aoObj
	}{
		{"manageRoles", "createRole", `mutation { createRole(input: {name: "Gate role"}) { id } }`, nil},
		{"manageUsers", "addMember", `mutation($r: ID!, $p: ID!) { addMember(input: {email: "pf-gate@example.com", name: "Gate", roleId: $r, profileId: $p}) { id } }`,
			aoObj{"r": o.topRole, "p": o.stdPrf}},
		{"manageGroups", "createGroup", `mutation { createGroup(input: {name: "Gate group", members: []}) { id } }`, nil},
		{"manageSharing", "setModuleSharing", `mutation { setModuleSharing(module: LEADS, defaultAccess: PUBLIC_READ_ONLY) { hierarchyMode } }`, nil},
		{"manageSharing", "createSharingRule", `mutation($p: ID!) { createSharingRule(input: {module: LEADS, name: "Gate rule", source: {type: USER, id: $p}, target: {type: USER, id: $p}, access: READ_ONLY}) { id } }`,
			aoObj{"p": o.adminID}},
		{"manageSharing", "whoCanAccess", `query($d: ID!) { whoCanAccess(module: DEALS, recordId: $d, first: 5) { totalCount } }`, aoObj{"d": deal}},
		{"viewAuditLog", "auditLog", `{ auditLog(first: 1) { totalCount } }`, nil},
		{"manageProfiles", "createProfile", `mutation { createProfile(input: {name: "Gate profile"}) { id } }`, nil},
		{"manageProfiles", "setFieldPermissions", `mutation($p: ID!) { setFieldPermissions(profileId: $p, module: LEADS, fields: [{field: "email", access: READ_WRITE}]) { field } }`,
			aoObj{"p": o.stdPrf}},
		{"manageProfiles", "createCustomField", `mutation { createCustomField(input: {module: LEADS, apiName: "gate", label: "Gate", type: TEXT}) { id } }`, nil},
	}
	for _, a := range admin {
		t.Run("setup permission "+a.perm+" for "+a.name, func(t *testing.T) {
			e := *env
			e.T = t
			r := e.Do(lee, a.query, a.vars)
			if fmt.Sprint(r.Codes()) != "[FORBIDDEN]" || !strings.Contains(r.Errors[0].Message, a.perm) {
				t.Fatalf("without %s: %+v", a.perm, r.Errors)
			}
			gate := o.pfProfile(aoObj{"name": "Only " + a.perm + " " + a.name, "cloneFromId": aoStr(lim, "id"), "setupPermissions": []string{a.perm}})
			setProfile := func(p string) {
				o.must(o.admin, `mutation($id: ID!, $p: ID!) { updateMember(id: $id, input: {profileId: $p}) { id } }`, aoObj{"id": leeID, "p": p})
			}
			setProfile(aoStr(gate, "id"))
			defer setProfile(aoStr(lim, "id"))
			for _, code := range e.Do(lee, a.query, a.vars).Codes() {
				if code == "FORBIDDEN" {
					t.Errorf("with %s, %s is still FORBIDDEN", a.perm, a.name)
				}
			}
		})
	}
}
