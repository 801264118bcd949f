// Package apitest runs Warden's real HTTP handler against a fresh database
// for tests: sign up, create orgs, and send GraphQL requests as a client would.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"warden/api"
	"warden/auth"
	"warden/cache"
	"warden/db"
	"warden/db/dbtest"
	"warden/records"
	"warden/resolvers"
)

// Env is one Warden server over its own database.
type Env struct {
	T       testing.TB
	DB      *sqlx.DB // for test set-up and checks; not counted
	Server  *httptest.Server
	Counted *sqlx.DB // the server's own pool: its statements are counted
}

// Secret is the token and cursor secret of test servers.
var Secret = []byte("test-secret-test-secret-test-secret!")

// New starts a server on a fresh database.
func New(t testing.TB) *Env {
	t.Helper()
	dsn, conn := dbtest.NewDatabase(t)
	counted, err := sqlx.Open(dbtest.CountingDriverName(), db.ConnString(dsn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = counted.Close() })
	counted.SetMaxOpenConns(16)
	e := &Env{T: t, DB: conn, Counted: counted}
	e.Server = httptest.NewServer(NewHandler(t, counted))
	t.Cleanup(e.Server.Close)
	return e
}

// NewHandler builds the production handler over a connection, as server.go
// does, with the tests' Redis.
func NewHandler(t testing.TB, conn *sqlx.DB) http.Handler {
	return NewHandlerWithRedis(t, conn, dbtest.RedisURL())
}

// NewHandlerWithRedis builds the handler with the Redis at redisURL.
func NewHandlerWithRedis(t testing.TB, conn *sqlx.DB, redisURL string) http.Handler {
	return NewHandlerWith(t, conn, redisURL, nil)
}

// NewHandlerWith builds the handler with the Redis at redisURL; configure,
// when not nil, adjusts the resolver (a clock, single sign-on) before the
// handler is built.
func NewHandlerWith(t testing.TB, conn *sqlx.DB, redisURL string, configure func(*resolvers.Resolver)) http.Handler {
	return NewHandlerWithDeps(t, conn, redisURL, configure, nil)
}

// NewHandlerWithDeps is NewHandlerWith whose handler dependencies (limits,
// production mode, rate limits, CORS) adjust may change before it is built.
func NewHandlerWithDeps(t testing.TB, conn *sqlx.DB, redisURL string, configure func(*resolvers.Resolver), adjust func(*api.Deps)) http.Handler {
	tokens, err := auth.NewIssuer(Secret, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	engine := cache.NewEngine(conn)
	// Instances over one database share one Redis namespace, as production
	// instances of one deployment do; other tests' keys never mix in.
	var dbName string
	if err := conn.Get(&dbName, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	var rdb redis.UniversalClient
	if opt, err := redis.ParseURL(redisURL); err == nil {
		rdb = redis.NewClient(opt)
		t.Cleanup(func() { _ = rdb.Close() })
		engine.Redis, engine.Prefix = rdb, "test:"+dbName+":"
		prefix := engine.Prefix
		t.Cleanup(func() {
			ctx := context.Background()
			keys, _ := rdb.Keys(ctx, prefix+"*").Result()
			if len(keys) > 0 {
				_ = rdb.Del(ctx, keys...).Err()
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go engine.Listen(ctx)
	}
	res := &resolvers.Resolver{DB: conn, Tokens: tokens, Cursors: records.CursorCodec{Secret: Secret}, Engine: engine}
	if configure != nil {
		configure(res)
	}
	deps := api.Deps{Resolver: res, DB: conn, Redis: rdb, Limits: api.DefaultLimits, Playground: true}
	if adjust != nil {
		adjust(&deps)
	}
	return api.NewHandler(deps)
}

// Response is a GraphQL response.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Codes lists the codes of the response's errors.
func (r *Response) Codes() []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.Code())
	}
	return out
}

// Caller is who sends a request: a token and, optionally, an X-Org-ID.
type Caller struct {
	Token string
	Org   string
}

// In is the caller acting in another org.
func (c Caller) In(org string) Caller { c.Org = org; return c }

// Do sends a GraphQL request.
func (e *Env) Do(c Caller, query string, vars map[string]any) *Response {
	e.T.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.Server.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.Org != "" {
		req.Header.Set("X-Org-ID", c.Org)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	out := &Response{Status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		e.T.Fatalf("decode response (status %d): %v", resp.StatusCode, err)
	}
	return out
}

// Must sends a request that must succeed and decodes its data into out.
func (e *Env) Must(c Caller, query string, vars map[string]any, out any) {
	e.T.Helper()
	r := e.Do(c, query, vars)
	if len(r.Errors) > 0 {
		e.T.Fatalf("unexpected errors: %+v\nquery: %s", r.Errors, query)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			e.T.Fatalf("decode data: %v: %s", err, r.Data)
		}
	}
}

// Fails sends a request that must fail with the code, and returns the response.
func (e *Env) Fails(c Caller, code, query string, vars map[string]any) *Response {
	e.T.Helper()
	r := e.Do(c, query, vars)
	for _, got := range r.Codes() {
		if got == code {
			return r
		}
	}
	e.T.Fatalf("want error %s, got %+v (data %s)\nquery: %s", code, r.Errors, r.Data, query)
	return r
}

// Password is every test user's password.
const Password = "correct horse battery"

// Signup registers a user and returns a caller with their token.
func (e *Env) Signup(email, name string) Caller {
	e.T.Helper()
	var out struct {
		Signup struct{ Token string }
	}
	e.Must(Caller{}, `mutation($in: SignupInput!) { signup(input: $in) { token } }`,
		map[string]any{"in": map[string]any{"email": email, "name": name, "password": Password}}, &out)
	return Caller{Token: out.Signup.Token}
}

// CreateOrg creates an org as the caller and returns the caller acting in it.
func (e *Env) CreateOrg(c Caller, name string) Caller {
	e.T.Helper()
	var out struct {
		CreateOrg struct{ ID string }
	}
	e.Must(c, `mutation($name: String!) { createOrg(input: {name: $name}) { id } }`, map[string]any{"name": name}, &out)
	return c.In(out.CreateOrg.ID)
}

// Statements runs fn and returns how many SQL statements the server sent meanwhile.
func (e *Env) Statements(fn func()) int64 {
	before := dbtest.Statements.Load()
	fn()
	return dbtest.Statements.Load() - before
}

// OrgKey is the numeric key of a public org id.
func OrgKey(id string) int64 {
	var n int64
	_, _ = fmt.Sscanf(strings.TrimPrefix(id, "org_"), "%d", &n)
	return n
}

// AddMember adds a user to an org with SQL, as the administration API will:
// role under the given parent role (created by name if new), Standard
// profile unless admin. It bumps the org's security version. It returns the
// member's key.
func (e *Env) AddMember(org string, c Caller, roleName string, parentRole string, admin bool) int64 {
	e.T.Helper()
	ctx := context.Background()
	orgKey := OrgKey(org)
	uid := e.userOf(c)
	tx := e.DB.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	var parent int64
	if err := tx.GetContext(ctx, &parent, `SELECT id FROM roles WHERE org_id = $1 AND name = $2`, orgKey, parentRole); err != nil {
		e.T.Fatalf("parent role %q: %v", parentRole, err)
	}
	var role int64
	if err := tx.GetContext(ctx, &role, `SELECT id FROM roles WHERE org_id = $1 AND name = $2`, orgKey, roleName); err != nil {
		if err := tx.GetContext(ctx, &role, `INSERT INTO roles (org_id, name, parent_id) VALUES ($1, $2, $3) RETURNING id`, orgKey, roleName, parent); err != nil {
			e.T.Fatal(err)
		}
	}
	var profile int64
	if err := tx.GetContext(ctx, &profile, `SELECT id FROM profiles WHERE org_id = $1 AND is_admin = $2 AND (is_admin OR is_standard)`, orgKey, admin); err != nil {
		e.T.Fatal(err)
	}
	var member int64
	if err := tx.GetContext(ctx, &member, `INSERT INTO members (org_id, user_id, role_id, profile_id) VALUES ($1, $2, $3, $4) RETURNING id`,
		orgKey, uid, role, profile); err != nil {
		e.T.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET default_org_id = $2 WHERE id = $1 AND default_org_id IS NULL`, uid, orgKey); err != nil {
		e.T.Fatal(err)
	}
	if err := db.LogSecurityChange(ctx, tx, orgKey, db.ChangeOrg, map[string]any{"member": member}); err != nil {
		e.T.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		e.T.Fatal(err)
	}
	return member
}

func (e *Env) userOf(c Caller) int64 {
	e.T.Helper()
	var out struct {
		Viewer struct{ User struct{ ID string } }
	}
	e.Must(Caller{Token: c.Token}, `{ viewer { user { id } } }`, nil, &out)
	var n int64
	_, _ = fmt.Sscanf(strings.TrimPrefix(out.Viewer.User.ID, "user_"), "%d", &n)
	return n
}
