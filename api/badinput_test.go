package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"warden/api/apitest"
	"warden/auth"
)

// biTables are the tables whose row counts must not move on a refused request.
var biTables = []string{"users", "orgs", "members", "roles", "profiles", "custom_field_definitions",
	"leads", "contacts", "accounts", "deals", "tasks", "record_shares"}

// biState is the database as far as a refused request could change it: the
// row counts and the full row of one deal, in one statement.
func biState(env *apitest.Env, dealID string) string {
	env.T.Helper()
	var cols []string
	for _, table := range biTables {
		cols = append(cols, fmt.Sprintf("'%s=' || (SELECT count(*) FROM %s)", table, table))
	}
	var state string
	if err := env.DB.Get(&state, `SELECT `+strings.Join(cols, " || ' ' || ")+
		` || ' ' || (SELECT row_to_json(d)::text FROM deals d WHERE id = $1)`, pgKey(env.T, dealID)); err != nil {
		env.T.Fatal(err)
	}
	return state
}

// biBug is a known production bug: when the response shows its symptom (the
// code, or no error at all for ""), the case is skipped with the description.
type biBug struct {
	code string
	desc string
}

// Known bugs (see the report); each is skipped only on its own symptom.
var (
	biBugScalar = &biBug{"INTERNAL", "BUG: records/date.go Date.UnmarshalGQL (and gqlgen's graphql.UnmarshalTime for Time) return plain errors; " +
		"apperr.Present maps an input-coercion error whose cause is not an apperr/records.InputError to INTERNAL, so an invalid " +
		"Date or Time argument (\"2026-02-30\", \"tomorrow\", year 10000) is answered INTERNAL \"internal error\" (and logged as a server error) " +
		"instead of BAD_USER_INPUT"}
	biBugNUL = &biBug{"INTERNAL", "BUG: records/input.go checkValue accepts strings containing U+0000; Postgres refuses them " +
		"(invalid byte sequence for encoding UTF8: 0x00) and the client gets INTERNAL instead of BAD_USER_INPUT"}
	biBugIntRange = &biBug{"INTERNAL", "BUG: records/filter.go typedValue accepts any integer up to 2^53 for an Int field " +
		"(and any year for a Date) in filters; Postgres refuses the comparison (integer out of range / date out of range) " +
		"and the client gets INTERNAL instead of BAD_USER_INPUT (or an empty match)"}
	biBugComplexity = &biBug{"COMPLEXITY_LIMIT_EXCEEDED", "BUG: apperr.Present passes gqlgen's COMPLEXITY_LIMIT_EXCEEDED code " +
		"through unchanged; api.md allows only UNAUTHENTICATED, FORBIDDEN, FIELD_FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, CONFLICT, " +
		"LIMIT_EXCEEDED, RATE_LIMITED, INTERNAL"}
	biBugZeroTime = &biBug{"", "BUG: createTask with dueAt \"0001-01-01T00:00:00Z\" succeeds and stores dueAt null: the zero time " +
		"is silently taken for \"no value\" (the write should either keep the instant or be refused with BAD_USER_INPUT)"}
)

func TestBadInput(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	admin, _ := recSignupOrg(env, "badin-admin@example.com", "Bad Input Admin", "Bad Input Org")
	if _, err := env.DB.Exec(`INSERT INTO custom_field_definitions (org_id, module, api_name, label, type, picklist_values) VALUES
		($1, 'DEALS', 'score', 'Score', 'NUMBER', '{}'), ($1, 'DEALS', 'renewal', 'Renewal', 'DATE', '{}'),
		($1, 'DEALS', 'tier', 'Tier', 'PICKLIST', '{Gold,Silver}')`, apitest.OrgKey(admin.Org)); err != nil {
		t.Fatal(err)
	}
	deal := recCreate(env, admin, recDeal, obj{"name": "Target", "amount": 10, "probability": 10,
		"customFields": obj{"score": 3, "renewal": "2026-06-30", "tier": "Gold"}})
	dealID := recStr(deal, "id")
	// The custom values are stored as typed (positive control).
	var cf obj
	env.Must(admin, `query($id: ID!) { deal(id: $id) { customFields { apiName value } } }`, obj{"id": dealID}, &cf)
	if got, want := recNorm(t, recPath(cf, "deal", "customFields")), recNorm(t, []obj{{"apiName": "score", "value": 3},
		{"apiName": "renewal", "value": "2026-06-30"}, {"apiName": "tier", "value": "Gold"}}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("custom fields: %v, want %v", got, want)
	}
	recCreate(env, admin, recDeal, obj{"name": "Second"})
	cursor := pgFetch(env, admin, 1, "", nil, nil).endCursor
	anon := apitest.Caller{}
	noToken := apitest.Caller{Org: admin.Org}

	// Tokens that must not authenticate.
	var viewer struct {
		Viewer struct{ User struct{ ID string } }
	}
	env.Must(admin, `{ viewer { user { id } } }`, nil, &viewer)
	var userKey int64
	fmt.Sscanf(viewer.Viewer.User.ID, "user_%d", &userKey)
	otherSecret, _ := auth.NewIssuer([]byte("another-secret-another-secret-another!"), time.Hour, time.Now)
	forged, _, _ := otherSecret.Issue(userKey)
	past, _ := auth.NewIssuer(apitest.Secret, time.Hour, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	expired, _, _ := past.Issue(userKey)
	parts := strings.Split(admin.Token, ".")
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + string(sig)

	// Cursors that must not be accepted.
	rawCursor, _ := base64.RawURLEncoding.DecodeString(cursor)
	flipped := append([]byte{}, rawCursor...)
	flipped[len(flipped)-3] ^= 1
	unsigned := base64.RawURLEncoding.EncodeToString(append(make([]byte, 16), []byte(`{"o":1,"m":"DEALS","s":"updatedAt-,","v":[null],"i":1}`)...))

	deep := func(n int) string { // a filter nested n levels deep
		f := `{name: {eq: "x"}}`
		for range n - 1 {
			f = `{and: [` + f + `]}`
		}
		return `{ deals(first: 3, filter: ` + f + `) { totalCount } }`
	}
	manyConds := func(n int) string {
		var cs []string
		for i := range n {
			cs = append(cs, fmt.Sprintf(`{name: {eq: "n%d"}}`, i))
		}
		return `{ deals(first: 3, filter: {or: [` + strings.Join(cs, ", ") + `]}) { totalCount } }`
	}
	manyIn := make([]any, 501)
	for i := range manyIn {
		manyIn[i] = fmt.Sprintf("v%d", i)
	}
	parents := func(n int) string { // a query n levels deep
		s := "name"
		for range n - 6 { // deals edges node owner role ... name
			s = "parent { " + s + " }"
		}
		return `{ deals(first: 1) { edges { node { owner { role { ` + s + ` } } } } } }`
	}
	var wide strings.Builder
	wide.WriteString("{")
	for i := range 1800 {
		fmt.Fprintf(&wide, " a%d: viewer { user { id } }", i)
	}
	wide.WriteString(" }")

	createDeal := func(in string) string { return `mutation { createDeal(input: ` + in + `) { id } }` }
	updateDeal := func(in string) string {
		return `mutation { updateDeal(id: "` + dealID + `", input: ` + in + `) { id } }`
	}
	signup := `mutation($e: String!, $p: String!, $n: String!) { signup(input: {email: $e, password: $p, name: $n}) { token } }`
	signupVars := func(email, pw, name string) obj { return obj{"e": email, "p": pw, "n": name} }
	login := `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }`
	dealsQ := `query($first: Int!, $after: String) { deals(first: $first, after: $after) { totalCount edges { node { id } } } }`

	cases := []struct {
		name  string
		c     apitest.Caller
		query string
		vars  obj
		code  string // the wanted code; "A|B" accepts either
		bug   *biBug
	}{
		// Cursors.
		{"malformed cursor", admin, dealsQ, obj{"first": 3, "after": "garbage!"}, "BAD_USER_INPUT", nil},
		{"cursor not base64 of anything", admin, dealsQ, obj{"first": 3, "after": "===="}, "BAD_USER_INPUT", nil},
		{"tampered cursor", admin, dealsQ, obj{"first": 3, "after": base64.RawURLEncoding.EncodeToString(flipped)}, "BAD_USER_INPUT", nil},
		{"unsigned cursor", admin, dealsQ, obj{"first": 3, "after": unsigned}, "BAD_USER_INPUT", nil},
		{"oversized cursor", admin, dealsQ, obj{"first": 3, "after": strings.Repeat("A", 5000)}, "BAD_USER_INPUT", nil},
		{"cursor of another list", admin, `query($a: String) { leads(first: 3, after: $a) { totalCount } }`, obj{"a": cursor}, "BAD_USER_INPUT", nil},
		// Page sizes.
		{"first: 0", admin, dealsQ, obj{"first": 0}, "BAD_USER_INPUT", nil},
		{"first: -1", admin, dealsQ, obj{"first": -1}, "BAD_USER_INPUT", nil},
		{"first: 101", admin, dealsQ, obj{"first": 101}, "BAD_USER_INPUT", nil},
		{"first: 1000", admin, dealsQ, obj{"first": 1000}, "BAD_USER_INPUT", nil},
		{"first: 1000 under org()", admin, `query($o: ID!) { org(id: $o) { deals(first: 1000) { totalCount } } }`, obj{"o": admin.Org}, "BAD_USER_INPUT", nil},
		{"first: 1000 on members", admin, `{ members(first: 1000) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"first missing", admin, `{ deals { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"first of the wrong type", admin, `{ deals(first: "ten") { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		// Filters.
		{"unknown filter field", admin, `{ deals(first: 3, filter: {bogus: {eq: "x"}}) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"unknown filter field in a variable", admin, `query($f: DealFilter) { deals(first: 3, filter: $f) { totalCount } }`,
			obj{"f": obj{"bogus": obj{"eq": "x"}}}, "BAD_USER_INPUT", nil},
		{"unknown operator", admin, `{ deals(first: 3, filter: {name: {like: "x"}}) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"contains on a number", admin, `{ deals(first: 3, filter: {amount: {contains: "1"}}) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"isEmpty not a boolean", admin, `{ deals(first: 3, filter: {name: {isEmpty: "yes"}}) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"filter value of the wrong type", admin, `{ deals(first: 3, filter: {amount: {eq: "ten"}}) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"filter nested 6 levels", admin, deep(6), nil, "BAD_USER_INPUT", nil},
		{"filter with 51 conditions", admin, manyConds(51), nil, "BAD_USER_INPUT", nil},
		{"in with 501 values", admin, `query($v: [String!]) { deals(first: 3, filter: {name: {in: $v}}) { totalCount } }`, obj{"v": manyIn}, "BAD_USER_INPUT", nil},
		{"unknown custom field in a filter", admin, `{ deals(first: 3, filter: {custom: [{apiName: "nope", eq: 1}]}) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"custom filter value of the wrong type", admin, `{ deals(first: 3, filter: {custom: [{apiName: "score", eq: "abc"}]}) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"Int filter beyond 32 bits", admin, `{ deals(first: 3, filter: {probability: {eq: 3000000000}}) { totalCount } }`, nil, "BAD_USER_INPUT", biBugIntRange},
		{"Date filter in year 0", admin, `{ deals(first: 3, filter: {closingDate: {lt: "0000-01-01"}}) { totalCount } }`, nil, "BAD_USER_INPUT", biBugIntRange},
		{"invalid Date in a filter", admin, `{ deals(first: 3, filter: {closingDate: {lt: "2026-02-30"}}) { totalCount } }`, nil, "BAD_USER_INPUT", biBugScalar},
		// Orderings.
		{"orderBy without a field", admin, `{ deals(first: 3, orderBy: [{direction: DESC}]) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"orderBy with field and customField", admin, `{ deals(first: 3, orderBy: [{field: NAME, customField: "score"}]) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"orderBy unknown customField", admin, `{ deals(first: 3, orderBy: [{customField: "nope"}]) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"orderBy unknown field", admin, `{ deals(first: 3, orderBy: [{field: OWNER}]) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		{"orderBy with 6 keys", admin, `{ deals(first: 3, orderBy: [{field: NAME}, {field: AMOUNT}, {field: STAGE}, {field: CLOSING_DATE}, {field: PROBABILITY}, {field: CREATED_AT}]) { totalCount } }`, nil, "BAD_USER_INPUT", nil},
		// Authentication.
		{"wrong password", anon, login, obj{"e": "badin-admin@example.com", "p": "wrong horse battery"}, "UNAUTHENTICATED", nil},
		{"unknown email", anon, login, obj{"e": "nobody@example.com", "p": apitest.Password}, "UNAUTHENTICATED", nil},
		{"empty password", anon, login, obj{"e": "badin-admin@example.com", "p": ""}, "UNAUTHENTICATED", nil},
		{"missing token on a record query", noToken, `{ deals(first: 3) { totalCount } }`, nil, "UNAUTHENTICATED", nil},
		{"missing token on a lookup", noToken, `query($id: ID!) { deal(id: $id) { name } }`, obj{"id": dealID}, "UNAUTHENTICATED", nil},
		{"missing token on viewer", anon, `{ viewer { user { id } } }`, nil, "UNAUTHENTICATED", nil},
		{"missing token on a mutation", noToken, createDeal(`{name: "Anonymous"}`), nil, "UNAUTHENTICATED", nil},
		{"missing token on createOrg", anon, `mutation { createOrg(input: {name: "Anon Org"}) { id } }`, nil, "UNAUTHENTICATED", nil},
		{"garbage token", apitest.Caller{Token: "garbage", Org: admin.Org}, `{ deals(first: 3) { totalCount } }`, nil, "UNAUTHENTICATED", nil},
		{"garbage token on a mutation", apitest.Caller{Token: "garbage", Org: admin.Org}, createDeal(`{name: "Garbage"}`), nil, "UNAUTHENTICATED", nil},
		{"tampered token", apitest.Caller{Token: tampered, Org: admin.Org}, `{ deals(first: 3) { totalCount } }`, nil, "UNAUTHENTICATED", nil},
		{"token of another secret", apitest.Caller{Token: forged, Org: admin.Org}, `{ deals(first: 3) { totalCount } }`, nil, "UNAUTHENTICATED", nil},
		{"expired token", apitest.Caller{Token: expired, Org: admin.Org}, `{ deals(first: 3) { totalCount } }`, nil, "UNAUTHENTICATED", nil},
		// Sign-up.
		{"signup with a short password", anon, signup, signupVars("new1@example.com", "short", "New"), "BAD_USER_INPUT", nil},
		{"signup with an invalid email", anon, signup, signupVars("not-an-email", apitest.Password, "New"), "BAD_USER_INPUT", nil},
		{"signup with a display-name email", anon, signup, signupVars("New <new2@example.com>", apitest.Password, "New"), "BAD_USER_INPUT", nil},
		{"signup with an empty name", anon, signup, signupVars("new3@example.com", apitest.Password, "  "), "BAD_USER_INPUT", nil},
		{"signup with a duplicate email", anon, signup, signupVars("badin-admin@example.com", apitest.Password, "Dup"), "CONFLICT", nil},
		{"signup with a duplicate email in other case", anon, signup, signupVars("BadIn-Admin@Example.COM", apitest.Password, "Dup"), "CONFLICT", nil},
		// Record inputs.
		{"probability 101", admin, createDeal(`{name: "P", probability: 101}`), nil, "BAD_USER_INPUT", nil},
		{"probability -1", admin, createDeal(`{name: "P", probability: -1}`), nil, "BAD_USER_INPUT", nil},
		{"probability 101 on update", admin, updateDeal(`{probability: 101, amount: 99}`), nil, "BAD_USER_INPUT", nil},
		{"probability not an integer", admin, createDeal(`{name: "P", probability: 50.5}`), nil, "BAD_USER_INPUT", nil},
		{"amount out of range", admin, createDeal(`{name: "P", amount: 1e16}`), nil, "BAD_USER_INPUT", nil},
		{"name too long", admin, `mutation($n: String!) { createDeal(input: {name: $n}) { id } }`, obj{"n": strings.Repeat("x", 10001)}, "BAD_USER_INPUT", nil},
		{"name with a NUL character", admin, `mutation($n: String!) { createDeal(input: {name: $n}) { id } }`, obj{"n": "a\x00b"}, "BAD_USER_INPUT", biBugNUL},
		{"unknown input field", admin, createDeal(`{name: "P", bogus: 1}`), nil, "BAD_USER_INPUT", nil},
		{"ownerId on update", admin, updateDeal(`{ownerId: "member_1"}`), nil, "BAD_USER_INPUT", nil},
		{"invalid lead email", admin, `mutation { createLead(input: {lastName: "L", email: "not-an-email"}) { id } }`, nil, "BAD_USER_INPUT", nil},
		{"impossible closingDate", admin, createDeal(`{name: "P", closingDate: "2026-02-30"}`), nil, "BAD_USER_INPUT", biBugScalar},
		{"closingDate not a date", admin, updateDeal(`{closingDate: "tomorrow"}`), nil, "BAD_USER_INPUT", biBugScalar},
		{"dueAt not a time", admin, `mutation { createTask(input: {subject: "T", dueAt: "next week"}) { id } }`, nil, "BAD_USER_INPUT", biBugScalar},
		{"dueAt in year 10000", admin, `mutation { createTask(input: {subject: "T", dueAt: "10000-01-01T00:00:00Z"}) { id } }`, nil, "BAD_USER_INPUT", biBugScalar},
		// Custom field values.
		{"custom NUMBER given a string", admin, createDeal(`{name: "C", customFields: {score: "abc"}}`), nil, "BAD_USER_INPUT", nil},
		{"custom NUMBER given a fraction", admin, createDeal(`{name: "C", customFields: {score: 1.5}}`), nil, "BAD_USER_INPUT", nil},
		{"custom NUMBER given a boolean", admin, updateDeal(`{customFields: {score: true}}`), nil, "BAD_USER_INPUT", nil},
		{"custom DATE given an impossible date", admin, createDeal(`{name: "C", customFields: {renewal: "2026-13-01"}}`), nil, "BAD_USER_INPUT", nil},
		{"custom DATE given a number", admin, updateDeal(`{customFields: {renewal: 20260101}}`), nil, "BAD_USER_INPUT", nil},
		{"custom PICKLIST given another value", admin, updateDeal(`{customFields: {tier: "Platinum"}}`), nil, "BAD_USER_INPUT", nil},
		{"unknown custom field", admin, createDeal(`{name: "C", customFields: {nope: 1}}`), nil, "BAD_USER_INPUT", nil},
		{"customFields not an object", admin, createDeal(`{name: "C", customFields: "score=1"}`), nil, "BAD_USER_INPUT", nil},
		{"customFields a list", admin, updateDeal(`{customFields: [1, 2]}`), nil, "BAD_USER_INPUT", nil},
		{"valid and invalid custom values together", admin, updateDeal(`{name: "Renamed", customFields: {score: 4, tier: "Platinum"}}`), nil, "BAD_USER_INPUT", nil},
		// The request itself.
		{"parse error", admin, `{ deals(first: `, nil, "BAD_USER_INPUT", nil},
		{"unknown field", admin, `{ deals(first: 3) { bogus } }`, nil, "BAD_USER_INPUT", nil},
		{"query 13 levels deep", admin, parents(13), nil, "BAD_USER_INPUT", nil},
		{"query 13 levels deep through fragments", admin, `{ deals(first: 1) { ...E } } fragment E on DealConnection { edges { node { owner { role { ...R } } } } }
			fragment R on Role { parent { parent { ... on Role { parent { parent { parent { parent { parent { name } } } } } } } } }`, nil, "BAD_USER_INPUT", nil},
		{"query over the complexity limit", admin, wide.String(), nil, "BAD_USER_INPUT|LIMIT_EXCEEDED", biBugComplexity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := envFor(env, t)
			before := biState(env, dealID)
			r := env.Do(tc.c, tc.query, tc.vars)
			recNoLeak(t, r)
			after := biState(env, dealID)
			if before != after {
				t.Errorf("a refused request changed the database:\nbefore %s\n after %s", before, after)
			}
			codes := r.Codes()
			ok := len(codes) > 0
			for _, c := range codes {
				ok = ok && strings.Contains("|"+tc.code+"|", "|"+c+"|")
			}
			if !ok && tc.bug != nil && ((tc.bug.code == "" && len(codes) == 0) || (len(codes) == 1 && codes[0] == tc.bug.code)) {
				t.Skip(tc.bug.desc)
			}
			if !ok {
				t.Fatalf("want %s, got %+v (HTTP %d, data %s)", tc.code, r.Errors, r.Status, r.Data)
			}
			// A refused field has no data.
			var data map[string]any
			_ = json.Unmarshal(r.Data, &data)
			for k, v := range data {
				if v != nil {
					t.Errorf("refused request returned data %s: %v", k, v)
				}
			}
		})
	}

	t.Run("positive controls", func(t *testing.T) {
		env := envFor(env, t)
		recData(env, admin, parents(12), nil)
		recData(env, admin, dealsQ, obj{"first": 100})
		recData(env, admin, dealsQ, obj{"first": 1})
		recData(env, admin, deep(5), nil)
		recData(env, admin, manyConds(50), nil)
		recData(env, admin, updateDeal(`{customFields: {score: 5, tier: "Silver"}}`), nil)
		recData(env, admin, `mutation($in: CreateDealInput!) { createDeal(input: $in) { id } }`, obj{"in": obj{"name": "Edge", "probability": 100, "amount": 9.99e15}})
		recData(env, admin, `mutation { createDeal(input: {name: "Edge", probability: 0}) { id } }`, nil)
	})

	t.Run("login tells a wrong password from an unknown email by nothing", func(t *testing.T) {
		env := envFor(env, t)
		wrong := env.Fails(anon, "UNAUTHENTICATED", login, obj{"e": "badin-admin@example.com", "p": "wrong horse battery"})
		unknown := env.Fails(anon, "UNAUTHENTICATED", login, obj{"e": "nobody@example.com", "p": "wrong horse battery"})
		if wrong.Errors[0].Message != unknown.Errors[0].Message || wrong.Status != unknown.Status {
			t.Errorf("wrong password: %d %q; unknown email: %d %q", wrong.Status, wrong.Errors[0].Message, unknown.Status, unknown.Errors[0].Message)
		}
		if string(wrong.Data) != string(unknown.Data) {
			t.Errorf("data differs: %s vs %s", wrong.Data, unknown.Data)
		}
		// The right password still works, in any case of the email.
		recData(env, anon, login, obj{"e": "BADIN-ADMIN@example.com", "p": apitest.Password})
	})

	t.Run("zero time", func(t *testing.T) {
		env := envFor(env, t)
		r := env.Do(admin, `mutation { createTask(input: {subject: "Zero", dueAt: "0001-01-01T00:00:00Z"}) { id dueAt } }`, nil)
		recNoLeak(t, r)
		if len(r.Errors) > 0 {
			if r.Codes()[0] != "BAD_USER_INPUT" {
				t.Errorf("zero dueAt: %v", r.Errors)
			}
			return
		}
		var d obj
		_ = json.Unmarshal(r.Data, &d)
		if recPath(d, "createTask", "dueAt") == nil {
			t.Skip(biBugZeroTime.desc)
		}
		if !recSameValue(t, "0001-01-01T00:00:00Z", recPath(d, "createTask", "dueAt")) {
			t.Errorf("zero dueAt read back as %v", recPath(d, "createTask", "dueAt"))
		}
	})
}

// biPost sends a raw request to /graphql.
func biPost(t *testing.T, env *apitest.Env, method, contentType string, body io.Reader, c apitest.Caller, query string) (int, http.Header, []byte) {
	t.Helper()
	url := env.Server.URL + "/graphql" + query
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.Org != "" {
		req.Header.Set("X-Org-ID", c.Org)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// biJSONError decodes a JSON error response and checks it is one.
func biJSONError(t *testing.T, b []byte) *apitest.Response {
	t.Helper()
	var r apitest.Response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("not a JSON response: %v: %.200s", err, b)
	}
	if len(r.Errors) == 0 {
		t.Fatalf("no errors in %.200s", b)
	}
	recNoLeak(t, &r)
	return &r
}

// biOnlyReader hides a reader's length, so the request is sent chunked.
type biOnlyReader struct{ io.Reader }

func TestBadInputTransport(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	admin, _ := recSignupOrg(env, "transport-admin@example.com", "Tess Transport", "Transport Org")
	big, _ := json.Marshal(obj{"query": `mutation($n: String!) { createDeal(input: {name: $n}) { id } }`,
		"variables": obj{"n": strings.Repeat("x", 1<<20)}})

	t.Run("body over 1 MiB with Content-Length", func(t *testing.T) {
		n := recCount(envFor(env, t), "deals")
		status, h, b := biPost(t, env, http.MethodPost, "application/json", bytes.NewReader(big), admin, "")
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("HTTP %d, want 413", status)
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Errorf("Content-Type %q", h.Get("Content-Type"))
		}
		biJSONError(t, b)
		if recCount(envFor(env, t), "deals") != n {
			t.Errorf("an oversized request wrote")
		}
	})

	t.Run("body over 1 MiB sent chunked", func(t *testing.T) {
		n := recCount(envFor(env, t), "deals")
		status, _, b := biPost(t, env, http.MethodPost, "application/json", biOnlyReader{bytes.NewReader(big)}, admin, "")
		r := biJSONError(t, b)
		if recCount(envFor(env, t), "deals") != n {
			t.Errorf("an oversized request wrote")
		}
		if status != http.StatusRequestEntityTooLarge {
			t.Skipf("BUG: api/handler.go limitBody answers 413 only when Content-Length announces the size; a chunked body "+
				"over 1 MiB is cut by http.MaxBytesReader and gqlgen answers HTTP %d with %q instead of HTTP 413", status, r.Errors[0].Message)
		}
	})

	t.Run("body under the limit is served", func(t *testing.T) {
		small, _ := json.Marshal(obj{"query": `query($n: ID!) { viewer { user { name } } org(id: $n) { id } }`, "variables": obj{"n": strings.Repeat("x", 1<<19)}})
		status, _, b := biPost(t, env, http.MethodPost, "application/json", bytes.NewReader(small), admin, "")
		if status != http.StatusOK || !strings.Contains(string(b), "Tess Transport") {
			t.Errorf("HTTP %d: %.200s", status, b)
		}
	})

	t.Run("malformed JSON body", func(t *testing.T) {
		status, _, b := biPost(t, env, http.MethodPost, "application/json", strings.NewReader(`{"query": `), admin, "")
		r := biJSONError(t, b)
		if status != http.StatusBadRequest && status != http.StatusOK {
			t.Errorf("HTTP %d", status)
		}
		if c := r.Errors[0].Code(); c != "BAD_USER_INPUT" {
			t.Errorf("code %q, want BAD_USER_INPUT", c)
		}
	})

	t.Run("mutation over GET", func(t *testing.T) {
		n := recCount(envFor(env, t), "deals")
		status, _, b := biPost(t, env, http.MethodGet, "", nil, admin, `?query=`+strings.ReplaceAll(`mutation{createDeal(input:{name:"Via GET"}){id}}`, " ", "%20"))
		var r apitest.Response
		if err := json.Unmarshal(b, &r); err != nil || len(r.Errors) == 0 {
			t.Fatalf("HTTP %d: %.200s", status, b)
		}
		if recCount(envFor(env, t), "deals") != n {
			t.Errorf("a mutation over GET wrote")
		}
		if r.Errors[0].Code() == "" {
			t.Skipf("BUG: a mutation sent over GET is refused by gqlgen's GET transport (HTTP %d %q) without "+
				"extensions.code, which api.md requires on every error", status, r.Errors[0].Message)
		}
		recNoLeak(t, &r)
	})

	t.Run("query over GET", func(t *testing.T) {
		status, _, b := biPost(t, env, http.MethodGet, "", nil, admin, `?query=%7Bdeals(first%3A1)%7BtotalCount%7D%7D`)
		if status != http.StatusOK || !strings.Contains(string(b), `"totalCount":0`) {
			t.Errorf("HTTP %d: %.200s", status, b)
		}
	})

	t.Run("unsupported content type", func(t *testing.T) {
		status, _, b := biPost(t, env, http.MethodPost, "text/plain", strings.NewReader(`{"query": "{ viewer { user { id } } }"}`), admin, "")
		var r apitest.Response
		if err := json.Unmarshal(b, &r); err != nil || len(r.Errors) == 0 {
			t.Fatalf("HTTP %d: %.200s", status, b)
		}
		if r.Errors[0].Code() == "" {
			t.Skipf("BUG: a POST with an unsupported Content-Type is refused by gqlgen (HTTP %d %q) without extensions.code, "+
				"which api.md requires on every error", status, r.Errors[0].Message)
		}
		recNoLeak(t, &r)
	})
}
