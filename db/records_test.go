package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/access"
	"warden/db"
	"warden/db/dbtest"
	"warden/records"
)

// ---- fixture ----

type fixture struct {
	t      testing.TB
	ctx    context.Context
	db     *sqlx.DB
	org    int64
	m1, m2 int64
	org2   int64
	o2m    int64 // a member of org2
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), db: dbtest.Open(t)}
	var ms []int64
	f.org, ms = f.makeOrg("acme", 2)
	f.m1, f.m2 = ms[0], ms[1]
	f.org2, ms = f.makeOrg("globex", 1)
	f.o2m = ms[0]
	return f
}

// makeOrg inserts an org with a role, a profile and n members.
func (f *fixture) makeOrg(name string, n int) (int64, []int64) {
	f.t.Helper()
	var org, role, profile int64
	f.get(&org, `INSERT INTO orgs (name) VALUES ($1) RETURNING id`, name)
	f.get(&role, `INSERT INTO roles (org_id, name) VALUES ($1, 'CEO') RETURNING id`, org)
	f.get(&profile, `INSERT INTO profiles (org_id, name, is_admin) VALUES ($1, 'Administrator', true) RETURNING id`, org)
	var members []int64
	for i := 0; i < n; i++ {
		var user, member int64
		email := dbtest.RandomName("u") + "@example.com"
		f.get(&user, `INSERT INTO users (email, name) VALUES ($1, $2) RETURNING id`, email, fmt.Sprintf("User %d", i))
		f.get(&member, `INSERT INTO members (org_id, user_id, role_id, profile_id) VALUES ($1, $2, $3, $4) RETURNING id`,
			org, user, role, profile)
		members = append(members, member)
	}
	return org, members
}

// with is the fixture reporting to a subtest.
func (f *fixture) with(t *testing.T) *fixture {
	c := *f
	c.t = t
	return &c
}

func (f *fixture) get(dest any, q string, args ...any) {
	f.t.Helper()
	if err := f.db.GetContext(f.ctx, dest, q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) insert(org int64, meta *records.Meta, cols map[string]any) records.Record {
	f.t.Helper()
	rec, err := db.InsertRecord(f.ctx, f.db, org, meta, cols)
	if err != nil {
		f.t.Fatalf("insert %s %v: %v", meta.Module, cols, err)
	}
	return rec
}

// all loads every record of the module in the org, by id.
func (f *fixture) all(org int64, meta *records.Meta) map[int64]records.Record {
	f.t.Helper()
	var ids []int64
	if err := f.db.SelectContext(f.ctx, &ids, "SELECT id FROM "+meta.Table+" WHERE org_id = $1", org); err != nil {
		f.t.Fatal(err)
	}
	recs, err := db.GetRecords(f.ctx, f.db, org, meta, ids)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(recs) != len(ids) {
		f.t.Fatalf("GetRecords returned %d of %d", len(recs), len(ids))
	}
	return recs
}

func (f *fixture) list(p db.ListParams) db.ListResult {
	f.t.Helper()
	res, err := db.ListRecords(f.ctx, f.db, p)
	if err != nil {
		f.t.Fatalf("ListRecords: %v", err)
	}
	return res
}

var (
	accountsMeta = records.MetaOf(records.Accounts)
	contactsMeta = records.MetaOf(records.Contacts)
	leadsMeta    = records.MetaOf(records.Leads)
	dealsMeta    = records.MetaOf(records.Deals)
	tasksMeta    = records.MetaOf(records.Tasks)
)

// ---- building filters and orders ----

func fc(meta *records.Meta, field, op string, v any) records.Expr {
	f := meta.Field(field)
	if f == nil {
		panic("no field " + field)
	}
	if n, ok := v.(int64); ok && field == "id" {
		v = records.RecordKey{Module: meta.Module, ID: n} // filters name records by id
	}
	return records.Expr{Cond: &records.Cond{Operand: records.Operand{Field: f}, Op: op, Value: v}}
}

func cc(cf *records.CustomField, op string, v any) records.Expr {
	return records.Expr{Cond: &records.Cond{Operand: records.Operand{Custom: cf}, Op: op, Value: v}}
}

func and(es ...records.Expr) records.Expr { return records.Expr{And: es} }
func or(es ...records.Expr) records.Expr  { return records.Expr{Or: es} }

func asc(meta *records.Meta, field string) records.OrderKey {
	return records.OrderKey{Operand: records.Operand{Field: meta.Field(field)}}
}

func desc(meta *records.Meta, field string) records.OrderKey {
	return records.OrderKey{Operand: records.Operand{Field: meta.Field(field)}, Desc: true}
}

func casc(cf *records.CustomField) records.OrderKey {
	return records.OrderKey{Operand: records.Operand{Custom: cf}}
}

func cdesc(cf *records.CustomField) records.OrderKey {
	return records.OrderKey{Operand: records.Operand{Custom: cf}, Desc: true}
}

func date(s string) records.Date {
	d, err := records.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func tm(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	cfTier     = &records.CustomField{APIName: "tier", Type: "TEXT"}
	cfScore    = &records.CustomField{APIName: "score", Type: "NUMBER"}
	cfRatio    = &records.CustomField{APIName: "ratio", Type: "DECIMAL"}
	cfVIP      = &records.CustomField{APIName: "vip", Type: "BOOLEAN"}
	cfRenewal  = &records.CustomField{APIName: "renewal", Type: "DATE"}
	cfLastCall = &records.CustomField{APIName: "lastCall", Type: "DATETIME"}
)

// ---- an in-Go reference of the filter and order semantics ----

func str(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func f64(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func refKey(mod access.Module, p *int64) any {
	if p == nil {
		return nil
	}
	return records.RecordKey{Module: mod, ID: *p}
}

// valueOf reads an operand of a record the way the access model defines it.
func valueOf(rec records.Record, op records.Operand) any {
	h := rec.Base()
	if op.Custom != nil {
		return db.DecodeCustomValue(op.Custom.Kind(), h.Custom[op.Custom.APIName])
	}
	switch op.Field.Name {
	case "id":
		return records.RecordKey{Module: records.ModuleOf(rec), ID: h.Key}
	case "owner":
		return records.RecordKey{ID: h.OwnerID}
	case "createdBy":
		return refKey("", h.CreatedByID)
	case "createdAt":
		return h.CreatedAt
	case "updatedAt":
		return h.UpdatedAt
	}
	switch r := rec.(type) {
	case *records.Deal:
		switch op.Field.Name {
		case "name":
			return r.Name
		case "amount":
			return f64(r.Amount)
		case "stage":
			return str(r.Stage)
		case "closingDate":
			if r.ClosingDate == nil {
				return nil
			}
			return *r.ClosingDate
		case "probability":
			if r.Probability == nil {
				return nil
			}
			return int64(*r.Probability)
		case "account":
			return refKey(records.Accounts, r.AccountID)
		case "contact":
			return refKey(records.Contacts, r.ContactID)
		}
	case *records.Account:
		switch op.Field.Name {
		case "name":
			return r.Name
		case "industry":
			return str(r.Industry)
		case "website":
			return str(r.Website)
		case "phone":
			return str(r.Phone)
		case "annualRevenue":
			return f64(r.AnnualRevenue)
		}
	case *records.Task:
		switch op.Field.Name {
		case "subject":
			return r.Subject
		case "status":
			return str(r.Status)
		case "dueAt":
			if r.DueAt == nil {
				return nil
			}
			return *r.DueAt
		case "relatedTo":
			if r.RelatedID == nil {
				return nil
			}
			return records.RecordKey{Module: access.Module(*r.RelatedModule), ID: *r.RelatedID}
		}
	}
	panic("valueOf: unknown field " + op.Field.Name)
}

// compare orders two non-nil values of one kind.
func compare(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case int64:
		y := b.(int64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case time.Time:
		return x.Compare(b.(time.Time))
	case records.Date:
		return x.Compare(b.(records.Date).Time)
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case records.RecordKey:
		if x == b.(records.RecordKey) {
			return 0
		}
		return 1 // unordered: only equality is used
	}
	panic(fmt.Sprintf("compare %T", a))
}

func isEmptyValue(v any) bool { return v == nil || v == "" }

func matches(rec records.Record, e records.Expr) bool {
	if c := e.Cond; c != nil {
		v := valueOf(rec, c.Operand)
		empty := isEmptyValue(v)
		eq := func(w any) bool {
			return !empty && !isEmptyValue(w) && compare(v, w) == 0
		}
		var ok bool
		switch c.Op {
		case "isEmpty":
			ok = empty == c.Value.(bool)
		case "eq":
			ok = eq(c.Value)
		case "neq":
			ok = !eq(c.Value)
		case "in":
			ok = slices.ContainsFunc(c.Value.([]any), eq)
		case "lt":
			ok = !empty && compare(v, c.Value) < 0
		case "lte":
			ok = !empty && compare(v, c.Value) <= 0
		case "gt":
			ok = !empty && compare(v, c.Value) > 0
		case "gte":
			ok = !empty && compare(v, c.Value) >= 0
		case "contains":
			ok = !empty && strings.Contains(strings.ToLower(v.(string)), strings.ToLower(c.Value.(string)))
		default:
			panic(c.Op)
		}
		if !ok {
			return false
		}
	}
	for _, s := range e.And {
		if !matches(rec, s) {
			return false
		}
	}
	if len(e.Or) > 0 {
		any := false
		for _, s := range e.Or {
			any = any || matches(rec, s)
		}
		if !any {
			return false
		}
	}
	return true
}

// sortRecords orders records as ListRecords must: the keys with NULLs last
// in both directions, then the id in the last key's direction.
func sortRecords(recs []records.Record, order records.Order) {
	idDesc := len(order) == 0 || order[len(order)-1].Desc
	sort.SliceStable(recs, func(i, j int) bool {
		for _, k := range order {
			a, b := valueOf(recs[i], k.Operand), valueOf(recs[j], k.Operand)
			switch {
			case a == nil && b == nil:
				continue
			case a == nil:
				return false
			case b == nil:
				return true
			}
			if c := compare(a, b); c != 0 {
				return (c < 0) != k.Desc
			}
		}
		return (recs[i].Base().Key < recs[j].Base().Key) != idDesc
	})
}

func nameOf(rec records.Record) string {
	switch r := rec.(type) {
	case *records.Deal:
		return r.Name
	case *records.Account:
		return r.Name
	case *records.Task:
		return r.Subject
	case *records.Contact:
		return r.LastName
	case *records.Lead:
		return r.LastName
	}
	return "?"
}

func keysOf(recs []records.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Base().Key
	}
	return out
}

// ---- filters ----

func TestListRecordsFilters(t *testing.T) {
	f := newFixture(t)
	acc1 := f.insert(f.org, accountsMeta, map[string]any{"owner_id": f.m1, "name": "acc one"}).Base().Key
	acc2 := f.insert(f.org, accountsMeta, map[string]any{"owner_id": f.m1, "name": "acc two"}).Base().Key

	type row struct {
		name                    string
		stage                   any
		amount                  any
		prob                    any
		closing                 any
		account, owner, creator any
		custom                  records.JSONMap
	}
	rows := []row{
		{"alpha", "Won", 100.5, 10, date("2024-01-10"), acc1, f.m1, f.m1, records.JSONMap{
			"tier": "gold", "score": 7, "ratio": 0.5, "vip": true, "renewal": "2024-03-01", "lastCall": "2024-05-01T10:00:00Z"}},
		{"bravo", "won", 7.0, 60, date("2024-02-10"), acc2, f.m2, nil, records.JSONMap{
			"tier": "Gold Plus", "score": "abc", "ratio": 1.25, "vip": "yes", "renewal": "2023-02-30", "lastCall": "2024-13-01T00:00:00Z"}},
		{"charlie", "", nil, nil, nil, nil, f.m1, f.m1, records.JSONMap{
			"tier": "", "score": 5.5, "vip": false, "renewal": "2024-02-29", "lastCall": "2024-05-01T12:00:00+02:00"}},
		{"delta", nil, 0.0, 100, date("2024-01-10"), acc1, f.m2, f.m2, records.JSONMap{
			"tier": nil, "score": 3, "ratio": "2.5", "vip": "true", "renewal": 20240101, "lastCall": "2024-05-01T09:00:00.5Z"}},
		{"echo", "Lost", 250.0, 0, date("2023-12-31"), nil, f.m1, nil, records.JSONMap{}},
		{"foxtrot", "100%_done", 99.99, 50, date("2024-03-01"), acc2, f.m1, f.m1, records.JSONMap{"tier": "50%_off", "score": "12"}},
		{"golf", "a_b", 100.5, 50, date("2024-03-01"), nil, f.m2, nil, records.JSONMap{"tier": "aXb", "score": 1e21}},
		{"hotel", `back\slash`, nil, 20, nil, acc1, f.m1, f.m1, records.JSONMap{"tier": `x\y`, "score": -4}},
	}
	ids := map[string]int64{}
	for _, r := range rows {
		rec := f.insert(f.org, dealsMeta, map[string]any{
			"name": r.name, "stage": r.stage, "amount": r.amount, "probability": r.prob, "closing_date": r.closing,
			"account_id": r.account, "owner_id": r.owner, "created_by": r.creator, "custom": r.custom,
		})
		ids[r.name] = rec.Base().Key
	}
	// Another org's deal with the same values never shows.
	f.insert(f.org2, dealsMeta, map[string]any{"name": "alpha", "stage": "Won", "owner_id": f.o2m})

	all := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	but := func(out ...string) []string {
		var r []string
		for _, n := range all {
			if !slices.Contains(out, n) {
				r = append(r, n)
			}
		}
		return r
	}
	D := dealsMeta
	cases := []struct {
		name   string
		filter records.Expr
		want   []string
	}{
		{"no filter", records.Expr{}, all},
		// text: exact eq / neq / in, empty = NULL or ''
		{"stage eq exact case", fc(D, "stage", "eq", "Won"), []string{"alpha"}},
		{"stage eq empty string matches nothing", fc(D, "stage", "eq", ""), nil},
		{"stage neq includes NULL and empty", fc(D, "stage", "neq", "Won"), but("alpha")},
		{"stage neq empty string holds everywhere", fc(D, "stage", "neq", ""), all},
		{"stage in ignores empty", fc(D, "stage", "in", []any{"Won", "Lost", ""}), []string{"alpha", "echo"}},
		{"stage in only empty", fc(D, "stage", "in", []any{""}), nil},
		{"stage contains ignores case", fc(D, "stage", "contains", "wOn"), []string{"alpha", "bravo"}},
		{"stage contains percent is literal", fc(D, "stage", "contains", "%"), []string{"foxtrot"}},
		{"stage contains underscore is literal", fc(D, "stage", "contains", "_"), []string{"foxtrot", "golf"}},
		{"stage contains percent underscore", fc(D, "stage", "contains", "%_"), []string{"foxtrot"}},
		{"stage contains backslash", fc(D, "stage", "contains", `\`), []string{"hotel"}},
		{"stage contains empty needle skips empty", fc(D, "stage", "contains", ""), but("charlie", "delta")},
		{"stage isEmpty", fc(D, "stage", "isEmpty", true), []string{"charlie", "delta"}},
		{"stage not isEmpty", fc(D, "stage", "isEmpty", false), but("charlie", "delta")},
		{"stage lt skips empty", fc(D, "stage", "lt", "zzz"), but("charlie", "delta")},
		{"stage gte empty skips empty", fc(D, "stage", "gte", ""), but("charlie", "delta")},
		{"name gt", fc(D, "name", "gt", "e"), []string{"echo", "foxtrot", "golf", "hotel"}},
		{"name lte", fc(D, "name", "lte", "charlie"), []string{"alpha", "bravo", "charlie"}},
		// numbers
		{"amount eq", fc(D, "amount", "eq", 100.5), []string{"alpha", "golf"}},
		{"amount eq zero is not empty", fc(D, "amount", "eq", 0.0), []string{"delta"}},
		{"amount neq includes NULL", fc(D, "amount", "neq", 100.5), but("alpha", "golf")},
		{"amount in", fc(D, "amount", "in", []any{7.0, 0.0, 99.99}), []string{"bravo", "delta", "foxtrot"}},
		{"amount lt", fc(D, "amount", "lt", 100.0), []string{"bravo", "delta", "foxtrot"}},
		{"amount lte", fc(D, "amount", "lte", 100.5), []string{"alpha", "bravo", "delta", "foxtrot", "golf"}},
		{"amount gt", fc(D, "amount", "gt", 100.5), []string{"echo"}},
		{"amount gte", fc(D, "amount", "gte", 0.0), but("charlie", "hotel")},
		{"amount isEmpty", fc(D, "amount", "isEmpty", true), []string{"charlie", "hotel"}},
		{"probability gt", fc(D, "probability", "gt", int64(50)), []string{"bravo", "delta"}},
		{"probability eq zero", fc(D, "probability", "eq", int64(0)), []string{"echo"}},
		{"probability in", fc(D, "probability", "in", []any{int64(10), int64(20)}), []string{"alpha", "hotel"}},
		{"probability not isEmpty", fc(D, "probability", "isEmpty", false), but("charlie")},
		{"id eq", fc(D, "id", "eq", ids["delta"]), []string{"delta"}},
		// dates
		{"closingDate eq", fc(D, "closingDate", "eq", date("2024-01-10")), []string{"alpha", "delta"}},
		{"closingDate lt", fc(D, "closingDate", "lt", date("2024-01-10")), []string{"echo"}},
		{"closingDate gte", fc(D, "closingDate", "gte", date("2024-03-01")), []string{"foxtrot", "golf"}},
		{"closingDate neq", fc(D, "closingDate", "neq", date("2024-01-10")), but("alpha", "delta")},
		{"closingDate isEmpty", fc(D, "closingDate", "isEmpty", true), []string{"charlie", "hotel"}},
		// references
		{"account eq", fc(D, "account", "eq", records.RecordKey{Module: records.Accounts, ID: acc1}), []string{"alpha", "delta", "hotel"}},
		{"account eq zero key", fc(D, "account", "eq", records.RecordKey{}), nil},
		{"account eq key of another module", fc(D, "account", "eq", records.RecordKey{Module: records.Contacts, ID: acc1}), nil},
		{"account neq zero key", fc(D, "account", "neq", records.RecordKey{}), all},
		{"account neq includes NULL", fc(D, "account", "neq", records.RecordKey{Module: records.Accounts, ID: acc1}), but("alpha", "delta", "hotel")},
		{"account in with zero key", fc(D, "account", "in", []any{records.RecordKey{Module: records.Accounts, ID: acc2}, records.RecordKey{}}), []string{"bravo", "foxtrot"}},
		{"account in only zero keys", fc(D, "account", "in", []any{records.RecordKey{}}), nil},
		{"account isEmpty", fc(D, "account", "isEmpty", true), []string{"charlie", "echo", "golf"}},
		{"owner eq", fc(D, "owner", "eq", records.RecordKey{ID: f.m2}), []string{"bravo", "delta", "golf"}},
		{"owner neq", fc(D, "owner", "neq", records.RecordKey{ID: f.m2}), but("bravo", "delta", "golf")},
		{"owner eq member of another org", fc(D, "owner", "eq", records.RecordKey{ID: f.o2m}), nil},
		{"createdBy isEmpty", fc(D, "createdBy", "isEmpty", true), []string{"bravo", "echo", "golf"}},
		{"createdBy neq includes NULL", fc(D, "createdBy", "neq", records.RecordKey{ID: f.m1}), []string{"bravo", "delta", "echo", "golf"}},
		// custom text
		{"tier eq", cc(cfTier, "eq", "gold"), []string{"alpha"}},
		{"tier eq empty", cc(cfTier, "eq", ""), nil},
		{"tier neq includes absent, null and empty", cc(cfTier, "neq", "gold"), but("alpha")},
		{"tier contains ignores case", cc(cfTier, "contains", "GOLD"), []string{"alpha", "bravo"}},
		{"tier contains percent", cc(cfTier, "contains", "%"), []string{"foxtrot"}},
		{"tier contains underscore is no wildcard", cc(cfTier, "contains", "a_b"), nil},
		{"tier contains backslash", cc(cfTier, "contains", `\`), []string{"hotel"}},
		{"tier isEmpty: absent, null, empty", cc(cfTier, "isEmpty", true), []string{"charlie", "delta", "echo"}},
		{"tier not isEmpty", cc(cfTier, "isEmpty", false), but("charlie", "delta", "echo")},
		{"tier in", cc(cfTier, "in", []any{"aXb", "gold", ""}), []string{"alpha", "golf"}},
		// custom number: malformed values ("abc", 5.5, 1e21) are empty and never fail the query
		{"score gt", cc(cfScore, "gt", int64(5)), []string{"alpha", "foxtrot"}},
		{"score lte", cc(cfScore, "lte", int64(3)), []string{"delta", "hotel"}},
		{"score isEmpty", cc(cfScore, "isEmpty", true), []string{"bravo", "charlie", "echo", "golf"}},
		{"score neq", cc(cfScore, "neq", int64(7)), but("alpha")},
		{"score in", cc(cfScore, "in", []any{int64(3), int64(12)}), []string{"delta", "foxtrot"}},
		{"ratio gt", cc(cfRatio, "gt", 1.0), []string{"bravo", "delta"}},
		{"ratio eq", cc(cfRatio, "eq", 0.5), []string{"alpha"}},
		{"vip eq true", cc(cfVIP, "eq", true), []string{"alpha", "delta"}},
		{"vip eq false", cc(cfVIP, "eq", false), []string{"charlie"}},
		{"vip isEmpty", cc(cfVIP, "isEmpty", true), []string{"bravo", "echo", "foxtrot", "golf", "hotel"}},
		{"renewal gt: 2023-02-30 and a number are empty", cc(cfRenewal, "gt", date("2024-01-01")), []string{"alpha", "charlie"}},
		{"renewal isEmpty", cc(cfRenewal, "isEmpty", true), []string{"bravo", "delta", "echo", "foxtrot", "golf", "hotel"}},
		{"lastCall eq across offsets", cc(cfLastCall, "eq", tm("2024-05-01T10:00:00Z")), []string{"alpha", "charlie"}},
		{"lastCall lt", cc(cfLastCall, "lt", tm("2024-05-01T10:00:00Z")), []string{"delta"}},
		{"lastCall isEmpty", cc(cfLastCall, "isEmpty", true), []string{"bravo", "echo", "foxtrot", "golf", "hotel"}},
		// nesting
		{"or of and", or(fc(D, "stage", "eq", "Won"), and(fc(D, "amount", "gt", 50.0), fc(D, "probability", "lt", int64(50)))),
			[]string{"alpha", "echo"}},
		{"and of or", and(or(fc(D, "owner", "eq", records.RecordKey{ID: f.m2}), fc(D, "account", "isEmpty", true)), fc(D, "stage", "isEmpty", false)),
			[]string{"bravo", "echo", "golf"}},
		{"cond and list together", records.Expr{Cond: fc(D, "amount", "isEmpty", false).Cond, Or: []records.Expr{fc(D, "stage", "contains", "o"), cc(cfVIP, "eq", true)}},
			[]string{"alpha", "bravo", "delta", "echo", "foxtrot"}},
	}
	recs := f.all(f.org, D)
	allIDs := roaring.New()
	for id := range recs {
		allIDs.Add(uint32(id))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			// The reference model agrees with the expectation.
			var ref []string
			for _, r := range recs {
				if matches(r, tc.filter) {
					ref = append(ref, nameOf(r))
				}
			}
			sort.Strings(ref)
			if !slices.Equal(ref, tc.want) {
				t.Fatalf("reference model: got %v, want %v", ref, tc.want)
			}
			for _, vis := range []db.Visible{{All: true}, {IDs: allIDs}} {
				res := f.list(db.ListParams{Org: f.org, Meta: D, Filter: tc.filter, Order: records.Order{asc(D, "name")},
					First: 100, Visible: vis, WantRows: true, WantCount: true})
				var got []string
				for _, r := range res.Rows {
					got = append(got, nameOf(r))
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("all=%v: got %v, want %v", vis.All, got, tc.want)
				}
				if res.TotalCount != len(tc.want) || res.HasNextPage {
					t.Errorf("all=%v: count %d next %v, want %d false", vis.All, res.TotalCount, res.HasNextPage, len(tc.want))
				}
			}
		})
	}
}

func TestListRecordsTaskFilters(t *testing.T) {
	f := newFixture(t)
	acc1 := f.insert(f.org, accountsMeta, map[string]any{"owner_id": f.m1, "name": "acc one"}).Base().Key
	acc2 := f.insert(f.org, accountsMeta, map[string]any{"owner_id": f.m1, "name": "acc two"}).Base().Key
	deal := f.insert(f.org, dealsMeta, map[string]any{"owner_id": f.m1, "name": "big"}).Base().Key
	for _, r := range []struct {
		subject string
		due     any
		mod     any
		id      any
	}{
		{"one", tm("2024-05-01T10:00:00Z"), records.Accounts, acc1},
		{"two", nil, records.Deals, deal},
		{"three", tm("2024-06-01T00:00:00Z"), nil, nil},
		{"four", tm("2024-04-01T00:00:00Z"), records.Accounts, acc2},
	} {
		f.insert(f.org, tasksMeta, map[string]any{"owner_id": f.m1, "subject": r.subject, "due_at": r.due,
			"related_module": r.mod, "related_id": r.id})
	}
	T := tasksMeta
	key := func(m access.Module, id int64) records.RecordKey { return records.RecordKey{Module: m, ID: id} }
	cases := []struct {
		name   string
		filter records.Expr
		want   []string
	}{
		{"relatedTo eq", fc(T, "relatedTo", "eq", key(records.Accounts, acc1)), []string{"one"}},
		{"relatedTo eq other module same id", fc(T, "relatedTo", "eq", key(records.Deals, acc1)), nil},
		{"relatedTo eq zero key", fc(T, "relatedTo", "eq", records.RecordKey{}), nil},
		{"relatedTo neq includes NULL", fc(T, "relatedTo", "neq", key(records.Accounts, acc1)), []string{"four", "three", "two"}},
		{"relatedTo neq zero key", fc(T, "relatedTo", "neq", records.RecordKey{}), []string{"four", "one", "three", "two"}},
		{"relatedTo in", fc(T, "relatedTo", "in", []any{key(records.Accounts, acc1), key(records.Deals, deal), records.RecordKey{}}), []string{"one", "two"}},
		{"relatedTo isEmpty", fc(T, "relatedTo", "isEmpty", true), []string{"three"}},
		{"relatedTo not isEmpty", fc(T, "relatedTo", "isEmpty", false), []string{"four", "one", "two"}},
		{"dueAt lt", fc(T, "dueAt", "lt", tm("2024-05-15T00:00:00Z")), []string{"four", "one"}},
		{"dueAt gte", fc(T, "dueAt", "gte", tm("2024-05-01T12:00:00+02:00")), []string{"one", "three"}},
		{"dueAt eq", fc(T, "dueAt", "eq", tm("2024-05-01T10:00:00Z")), []string{"one"}},
		{"dueAt neq includes NULL", fc(T, "dueAt", "neq", tm("2024-05-01T10:00:00Z")), []string{"four", "three", "two"}},
		{"dueAt isEmpty", fc(T, "dueAt", "isEmpty", true), []string{"two"}},
		{"subject contains", fc(T, "subject", "contains", "O"), []string{"four", "one", "two"}},
	}
	recs := f.all(f.org, T)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			var ref []string
			for _, r := range recs {
				if matches(r, tc.filter) {
					ref = append(ref, nameOf(r))
				}
			}
			sort.Strings(ref)
			if !slices.Equal(ref, tc.want) {
				t.Fatalf("reference model: got %v, want %v", ref, tc.want)
			}
			res := f.list(db.ListParams{Org: f.org, Meta: T, Filter: tc.filter, Order: records.Order{asc(T, "subject")},
				First: 100, Visible: db.Visible{All: true}, WantRows: true, WantCount: true})
			var got []string
			for _, r := range res.Rows {
				got = append(got, nameOf(r))
			}
			if !slices.Equal(got, tc.want) || res.TotalCount != len(tc.want) {
				t.Errorf("got %v (count %d), want %v", got, res.TotalCount, tc.want)
			}
		})
	}
}

func TestListRecordsRejectsBadInput(t *testing.T) {
	f := newFixture(t)
	D := dealsMeta
	cases := []struct {
		name string
		p    db.ListParams
	}{
		{"value of the wrong type", db.ListParams{Filter: fc(D, "amount", "eq", "ten")}},
		{"contains on a number", db.ListParams{Filter: fc(D, "amount", "contains", "1")}},
		{"lt on a reference", db.ListParams{Filter: fc(D, "account", "lt", records.RecordKey{ID: 1})}},
		{"unknown operator", db.ListParams{Filter: fc(D, "name", "like", "x")}},
		{"field of another module", db.ListParams{Filter: fc(tasksMeta, "subject", "eq", "x")}},
		{"order by a reference", db.ListParams{Order: records.Order{asc(D, "account")}}},
		{"cursor of another org", db.ListParams{After: &records.Cursor{Org: f.org2, Values: []any{}}}},
		{"cursor of another shape", db.ListParams{After: &records.Cursor{Org: f.org, Values: []any{"x", "y"}}}},
		{"page size", db.ListParams{First: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Org, p.Meta, p.Visible, p.WantRows, p.WantCount = f.org, D, db.Visible{All: true}, true, true
			if p.First == 0 {
				p.First = 10
			}
			_, err := db.ListRecords(f.ctx, f.db, p)
			if err == nil {
				t.Fatal("no error")
			}
			if msg := strings.ToUpper(err.Error()); strings.Contains(msg, "SELECT") || strings.Contains(msg, "WHERE") {
				t.Errorf("error leaks SQL: %v", err)
			}
		})
	}
}

// ---- custom values: Go and SQL agree on every stored value ----

func TestDecodeCustomValueAgreesWithSQL(t *testing.T) {
	f := newFixture(t)
	raws := []any{nil, "", "abc", "5", "007", "-12", "5.5", 5.5, 7.0, -3.0, 1e21, "1e5", 123456789012345678.0,
		true, false, "true", "false", "yes", "TRUE",
		"2024-02-29", "2023-02-29", "2024-13-01", "2024-04-31", "0999-01-01", "2024-1-01", 20240101.0,
		"2024-05-01T10:00:00Z", "2024-05-01T10:00:00.1234565Z", "2024-05-01T10:00:00.0000005Z",
		"2024-05-01T10:00:00.999999999+05:30", "2024-05-01T24:00:00Z", "2024-05-01T10:00:00+16:00",
		"2024-02-30T10:00:00Z", "2024-05-01 10:00:00Z", "2024-05-01T10:00:00", map[string]any{"a": 1.0}, []any{1.0}}
	kinds := []*records.CustomField{
		{APIName: "v", Type: "TEXT"}, {APIName: "v", Type: "NUMBER"}, {APIName: "v", Type: "DECIMAL"},
		{APIName: "v", Type: "BOOLEAN"}, {APIName: "v", Type: "DATE"}, {APIName: "v", Type: "DATETIME"},
	}
	byID := map[int64]any{}
	for i, raw := range raws {
		rec := f.insert(f.org, dealsMeta, map[string]any{"owner_id": f.m1, "name": fmt.Sprintf("v%02d", i),
			"custom": records.JSONMap{"v": raw}})
		byID[rec.Base().Key] = rec.Base().Custom["v"] // as read back from jsonb
	}
	for _, cf := range kinds {
		t.Run(cf.Type, func(t *testing.T) {
			f := f.with(t)
			res := f.list(db.ListParams{Org: f.org, Meta: dealsMeta, Filter: cc(cf, "isEmpty", false),
				First: 100, Visible: db.Visible{All: true}, WantRows: true})
			got := map[int64]bool{}
			for _, r := range res.Rows {
				got[r.Base().Key] = true
			}
			for id, raw := range byID {
				v := db.DecodeCustomValue(cf.Kind(), raw)
				nonEmpty := v != nil && v != ""
				if nonEmpty != got[id] {
					t.Errorf("%#v: Go says %#v, SQL non-empty=%v", raw, v, got[id])
					continue
				}
				if !nonEmpty {
					continue
				}
				// The value Go decodes is the value SQL compares.
				res := f.list(db.ListParams{Org: f.org, Meta: dealsMeta, Filter: and(cc(cf, "eq", v), fc(dealsMeta, "id", "eq", id)),
					First: 10, Visible: db.Visible{All: true}, WantRows: true})
				if len(res.Rows) != 1 {
					t.Errorf("%#v: eq %#v does not match in SQL", raw, v)
				}
			}
		})
	}
	if v := db.DecodeCustomValue(records.KindTime, "2024-05-01T10:00:00.1234565Z"); !v.(time.Time).Equal(tm("2024-05-01T10:00:00.123456Z")) &&
		!v.(time.Time).Equal(tm("2024-05-01T10:00:00.123457Z")) {
		t.Errorf("time not rounded to microseconds: %v", v)
	}
}

// ---- ordering and keyset pagination ----

// pageThrough lists every page of size first and checks each page's
// HasNextPage, returning the concatenation.
func (f *fixture) pageThrough(p db.ListParams, first int, useCodec bool) []records.Record {
	f.t.Helper()
	codec := records.CursorCodec{Secret: []byte("test secret")}
	p.First, p.WantRows, p.After = first, true, nil
	var out []records.Record
	for i := 0; ; i++ {
		if i > 1000 {
			f.t.Fatal("pagination does not end")
		}
		res := f.list(p)
		if len(res.Rows) > first || (res.HasNextPage && len(res.Rows) != first) {
			f.t.Fatalf("page %d: %d rows, next %v", i, len(res.Rows), res.HasNextPage)
		}
		out = append(out, res.Rows...)
		if !res.HasNextPage {
			return out
		}
		cur := db.CursorFor(res.Rows[len(res.Rows)-1], p.Order)
		if useCodec {
			dec, err := codec.Decode(codec.Encode(cur), p.Org, string(p.Meta.Module), p.Order)
			if err != nil {
				f.t.Fatalf("cursor round trip: %v", err)
			}
			cur = dec
		}
		p.After = &cur
	}
}

func TestListRecordsOrderAndPagination(t *testing.T) {
	f := newFixture(t)
	A := accountsMeta
	base := tm("2024-01-01T00:00:00Z")
	words := []string{"kilo", "alpha", "mike", "alpha", "bravo", "kilo", "zulu", "bravo", "echo"}
	industries := []any{nil, "", "agri", "bank", "tech"}
	revenues := []any{nil, 10.0, 20.0, 20.5}
	scores := []any{nil, 1, 2, "x"}
	for i := 0; i < 27; i++ {
		custom := records.JSONMap{}
		if s := scores[(i*3)%4]; s != nil {
			custom["score"] = s
		}
		if i%3 == 0 {
			custom["tier"] = words[(i/3)%len(words)]
		}
		f.insert(f.org, A, map[string]any{
			"owner_id": f.m1, "name": words[i%len(words)], "industry": industries[i%5], "annual_revenue": revenues[(i*7)%4],
			"created_at": base.Add(time.Duration(i%3) * time.Hour),
			"updated_at": base.Add(time.Duration((i*5)%4)*time.Minute + time.Duration(i%2)*time.Microsecond),
			"custom":     custom,
		})
	}
	// Rows of another org interleave in ids and values.
	for i := 0; i < 5; i++ {
		f.insert(f.org2, A, map[string]any{"owner_id": f.o2m, "name": words[i], "created_at": base, "updated_at": base})
	}
	orders := []struct {
		name  string
		order records.Order
	}{
		{"default updatedAt desc", records.DefaultOrder(A)},
		{"name asc", records.Order{asc(A, "name")}},
		{"name desc", records.Order{desc(A, "name")}},
		{"industry asc, revenue desc (nullable, mixed)", records.Order{asc(A, "industry"), desc(A, "annualRevenue")}},
		{"revenue asc (nullable ties)", records.Order{asc(A, "annualRevenue")}},
		{"revenue desc (nullable ties)", records.Order{desc(A, "annualRevenue")}},
		{"createdAt asc, updatedAt asc (row comparison)", records.Order{asc(A, "createdAt"), asc(A, "updatedAt")}},
		{"createdAt desc, industry asc", records.Order{desc(A, "createdAt"), asc(A, "industry")}},
		{"industry desc, createdAt desc, revenue asc", records.Order{desc(A, "industry"), desc(A, "createdAt"), asc(A, "annualRevenue")}},
		{"custom score desc, name asc", records.Order{cdesc(cfScore), asc(A, "name")}},
		{"custom score asc, createdAt desc", records.Order{casc(cfScore), desc(A, "createdAt")}},
		{"custom tier asc", records.Order{casc(cfTier)}},
		{"no keys (id desc)", records.Order{}},
	}
	all := f.all(f.org, A)
	for _, tc := range orders {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			want := slices.Collect(maps.Values(all))
			sortRecords(want, tc.order)
			p := db.ListParams{Org: f.org, Meta: A, Order: tc.order, Visible: db.Visible{All: true}}
			for _, first := range []int{1, 2, 5, 100} {
				got := f.pageThrough(p, first, first != 5)
				if !slices.Equal(keysOf(got), keysOf(want)) {
					t.Errorf("first=%d:\n got %v\nwant %v", first, describe(got, tc.order), describe(want, tc.order))
				}
			}
		})
	}
}

func describe(recs []records.Record, order records.Order) []string {
	var out []string
	for _, r := range recs {
		var vals []string
		for _, k := range order {
			vals = append(vals, fmt.Sprint(valueOf(r, k.Operand)))
		}
		out = append(out, fmt.Sprintf("%d%v", r.Base().Key, vals))
	}
	return out
}

func TestListRecordsCustomOrder(t *testing.T) {
	f := newFixture(t)
	D := dealsMeta
	for _, r := range []struct {
		name   string
		custom records.JSONMap
	}{
		{"alpha", records.JSONMap{"score": 7, "lastCall": "2024-05-01T10:00:00Z"}},
		{"bravo", records.JSONMap{"score": "abc", "lastCall": "2024-13-01T00:00:00Z"}},
		{"charlie", records.JSONMap{"score": 5.5, "lastCall": "2024-05-01T12:00:00+02:00"}},
		{"delta", records.JSONMap{"score": 3, "lastCall": "2024-05-01T09:00:00.0000005Z"}},
		{"echo", records.JSONMap{}},
		{"foxtrot", records.JSONMap{"score": "12", "lastCall": "2024-05-01T09:00:00.000000501Z"}},
		{"golf", records.JSONMap{"score": 1e21}},
		{"hotel", records.JSONMap{"score": -4, "lastCall": "2024-05-01T09:00:00.0000015Z"}},
	} {
		f.insert(f.org, D, map[string]any{"owner_id": f.m1, "name": r.name, "custom": r.custom})
	}
	cases := []struct {
		order records.Order
		want  []string
	}{
		{records.Order{casc(cfScore)}, []string{"hotel", "delta", "alpha", "foxtrot", "bravo", "charlie", "echo", "golf"}},
		{records.Order{cdesc(cfScore)}, []string{"foxtrot", "alpha", "delta", "hotel", "golf", "echo", "charlie", "bravo"}},
		// .0000005 rounds to even (0), .000000501 up (1), .0000015 to even (2):
		// sub-microsecond values order as Postgres stores them.
		{records.Order{casc(cfLastCall)}, []string{"delta", "foxtrot", "hotel", "alpha", "charlie", "bravo", "echo", "golf"}},
		{records.Order{cdesc(cfLastCall), desc(D, "name")}, []string{"charlie", "alpha", "hotel", "foxtrot", "delta", "golf", "echo", "bravo"}},
	}
	for _, tc := range cases {
		t.Run(tc.order.Signature(), func(t *testing.T) {
			f := f.with(t)
			for _, first := range []int{1, 2, 100} {
				got := f.pageThrough(db.ListParams{Org: f.org, Meta: D, Order: tc.order, Visible: db.Visible{All: true}}, first, true)
				var names []string
				for _, r := range got {
					names = append(names, nameOf(r))
				}
				if !slices.Equal(names, tc.want) {
					t.Errorf("first=%d: got %v, want %v", first, names, tc.want)
				}
			}
		})
	}
}

// ---- visibility plans ----

func TestListRecordsVisibilityPlans(t *testing.T) {
	f := newFixture(t)
	D := dealsMeta
	if _, err := f.db.ExecContext(f.ctx, `
		INSERT INTO deals (org_id, owner_id, name, stage, amount, updated_at)
		SELECT $1, $2, 'deal' || g, (ARRAY['won', 'lost', '', NULL, 'open'])[1 + g % 5],
		       CASE WHEN g % 7 = 0 THEN NULL ELSE (g % 13) * 10.5 END,
		       $3::timestamptz + ((g % 17) || ' minutes')::interval
		FROM generate_series(1, 300) g`, f.org, f.m1, tm("2024-01-01T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	// Another org's deals, interleaved.
	var foreign []int64
	for i := 0; i < 5; i++ {
		foreign = append(foreign, f.insert(f.org2, D, map[string]any{"owner_id": f.o2m, "name": "theirs"}).Base().Key)
	}
	all := f.all(f.org, D)
	var ids []int64
	for id := range all {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rng := rand.New(rand.NewPCG(1, 2))
	subset := func(share float64) *roaring.Bitmap {
		bm := roaring.New()
		for _, id := range ids {
			if rng.Float64() < share {
				bm.Add(uint32(id))
			}
		}
		return bm
	}
	sets := []struct {
		name string
		vis  db.Visible
	}{
		{"all", db.Visible{All: true}},
		{"nil bitmap", db.Visible{}},
		{"empty bitmap", db.Visible{IDs: roaring.New()}},
		{"40%", db.Visible{IDs: subset(0.4)}},
		{"3%", db.Visible{IDs: subset(0.03)}},
		{"every row", db.Visible{IDs: subset(1)}},
		{"the last row", db.Visible{IDs: roaring.BitmapOf(uint32(ids[len(ids)-1]))}},
		{"first and last", db.Visible{IDs: roaring.BitmapOf(uint32(ids[0]), uint32(ids[len(ids)-1]))}},
	}
	filters := []struct {
		name   string
		filter records.Expr
	}{
		{"no filter", records.Expr{}},
		{"amount gt 50", fc(D, "amount", "gt", 50.0)},
		{"won or empty stage", or(fc(D, "stage", "eq", "won"), fc(D, "stage", "isEmpty", true))},
	}
	orders := []records.Order{
		records.DefaultOrder(D),
		{asc(D, "amount")},
		{desc(D, "stage"), asc(D, "amount")},
	}
	plans := []struct {
		name             string
		sparseLimit      int
		chunkLo, chunkHi int
		firsts           []int
	}{
		{"sparse", 10000, 200, 20000, []int{7, 50}},
		{"dense", 0, 200, 20000, []int{7, 50}},
		{"dense tiny chunks", 0, 1, 7, []int{4}},
		{"dense capped chunks", 0, 13, 13, []int{9}},
	}
	oldLimit := db.SparseVisibleLimit
	defer func() { db.SparseVisibleLimit = oldLimit }()
	for _, pl := range plans {
		db.SparseVisibleLimit = pl.sparseLimit
		restore := db.SetDenseChunkBounds(pl.chunkLo, pl.chunkHi)
		for _, set := range sets {
			if set.vis.All && pl.name != "sparse" {
				continue // the plan does not matter
			}
			for _, flt := range filters {
				var visible []records.Record
				for _, r := range all {
					if (set.vis.All || (set.vis.IDs != nil && set.vis.IDs.Contains(uint32(r.Base().Key)))) && matches(r, flt.filter) {
						visible = append(visible, r)
					}
				}
				for _, order := range orders {
					want := slices.Clone(visible)
					sortRecords(want, order)
					name := fmt.Sprintf("%s/%s/%s/%s", pl.name, set.name, flt.name, order.Signature())
					t.Run(name, func(t *testing.T) {
						f := f.with(t)
						p := db.ListParams{Org: f.org, Meta: D, Filter: flt.filter, Order: order, Visible: set.vis, WantCount: true}
						for _, first := range pl.firsts {
							got := f.pageThrough(p, first, false)
							if !slices.Equal(keysOf(got), keysOf(want)) {
								t.Fatalf("first=%d: got %d rows %v\nwant %d rows %v", first, len(got), keysOf(got), len(want), keysOf(want))
							}
						}
						// The count, with and without rows; the first page's HasNextPage.
						for _, wantRows := range []bool{false, true} {
							p.WantRows, p.First = wantRows, 3
							res := f.list(p)
							if res.TotalCount != len(want) {
								t.Errorf("rows=%v: TotalCount %d, want %d", wantRows, res.TotalCount, len(want))
							}
							if wantRows && res.HasNextPage != (len(want) > 3) {
								t.Errorf("HasNextPage %v with %d rows", res.HasNextPage, len(want))
							}
							if !wantRows && (res.Rows != nil || res.HasNextPage) {
								t.Errorf("rows without WantRows")
							}
						}
					})
				}
			}
		}
		restore()
	}

	// Ids of another org in the bitmap are never listed nor counted.
	db.SparseVisibleLimit = oldLimit
	bm := roaring.BitmapOf(uint32(ids[0]), uint32(ids[1]))
	for _, id := range foreign {
		bm.Add(uint32(id))
	}
	for _, limit := range []int{oldLimit, 0} {
		db.SparseVisibleLimit = limit
		res := f.list(db.ListParams{Org: f.org, Meta: D, Filter: fc(D, "name", "contains", ""), Visible: db.Visible{IDs: bm},
			First: 100, WantRows: true, WantCount: true})
		if got := keysOf(res.Rows); !slices.Equal(got, []int64{ids[1], ids[0]}) || res.TotalCount != 2 {
			t.Errorf("limit %d: foreign ids leak: %v count %d", limit, got, res.TotalCount)
		}
	}
}

// ---- reads and writes by id, org isolation ----

func TestRecordCRUDAndIsolation(t *testing.T) {
	f := newFixture(t)
	D := dealsMeta
	acc := f.insert(f.org, accountsMeta, map[string]any{"owner_id": f.m1, "name": "acme", "annual_revenue": 12.5}).(*records.Account)
	contact := f.insert(f.org, contactsMeta, map[string]any{"owner_id": f.m2, "last_name": "Doe",
		"account_id": records.RecordKey{Module: records.Accounts, ID: acc.Key}}).(*records.Contact)
	old := tm("2020-01-01T00:00:00Z")
	deal := f.insert(f.org, D, map[string]any{
		"owner_id": f.m1, "created_by": f.m2, "name": "big", "amount": 1234.56, "stage": "open",
		"closing_date": date("2024-12-31"), "probability": 40, "account_id": acc.Key, "contact_id": contact.Key,
		"custom": records.JSONMap{"tier": "gold", "score": 3}, "updated_at": old,
	}).(*records.Deal)
	if deal.OrgID != f.org || deal.Name != "big" || *deal.Amount != 1234.56 || *deal.Stage != "open" ||
		deal.ClosingDate.String() != "2024-12-31" || *deal.Probability != 40 || *deal.AccountID != acc.Key ||
		*deal.ContactID != contact.Key || *deal.CreatedByID != f.m2 || deal.Custom["tier"] != "gold" || !deal.UpdatedAt.Equal(old) {
		t.Fatalf("inserted deal: %+v", deal)
	}
	task := f.insert(f.org, tasksMeta, map[string]any{"owner_id": f.m1, "subject": "call",
		"related_module": records.Deals, "related_id": deal.Key}).(*records.Task)
	theirs := f.insert(f.org2, D, map[string]any{"owner_id": f.o2m, "name": "theirs", "stage": "open"})

	for _, cols := range []map[string]any{{"id": 1, "name": "x", "owner_id": f.m1}, {"org_id": f.org2, "name": "x", "owner_id": f.m1}, {"nope": 1}} {
		if _, err := db.InsertRecord(f.ctx, f.db, f.org, D, cols); err == nil {
			t.Errorf("insert %v: no error", cols)
		}
	}
	// A foreign key across orgs is refused by the schema.
	if _, err := db.InsertRecord(f.ctx, f.db, f.org, D, map[string]any{"owner_id": f.o2m, "name": "x"}); err == nil {
		t.Error("insert with another org's owner: no error")
	}

	t.Run("GetRecords", func(t *testing.T) {
		f := f.with(t)
		got, err := db.GetRecords(f.ctx, f.db, f.org, D, []int64{deal.Key, theirs.Base().Key, acc.Key, 999999999})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[deal.Key] == nil || got[deal.Key].(*records.Deal).Name != "big" {
			t.Errorf("got %v", got)
		}
		got, err = db.GetRecords(f.ctx, f.db, f.org, D, nil)
		if err != nil || len(got) != 0 {
			t.Errorf("no ids: %v %v", got, err)
		}
	})

	t.Run("update", func(t *testing.T) {
		f := f.with(t)
		rec, err := db.UpdateRecord(f.ctx, f.db, f.org, D, deal.Key, map[string]any{"stage": nil, "amount": 10.0,
			"custom": records.JSONMap{"tier": "silver"}})
		if err != nil {
			t.Fatal(err)
		}
		d := rec.(*records.Deal)
		if d.Stage != nil || *d.Amount != 10 || d.Custom["tier"] != "silver" || d.Custom["score"] != nil ||
			!d.UpdatedAt.After(old) || d.Name != "big" {
			t.Errorf("updated: %+v", d)
		}
		if _, err := db.UpdateRecord(f.ctx, f.db, f.org, D, deal.Key, map[string]any{"org_id": f.org2}); err == nil {
			t.Error("update org_id: no error")
		}
		rec, err = db.UpdateRecord(f.ctx, f.db, f.org, D, deal.Key, nil)
		if err != nil || rec.Base().UpdatedAt.Before(d.UpdatedAt) {
			t.Errorf("touch: %v %v", rec, err)
		}
	})

	t.Run("another org's id is not found", func(t *testing.T) {
		f := f.with(t)
		id := theirs.Base().Key
		tx, err := f.db.BeginTxx(f.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetRecordForUpdate(f.ctx, tx, f.org, D, id); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("GetRecordForUpdate: %v", err)
		}
		if _, err := db.GetRecordForUpdate(f.ctx, tx, f.org, accountsMeta, deal.Key); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("GetRecordForUpdate of another module: %v", err)
		}
		rec, err := db.GetRecordForUpdate(f.ctx, tx, f.org, D, deal.Key)
		if err != nil || rec.Base().Key != deal.Key {
			t.Errorf("GetRecordForUpdate own: %v %v", rec, err)
		}
		_ = tx.Rollback()
		if _, err := db.UpdateRecord(f.ctx, f.db, f.org, D, id, map[string]any{"stage": "hacked"}); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("UpdateRecord: %v", err)
		}
		if err := db.DeleteRecord(f.ctx, f.db, f.org, D, id); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("DeleteRecord: %v", err)
		}
		still, err := db.GetRecords(f.ctx, f.db, f.org2, D, []int64{id})
		if err != nil || len(still) != 1 || *still[id].(*records.Deal).Stage != "open" {
			t.Errorf("the other org's deal changed: %v %v", still, err)
		}
		res := f.list(db.ListParams{Org: f.org, Meta: D, Filter: fc(D, "id", "eq", id), First: 10,
			Visible: db.Visible{All: true}, WantRows: true, WantCount: true})
		if len(res.Rows) != 0 || res.TotalCount != 0 {
			t.Errorf("listed by id: %v", res)
		}
		res = f.list(db.ListParams{Org: f.org, Meta: D, First: 100, Visible: db.Visible{All: true}, WantRows: true, WantCount: true})
		if len(res.Rows) != 1 || res.Rows[0].Base().Key != deal.Key || res.TotalCount != 1 {
			t.Errorf("list: %v", keysOf(res.Rows))
		}
	})

	t.Run("stream", func(t *testing.T) {
		f := f.with(t)
		type got struct {
			owner  int64
			parent *records.RecordKey
			values map[string]any
		}
		stream := func(org int64, meta *records.Meta, fields ...string) map[int64]got {
			out := map[int64]got{}
			err := db.StreamRecordFields(f.ctx, f.db, org, meta, fields, func(id, owner int64, parent *records.RecordKey, values map[string]any) error {
				out[id] = got{owner, parent, values}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		deals := stream(f.org, D, "name", "amount", "stage", "closingDate", "probability", "account", "owner", "createdBy", "tier", "score", "missing")
		g, ok := deals[deal.Key]
		if len(deals) != 1 || !ok {
			t.Fatalf("deals: %v", deals)
		}
		want := map[string]any{"name": "big", "amount": 10.0, "stage": nil, "closingDate": date("2024-12-31"),
			"probability": int64(40), "account": records.RecordKey{Module: records.Accounts, ID: acc.Key},
			"owner": records.RecordKey{ID: f.m1}, "createdBy": records.RecordKey{ID: f.m2}, "tier": "silver", "score": nil, "missing": nil}
		if g.owner != f.m1 || g.parent == nil || *g.parent != (records.RecordKey{Module: records.Accounts, ID: acc.Key}) {
			t.Errorf("deal owner/parent: %v %v", g.owner, g.parent)
		}
		for k, w := range want {
			if v := g.values[k]; fmt.Sprint(v) != fmt.Sprint(w) || fmt.Sprintf("%T", v) != fmt.Sprintf("%T", w) {
				t.Errorf("deal %s = %#v, want %#v", k, v, w)
			}
		}
		tasks := stream(f.org, tasksMeta, "subject", "relatedTo", "dueAt")
		if g := tasks[task.Key]; g.parent == nil || *g.parent != (records.RecordKey{Module: records.Deals, ID: deal.Key}) ||
			g.values["relatedTo"] != *g.parent || g.values["dueAt"] != nil || g.values["subject"] != "call" {
			t.Errorf("task: %+v", g)
		}
		contacts := stream(f.org, contactsMeta)
		if g := contacts[contact.Key]; g.owner != f.m2 || g.parent == nil || g.parent.ID != acc.Key || len(g.values) != 0 {
			t.Errorf("contact: %+v", g)
		}
		accounts := stream(f.org, accountsMeta, "annualRevenue")
		if g := accounts[acc.Key]; g.parent != nil || g.values["annualRevenue"] != 12.5 {
			t.Errorf("account: %+v", g)
		}
		if n := len(stream(f.org, leadsMeta, "lastName")); n != 0 {
			t.Errorf("leads: %d", n)
		}
		if theirs := stream(f.org2, D, "name"); len(theirs) != 1 {
			t.Errorf("other org: %v", theirs)
		}
		stop := errors.New("stop")
		err := db.StreamRecordFields(f.ctx, f.db, f.org, accountsMeta, nil, func(int64, int64, *records.RecordKey, map[string]any) error { return stop })
		if !errors.Is(err, stop) {
			t.Errorf("callback error: %v", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		f := f.with(t)
		if err := db.DeleteRecord(f.ctx, f.db, f.org, D, deal.Key); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteRecord(f.ctx, f.db, f.org, D, deal.Key); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		if _, err := db.UpdateRecord(f.ctx, f.db, f.org, D, deal.Key, map[string]any{"stage": "x"}); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("update deleted: %v", err)
		}
	})
}

func TestCursorFor(t *testing.T) {
	closing := date("2024-02-29")
	amount := 12.5
	d := &records.Deal{Header: records.Header{Key: 42, OrgID: 7, UpdatedAt: tm("2024-05-01T10:00:00.123456Z"),
		Custom: records.JSONMap{"score": 5.0, "lastCall": "bad"}}, Name: "x", Amount: &amount, ClosingDate: &closing}
	order := records.Order{desc(dealsMeta, "updatedAt"), asc(dealsMeta, "closingDate"), asc(dealsMeta, "amount"),
		asc(dealsMeta, "probability"), casc(cfScore), casc(cfLastCall), asc(dealsMeta, "name")}
	c := db.CursorFor(d, order)
	want := []any{"2024-05-01T10:00:00.123456Z", "2024-02-29", 12.5, nil, int64(5), nil, "x"}
	if c.ID != 42 || c.Org != 7 || c.Module != "DEALS" || c.Sig != order.Signature() || fmt.Sprint(c.Values) != fmt.Sprint(want) {
		t.Errorf("cursor %+v", c)
	}
}

// recorder is a Queryer that remembers the statements it runs.
type recorder struct {
	*sqlx.DB
	stmts []recorded
}

type recorded struct {
	sql  string
	args []any
}

func (r *recorder) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	r.stmts = append(r.stmts, recorded{q, args})
	return r.DB.QueryContext(ctx, q, args...)
}

func (r *recorder) QueryxContext(ctx context.Context, q string, args ...any) (*sqlx.Rows, error) {
	r.stmts = append(r.stmts, recorded{q, args})
	return r.DB.QueryxContext(ctx, q, args...)
}

func (r *recorder) QueryRowxContext(ctx context.Context, q string, args ...any) *sqlx.Row {
	r.stmts = append(r.stmts, recorded{q, args})
	return r.DB.QueryRowxContext(ctx, q, args...)
}

func (r *recorder) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r.stmts = append(r.stmts, recorded{q, args})
	return r.DB.ExecContext(ctx, q, args...)
}

// TestListRecordsQueries pins down the statements each plan runs.
func TestListRecordsQueries(t *testing.T) {
	f := newFixture(t)
	D := dealsMeta
	if _, err := f.db.ExecContext(f.ctx, `
		INSERT INTO deals (org_id, owner_id, name, amount)
		SELECT $1, $2, 'deal' || g, g FROM generate_series(1, 500) g`, f.org, f.m1); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	if err := f.db.SelectContext(f.ctx, &ids, `SELECT id FROM deals WHERE org_id = $1 ORDER BY id`, f.org); err != nil {
		t.Fatal(err)
	}
	every := func(n int) *roaring.Bitmap {
		bm := roaring.New()
		for i := 0; i < len(ids); i += n {
			bm.Add(uint32(ids[i]))
		}
		return bm
	}
	oldLimit := db.SparseVisibleLimit
	defer func() { db.SparseVisibleLimit = oldLimit }()
	type check func(t *testing.T, stmts []recorded)
	contains := func(i int, parts ...string) check {
		return func(t *testing.T, stmts []recorded) {
			for _, p := range parts {
				if i >= len(stmts) || !strings.Contains(stmts[i].sql, p) {
					t.Errorf("statement %d lacks %q: %v", i, p, stmts)
				}
			}
		}
	}
	lacks := func(part string) check {
		return func(t *testing.T, stmts []recorded) {
			for _, s := range stmts {
				if strings.Contains(s.sql, part) {
					t.Errorf("statement has %q: %s", part, s.sql)
				}
			}
		}
	}
	// sendsAtMost: no statement carries more than a page of ids (First
	// is 10 here, plus the lookahead row): the dense plan never sends
	// the visible set.
	sendsAtMost := func(page int) check {
		return func(t *testing.T, stmts []recorded) {
			for _, s := range stmts {
				for _, a := range s.args {
					if arr, ok := a.(*pq.Int64Array); ok && len(*arr) > page+1 {
						t.Errorf("a statement carries %d ids: %s", len(*arr), s.sql)
					}
				}
			}
		}
	}
	count := func(n int) check {
		return func(t *testing.T, stmts []recorded) {
			if len(stmts) != n {
				t.Errorf("%d statements, want %d: %v", len(stmts), n, stmts)
			}
		}
	}
	cases := []struct {
		name   string
		limit  int
		p      db.ListParams
		checks []check
	}{
		{"all: one page, one count", 10000, db.ListParams{Visible: db.Visible{All: true}, Order: records.DefaultOrder(D), WantCount: true},
			[]check{count(2), contains(0, "ORDER BY updated_at DESC, id DESC", "LIMIT"), contains(1, "count(*)"), lacks("ANY(")}},
		{"empty bitmap: no query", 10000, db.ListParams{Visible: db.Visible{IDs: roaring.New()}, WantCount: true}, []check{count(0)}},
		{"all, engine's count known: no count(*)", 10000, db.ListParams{Visible: db.Visible{All: true, ModuleCount: 500, ModuleCountKnown: true}, Order: records.DefaultOrder(D), WantCount: true},
			[]check{count(1), lacks("count(")}},
		{"sparse, no filter: candidate ids, count is the cardinality", 10000, db.ListParams{Visible: db.Visible{IDs: every(3)}, WantCount: true},
			[]check{count(1), contains(0, "id = ANY("), lacks("count(")}},
		{"sparse, filter: candidate ids in both", 10000, db.ListParams{Visible: db.Visible{IDs: every(3)}, WantCount: true, Filter: fc(D, "amount", "gt", 3.0)},
			[]check{count(2), contains(0, "id = ANY("), contains(1, "count(*)", "id = ANY(")}},
		{"dense, no filter: a narrow scan, the page's rows by id, count is the cardinality", 0, db.ListParams{Visible: db.Visible{IDs: every(2)}, WantCount: true},
			[]check{count(2), contains(0, "SELECT id FROM deals", "ORDER BY id DESC"), contains(1, "id = ANY("), sendsAtMost(10), lacks("count(")}},
		{"dense, filter: ids streamed", 0, db.ListParams{Visible: db.Visible{IDs: every(2)}, WantCount: true, Filter: fc(D, "amount", "gt", 3.0)},
			[]check{count(3), contains(2, "SELECT id FROM deals"), sendsAtMost(10), lacks("count(")}},
		{"dense, rare rows: several chunks", 0, db.ListParams{Visible: db.Visible{IDs: roaring.BitmapOf(uint32(ids[0]), uint32(ids[len(ids)-1]))},
			Order: records.Order{asc(D, "amount")}},
			[]check{func(t *testing.T, stmts []recorded) {
				// 500 rows in chunks of at most 100 (set below), then an
				// empty one that finds the end; then the two rows by id.
				if len(stmts) != 7 {
					t.Errorf("%d statements, want 6 chunks and a fetch", len(stmts))
					return
				}
				if !strings.HasPrefix(stmts[0].sql, "SELECT id, (amount)::text AS sort_key_0 FROM deals") {
					t.Errorf("the scan reads more than ids and sort keys: %s", stmts[0].sql)
				}
				for i, s := range stmts[1:6] {
					if !strings.Contains(s.sql, "amount > $") {
						t.Errorf("chunk %d does not continue from the last row: %s", i+1, s.sql)
					}
				}
			}}},
		{"every query is scoped to the org", 0, db.ListParams{Visible: db.Visible{IDs: every(2)}, WantCount: true, Filter: fc(D, "amount", "gt", 3.0)},
			[]check{func(t *testing.T, stmts []recorded) {
				for _, s := range stmts {
					if !strings.Contains(s.sql, "WHERE org_id = $1") || s.args[0] != f.org {
						t.Errorf("not scoped: %s %v", s.sql, s.args)
					}
				}
			}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db.SparseVisibleLimit = tc.limit
			lo, hi := 200, 20000
			if strings.Contains(tc.name, "chunks") {
				lo, hi = 50, 100
			}
			restore := db.SetDenseChunkBounds(lo, hi)
			defer restore()
			rec := &recorder{DB: f.db}
			p := tc.p
			p.Org, p.Meta, p.First, p.WantRows = f.org, D, 10, true
			if _, err := db.ListRecords(f.ctx, rec, p); err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.checks {
				c(t, rec.stmts)
			}
		})
	}

	// The default order pages through the (org_id, updated_at DESC, id DESC)
	// index with a row comparison and no sort.
	t.Run("default order uses the index", func(t *testing.T) {
		db.SparseVisibleLimit = oldLimit
		first := f.with(t).list(db.ListParams{Org: f.org, Meta: D, Order: records.DefaultOrder(D), First: 5,
			Visible: db.Visible{All: true}, WantRows: true})
		cur := db.CursorFor(first.Rows[4], records.DefaultOrder(D))
		rec := &recorder{DB: f.db}
		if _, err := db.ListRecords(f.ctx, rec, db.ListParams{Org: f.org, Meta: D, Order: records.DefaultOrder(D), First: 5,
			After: &cur, Visible: db.Visible{All: true}, WantRows: true}); err != nil {
			t.Fatal(err)
		}
		s := rec.stmts[0]
		if !strings.Contains(s.sql, "(updated_at, id) < (") {
			t.Errorf("no row comparison: %s", s.sql)
		}
		tx, err := f.db.BeginTxx(f.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(f.ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		var plan []string
		if err := tx.SelectContext(f.ctx, &plan, "EXPLAIN "+s.sql, s.args...); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, "deals_updated_idx") || strings.Contains(text, "Sort") || !strings.Contains(text, "ROW(updated_at, id) < ROW(") {
			t.Errorf("plan:\n%s", text)
		}
	})
}
