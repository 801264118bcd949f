package api_test

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"warden/api/apitest"
)

const (
	bkTransferQ = `mutation($m: Module!, $ids: [ID!]!, $o: ID!) { transferOwnership(module: $m, ids: $ids, newOwnerId: $o) { count ids } }`
	bkUpdateQ   = `mutation($m: Module!, $ids: [ID!]!, $in: MassUpdateInput!) { massUpdate(module: $m, ids: $ids, input: $in) { count ids } }`
	bkDeleteQ   = `mutation($m: Module!, $ids: [ID!]!) { massDelete(module: $m, ids: $ids) { count ids } }`
)

// TestBulkRefusals: every refused bulk call fails with its code, names the
// first failing record when one is at fault, leaks nothing, and leaves the
// records, shares, change log and audit log exactly as they were, even when
// the records before the failing one were allowed.
func TestBulkRefusals(t *testing.T) {
	w := bkNewWorld(t)
	d := w.deals
	const missing = "deal_999999999"
	many := make([]string, 501)
	for i := range many {
		many[i] = fmt.Sprintf("deal_%d", 1000000+i)
	}
	transfer := func(c apitest.Caller, owner string, ids ...string) (apitest.Caller, string, obj) {
		return c, bkTransferQ, obj{"m": "DEALS", "ids": ids, "o": owner}
	}
	update := func(c apitest.Caller, in obj, ids ...string) (apitest.Caller, string, obj) {
		return c, bkUpdateQ, obj{"m": "DEALS", "ids": ids, "in": in}
	}
	del := func(c apitest.Caller, ids ...string) (apitest.Caller, string, obj) {
		return c, bkDeleteQ, obj{"m": "DEALS", "ids": ids}
	}
	stage := obj{"deal": obj{"stage": "Won"}}
	type call = func() (apitest.Caller, string, obj)
	for _, tc := range []struct {
		name   string
		call   call
		code   string
		record string // the failing record named in the error ("" when none)
	}{
		{"transfer/restricted profile", func() (apitest.Caller, string, obj) { return transfer(w.mgr, w.otherID, d["r1"]) }, "FORBIDDEN", ""},
		{"transfer/read-only share in the middle", func() (apitest.Caller, string, obj) { return transfer(w.rep, w.mgrID, d["r1"], d["o1"], d["r2"]) }, "FORBIDDEN", d["o1"]},
		{"transfer/read-write share is not enough", func() (apitest.Caller, string, obj) { return transfer(w.rep, w.mgrID, d["r1"], d["r2"], d["o3"]) }, "FORBIDDEN", d["o3"]},
		{"transfer/invisible in the middle", func() (apitest.Caller, string, obj) { return transfer(w.rep, w.mgrID, d["r1"], d["o2"], d["r2"]) }, "NOT_FOUND", d["o2"]},
		{"transfer/missing in the middle", func() (apitest.Caller, string, obj) { return transfer(w.rep, w.mgrID, d["r1"], missing, d["r2"]) }, "NOT_FOUND", missing},
		{"transfer/an id of another module", func() (apitest.Caller, string, obj) { return transfer(w.rep, w.mgrID, d["r1"], w.contact) }, "NOT_FOUND", w.contact},
		{"transfer/unknown new owner", func() (apitest.Caller, string, obj) { return transfer(w.rep, "member_999999", d["r1"]) }, "BAD_USER_INPUT", ""},
		{"transfer/too many ids", func() (apitest.Caller, string, obj) { return transfer(w.rep, w.mgrID, many...) }, "LIMIT_EXCEEDED", ""},
		{"transfer/no ids", func() (apitest.Caller, string, obj) { return transfer(w.rep, w.mgrID) }, "BAD_USER_INPUT", ""},

		{"update/restricted profile", func() (apitest.Caller, string, obj) { return update(w.mgr, stage, d["r1"]) }, "FORBIDDEN", ""},
		{"update/read-only share in the middle", func() (apitest.Caller, string, obj) { return update(w.rep, stage, d["r1"], d["o1"], d["r2"]) }, "FORBIDDEN", d["o1"]},
		{"update/invisible in the middle", func() (apitest.Caller, string, obj) { return update(w.rep, stage, d["r1"], d["o2"], d["r2"]) }, "NOT_FOUND", d["o2"]},
		{"update/missing in the middle", func() (apitest.Caller, string, obj) { return update(w.rep, stage, d["r1"], missing, d["r2"]) }, "NOT_FOUND", missing},
		{"update/READ_ONLY field", func() (apitest.Caller, string, obj) { return update(w.rep, obj{"deal": obj{"amount": 5}}, d["r1"]) }, "FIELD_FORBIDDEN", ""},
		{"update/HIDDEN field", func() (apitest.Caller, string, obj) {
			return update(w.rep, obj{"deal": obj{"probability": 5}}, d["r1"])
		}, "FIELD_FORBIDDEN", ""},
		{"update/HIDDEN custom field", func() (apitest.Caller, string, obj) {
			return update(w.rep, obj{"deal": obj{"stage": "Won", "customFields": obj{"secretCode": "x"}}}, d["r1"])
		}, "FIELD_FORBIDDEN", ""},
		{"update/another module's input", func() (apitest.Caller, string, obj) {
			return update(w.rep, obj{"contact": obj{"lastName": "X"}}, d["r1"])
		}, "BAD_USER_INPUT", ""},
		{"update/two modules' inputs", func() (apitest.Caller, string, obj) {
			return update(w.rep, obj{"deal": obj{"stage": "Won"}, "contact": obj{"lastName": "X"}}, d["r1"])
		}, "BAD_USER_INPUT", ""},
		{"update/nothing to set", func() (apitest.Caller, string, obj) { return update(w.rep, obj{"deal": obj{}}, d["r1"]) }, "BAD_USER_INPUT", ""},
		{"update/wrong type", func() (apitest.Caller, string, obj) {
			return update(w.rep, obj{"deal": obj{"closingDate": "soon"}}, d["r1"])
		}, "BAD_USER_INPUT", ""},
		{"update/mandatory field cleared", func() (apitest.Caller, string, obj) { return update(w.rep, obj{"deal": obj{"name": nil}}, d["r1"]) }, "BAD_USER_INPUT", ""},
		{"update/reference to an invisible record", func() (apitest.Caller, string, obj) {
			return update(w.rep, obj{"deal": obj{"contactId": "contact_999999"}}, d["r1"])
		}, "BAD_USER_INPUT", ""},
		{"update/too many ids", func() (apitest.Caller, string, obj) { return update(w.rep, stage, many...) }, "LIMIT_EXCEEDED", ""},

		{"delete/restricted profile", func() (apitest.Caller, string, obj) { return del(w.mgr, d["r1"]) }, "FORBIDDEN", ""},
		{"delete/read-write share in the middle", func() (apitest.Caller, string, obj) { return del(w.rep, d["r1"], d["o3"], d["r2"]) }, "FORBIDDEN", d["o3"]},
		{"delete/invisible in the middle", func() (apitest.Caller, string, obj) { return del(w.rep, d["r1"], d["o2"], d["r2"]) }, "NOT_FOUND", d["o2"]},
		{"delete/missing in the middle", func() (apitest.Caller, string, obj) { return del(w.rep, d["r1"], missing, d["r2"]) }, "NOT_FOUND", missing},
		{"delete/too many ids", func() (apitest.Caller, string, obj) { return del(w.rep, many...) }, "LIMIT_EXCEEDED", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.state(t)
			c, q, vars := tc.call()
			r := recFails(w.as(t), c, tc.code, q, vars)
			if r.Data != nil && string(r.Data) != "null" {
				t.Errorf("data = %s, want null", r.Data)
			}
			if tc.record != "" {
				e := r.Errors[0]
				if got, _ := e.Extensions["recordId"].(string); got != tc.record {
					t.Errorf("extensions.recordId = %q, want %q", got, tc.record)
				}
				if !strings.Contains(e.Message, tc.record) {
					t.Errorf("message %q does not name %s", e.Message, tc.record)
				}
			}
			if after := w.state(t); after != before {
				t.Errorf("a refused call changed the database:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	// An invisible record and a missing one get the same answer, but for
	// their ids: nothing tells a client that the invisible one exists.
	t.Run("invisible reads as missing", func(t *testing.T) {
		for _, q := range []struct {
			query string
			vars  func(id string) obj
		}{
			{bkTransferQ, func(id string) obj { return obj{"m": "DEALS", "ids": []string{id}, "o": w.mgrID} }},
			{bkUpdateQ, func(id string) obj { return obj{"m": "DEALS", "ids": []string{id}, "in": stage} }},
			{bkDeleteQ, func(id string) obj { return obj{"m": "DEALS", "ids": []string{id}} }},
		} {
			inv := recFails(w.as(t), w.rep, "NOT_FOUND", q.query, q.vars(d["o2"])).Errors[0]
			mis := recFails(w.as(t), w.rep, "NOT_FOUND", q.query, q.vars(missing)).Errors[0]
			if a, b := strings.ReplaceAll(inv.Message, d["o2"], "ID"), strings.ReplaceAll(mis.Message, missing, "ID"); a != b {
				t.Errorf("invisible %q vs missing %q", a, b)
			}
		}
	})
}

// bkOwners is the owner of each deal, by deal id, from the database.
func (w *bkWorld) bkOwner(t testing.TB, deal string) string {
	t.Helper()
	var owner int64
	if err := w.env.DB.Get(&owner, `SELECT owner_id FROM deals WHERE id = $1`, bkKey(deal)); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("member_%d", owner)
}

func (w *bkWorld) auditCount(t testing.TB, action string, deals ...string) int {
	t.Helper()
	keys := make([]int64, len(deals))
	for i, d := range deals {
		keys[i] = bkKey(d)
	}
	return bkCount(t, w.env, `SELECT count(*) FROM audit_log WHERE action = $1 AND target_type = 'deals' AND target_id = ANY($2)`, action, pqInt64s(keys))
}

// TestBulkWrites: permitted bulk calls write every record, as the
// single-record writes would (owner, fields, children, shares, audit), and
// the access index follows at once, on every instance.
func TestBulkWrites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		run   func(t *testing.T, w *bkWorld) obj // returns the mutation's data
		check func(t *testing.T, w *bkWorld, data obj)
	}{
		{"transfer/owner's own records", func(t *testing.T, w *bkWorld) obj {
			return recData(w.as(t), w.rep, bkTransferQ, obj{"m": "DEALS", "ids": []string{w.deals["r1"], w.deals["r2"], w.deals["r1"]}, "o": w.mgrID})
		}, func(t *testing.T, w *bkWorld, data obj) {
			if got := recNorm(t, data["transferOwnership"]); fmt.Sprint(got) != fmt.Sprint(recNorm(t, obj{"count": 2, "ids": []string{w.deals["r1"], w.deals["r2"]}})) {
				t.Errorf("result = %v", got)
			}
			for _, k := range []string{"r1", "r2"} {
				if got := w.bkOwner(t, w.deals[k]); got != w.mgrID {
					t.Errorf("%s owner = %s, want %s", k, got, w.mgrID)
				}
			}
			if got := w.bkOwner(t, w.deals["r3"]); got != w.repID {
				t.Errorf("r3 changed owner to %s", got)
			}
			if n := w.auditCount(t, "record.update", w.deals["r1"], w.deals["r2"]); n != 2 {
				t.Errorf("%d audit entries, want 2", n)
			}
			// Deals are PRIVATE to their owner and the owner's superiors:
			// given to rep's manager, they leave rep's list, on this
			// instance and on a second one.
			two := &apitest.Env{T: t, DB: w.env.DB, Server: httptest.NewServer(apitest.NewHandler(t, w.env.DB))}
			defer two.Server.Close()
			for _, env := range []*apitest.Env{w.as(t), two} {
				ids, total := bkListIDs(t, env, w.rep, "deals", "DealFilter", nil)
				if slices.Contains(ids, w.deals["r1"]) || slices.Contains(ids, w.deals["r2"]) || !slices.Contains(ids, w.deals["r3"]) || total != len(ids) {
					t.Errorf("rep's deals after the transfer: %v (total %d)", ids, total)
				}
				ids, _ = bkListIDs(t, env, w.mgr, "deals", "DealFilter", nil)
				if !slices.Contains(ids, w.deals["r1"]) {
					t.Errorf("the new owner does not see r1: %v", ids)
				}
			}
		}},
		{"transfer/administrator, any owner", func(t *testing.T, w *bkWorld) obj {
			return recData(w.as(t), w.admin, bkTransferQ, obj{"m": "DEALS", "ids": []string{w.deals["r1"], w.deals["o2"]}, "o": w.otherID})
		}, func(t *testing.T, w *bkWorld, data obj) {
			for _, k := range []string{"r1", "o2"} {
				if got := w.bkOwner(t, w.deals[k]); got != w.otherID {
					t.Errorf("%s owner = %s, want %s", k, got, w.otherID)
				}
			}
		}},
		{"update/own and read-write shared records", func(t *testing.T, w *bkWorld) obj {
			return recData(w.as(t), w.rep, bkUpdateQ, obj{"m": "DEALS", "ids": []string{w.deals["r1"], w.deals["o3"]},
				"in": obj{"deal": obj{"stage": "Won", "customFields": obj{"region": "EU"}}}})
		}, func(t *testing.T, w *bkWorld, data obj) {
			for _, k := range []string{"r1", "o3"} {
				var stage, custom string
				if err := w.env.DB.QueryRow(`SELECT stage, custom::text FROM deals WHERE id = $1`, bkKey(w.deals[k])).Scan(&stage, &custom); err != nil {
					t.Fatal(err)
				}
				if stage != "Won" || !strings.Contains(custom, `"region": "EU"`) {
					t.Errorf("%s: stage %q custom %s", k, stage, custom)
				}
				if k == "r1" && !strings.Contains(custom, `"secretCode": "s1"`) {
					t.Errorf("r1's hidden custom field was lost: %s", custom)
				}
			}
			var stage string
			if err := w.env.DB.Get(&stage, `SELECT stage FROM deals WHERE id = $1`, bkKey(w.deals["r2"])); err != nil || stage != "Open" {
				t.Errorf("r2 stage = %q (%v), want Open", stage, err)
			}
			if n := w.auditCount(t, "record.update", w.deals["r1"], w.deals["o3"]); n != 2 {
				t.Errorf("%d audit entries, want 2", n)
			}
			// The index reads the new values: the list filter agrees.
			ids, total := bkListIDs(t, w.as(t), w.rep, "deals", "DealFilter", obj{"stage": obj{"eq": "Won"}})
			slices.Sort(ids)
			want := []string{w.deals["r1"], w.deals["o3"]}
			slices.Sort(want)
			if !slices.Equal(ids, want) || total != 2 {
				t.Errorf("rep's Won deals = %v (total %d), want %v", ids, total, want)
			}
		}},
		{"delete/own records, children detached", func(t *testing.T, w *bkWorld) obj {
			return recData(w.as(t), w.rep, bkDeleteQ, obj{"m": "DEALS", "ids": []string{w.deals["r1"], w.deals["r2"]}})
		}, func(t *testing.T, w *bkWorld, data obj) {
			if n := bkCount(t, w.env, `SELECT count(*) FROM deals WHERE id = ANY($1)`, pqInt64s([]int64{bkKey(w.deals["r1"]), bkKey(w.deals["r2"])})); n != 0 {
				t.Errorf("%d deleted deals remain", n)
			}
			if n := bkCount(t, w.env, `SELECT count(*) FROM tasks WHERE id = $1 AND related_id IS NULL`, bkKey(w.task)); n != 1 {
				t.Error("the task about r1 still refers to it")
			}
			if n := w.auditCount(t, "record.delete", w.deals["r1"], w.deals["r2"]); n != 2 {
				t.Errorf("%d audit entries, want 2", n)
			}
			ids, _ := bkListIDs(t, w.as(t), w.rep, "deals", "DealFilter", nil)
			if slices.Contains(ids, w.deals["r1"]) || !slices.Contains(ids, w.deals["r3"]) {
				t.Errorf("rep's deals after the delete: %v", ids)
			}
			d := recData(w.as(t), w.rep, `query($id: ID!) { task(id: $id) { relatedTo { id } } }`, obj{"id": w.task})
			rel := recPath(d, "task", "relatedTo")
			if rel != nil {
				t.Errorf("task.relatedTo = %v, want null", rel)
			}
		}},
		{"delete/administrator, shared records and their shares", func(t *testing.T, w *bkWorld) obj {
			return recData(w.as(t), w.admin, bkDeleteQ, obj{"m": "DEALS", "ids": []string{w.deals["o1"], w.deals["o3"]}})
		}, func(t *testing.T, w *bkWorld, data obj) {
			if n := bkCount(t, w.env, `SELECT count(*) FROM record_shares WHERE module = 'DEALS'`); n != 0 {
				t.Errorf("%d shares of deleted deals remain", n)
			}
			ids, _ := bkListIDs(t, w.as(t), w.rep, "deals", "DealFilter", nil)
			if slices.Contains(ids, w.deals["o1"]) || slices.Contains(ids, w.deals["o3"]) {
				t.Errorf("rep still lists deleted deals: %v", ids)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := bkNewWorld(t)
			data := tc.run(t, w)
			tc.check(t, w, data)
		})
	}
}
