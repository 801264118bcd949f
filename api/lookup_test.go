package api_test

import (
	"testing"

	"warden/api/apitest"
	"warden/cache"
	"warden/resolvers"
)

// TestLookupByIDChecksTheRecordAlone: deal(id) is decided from the record's
// own facts. The viewer's whole visible set (for a manager, the union over
// their subtree) is worked out for a list, not for one record, so a lookup
// right after an access change does not pay for it.
func TestLookupByIDChecksTheRecordAlone(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	var engine *cache.Engine
	inst := env.Instance(func(r *resolvers.Resolver) { engine = r.Engine })
	admin := env.CreateOrg(env.Signup("lookup-admin@example.com", "Lookup Admin"), "Lookup Org")
	mgr := env.Signup("lookup-mgr@example.com", "Lookup Manager")
	env.AddMember(admin.Org, mgr, "Manager", "CEO", false)
	mgr = mgr.In(admin.Org)
	own := recStr(recData(env, mgr, `mutation { createDeal(input: {name: "Mine"}) { id } }`, nil), "createDeal", "id")
	hidden := recStr(recData(env, admin, `mutation { createDeal(input: {name: "The admin's"}) { id } }`, nil), "createDeal", "id")

	computed := engine.Stats.VisibleComputed.Load()
	for _, tc := range []struct {
		id      string
		visible bool
	}{{own, true}, {hidden, false}} {
		d := recData(inst, mgr, `query($id: ID!) { deal(id: $id) { id } }`, obj{"id": tc.id})
		if got := recStr(d, "deal", "id"); (got == tc.id) != tc.visible {
			t.Errorf("deal(%s) = %v, want visible=%v", tc.id, d["deal"], tc.visible)
		}
	}
	if n := engine.Stats.VisibleComputed.Load() - computed; n != 0 {
		t.Errorf("two lookups by id computed %d visible sets, want 0", n)
	}
	d := recData(inst, mgr, `{ deals(first: 5) { totalCount } }`, nil)
	if n := engine.Stats.VisibleComputed.Load() - computed; n != 1 {
		t.Errorf("a list computed %d visible sets, want 1 (the counter counts nothing?)", n)
	}
	if total, _ := recData(inst, admin, `{ deals(first: 5) { totalCount } }`, nil)["deals"].(obj)["totalCount"].(float64); total != 2 {
		t.Errorf("the administrator sees %v deals, want 2", total)
	}
	if total, _ := d["deals"].(obj)["totalCount"].(float64); total != 1 {
		t.Errorf("the manager's list counts %v deals, want 1 (their own)", total)
	}
}
