package api_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"warden/api/apitest"
)

// isoWorld is two orgs: A (its admin, 3 deals) and B (its admin, 5 deals,
// an account), and a user who is a Standard member of A (owning 1 deal
// there) and an Administrator of B.
type isoWorld struct {
	adminA, adminB apitest.Caller // acting in A, in B
	bothA, bothB   apitest.Caller // the user in both orgs, acting in A, in B
	a, b           string         // org ids
	dealsA         []string       // adminA's deals
	bothDealA      string
	accA           string
	dealsB         []string
	accB, conB     string
	taskB          string
}

func isoSetup(env *apitest.Env, prefix string) *isoWorld {
	env.T.Helper()
	w := &isoWorld{}
	w.adminA, _ = recSignupOrg(env, prefix+"-a@example.com", "Alice A", "Org A")
	w.adminB, _ = recSignupOrg(env, prefix+"-b@example.com", "Bob B", "Org B")
	w.a, w.b = w.adminA.Org, w.adminB.Org
	both := env.Signup(prefix+"-both@example.com", "Bea Both")
	env.AddMember(w.a, both, "Rep", "CEO", false)
	env.AddMember(w.b, both, "Ops", "CEO", true)
	w.bothA, w.bothB = both.In(w.a), both.In(w.b)

	w.accA = recStr(recCreate(env, w.adminA, recAccount, obj{"name": "A's account"}), "id")
	w.dealsA = pgCreateDeals(env, w.adminA, []obj{{"name": "A1", "accountId": w.accA}, {"name": "A2"}, {"name": "A3"}})
	w.bothDealA = recStr(recCreate(env, w.bothA, recDeal, obj{"name": "Both's deal in A", "amount": 7}), "id")

	w.accB = recStr(recCreate(env, w.adminB, recAccount, obj{"name": "B's account"}), "id")
	w.conB = recStr(recCreate(env, w.adminB, recContact, obj{"lastName": "B-contact", "accountId": w.accB}), "id")
	var in []obj
	for i := range 5 {
		in = append(in, obj{"name": fmt.Sprintf("B%d", i), "amount": 100, "accountId": w.accB, "contactId": w.conB})
	}
	w.dealsB = pgCreateDeals(env, w.adminB, in)
	w.taskB = recStr(recCreate(env, w.adminB, recTask, obj{"subject": "B's task", "relatedToId": w.dealsB[0]}), "id")
	return w
}

// isoOrgRows counts an org's rows of a table.
func isoOrgRows(env *apitest.Env, table, org string) int {
	env.T.Helper()
	var n int
	if err := env.DB.Get(&n, "SELECT count(*) FROM "+table+" WHERE org_id = $1", apitest.OrgKey(org)); err != nil {
		env.T.Fatal(err)
	}
	return n
}

func TestIsolationForeignIDs(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	w := isoSetup(env, "foreign")

	// B as its admin sees it, to check that nothing from A changes it.
	snapshotB := func(env *apitest.Env) obj {
		return recData(env, w.adminB, `query($d: ID!, $a: ID!) { deal(id: $d) { name amount updatedAt account { id } contact { id } }
			account(id: $a) { name updatedAt } deals(first: 100) { totalCount } accounts(first: 100) { totalCount } }`,
			obj{"d": w.dealsB[0], "a": w.accB})
	}
	before := snapshotB(env)
	rowsB := func(env *apitest.Env) []int {
		return []int{isoOrgRows(env, "deals", w.b), isoOrgRows(env, "accounts", w.b), isoOrgRows(env, "contacts", w.b), isoOrgRows(env, "tasks", w.b)}
	}
	rowsBefore := rowsB(env)
	bUnchanged := func(env *apitest.Env) {
		env.T.Helper()
		if got := rowsB(env); !slices.Equal(got, rowsBefore) {
			env.T.Errorf("org B's rows (deals, accounts, contacts, tasks): %v, want %v", got, rowsBefore)
		}
		if got := snapshotB(env); !reflect.DeepEqual(got, before) {
			env.T.Errorf("org B changed:\n got %v\nwant %v", got, before)
		}
	}

	for _, who := range []struct {
		name string
		c    apitest.Caller
	}{
		{"A's admin", w.adminA},
		{"member of both orgs acting in A", w.bothA},
	} {
		t.Run(who.name, func(t *testing.T) {
			t.Run("lookups are null", func(t *testing.T) {
				env := envFor(env, t)
				d := recData(env, who.c, `query($d: ID!, $a: ID!, $c: ID!, $t: ID!, $org: ID!) {
					deal(id: $d) { id name } account(id: $a) { id name } contact(id: $c) { id } task(id: $t) { id }
					viaOrg: org(id: $org) { deal(id: $d) { id } account(id: $a) { id } } }`,
					obj{"d": w.dealsB[0], "a": w.accB, "c": w.conB, "t": w.taskB, "org": w.a})
				for _, k := range []string{"deal", "account", "contact", "task"} {
					if v, ok := d[k]; !ok || v != nil {
						t.Errorf("%s of org B from org A: %v, want null", k, v)
					}
				}
				if v := recPath(d, "viaOrg", "deal"); v != nil {
					t.Errorf("org(A).deal(B's id): %v", v)
				}
				if v := recPath(d, "viaOrg", "account"); v != nil {
					t.Errorf("org(A).account(B's id): %v", v)
				}
			})
			t.Run("filters match nothing", func(t *testing.T) {
				env := envFor(env, t)
				d := recData(env, who.c, `query($a: ID!, $c: ID!, $d: ID!) {
					byAccount: deals(first: 100, filter: {account: {eq: $a}}) { totalCount edges { node { id } } }
					byAccountIn: deals(first: 100, filter: {account: {in: [$a]}}) { totalCount edges { node { id } } }
					byContact: deals(first: 100, filter: {contact: {eq: $c}}) { totalCount edges { node { id } } }
					contacts: contacts(first: 100, filter: {account: {eq: $a}}) { totalCount edges { node { id } } }
					tasks: tasks(first: 100, filter: {relatedTo: {eq: $d}}) { totalCount edges { node { id } } } }`,
					obj{"a": w.accB, "c": w.conB, "d": w.dealsB[0]})
				for _, k := range []string{"byAccount", "byAccountIn", "byContact", "contacts", "tasks"} {
					if ids := recIDsOf(d[k]); len(ids) != 0 || recPath(d, k, "totalCount") != float64(0) {
						t.Errorf("%s with org B's ids: %v", k, d[k])
					}
				}
			})
			for _, link := range []struct {
				name  string
				m     recModule
				in    obj
				table string
			}{
				{"create deal with B's account", recDeal, obj{"name": "Linked to B", "accountId": w.accB}, "deals"},
				{"create deal with B's contact", recDeal, obj{"name": "Linked to B", "contactId": w.conB}, "deals"},
				{"create contact with B's account", recContact, obj{"lastName": "Linked to B", "accountId": w.accB}, "contacts"},
				{"create task about B's deal", recTask, obj{"subject": "About B", "relatedToId": w.dealsB[0]}, "tasks"},
			} {
				t.Run(link.name+" is refused", func(t *testing.T) {
					env := envFor(env, t)
					defer bUnchanged(env)
					n := isoOrgRows(env, link.table, w.a)
					recWantBadLink(env, who.c, link.m.createQ(), obj{"in": link.in}, func() bool { return isoOrgRows(env, link.table, w.a) == n })
				})
			}
			t.Run("update deal to B's account is refused", func(t *testing.T) {
				env := envFor(env, t)
				defer bUnchanged(env)
				mine := w.dealsA[1]
				if who.c == w.bothA {
					mine = w.bothDealA
				}
				before := recGet(env, who.c, recDeal, mine)
				recWantBadLink(env, who.c, recDeal.updateQ(), obj{"id": mine, "in": obj{"accountId": w.accB}},
					func() bool { return reflect.DeepEqual(recGet(env, who.c, recDeal, mine), before) })
			})
			t.Run("update task to be about B's deal is refused", func(t *testing.T) {
				env := envFor(env, t)
				defer bUnchanged(env)
				task := recStr(recCreate(env, who.c, recTask, obj{"subject": "Mine"}), "id")
				before := recGet(env, who.c, recTask, task)
				recWantBadLink(env, who.c, recTask.updateQ(), obj{"id": task, "in": obj{"relatedToId": w.dealsB[0]}},
					func() bool { return reflect.DeepEqual(recGet(env, who.c, recTask, task), before) })
			})
			t.Run("updateDeal is NOT_FOUND", func(t *testing.T) {
				env := envFor(env, t)
				defer bUnchanged(env)
				recWantNotFound(env, who.c, recDeal.updateQ(), obj{"id": w.dealsB[0], "in": obj{"name": "Hijacked", "amount": 1}})
			})
			t.Run("updateAccount is NOT_FOUND", func(t *testing.T) {
				env := envFor(env, t)
				defer bUnchanged(env)
				recWantNotFound(env, who.c, recAccount.updateQ(), obj{"id": w.accB, "in": obj{"name": "Hijacked"}})
			})
			t.Run("deleteDeal is NOT_FOUND", func(t *testing.T) {
				env := envFor(env, t)
				defer bUnchanged(env)
				recWantNotFound(env, who.c, recDeal.deleteQ(), obj{"id": w.dealsB[0]})
			})
			t.Run("deleteAccount is NOT_FOUND", func(t *testing.T) {
				env := envFor(env, t)
				defer bUnchanged(env)
				recWantNotFound(env, who.c, recAccount.deleteQ(), obj{"id": w.accB})
			})
		})
	}

	t.Run("answers do not tell a foreign id from a missing one", func(t *testing.T) {
		env := envFor(env, t)
		// A Standard member's answer for B's deal and for an id that never
		// existed must be the same, message included.
		foreign := env.Do(w.bothA, recDeal.updateQ(), obj{"id": w.dealsB[0], "in": obj{"amount": 1}})
		missing := env.Do(w.bothA, recDeal.updateQ(), obj{"id": "deal_999999", "in": obj{"amount": 1}})
		recNoLeak(t, foreign)
		if !reflect.DeepEqual(foreign.Codes(), missing.Codes()) || len(foreign.Errors) != 1 {
			t.Fatalf("foreign id: %v; missing id: %v", foreign.Errors, missing.Errors)
		}
		bUnchanged(env)
	})
}

func TestIsolationOrgSelection(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	w := isoSetup(env, "select")
	outsider, _ := recSignupOrg(env, "select-c@example.com", "Carl C", "Org C")
	c := outsider.Org

	t.Run("X-Org-ID of another org is FORBIDDEN with no data", func(t *testing.T) {
		env := envFor(env, t)
		q := `{ viewer { user { id } } deals(first: 5) { totalCount edges { node { id name } } } org(id: "` + w.b + `") { name } }`
		var msgs []string
		for _, org := range []string{w.b, "org_999999", "garbage", "deal_1"} {
			r := env.Do(w.adminA.In(org), q, nil)
			recNoLeak(t, r)
			if codes := r.Codes(); len(codes) != 1 || codes[0] != "FORBIDDEN" {
				t.Errorf("X-Org-ID %s: errors %v, want one FORBIDDEN", org, r.Errors)
				continue
			}
			if d := string(r.Data); d != "" && d != "null" {
				t.Errorf("X-Org-ID %s: data %s, want none", org, d)
			}
			if r.Status != 403 && r.Status != 200 {
				t.Errorf("X-Org-ID %s: HTTP %d", org, r.Status)
			}
			msgs = append(msgs, r.Errors[0].Message)
		}
		for _, m := range msgs {
			if m != msgs[0] {
				t.Errorf("messages differ between an existing and a missing org: %q", msgs)
				break
			}
		}
		// A mutation is refused and writes nothing.
		n := isoOrgRows(env, "deals", w.b)
		recFails(env, w.adminA.In(w.b), "FORBIDDEN", recDeal.createQ(), obj{"in": obj{"name": "Intruder"}})
		if got := isoOrgRows(env, "deals", w.b); got != n {
			t.Errorf("org B's deals: %d, want %d", got, n)
		}
	})

	t.Run("org(id:) of a non-member is null", func(t *testing.T) {
		env := envFor(env, t)
		for _, id := range []string{w.b, "org_999999", "garbage"} {
			r := env.Do(w.adminA, `query($id: ID!) { org(id: $id) { id name deals(first: 5) { totalCount } } }`, obj{"id": id})
			recNoLeak(t, r)
			if len(r.Errors) > 0 {
				t.Errorf("org(id: %s): errors %v, want null", id, r.Errors)
			}
			if v := recPath(recNorm(t, r.Data), "org"); v != nil {
				t.Errorf("org(id: %s) = %v, want null", id, v)
			}
		}
		// One request: the member's org answers, the other is null.
		d := recData(env, w.adminA, `query($a: ID!, $b: ID!) { a: org(id: $a) { id deals(first: 5) { totalCount } } b: org(id: $b) { id deals(first: 5) { totalCount } } }`,
			obj{"a": w.a, "b": w.b})
		if recPath(d, "a", "deals", "totalCount") != float64(4) || d["b"] != nil {
			t.Errorf("a: 4 deals and b: null expected, got %v", d)
		}
	})

	t.Run("one request reads both orgs under each membership", func(t *testing.T) {
		env := envFor(env, t)
		q := `query($a: ID!, $b: ID!) {
			a: org(id: $a) { id name member { profile { administrator } } deals(first: 5) { totalCount edges { node { id owner { name } } } } }
			b: org(id: $b) { id name member { profile { administrator } } deals(first: 5) { totalCount edges { node { id owner { name } } } } } }`
		for _, c := range []apitest.Caller{{Token: w.bothA.Token}, w.bothA, w.bothB} {
			d := recData(env, c, q, obj{"a": w.a, "b": w.b})
			if recStr(d, "a", "id") != w.a || recStr(d, "a", "name") != "Org A" || recStr(d, "b", "id") != w.b || recStr(d, "b", "name") != "Org B" {
				t.Errorf("orgs: %v", d)
			}
			if n := recPath(d, "a", "deals", "totalCount"); n != float64(1) {
				t.Errorf("deals in A (Standard, owns 1): %v", n)
			}
			if ids := recIDsOf(recPath(d, "a", "deals")); !slices.Equal(ids, []string{w.bothDealA}) {
				t.Errorf("deals in A: %v, want [%s]", ids, w.bothDealA)
			}
			if n := recPath(d, "b", "deals", "totalCount"); n != float64(5) {
				t.Errorf("deals in B (Administrator): %v", n)
			}
			idsB := recIDsOf(recPath(d, "b", "deals"))
			slices.Sort(idsB)
			wantB := slices.Clone(w.dealsB)
			slices.Sort(wantB)
			if !slices.Equal(idsB, wantB) {
				t.Errorf("deals in B: %v, want %v", idsB, wantB)
			}
			if recPath(d, "a", "member", "profile", "administrator") != false || recPath(d, "b", "member", "profile", "administrator") != true {
				t.Errorf("memberships: %v / %v", recPath(d, "a", "member"), recPath(d, "b", "member"))
			}
		}
	})

	t.Run("a cursor of org A is refused in org B", func(t *testing.T) {
		env := envFor(env, t)
		cursor := pgFetch(env, w.bothA, 1, "", nil, nil).endCursor
		if cursor == "" {
			t.Fatal("no cursor in A")
		}
		// Sanity: it works in A.
		pgFetch(env, w.bothA, 1, cursor, nil, nil)
		recFails(env, w.bothB, "BAD_USER_INPUT", pgPageQ, obj{"first": 3, "after": cursor})
		recFails(env, w.bothA, "BAD_USER_INPUT", `query($b: ID!, $c: String) { org(id: $b) { deals(first: 3, after: $c) { totalCount } } }`,
			obj{"b": w.b, "c": cursor})
		// Also for a viewer who sees everything in B.
		bCursor := pgFetch(env, w.adminB, 1, "", nil, nil).endCursor
		recFails(env, w.bothA, "BAD_USER_INPUT", pgPageQ, obj{"first": 3, "after": bCursor})
	})

	t.Run("setDefaultOrg", func(t *testing.T) {
		env := envFor(env, t)
		noHeader := apitest.Caller{Token: w.bothA.Token}
		q := `{ viewer { activeOrg { id } member { id } } deals(first: 5) { totalCount } }`
		for _, step := range []struct {
			org   string
			count float64
		}{{w.b, 5}, {w.a, 1}, {w.b, 5}} {
			d := recData(env, noHeader, `mutation($o: ID!) { setDefaultOrg(orgId: $o) { activeOrg { id } user { defaultOrg { id } } } }`, obj{"o": step.org})
			if recStr(d, "setDefaultOrg", "activeOrg", "id") != step.org || recStr(d, "setDefaultOrg", "user", "defaultOrg", "id") != step.org {
				t.Errorf("setDefaultOrg(%s) answered %v", step.org, d)
			}
			got := recData(env, noHeader, q, nil)
			if recStr(got, "viewer", "activeOrg", "id") != step.org || recPath(got, "deals", "totalCount") != step.count {
				t.Errorf("without X-Org-ID after setDefaultOrg(%s): %v, want %v deals", step.org, got, step.count)
			}
			// The header still wins over the default.
			other := w.a
			if step.org == w.a {
				other = w.b
			}
			hd := recData(env, noHeader.In(other), q, nil)
			if recStr(hd, "viewer", "activeOrg", "id") != other {
				t.Errorf("X-Org-ID %s with default %s: active org %v", other, step.org, recPath(hd, "viewer", "activeOrg"))
			}
		}
		// An org the user is not in (or none at all) is refused; the default stays.
		for _, bad := range []string{c, "org_999999", "garbage"} {
			recFails(env, noHeader, "FORBIDDEN", `mutation($o: ID!) { setDefaultOrg(orgId: $o) { activeOrg { id } } }`, obj{"o": bad})
		}
		if got := recData(env, noHeader, q, nil); recStr(got, "viewer", "activeOrg", "id") != w.b {
			t.Errorf("default org after refused changes: %v, want %s", recPath(got, "viewer", "activeOrg"), w.b)
		}
	})
}

func TestIsolationInactiveMember(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	w := isoSetup(env, "inactive")
	noHeader := apitest.Caller{Token: w.bothA.Token}
	recData(env, noHeader, `mutation($o: ID!) { setDefaultOrg(orgId: $o) { activeOrg { id } } }`, obj{"o": w.a})

	if _, err := env.DB.Exec(`UPDATE members SET status = 'INACTIVE' WHERE org_id = $1 AND id = $2`,
		apitest.OrgKey(w.a), pgMemberKey(t, recMemberID(env, w.bothA))); err != nil {
		t.Fatal(err)
	}

	t.Run("refused in that org", func(t *testing.T) {
		env := envFor(env, t)
		q := `{ deals(first: 5) { totalCount edges { node { id } } } }`
		for _, c := range []apitest.Caller{w.bothA, noHeader} { // by header, and as the default org
			r := env.Do(c, q, nil)
			recNoLeak(t, r)
			if codes := r.Codes(); len(codes) == 0 || codes[0] != "FORBIDDEN" {
				t.Errorf("inactive member (X-Org-ID %q): %v (data %s), want FORBIDDEN", c.Org, r.Errors, r.Data)
			}
			if ids := recIDsOf(recPath(recNorm(t, r.Data), "deals")); len(ids) > 0 {
				t.Errorf("inactive member got deals %v", ids)
			}
		}
		n := isoOrgRows(env, "deals", w.a)
		recFails(env, w.bothA, "FORBIDDEN", recDeal.createQ(), obj{"in": obj{"name": "While inactive"}})
		recFails(env, w.bothA, "FORBIDDEN", recDeal.updateQ(), obj{"id": w.bothDealA, "in": obj{"name": "While inactive"}})
		if got := isoOrgRows(env, "deals", w.a); got != n {
			t.Errorf("org A's deals: %d, want %d", got, n)
		}
		d := recData(env, w.bothB, `query($a: ID!) { org(id: $a) { id deals(first: 5) { totalCount } } }`, obj{"a": w.a})
		if d["org"] != nil {
			t.Errorf("org(id: A) for an inactive member: %v, want null", d["org"])
		}
		recFails(env, noHeader, "FORBIDDEN", `mutation($o: ID!) { setDefaultOrg(orgId: $o) { activeOrg { id } } }`, obj{"o": w.a})
	})

	t.Run("other memberships and the records stay", func(t *testing.T) {
		env := envFor(env, t)
		if n := recPath(recData(env, w.bothB, `{ deals(first: 5) { totalCount } }`, nil), "deals", "totalCount"); n != float64(5) {
			t.Errorf("deals in B: %v, want 5", n)
		}
		d := recData(env, w.adminA, `query($id: ID!) { deal(id: $id) { name owner { name status } } deals(first: 10) { totalCount } }`, obj{"id": w.bothDealA})
		if recStr(d, "deal", "name") != "Both's deal in A" || recStr(d, "deal", "owner", "status") != "INACTIVE" {
			t.Errorf("the inactive member's deal: %v", d["deal"])
		}
		if n := recPath(d, "deals", "totalCount"); n != float64(4) {
			t.Errorf("A's deals: %v, want 4", n)
		}
	})
}

// pgMemberKey is the number in a member id.
func pgMemberKey(t testing.TB, id string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscanf(id, "member_%d", &n); err != nil {
		t.Fatalf("unexpected member id %q", id)
	}
	return n
}
