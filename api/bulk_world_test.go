package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/lib/pq"

	"warden/api/apitest"
	"warden/db"
)

// The org the bulk, export and import tests work in (helpers prefixed bk).
//
//	admin  CEO, Administrator
//	mgr    Manager under CEO, Standard (view, create, edit, share: no bulk work)
//	rep    Rep under Manager, profile "Bulk": every permission on every module,
//	       but DEALS.amount READ_ONLY, DEALS.probability and the custom
//	       DEALS.secretCode HIDDEN, CONTACTS.bankAccountNumber and the custom
//	       CONTACTS.iban HIDDEN
//	other  Other under CEO, profile "Importer": CONTACTS view, create, import
//	       only (no changeOwner)
//
// Standard hides CONTACTS.bankAccountNumber and CONTACTS.iban too. Every
// module is PRIVATE. Deals: r1..r3 owned by rep (r1 has custom region "US"
// and secretCode "s1"), o1..o3 owned by other; the admin shares o1 with rep
// READ_ONLY and o3 READ_WRITE; o2 is invisible to rep. A task is about r1.
type bkWorld struct {
	env                            *apitest.Env
	org                            string
	orgKey                         int64
	admin, mgr, rep, other         apitest.Caller
	adminID, mgrID, repID, otherID string
	deals                          map[string]string // r1.. o3 -> deal id
	task                           string
	contact                        string // a contact of rep's, for wrong-type ids
}

const bkAllPerms = `["view","create","edit","delete","share","changeOwner","export","import","massUpdate","massDelete"]`

func bkNewWorld(t *testing.T) *bkWorld {
	t.Helper()
	env := apitest.New(t)
	w := &bkWorld{env: env, deals: map[string]string{}}
	w.admin, w.adminID = recSignupOrg(env, "bk-admin@example.com", "Ada Admin", "Bulk Org")
	w.org, w.orgKey = w.admin.Org, apitest.OrgKey(w.admin.Org)
	mgr, rep, other := env.Signup("bk-mgr@example.com", "Max Manager"), env.Signup("bk-rep@example.com", "Rita Rep"), env.Signup("bk-other@example.com", "Otto Other")
	env.AddMember(w.org, mgr, "Manager", "CEO", false)
	repKey := env.AddMember(w.org, rep, "Rep", "Manager", false)
	otherKey := env.AddMember(w.org, other, "Other", "CEO", false)
	w.mgr, w.rep, w.other = mgr.In(w.org), rep.In(w.org), other.In(w.org)
	w.mgrID, w.repID, w.otherID = recMemberID(env, w.mgr), recMemberID(env, w.rep), recMemberID(env, w.other)

	ctx := context.Background()
	tx := env.DB.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	var std, bulk, importer int64
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tx.Get(&std, `SELECT id FROM profiles WHERE org_id = $1 AND is_standard`, w.orgKey))
	perms := map[string]string{}
	for _, m := range []string{"LEADS", "CONTACTS", "ACCOUNTS", "DEALS", "TASKS"} {
		perms[m] = fmt.Sprintf("%q: %s", m, bkAllPerms)
	}
	all := "{" + strings.Join([]string{perms["LEADS"], perms["CONTACTS"], perms["ACCOUNTS"], perms["DEALS"], perms["TASKS"]}, ", ") + "}"
	must(tx.Get(&bulk, `INSERT INTO profiles (org_id, name, module_permissions) VALUES ($1, 'Bulk', $2) RETURNING id`, w.orgKey, all))
	must(tx.Get(&importer, `INSERT INTO profiles (org_id, name, module_permissions) VALUES ($1, 'Importer', '{"CONTACTS": ["view","create","import"]}') RETURNING id`, w.orgKey))
	tx.MustExec(`UPDATE members SET profile_id = $2 WHERE id = $1`, repKey, bulk)
	tx.MustExec(`UPDATE members SET profile_id = $2 WHERE id = $1`, otherKey, importer)
	tx.MustExec(`INSERT INTO custom_field_definitions (org_id, module, api_name, label, type) VALUES
		($1, 'DEALS', 'region', 'Region', 'TEXT'), ($1, 'DEALS', 'secretCode', 'Secret code', 'TEXT'),
		($1, 'CONTACTS', 'iban', 'IBAN', 'TEXT'), ($1, 'CONTACTS', 'tier', 'Tier', 'NUMBER')`, w.orgKey)
	tx.MustExec(`INSERT INTO field_permissions (org_id, profile_id, module, field, access) VALUES
		($1, $2, 'DEALS', 'amount', 'READ_ONLY'), ($1, $2, 'DEALS', 'probability', 'HIDDEN'), ($1, $2, 'DEALS', 'secretCode', 'HIDDEN'),
		($1, $2, 'CONTACTS', 'bankAccountNumber', 'HIDDEN'), ($1, $2, 'CONTACTS', 'iban', 'HIDDEN'),
		($1, $3, 'CONTACTS', 'bankAccountNumber', 'HIDDEN'), ($1, $3, 'CONTACTS', 'iban', 'HIDDEN')`, w.orgKey, bulk, std)
	err := db.LogSecurityChange(ctx, tx, w.orgKey, db.ChangeOrg, map[string]any{"profiles": "bulk test"})
	must(err)
	must(tx.Commit())

	for _, m := range []string{"LEADS", "CONTACTS", "ACCOUNTS", "DEALS", "TASKS"} {
		env.Must(w.admin, `mutation($m: Module!) { setModuleSharing(module: $m, defaultAccess: PRIVATE) { hierarchyMode } }`, obj{"m": m}, nil)
	}
	for _, d := range []struct {
		key, owner string
		custom     obj
	}{
		{"r1", w.repID, obj{"region": "US", "secretCode": "s1"}}, {"r2", w.repID, nil}, {"r3", w.repID, nil},
		{"o1", w.otherID, nil}, {"o2", w.otherID, nil}, {"o3", w.otherID, nil},
	} {
		in := obj{"name": "Deal " + d.key, "stage": "Open", "amount": 100, "ownerId": d.owner}
		if d.custom != nil {
			in["customFields"] = d.custom
		}
		w.deals[d.key] = recStr(recData(env, w.admin, `mutation($in: CreateDealInput!) { createDeal(input: $in) { id } }`, obj{"in": in}), "createDeal", "id")
	}
	share := func(deal, access string) {
		env.Must(w.admin, `mutation($ids: [ID!]!, $s: [RecordShareInput!]!) { shareRecords(module: DEALS, recordIds: $ids, shares: $s) { recordId } }`,
			obj{"ids": []string{deal}, "s": []obj{{"principal": obj{"type": "USER", "id": w.repID}, "access": access}}}, nil)
	}
	share(w.deals["o1"], "READ_ONLY")
	share(w.deals["o3"], "READ_WRITE")
	w.task = recStr(recData(env, w.rep, `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`,
		obj{"in": obj{"subject": "Call about r1", "relatedToId": w.deals["r1"]}}), "createTask", "id")
	w.contact = recStr(recData(env, w.rep, `mutation { createContact(input: {lastName: "Cole"}) { id } }`, nil), "createContact", "id")
	return w
}

// as is env acting for the (sub)test t.
func (w *bkWorld) as(t testing.TB) *apitest.Env { return envFor(w.env, t) }

// state is everything a failed bulk call must leave alone: the records of
// every module, the shares, the change log and the audit log.
func (w *bkWorld) state(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, owner_id, name, stage, amount, custom::text, updated_at FROM deals ORDER BY id`,
		`SELECT id, owner_id, last_name, account_id, custom::text, updated_at FROM contacts ORDER BY id`,
		`SELECT id, owner_id, name FROM accounts ORDER BY id`,
		`SELECT id, owner_id, subject, related_module, related_id, updated_at FROM tasks ORDER BY id`,
		`SELECT module, record_id, principal_type, principal_id, access FROM record_shares ORDER BY 1, 2, 3, 4`,
		`SELECT count(*), coalesce(max(version), 0) FROM security_changes`,
		`SELECT count(*) FROM audit_log`,
		`SELECT version FROM org_security ORDER BY org_id`,
	} {
		rows, err := w.env.DB.Queryx(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%v\n", vals)
		}
		rows.Close()
	}
	return b.String()
}

// bkCount runs a SQL count with args.
func bkCount(t testing.TB, env *apitest.Env, q string, args ...any) int {
	t.Helper()
	var n int
	if err := env.DB.Get(&n, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// bkKey is the numeric key of a public id ("deal_12" -> 12).
func bkKey(id string) int64 {
	var n int64
	_, _ = fmt.Sscanf(id[strings.LastIndex(id, "_")+1:], "%d", &n)
	return n
}

// bkListIDs is the ids the caller's list query of a module returns (all
// pages), and its totalCount.
func bkListIDs(t testing.TB, env *apitest.Env, c apitest.Caller, field, filterType string, filter obj) ([]string, int) {
	t.Helper()
	q := fmt.Sprintf(`query($f: %s, $after: String) { %s(first: 100, after: $after, filter: $f) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`, filterType, field)
	var ids []string
	total := 0
	var after any
	for {
		d := recData(envFor(env, t), c, q, obj{"f": filter, "after": after})
		conn, _ := d[field].(map[string]any)
		total = int(conn["totalCount"].(float64))
		for _, e := range conn["edges"].([]any) {
			ids = append(ids, recStr(e, "node", "id"))
		}
		if recPath(conn, "pageInfo", "hasNextPage") != true {
			return ids, total
		}
		after = recStr(conn, "pageInfo", "endCursor")
	}
}

// pqInt64s is a bigint[] parameter.
func pqInt64s(keys []int64) any { return pq.Array(keys) }
