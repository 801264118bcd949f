package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"warden/access"
	"warden/access/scenariotest"
	"warden/api/apitest"
	"warden/db"
	"warden/ids"
	"warden/records"
)

// The conformance suite through explanations: for every scenario file, an
// administrator of the org asks accessExplanation for every (member,
// record) pair and whoCanAccess for every record, and the answers must be
// the file's expectations (a pair not listed: level NONE, no permission).

const exExplainFields = `level permissions { level canRead canEdit canDelete canShare canChangeOwner }
	grants { source level via rule { id name criteria { op } } principal { type id name } member { id name } }`

type exExplanation struct {
	Level       string
	Permissions struct {
		Level                                                 string
		CanRead, CanEdit, CanDelete, CanShare, CanChangeOwner bool
	}
	Grants []struct {
		Source, Level, Via string
		Rule               *struct {
			ID, Name string
			Criteria *struct{ Op string }
		}
		Principal *struct{ Type, ID, Name string }
		Member    *struct{ ID, Name string }
	}
}

func (e exExplanation) can() []string {
	p := e.Permissions
	out := []string{}
	for _, c := range []struct {
		ok   bool
		name string
	}{{p.CanRead, "read"}, {p.CanEdit, "edit"}, {p.CanDelete, "delete"}, {p.CanShare, "share"}, {p.CanChangeOwner, "changeOwner"}} {
		if c.ok {
			out = append(out, c.name)
		}
	}
	slices.Sort(out)
	return out
}

var exLevels = []string{"NONE", "READ_ONLY", "READ_WRITE", "READ_WRITE_DELETE", "FULL_ACCESS"}

// consistent checks what must hold of any explanation: the level is the
// highest grant's, every grant names what it comes through.
func (e exExplanation) consistent() error {
	max := "NONE"
	for _, g := range e.Grants {
		if slices.Index(exLevels, g.Level) > slices.Index(exLevels, max) {
			max = g.Level
		}
		if g.Via == "" {
			return fmt.Errorf("grant %s has no via", g.Source)
		}
		switch g.Source {
		case "SHARING_RULE":
			if g.Rule == nil || g.Principal == nil {
				return fmt.Errorf("SHARING_RULE grant without its rule or target")
			}
		case "RECORD_SHARE", "RELATED_SHARE":
			if g.Principal == nil {
				return fmt.Errorf("%s grant without its principal", g.Source)
			}
		case "OWNER", "HIERARCHY", "PEER":
			if g.Member == nil {
				return fmt.Errorf("%s grant without its member", g.Source)
			}
		}
	}
	if max != e.Level || e.Permissions.Level != e.Level {
		return fmt.Errorf("level %s, permissions.level %s, highest grant %s", e.Level, e.Permissions.Level, max)
	}
	return nil
}

func exRecordID(m access.Module, key int64) string { return ids.Encode(records.MetaOf(m).IDKind, key) }
func exMemberID(key int64) string                  { return ids.Encode(ids.Member, key) }

// exBatch resolves field once per item, in requests of at most n aliases,
// a few requests at a time, and returns each alias's raw value. field
// names its arguments {{name}}; vars gives their GraphQL types; each item
// their values. The query text depends only on the batch size, so the
// server parses and validates it once.
func exBatch(t *testing.T, env *apitest.Env, c apitest.Caller, field string, vars map[string]string, items []map[string]any, n int) []json.RawMessage {
	t.Helper()
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	slices.Sort(names)
	query := func(k int) string {
		var decl []string
		var body strings.Builder
		for i := 0; i < k; i++ {
			f := field
			for _, name := range names {
				decl = append(decl, fmt.Sprintf("$%s%d: %s", name, i, vars[name]))
				f = strings.ReplaceAll(f, "{{"+name+"}}", fmt.Sprintf("$%s%d", name, i))
			}
			fmt.Fprintf(&body, "\n a%d: %s", i, f)
		}
		return "query(" + strings.Join(decl, ", ") + ") {" + body.String() + "\n}"
	}
	out := make([]json.RawMessage, len(items))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make(chan error, (len(items)+n-1)/n)
	for start := 0; start < len(items); start += n {
		end := min(start+n, len(items))
		values := map[string]any{}
		for i := start; i < end; i++ {
			for _, name := range names {
				values[fmt.Sprintf("%s%d", name, i-start)] = items[i][name]
			}
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(start, end int, query string) {
			defer func() { <-sem; wg.Done() }()
			var data map[string]json.RawMessage
			if err := exPost(env, c, query, values, &data); err != nil {
				errs <- err
				return
			}
			for i := start; i < end; i++ {
				out[i] = data[fmt.Sprintf("a%d", i-start)]
			}
		}(start, end, query(end-start))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

// exPost is Env.Must that returns its error, for use off the test goroutine.
func exPost(env *apitest.Env, c apitest.Caller, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("X-Org-ID", c.Org)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r apitest.Response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("errors %+v for %.300s", r.Errors, query)
	}
	return json.Unmarshal(r.Data, out)
}

func exAdminOf(t *testing.T, sc *scenariotest.Scenario) string {
	t.Helper()
	for _, m := range sc.File.Members {
		for _, p := range sc.File.Profiles {
			if p.ID == m.Profile && p.Administrator && (m.Active == nil || *m.Active) {
				return m.ID
			}
		}
	}
	t.Fatalf("%s: no active administrator", sc.Name())
	return ""
}

func exReaders(sc *scenariotest.Scenario, recordKey string) []string {
	var out []string
	for _, m := range sc.MemberNames {
		if slices.Contains(sc.Expected(m, recordKey).Can, "read") {
			out = append(out, m)
		}
	}
	return out
}

type exWhoPage struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage bool
		EndCursor   *string
	}
	Edges []struct {
		Cursor string
		Node   struct {
			Member      struct{ ID, Name string }
			Level       string
			Permissions struct{ CanRead bool }
		}
	}
}

func TestExplainScenariosThroughGraphQL(t *testing.T) {
	scenarios, err := scenariotest.LoadDir(filepath.Join("..", "access", "testdata", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) < 50 {
		t.Fatalf("only %d scenario files found", len(scenarios))
	}
	env := apitest.New(t)
	for _, sc := range scenarios {
		t.Run(sc.Name(), func(t *testing.T) {
			t.Parallel()
			loaded, err := apitest.LoadScenario(context.Background(), env.DB, sc)
			if err != nil {
				t.Fatal(err)
			}
			admin := exAdminOf(t, sc)
			caller := apitest.Caller{Token: loaded.Token(t, admin), Org: ids.Encode(ids.Org, loaded.OrgID)}
			byMemberKey := map[string]string{} // public member id -> local name
			for name, key := range loaded.Members {
				byMemberKey[exMemberID(key)] = name
			}

			// accessExplanation for every pair.
			type pair struct{ member, record string }
			var pairs []pair
			var items []map[string]any
			for _, member := range sc.MemberNames {
				for _, rec := range sc.Records {
					pairs = append(pairs, pair{member, rec.Key})
					items = append(items, map[string]any{"mod": rec.Module,
						"rec": exRecordID(rec.Module, loaded.Records[rec.Key]), "mem": exMemberID(loaded.Members[member])})
				}
			}
			explained := exBatch(t, env, caller, `accessExplanation(module: {{mod}}, recordId: {{rec}}, memberId: {{mem}}) { `+exExplainFields+` }`,
				map[string]string{"mod": "Module!", "rec": "ID!", "mem": "ID!"}, items, 60)
			for i, raw := range explained {
				p := pairs[i]
				var got exExplanation
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatalf("%s on %s: %v: %s", p.member, p.record, err, raw)
				}
				want := sc.Expected(p.member, p.record)
				wantCan := slices.Clone(want.Can)
				slices.Sort(wantCan)
				if wantCan == nil {
					wantCan = []string{}
				}
				if got.Level != want.Level || !slices.Equal(got.can(), wantCan) {
					t.Errorf("%s on %s: explained level %s can %v, want level %s can %v (grants %+v)",
						p.member, p.record, got.Level, got.can(), want.Level, wantCan, got.Grants)
				}
				if err := got.consistent(); err != nil {
					t.Errorf("%s on %s: %v", p.member, p.record, err)
				}
			}

			// whoCanAccess for every record: exactly the expected readers,
			// by name then id, with the levels of the file.
			items = items[:0]
			for _, rec := range sc.Records {
				items = append(items, map[string]any{"mod": rec.Module, "rec": exRecordID(rec.Module, loaded.Records[rec.Key])})
			}
			who := exBatch(t, env, caller, `whoCanAccess(module: {{mod}}, recordId: {{rec}}, first: 100) {
				totalCount pageInfo { hasNextPage endCursor } edges { cursor node { member { id name } level permissions { canRead } } } }`,
				map[string]string{"mod": "Module!", "rec": "ID!"}, items, 25)
			paged := false
			for i, raw := range who {
				rec := sc.Records[i]
				var page exWhoPage
				if err := json.Unmarshal(raw, &page); err != nil {
					t.Fatal(err)
				}
				var got []string
				for k, e := range page.Edges {
					name := byMemberKey[e.Node.Member.ID]
					got = append(got, name)
					if want := sc.Expected(name, rec.Key); e.Node.Level != want.Level || !e.Node.Permissions.CanRead {
						t.Errorf("whoCanAccess %s: %s has level %s read %v, want %s", rec.Key, name, e.Node.Level, e.Node.Permissions.CanRead, want.Level)
					}
					if k > 0 {
						prev := page.Edges[k-1].Node.Member
						if prev.Name > e.Node.Member.Name {
							t.Errorf("whoCanAccess %s: %s listed before %s", rec.Key, prev.Name, e.Node.Member.Name)
						}
					}
				}
				want := exReaders(sc, rec.Key)
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) || page.TotalCount != len(want) || page.PageInfo.HasNextPage {
					t.Errorf("whoCanAccess %s: %v (totalCount %d, hasNextPage %v), want %v", rec.Key, got, page.TotalCount, page.PageInfo.HasNextPage, want)
				}
				if !paged && len(page.Edges) >= 3 {
					// Paging by two gives the same list.
					paged = true
					exWalkWho(t, env, caller, rec.Module, exRecordID(rec.Module, loaded.Records[rec.Key]), 2, page)
				}
			}
		})
	}
}

// exWalkWho pages through whoCanAccess by first and checks it lists what
// one page of all lists, in the same order.
func exWalkWho(t *testing.T, env *apitest.Env, c apitest.Caller, m access.Module, recordID string, first int, all exWhoPage) {
	t.Helper()
	var after *string
	var got []string
	for pages := 0; ; pages++ {
		if pages > len(all.Edges) {
			t.Fatalf("whoCanAccess %s does not end", recordID)
		}
		var out struct{ WhoCanAccess exWhoPage }
		env.Must(c, `query($m: Module!, $id: ID!, $first: Int!, $after: String) { whoCanAccess(module: $m, recordId: $id, first: $first, after: $after) {
			totalCount pageInfo { hasNextPage endCursor } edges { cursor node { member { id name } level permissions { canRead } } } } }`,
			map[string]any{"m": m, "id": recordID, "first": first, "after": after}, &out)
		p := out.WhoCanAccess
		if p.TotalCount != all.TotalCount {
			t.Errorf("whoCanAccess %s: totalCount %d on a page, %d in all", recordID, p.TotalCount, all.TotalCount)
		}
		for _, e := range p.Edges {
			got = append(got, e.Node.Member.ID)
		}
		if !p.PageInfo.HasNextPage {
			break
		}
		if len(p.Edges) != first || p.PageInfo.EndCursor == nil || *p.PageInfo.EndCursor != p.Edges[len(p.Edges)-1].Cursor {
			t.Fatalf("whoCanAccess %s: a page of %d before the end, endCursor %v", recordID, len(p.Edges), p.PageInfo.EndCursor)
		}
		after = p.PageInfo.EndCursor
	}
	var want []string
	for _, e := range all.Edges {
		want = append(want, e.Node.Member.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("whoCanAccess %s by %d: %v, in one page %v", recordID, first, got, want)
	}
}

// exWorld is a small org for the rules of who may ask and what an
// explanation shows: ceo > mgr > rep roles and ceo > audit; boss (mgr)
// above rep1 and rep2;
// auditor holds manageSharing with a profile that hides ACCOUNTS.industry
// and CONTACTS.account. Acme (rep1's account, industry Tech) reaches rep2
// by a criteria rule and is shared with rep2 with related records, so rep2
// reads rep1's contact c1 through RELATED_SHARE; rep1's deal d1 is private.
const exWorldJSON = `{
  "name": "explain-rules",
  "roles": [{"id": "ceo", "name": "CEO"}, {"id": "mgr", "name": "Manager", "parent": "ceo"}, {"id": "rep", "name": "Rep", "parent": "mgr"},
            {"id": "audit", "name": "Audit", "parent": "ceo"}],
  "profiles": [
    {"id": "admin", "administrator": true},
    {"id": "std", "modules": {"ACCOUNTS": ["view", "create", "edit", "share"], "CONTACTS": ["view", "create", "edit", "share"], "DEALS": ["view", "create", "edit", "share"]}},
    {"id": "auditing", "modules": {"ACCOUNTS": ["view"], "CONTACTS": ["view"], "DEALS": ["view"]}}
  ],
  "members": [
    {"id": "admin", "role": "ceo", "profile": "admin"},
    {"id": "boss", "role": "mgr", "profile": "std"},
    {"id": "rep1", "role": "rep", "profile": "std"},
    {"id": "rep2", "role": "rep", "profile": "std"},
    {"id": "auditor", "role": "audit", "profile": "auditing"}
  ],
  "sharingRules": [
    {"id": "tech", "name": "Industry accounts", "module": "ACCOUNTS", "criteria": {"op": "AND", "conditions": [{"field": "industry", "op": "EQ", "value": "Tech"}]},
     "target": {"type": "USER", "id": "rep2"}, "access": "READ_ONLY"}
  ],
  "records": [
    {"module": "ACCOUNTS", "id": "acme", "owner": "rep1", "fields": {"name": "Acme", "industry": "Tech"}},
    {"module": "CONTACTS", "id": "c1", "owner": "rep1", "fields": {"lastName": "One"}, "account": {"module": "ACCOUNTS", "id": "acme"}},
    {"module": "DEALS", "id": "d1", "owner": "rep1", "fields": {"name": "Private deal"}}
  ],
  "shares": [
    {"module": "ACCOUNTS", "record": "acme", "principal": {"type": "USER", "id": "rep2"}, "access": "READ_WRITE", "includeRelated": true}
  ]
}`

func TestExplainWhoMayAskAndWhatIsShown(t *testing.T) {
	env := apitest.New(t)
	ctx := context.Background()
	sc, err := scenariotest.Decode([]byte(exWorldJSON))
	if err != nil {
		t.Fatal(err)
	}
	w, err := apitest.LoadScenario(ctx, env.DB, sc)
	if err != nil {
		t.Fatal(err)
	}
	// The auditor's profile: manageSharing, and two hidden fields.
	var auditing int64
	if err := env.DB.Get(&auditing, `SELECT profile_id FROM members WHERE id = $1`, w.Members["auditor"]); err != nil {
		t.Fatal(err)
	}
	tx := env.DB.MustBegin()
	tx.MustExec(`UPDATE profiles SET setup_permissions = '{manageSharing}' WHERE id = $1`, auditing)
	tx.MustExec(`INSERT INTO field_permissions (org_id, profile_id, module, field, access) VALUES
		($1, $2, 'ACCOUNTS', 'industry', 'HIDDEN'), ($1, $2, 'CONTACTS', 'account', 'HIDDEN')`, w.OrgID, auditing)
	if err := db.LogSecurityChange(ctx, tx, w.OrgID, db.ChangeOrg, map[string]any{"profile": auditing}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	org := ids.Encode(ids.Org, w.OrgID)
	as := func(member string) apitest.Caller { return apitest.Caller{Token: w.Token(t, member), Org: org} }
	rec := func(key string) (access.Module, string) {
		m := access.Module(strings.Split(key, "/")[0])
		return m, exRecordID(m, w.Records[key])
	}
	mem := func(name string) string { return exMemberID(w.Members[name]) }
	const q = `query($m: Module!, $r: ID!, $mem: ID!) { accessExplanation(module: $m, recordId: $r, memberId: $mem) {
		level permissions { level canRead canEdit canDelete canShare canChangeOwner }
		grants { source level via rule { id name criteria { op conditions { field op value } } target { type id } access }
			principal { type id name } member { id name } } } }`
	explain := func(c apitest.Caller, key, member string) exExplanation {
		t.Helper()
		m, id := rec(key)
		var out struct{ AccessExplanation exExplanation }
		env.Must(c, q, map[string]any{"m": m, "r": id, "mem": mem(member)}, &out)
		if err := out.AccessExplanation.consistent(); err != nil {
			t.Errorf("%s on %s: %v", member, key, err)
		}
		return out.AccessExplanation
	}
	grant := func(e exExplanation, source string) (int, bool) {
		for i, g := range e.Grants {
			if g.Source == source {
				return i, true
			}
		}
		return -1, false
	}
	var rawAdmin struct {
		AccessExplanation struct {
			Grants []struct {
				Source string
				Rule   *struct {
					Criteria *struct {
						Conditions []struct {
							Field string
							Value any
						}
					}
				}
			}
		}
	}
	m, acme := rec("ACCOUNTS/acme")

	t.Run("an administrator sees every grant, criteria included", func(t *testing.T) {
		e := explain(as("admin"), "ACCOUNTS/acme", "rep2")
		if e.Level != "READ_WRITE" || !slices.Equal(e.can(), []string{"edit", "read"}) {
			t.Errorf("rep2 on acme: %s %v", e.Level, e.can())
		}
		i, ok := grant(e, "SHARING_RULE")
		if !ok || e.Grants[i].Rule == nil || e.Grants[i].Rule.Name != "Industry accounts" || e.Grants[i].Rule.Criteria == nil {
			t.Fatalf("rule grant: %+v", e.Grants)
		}
		env.Must(as("admin"), q, map[string]any{"m": m, "r": acme, "mem": mem("rep2")}, &rawAdmin)
		for _, g := range rawAdmin.AccessExplanation.Grants {
			if g.Source == "SHARING_RULE" {
				if c := g.Rule.Criteria.Conditions; len(c) != 1 || c[0].Field != "industry" || c[0].Value != "Tech" {
					t.Errorf("criteria shown to the administrator: %+v", c)
				}
			}
		}
		if i, ok := grant(e, "RECORD_SHARE"); !ok || e.Grants[i].Principal.ID != mem("rep2") || e.Grants[i].Level != "READ_WRITE" {
			t.Errorf("share grant: %+v", e.Grants)
		}
		// The manager's HIERARCHY grant names the owner.
		e = explain(as("admin"), "DEALS/d1", "boss")
		if i, ok := grant(e, "HIERARCHY"); !ok || e.Grants[i].Member.ID != mem("rep1") || e.Level != "FULL_ACCESS" {
			t.Errorf("boss on d1: %+v", e)
		}
		// RELATED_SHARE names the parent account by its public id.
		e = explain(as("admin"), "CONTACTS/c1", "rep2")
		if i, ok := grant(e, "RELATED_SHARE"); !ok || !strings.Contains(e.Grants[i].Via, acme) {
			t.Errorf("rep2 on c1: %+v", e.Grants)
		}
		// No grant at all.
		e = explain(as("admin"), "DEALS/d1", "rep2")
		if e.Level != "NONE" || len(e.Grants) != 0 || len(e.can()) != 0 {
			t.Errorf("rep2 on d1: %+v", e)
		}
	})

	t.Run("field-level security: no hidden value leaks through an explanation", func(t *testing.T) {
		e := explain(as("auditor"), "ACCOUNTS/acme", "rep2")
		i, ok := grant(e, "SHARING_RULE")
		if !ok || e.Grants[i].Rule == nil {
			t.Fatalf("rule grant: %+v", e.Grants)
		}
		if e.Grants[i].Rule.Criteria != nil || strings.Contains(e.Grants[i].Via, "Tech") {
			t.Errorf("criteria on a field hidden from the caller are shown: %+v", e.Grants[i])
		}
		e = explain(as("auditor"), "CONTACTS/c1", "rep2")
		if i, ok := grant(e, "RELATED_SHARE"); !ok || strings.Contains(e.Grants[i].Via, acme) || strings.Contains(e.Grants[i].Via, fmt.Sprint(w.Records["ACCOUNTS/acme"])) {
			t.Errorf("the parent named by a hidden account field is shown: %+v", e.Grants)
		}
	})

	t.Run("a member may ask about themself, without criteria", func(t *testing.T) {
		e := explain(as("rep2"), "ACCOUNTS/acme", "rep2")
		i, ok := grant(e, "SHARING_RULE")
		if !ok || e.Grants[i].Rule == nil || e.Grants[i].Rule.Criteria != nil {
			t.Errorf("self explanation: %+v", e.Grants)
		}
		// A record they cannot read does not exist for them.
		dm, d1 := rec("DEALS/d1")
		env.Fails(as("rep2"), "NOT_FOUND", q, map[string]any{"m": dm, "r": d1, "mem": mem("rep2")})
		// Nobody else's access.
		env.Fails(as("rep2"), "FORBIDDEN", q, map[string]any{"m": m, "r": acme, "mem": mem("rep1")})
		env.Fails(as("boss"), "FORBIDDEN", q, map[string]any{"m": m, "r": acme, "mem": mem("rep1")})
		env.Fails(as("rep2"), "FORBIDDEN", `query($m: Module!, $r: ID!) { whoCanAccess(module: $m, recordId: $r, first: 10) { totalCount } }`,
			map[string]any{"m": m, "r": acme})
	})

	t.Run("ids of nothing, of another kind or of another org are NOT_FOUND", func(t *testing.T) {
		other, err := apitest.LoadScenario(ctx, env.DB, sc) // the same org again: ids of another org
		if err != nil {
			t.Fatal(err)
		}
		admin := as("admin")
		for _, c := range []struct{ name, m, r, mem string }{
			{"record of another org", "ACCOUNTS", exRecordID(access.Module("ACCOUNTS"), other.Records["ACCOUNTS/acme"]), mem("rep2")},
			{"member of another org", "ACCOUNTS", acme, exMemberID(other.Members["rep2"])},
			{"missing record", "ACCOUNTS", exRecordID(access.Module("ACCOUNTS"), 1<<40), mem("rep2")},
			{"record of another module", "DEALS", acme, mem("rep2")},
			{"malformed record id", "ACCOUNTS", "acme", mem("rep2")},
			{"malformed member id", "ACCOUNTS", acme, "rep2"},
		} {
			r := env.Do(admin, q, map[string]any{"m": c.m, "r": c.r, "mem": c.mem})
			if !slices.Contains(r.Codes(), "NOT_FOUND") {
				t.Errorf("%s: %+v", c.name, r.Errors)
			}
		}
		r := env.Do(admin, `query($r: ID!) { whoCanAccess(module: ACCOUNTS, recordId: $r, first: 10) { totalCount } }`,
			map[string]any{"r": exRecordID(access.Module("ACCOUNTS"), other.Records["ACCOUNTS/acme"])})
		if !slices.Contains(r.Codes(), "NOT_FOUND") {
			t.Errorf("whoCanAccess on another org's record: %+v", r.Errors)
		}
	})

	t.Run("whoCanAccess lists readers only and checks its arguments", func(t *testing.T) {
		var out struct{ WhoCanAccess exWhoPage }
		env.Must(as("auditor"), `query($r: ID!) { whoCanAccess(module: ACCOUNTS, recordId: $r, first: 100) {
			totalCount pageInfo { hasNextPage endCursor } edges { cursor node { member { id name } level permissions { canRead } } } } }`,
			map[string]any{"r": acme}, &out)
		var names []string
		for _, e := range out.WhoCanAccess.Edges {
			names = append(names, e.Node.Member.Name)
		}
		// boss (HIERARCHY), rep1 (owner), rep2 (rule, share), admin; the
		// auditor has view only and no grant on acme.
		if want := []string{"admin", "boss", "rep1", "rep2"}; !slices.Equal(names, want) || out.WhoCanAccess.TotalCount != 4 {
			t.Errorf("whoCanAccess acme: %v (%d), want %v", names, out.WhoCanAccess.TotalCount, want)
		}
		exWalkWho(t, env, as("admin"), m, acme, 1, out.WhoCanAccess)
		for _, vars := range []map[string]any{
			{"r": acme, "first": 0},
			{"r": acme, "first": 101},
			{"r": acme, "first": 10, "after": "not-a-cursor"},
		} {
			env.Fails(as("admin"), "BAD_USER_INPUT", `query($r: ID!, $first: Int!, $after: String) {
				whoCanAccess(module: ACCOUNTS, recordId: $r, first: $first, after: $after) { totalCount } }`, vars)
		}
	})
}
