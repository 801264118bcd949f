package api_test

import (
	"fmt"
	"testing"

	"warden/api/apitest"
	"warden/db"
)

// One user in two orgs, under a different profile setting in each: one
// request reads both, each under the member's own rules there.

func TestMultiOrgFieldSecurityPerOrg(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := aoNewOrg(env, "multi-a@example.com", "Holding A")
	b := aoNewOrg(env, "multi-b@example.com", "Holding B")
	repA := a.createRole("Rep", a.topRole)
	mgrB := b.createRole("Manager", b.topRole)
	inA, _ := a.addMember("multi-both@example.com", "Mo Both", repA, nil)
	// The same identity joins B (addMember with an existing email).
	b.must(b.admin, `mutation($in: AddMemberInput!) { addMember(input: $in) { id } }`,
		obj{"in": obj{"email": "multi-both@example.com", "name": "ignored", "roleId": mgrB, "profileId": b.stdPrf}})
	inB := inA.In(b.id)

	// Each org: a contact of the member's own, with a bank account number.
	for _, w := range []struct {
		c   apitest.Caller
		org string
	}{{inA, "A"}, {inB, "B"}} {
		recCreate(env, w.c, recContact, obj{"lastName": "Contact in " + w.org, "bankAccountNumber": "IBAN-" + w.org})
	}
	// In A the Standard profile hides the field (SQL: setFieldPermissions
	// is another area's), B leaves it visible.
	aoWrite(env, a.key, db.ChangeOrg, obj{"t": "fieldPermission"}, `INSERT INTO field_permissions (org_id, profile_id, module, field, access)
		VALUES ($1, $2, 'CONTACTS', 'bankAccountNumber', 'HIDDEN') RETURNING 1::bigint`, a.key, aoKey(a.stdPrf))

	q := `query($a: ID!, $b: ID!) {
		viewer { orgs { id name member { role { name } profile { name } } } }
		a: org(id: $a) { contacts(first: 10) { totalCount edges { node { lastName bankAccountNumber } } } }
		b: org(id: $b) { contacts(first: 10) { totalCount edges { node { lastName bankAccountNumber } } } } }`
	for _, c := range []apitest.Caller{{Token: inA.Token}, inA, inB} {
		t.Run("acting in "+c.Org, func(t *testing.T) {
			env := envFor(env, t)
			r := env.Do(c, q, obj{"a": a.id, "b": b.id})
			recNoLeak(t, r)
			d := recNorm(t, r.Data)
			nodeA := recPath(recPath(d, "a", "contacts", "edges").([]any)[0], "node")
			nodeB := recPath(recPath(d, "b", "contacts", "edges").([]any)[0], "node")
			if recStr(nodeA, "lastName") != "Contact in A" || recPath(nodeA, "bankAccountNumber") != nil {
				t.Errorf("org A contact: %v, want the number hidden", nodeA)
			}
			if recStr(nodeB, "lastName") != "Contact in B" || recStr(nodeB, "bankAccountNumber") != "IBAN-B" {
				t.Errorf("org B contact: %v, want the number", nodeB)
			}
			if len(r.Errors) != 1 || r.Errors[0].Code() != "FIELD_FORBIDDEN" ||
				fmt.Sprint(r.Errors[0].Path) != fmt.Sprint([]any{"a", "contacts", "edges", float64(0), "node", "bankAccountNumber"}) {
				t.Errorf("errors %+v, want one FIELD_FORBIDDEN at a.contacts.edges.0.node.bankAccountNumber", r.Errors)
			}
			// viewer.orgs: the member's role and profile in each org.
			want := map[string]string{a.id: "Holding A/Rep/Standard", b.id: "Holding B/Manager/Standard"}
			orgs, _ := recPath(d, "viewer", "orgs").([]any)
			if len(orgs) != 2 {
				t.Fatalf("viewer.orgs: %v", orgs)
			}
			for _, o := range orgs {
				got := recStr(o, "name") + "/" + recStr(o, "member", "role", "name") + "/" + recStr(o, "member", "profile", "name")
				if want[recStr(o, "id")] != got {
					t.Errorf("viewer.orgs entry %v, want %s", got, want[recStr(o, "id")])
				}
			}
		})
	}
	// Filtering on the hidden field is refused in A and works in B.
	recFails(env, inA, "FIELD_FORBIDDEN", `{ contacts(first: 5, filter: {bankAccountNumber: {eq: "IBAN-A"}}) { totalCount } }`, nil)
	if n := recPath(recData(env, inB, `{ contacts(first: 5, filter: {bankAccountNumber: {eq: "IBAN-B"}}) { totalCount } }`, nil), "contacts", "totalCount"); n != float64(1) {
		t.Errorf("filter in B: %v", n)
	}
}

func TestMultiOrgCursorsBoundToOrgAndViewer(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := aoNewOrg(env, "cur-a@example.com", "Cursor A")
	b := aoNewOrg(env, "cur-b@example.com", "Cursor B")
	rep := a.createRole("Rep", a.topRole)
	peer, _ := a.addMember("cur-peer@example.com", "Pia Peer", rep, nil)
	// B's admin is also an admin-profile member of A: it sees all of A.
	a.must(a.admin, `mutation($in: AddMemberInput!) { addMember(input: $in) { id } }`,
		obj{"in": obj{"email": "cur-b@example.com", "name": "x", "roleId": rep, "profileId": a.adminPrf}})
	bInA := b.admin.In(a.id)
	for i := range 3 {
		recCreate(env, a.admin, recDeal, obj{"name": fmt.Sprintf("A deal %d", i)})
		recCreate(env, b.admin, recDeal, obj{"name": fmt.Sprintf("B deal %d", i)})
	}
	page := `query($after: String) { deals(first: 1, after: $after) { pageInfo { endCursor } edges { node { name } } } }`
	cursorOf := func(c apitest.Caller) string {
		return recStr(recData(env, c, page, nil), "deals", "pageInfo", "endCursor")
	}
	adminCursor := cursorOf(a.admin)
	recData(env, a.admin, page, obj{"after": adminCursor}) // works for its viewer
	for _, tc := range []struct {
		name   string
		c      apitest.Caller
		cursor string
	}{
		{"A's cursor in B", b.admin, adminCursor},
		{"B's cursor in A", bInA, cursorOf(b.admin)},
		{"another viewer's cursor in the same org", bInA, adminCursor},
		{"another viewer's cursor, seeing less", peer, adminCursor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := envFor(env, t)
			r := recFails(env, tc.c, "BAD_USER_INPUT", page, obj{"after": tc.cursor})
			if d := recPath(recNorm(t, r.Data), "deals"); d != nil {
				t.Errorf("data with a foreign cursor: %v", d)
			}
		})
	}
	// org(id:) subtrees check the subtree's org, not the active one.
	recFails(env, b.admin, "BAD_USER_INPUT", `query($a: ID!, $c: String) { org(id: $a) { deals(first: 1, after: $c) { totalCount } } }`,
		obj{"a": a.id, "c": cursorOf(b.admin)})
}
