package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"warden/api"
	"warden/api/apitest"
	"warden/db/dbtest"
	"warden/ratelimit"
	"warden/resolvers"
)

// newHardenedEnv is a server whose handler dependencies adjust changes.
func newHardenedEnv(t *testing.T, adjust func(*api.Deps)) *apitest.Env {
	t.Helper()
	_, conn := dbtest.NewDatabase(t)
	e := &apitest.Env{T: t, DB: conn, Counted: conn}
	e.Server = httptest.NewServer(apitest.NewHandlerWithDeps(t, conn, dbtest.RedisURL(), nil, adjust))
	t.Cleanup(e.Server.Close)
	return e
}

func TestHostileQueriesAreRefusedWithTheirCode(t *testing.T) {
	env := newHardenedEnv(t, func(d *api.Deps) {
		d.Limits.MaxAliases, d.Limits.MaxFields, d.Limits.MaxTokens = 5, 40, 400
	})
	owner := env.CreateOrg(env.Signup("owner@hostile.test", "Owner"), "Hostile Inc")
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			b.WriteString(" a" + strconv.Itoa(i) + ": viewer { user { id } }")
		}
		b.WriteString(" }")
		return b.String()
	}
	// A fragment spread many times counts every time it is spread.
	spreads := "fragment F on Viewer { user { id email name } orgs { id name } } { " +
		strings.Repeat("viewer { ...F } ", 1) + "a: viewer { ...F } b: viewer { ...F } c: viewer { ...F } d: viewer { ...F } e: viewer { ...F } }"
	cases := []struct {
		name, query, code, hint string
	}{
		{"aliases within the limit", aliases(5), "", ""},
		{"too many aliases", aliases(6), "LIMIT_EXCEEDED", "aliases"},
		{"too many fields through fragments", spreads, "LIMIT_EXCEEDED", "fields"},
		{"too many tokens", "{ viewer { user { id " + strings.Repeat("__typename ", 400) + "} } }", "", "token"},
		{"too deep", "{ viewer { activeOrg { member { role { parent { parent { parent { parent { parent { parent { parent { parent { id } } } } } } } } } } } } }", "BAD_USER_INPUT", "deep"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.Do(owner, c.query, nil)
			if c.hint == "" {
				if len(r.Errors) > 0 {
					t.Fatalf("refused: %+v", r.Errors)
				}
				return
			}
			if len(r.Errors) == 0 {
				t.Fatalf("accepted, want a refusal mentioning %q", c.hint)
			}
			if c.code != "" && r.Errors[0].Code() != c.code {
				t.Fatalf("code %s, want %s (%s)", r.Errors[0].Code(), c.code, r.Errors[0].Message)
			}
			if r.Errors[0].Code() == "" || !strings.Contains(strings.ToLower(r.Errors[0].Message), c.hint) {
				t.Fatalf("error %+v does not tell the client what to change (want a code and %q)", r.Errors[0], c.hint)
			}
			if r.Data != nil && string(r.Data) != "null" {
				t.Fatalf("a refused operation returned data: %s", r.Data)
			}
		})
	}
}

func TestIntrospectionInProductionIsForAdministratorsOnly(t *testing.T) {
	prod := newHardenedEnv(t, func(d *api.Deps) { d.Production = true })
	owner := prod.CreateOrg(prod.Signup("admin@prod.test", "Admin"), "Prod Inc")
	rep := prod.Signup("rep@prod.test", "Rep")
	prod.AddMember(owner.Org, rep, "Rep", "CEO", false)
	dev := newHardenedEnv(t, nil)
	devRep := dev.Signup("rep@dev.test", "Rep")

	const introspect = `{ __schema { queryType { name } } }`
	cases := []struct {
		name    string
		env     *apitest.Env
		caller  apitest.Caller
		allowed bool
	}{
		{"production administrator", prod, owner, true},
		{"production rep", prod, rep.In(owner.Org), false},
		{"production anonymous", prod, apitest.Caller{}, false},
		{"development member", dev, devRep, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.env.Do(c.caller, introspect, nil)
			got := len(r.Errors) == 0 && strings.Contains(string(r.Data), `"Query"`)
			if got != c.allowed {
				t.Fatalf("introspection allowed = %v, want %v (%+v)", got, c.allowed, r.Errors)
			}
		})
	}
	// "Did you mean" spells the schema out piecemeal: in production only
	// Administrators get it.
	for _, c := range []struct {
		name    string
		env     *apitest.Env
		caller  apitest.Caller
		suggest bool
	}{
		{"production administrator", prod, owner, true},
		{"production rep", prod, rep.In(owner.Org), false},
		{"production anonymous", prod, apitest.Caller{}, false},
		{"development member", dev, devRep, true},
	} {
		r := c.env.Do(c.caller, `{ viewr { user { id } } }`, nil)
		if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, `Cannot query field "viewr"`) {
			t.Fatalf("%s: %+v, want the unknown field named", c.name, r.Errors)
		}
		if got := strings.Contains(r.Errors[0].Message, "Did you mean"); got != c.suggest {
			t.Errorf("%s: suggestion shown = %v, want %v (%s)", c.name, got, c.suggest, r.Errors[0].Message)
		}
	}
}

func TestRateLimitsPerAddressAndPerUser(t *testing.T) {
	env := newHardenedEnv(t, func(d *api.Deps) {
		d.RateLimits = api.RateLimits{
			PerIP:   ratelimit.Rate{PerMinute: 60, Burst: 12},
			PerUser: ratelimit.Rate{PerMinute: 60, Burst: 4},
		}
	})
	alice := env.Signup("alice@limits.test", "Alice") // one request of the address's budget
	var codes []int
	for range 6 {
		codes = append(codes, env.Do(alice, `{ viewer { user { id } } }`, nil).Status)
	}
	want := []int{200, 200, 200, 200, 429, 429}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("per-user statuses %v, want %v", codes, want)
		}
	}
	r := env.Do(alice, `{ viewer { user { id } } }`, nil)
	if r.Status != http.StatusTooManyRequests || len(r.Errors) != 1 || r.Errors[0].Code() != "RATE_LIMITED" ||
		r.Errors[0].Extensions["retryAfterSeconds"] == nil {
		t.Fatalf("a throttled request got %d %+v, want 429 RATE_LIMITED with retryAfterSeconds", r.Status, r.Errors)
	}
	// Anonymous requests from the same address draw on its budget of 12
	// (1 signup + 7 above already spent).
	statuses := map[int]int{}
	for range 6 {
		statuses[env.Do(apitest.Caller{}, `{ __typename }`, nil).Status]++
	}
	if statuses[200] != 4 || statuses[429] != 2 {
		t.Fatalf("per-address statuses %v, want 4 x 200 then 2 x 429", statuses)
	}
	resp, err := http.Post(env.Server.URL+"/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if secs, _ := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != 429 || secs < 1 {
		t.Fatalf("status %d Retry-After %q, want 429 with a Retry-After in seconds", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors 'none'" {
		t.Fatalf("a throttled response lacks the security headers: %v", resp.Header)
	}
}

func TestCORSAllowsOnlyListedOrigins(t *testing.T) {
	env := newHardenedEnv(t, func(d *api.Deps) { d.CORSOrigins = []string{"https://app.example.com"} })
	cases := []struct {
		origin  string
		allowed bool
	}{
		{"https://app.example.com", true},
		{"https://evil.example.net", false},
		{"https://app.example.com.evil.net", false},
	}
	for _, c := range cases {
		t.Run(c.origin, func(t *testing.T) {
			pre, _ := http.NewRequest(http.MethodOptions, env.Server.URL+"/graphql", nil)
			pre.Header.Set("Origin", c.origin)
			pre.Header.Set("Access-Control-Request-Method", "POST")
			pre.Header.Set("Access-Control-Request-Headers", "authorization, content-type, x-org-id")
			resp, err := http.DefaultClient.Do(pre)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("Access-Control-Allow-Origin") == c.origin
			if got != c.allowed {
				t.Fatalf("preflight from %s allowed = %v, want %v", c.origin, got, c.allowed)
			}
			body, _ := json.Marshal(map[string]string{"query": "{ __typename }"})
			req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", bytes.NewReader(body))
			req.Header.Set("Origin", c.origin)
			req.Header.Set("Content-Type", "application/json")
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin") == c.origin; got != c.allowed {
				t.Fatalf("request from %s readable by the page = %v, want %v", c.origin, got, c.allowed)
			}
		})
	}
}

func TestLoginBackOffPerEmail(t *testing.T) {
	policy := ratelimit.LoginPolicy{FreeFailuresPerEmail: 2, FreeFailuresPerIP: 100, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	_, conn := dbtest.NewDatabase(t)
	env := &apitest.Env{T: t, DB: conn, Counted: conn}
	env.Server = httptest.NewServer(apitest.NewHandlerWithDeps(t, conn, dbtest.RedisURL(), func(r *resolvers.Resolver) {
		r.LoginThrottle = ratelimit.NewLoginThrottle(r.Engine.Redis, dbtest.RedisPrefix(), policy, time.Now)
	}, nil))
	t.Cleanup(env.Server.Close)
	env.Signup("guessed@login.test", "Guessed")
	env.Signup("other@login.test", "Other")

	const login = `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }`
	attempt := func(email, password string) *apitest.Response {
		return env.Do(apitest.Caller{}, login, map[string]any{"e": email, "p": password})
	}
	for i, want := range []string{"UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"} {
		r := attempt("guessed@login.test", "wrong password "+strconv.Itoa(i))
		if got := r.Codes(); len(got) != 1 || got[0] != want {
			t.Fatalf("attempt %d: %v, want %s", i+1, got, want)
		}
	}
	r := attempt("GUESSED@login.test", apitest.Password)
	if got := r.Codes(); len(got) != 1 || got[0] != "RATE_LIMITED" {
		t.Fatalf("the right password while throttled: %v, want RATE_LIMITED (no bypass by spelling)", got)
	}
	if secs, _ := r.Errors[0].Extensions["retryAfterSeconds"].(float64); secs < 1 || secs > 60 {
		t.Fatalf("retryAfterSeconds = %v, want the 1-minute back-off", r.Errors[0].Extensions["retryAfterSeconds"])
	}
	// The same answer for an email nobody has: throttling reveals no accounts.
	for range 3 {
		attempt("nobody@login.test", "guess")
	}
	if got := attempt("nobody@login.test", "guess").Codes(); len(got) != 1 || got[0] != "RATE_LIMITED" {
		t.Fatalf("an unknown email is not throttled like a known one: %v", got)
	}
	if r := attempt("other@login.test", apitest.Password); len(r.Errors) != 0 {
		t.Fatalf("another email is throttled: %+v", r.Errors)
	}
}

// A request already over when its operation starts (the client hung up, or
// the request timeout was spent while its session was resolved) still gets
// a GraphQL error with a code: gqlgen alone would skip the operation and
// answer a bare null with 200, which a client cannot tell from nothing.
func TestARequestOverBeforeItsOperationAnswersWithACode(t *testing.T) {
	_, conn := dbtest.NewDatabase(t)
	h := apitest.NewHandlerWith(t, conn, "", nil)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelExpired()
	cases := []struct {
		name      string
		ctx       context.Context
		retryable bool
	}{
		{"the client hung up", cancelled, false},
		{"the request timeout is spent", expired, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(c.ctx, http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var got struct {
				Data   json.RawMessage `json:"data"`
				Errors []apitest.Error `json:"errors"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("HTTP %d, body %q: %v", rec.Code, rec.Body.String(), err)
			}
			if len(got.Errors) != 1 {
				t.Fatalf("HTTP %d, body %s: want one error", rec.Code, rec.Body.String())
			}
			e := got.Errors[0]
			if e.Code() != "INTERNAL" {
				t.Errorf("code %q, want INTERNAL (%s)", e.Code(), rec.Body.String())
			}
			if retryable, _ := e.Extensions["retryable"].(bool); retryable != c.retryable {
				t.Errorf("retryable %v, want %v (%s)", retryable, c.retryable, rec.Body.String())
			}
			if strings.Contains(rec.Body.String(), "context") {
				t.Errorf("the answer shows internals: %s", rec.Body.String())
			}
		})
	}
}
