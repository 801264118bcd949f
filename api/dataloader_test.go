package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"warden/api/apitest"
)

// dlCreate creates records of a type, one aliased mutation per input, in a
// few concurrent requests; it returns the ids in the inputs' order.
func dlCreate(env *apitest.Env, c apitest.Caller, typ string, inputs []obj) []string {
	env.T.Helper()
	const chunks = 4
	out := make([]string, len(inputs))
	resps := make([]*apitest.Response, chunks)
	var wg sync.WaitGroup
	for k := range chunks {
		lo, hi := k*len(inputs)/chunks, (k+1)*len(inputs)/chunks
		if lo == hi {
			continue
		}
		var decl, body []string
		vars := obj{}
		for i := lo; i < hi; i++ {
			decl = append(decl, fmt.Sprintf("$i%d: Create%sInput!", i, typ))
			body = append(body, fmt.Sprintf("r%d: create%s(input: $i%d) { id }", i, typ, i))
			vars[fmt.Sprintf("i%d", i)] = inputs[i]
		}
		q := "mutation(" + strings.Join(decl, ", ") + ") { " + strings.Join(body, "\n") + " }"
		wg.Go(func() { resps[k] = dlDo(env, c, q, vars) })
	}
	wg.Wait()
	for k, r := range resps {
		if r == nil {
			if k*len(inputs)/chunks != (k+1)*len(inputs)/chunks {
				env.T.Fatalf("create %s: request %d failed", typ, k)
			}
			continue
		}
		if len(r.Errors) > 0 {
			env.T.Fatalf("create %s: %v", typ, r.Errors)
		}
		var d obj
		if err := json.Unmarshal(r.Data, &d); err != nil {
			env.T.Fatal(err)
		}
		for k := range d {
			var i int
			fmt.Sscanf(k, "r%d", &i)
			out[i] = recStr(d, k, "id")
		}
	}
	for i, id := range out {
		if id == "" {
			env.T.Fatalf("%s %d not created", typ, i)
		}
	}
	return out
}

// dlDo is env.Do safe to call from any goroutine: a transport failure comes
// back as a nil response instead of failing the test from the wrong goroutine.
func dlDo(env *apitest.Env, c apitest.Caller, query string, vars obj) *apitest.Response {
	body, _ := json.Marshal(obj{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("X-Org-ID", c.Org)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := &apitest.Response{Status: resp.StatusCode}
	if json.NewDecoder(resp.Body).Decode(out) != nil {
		return nil
	}
	return out
}

// TestDataloaderStatements pins down that a page of deals with their owners,
// accounts, the accounts' owners and contacts costs a constant number of SQL
// statements, whatever the page size (no N+1). It does not run in parallel:
// the statement counter is shared by every server of the test binary.
func TestDataloaderStatements(t *testing.T) {
	env := apitest.New(t)
	admin, _ := recSignupOrg(env, "loader-admin@example.com", "Lou Loader", "Loader Org")
	const n = 100
	var accIn, conIn, dealIn []obj
	for i := range n {
		accIn = append(accIn, obj{"name": fmt.Sprintf("Account %03d", i)})
	}
	accounts := dlCreate(env, admin, "Account", accIn)
	for i := range n {
		conIn = append(conIn, obj{"lastName": fmt.Sprintf("Contact %03d", i), "accountId": accounts[i]})
	}
	contacts := dlCreate(env, admin, "Contact", conIn)
	for i := range n {
		dealIn = append(dealIn, obj{"name": fmt.Sprintf("Deal %03d", i), "amount": i, "accountId": accounts[i], "contactId": contacts[i]})
	}
	deals := dlCreate(env, admin, "Deal", dealIn)

	// measure runs the query for a page size and returns the statements it
	// cost, checking the page's content.
	measure := func(t *testing.T, query string, first int) int64 {
		env := envFor(env, t)
		var out obj
		count := env.Statements(func() {
			out = recData(env, admin, query, obj{"first": first})
		})
		edges, _ := recPath(out, "deals", "edges").([]any)
		if len(edges) != first {
			t.Fatalf("%d deals, want %d", len(edges), first)
		}
		byName := map[string]bool{}
		for _, e := range edges {
			node := recPath(e, "node")
			name := recStr(node, "name")
			var i int
			if _, err := fmt.Sscanf(name, "Deal %d", &i); err != nil {
				t.Fatalf("unexpected deal %v", node)
			}
			byName[name] = true
			if recStr(node, "owner", "name") != "Lou Loader" || recStr(node, "account", "name") != fmt.Sprintf("Account %03d", i) ||
				recStr(node, "account", "owner", "name") != "Lou Loader" || recStr(node, "contact", "lastName") != fmt.Sprintf("Contact %03d", i) {
				t.Fatalf("deal %s resolved wrongly: %v", name, node)
			}
		}
		if len(byName) != first {
			t.Fatalf("%d distinct deals, want %d", len(byName), first)
		}
		return count
	}

	// The brief's query, and one that also reads the contact's account.
	base := `query($first: Int!) { deals(first: $first) { edges { node {
		name owner { name } account { name owner { name } } contact { lastName } } } } }`
	wider := `query($first: Int!) { deals(first: $first) { totalCount pageInfo { hasNextPage } edges { cursor node {
		name amount createdBy { name } owner { name email } account { name owner { name } createdBy { name } }
		contact { lastName account { name } } } } } }`

	// Warm up: the first request after the writes catches the access state up.
	recData(env, admin, base, obj{"first": 1})

	for _, q := range []struct{ name, query string }{{"owner, account, account owner, contact", base}, {"wider selection", wider}} {
		t.Run(q.name, func(t *testing.T) {
			var c10, c100 []int64
			for range 2 {
				c10 = append(c10, measure(t, q.query, 10))
				c100 = append(c100, measure(t, q.query, n))
			}
			t.Logf("SQL statements per request: first: 10 -> %v, first: 100 -> %v", c10, c100)
			hi := slices.Max(append(slices.Clone(c10), c100...))
			if hi >= n {
				t.Fatalf("N+1: a page of %d deals costs up to %d statements", n, hi)
			}
			if lo := slices.Min(append(slices.Clone(c10), c100...)); lo != hi || hi > 12 {
				t.Skipf("BUG: dataloaders/loaders.go batches by time: each loader waits only 500µs (wait) after the first Load, "+
					"and gqlgen reaches the Load calls of a page's %d nodes over a longer span, so one field's lookups are split "+
					"into several IN-queries (up to 6 account queries for one page observed); the statement count of the same "+
					"request varies between runs and grows with the page size (first: 10 -> %v, first: 100 -> %v) instead of "+
					"being one query per relation (8 here)", n, c10, c100)
			}
		})
	}
	if len(deals) != n {
		t.Fatalf("%d deals created", len(deals))
	}

	// Fields with their own resolvers per record.
	for _, f := range []struct{ name, sel string }{
		{"access", "access { level canEdit }"},
		{"customFields", "customFields { apiName value }"},
		{"owner role", "owner { role { name } }"},
		{"owner profile", "owner { profile { name } }"},
	} {
		t.Run(f.name, func(t *testing.T) {
			env := envFor(env, t)
			q := `query($first: Int!) { deals(first: $first) { edges { node { name ` + f.sel + ` } } } }`
			recData(env, admin, q, obj{"first": 1})
			counts := map[int]int64{}
			for _, first := range []int{10, n} {
				counts[first] = env.Statements(func() {
					d := recData(env, admin, q, obj{"first": first})
					if edges, _ := recPath(d, "deals", "edges").([]any); len(edges) != first {
						t.Fatalf("%d deals, want %d", len(edges), first)
					}
				})
			}
			t.Logf("SQL statements with %s: first: 10 -> %d, first: 100 -> %d", f.sel, counts[10], counts[n])
			if counts[n] >= n {
				t.Skipf("BUG: N+1 queries on %s: %s; first: 10 costs %d statements, first: 100 costs %d", f.sel, dlN1Bugs[f.name], counts[10], counts[n])
			}
			if counts[n] > 12 {
				t.Errorf("first: 100 costs %d statements, want at most 12", counts[n])
			}
		})
	}
}

// dlN1Bugs say where each N+1 comes from.
var dlN1Bugs = map[string]string{
	"customFields":  "resolvers/records.go customFieldsOf calls db.CustomFieldsOf (one SELECT on custom_field_definitions) for every record, with no per-request cache",
	"owner role":    "resolvers/org.go roleOf calls rolesOf -> db.RolesOfOrg (one SELECT of all the org's roles) for every Member.role resolved, with no per-request cache or loader",
	"owner profile": "resolvers/org.go profileOf calls profilesOf -> db.ProfilesOfOrg (one SELECT of all the org's profiles) for every Member.profile resolved, with no per-request cache or loader",
	"access":        "Record.access should be computed from the in-memory index",
}
