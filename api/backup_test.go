package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/api/apitest"
	"warden/db/dbtest"
	"warden/demo"
)

// The backup and restore procedure of the README, run as documented:
// scripts/backup.sh and scripts/restore.sh against a real database.

var backupTables = []string{"users", "orgs", "profiles", "roles", "members", "groups", "group_members",
	"module_sharing", "sharing_rules", "record_shares", "custom_field_definitions", "field_permissions",
	"accounts", "contacts", "leads", "deals", "tasks", "audit_log", "security_changes", "org_security"}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Postgres client tools come with the README's set-up)", tool)
		}
	}
}

// tableDigests is one digest per table of every row's content.
func tableDigests(t *testing.T, conn *sqlx.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range backupTables {
		var digest string
		q := fmt.Sprintf(`SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM %s t`, table)
		if err := conn.Get(&digest, q); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out[table] = digest
	}
	return out
}

// accessView is what each demo user sees: per org and module, the ids of
// the records visible to them (every page) and the totalCount.
func accessView(t *testing.T, env *apitest.Env) map[string][]string {
	t.Helper()
	view := map[string][]string{}
	emails := []string{demo.OwnerEmail, "dan@acme.example", "mia@acme.example", "max@acme.example",
		"rita@acme.example", "ravi@acme.example", "rosa@acme.example"}
	for _, email := range emails {
		var login struct {
			Login struct {
				Token  string
				Viewer struct{ Orgs []struct{ ID string } }
			}
		}
		env.Must(apitest.Caller{}, `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token viewer { orgs { id } } } }`,
			map[string]any{"e": email, "p": demo.Password}, &login)
		for _, org := range login.Login.Viewer.Orgs {
			caller := apitest.Caller{Token: login.Login.Token, Org: org.ID}
			for _, module := range []string{"leads", "contacts", "accounts", "deals", "tasks"} {
				key := email + " " + org.ID + " " + module
				after := any(nil)
				for {
					var page map[string]struct {
						TotalCount int
						PageInfo   struct {
							HasNextPage bool
							EndCursor   string
						}
						Edges []struct{ Node struct{ ID string } }
					}
					env.Must(caller, fmt.Sprintf(`query($a: String) { %s(first: 100, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }`, module),
						map[string]any{"a": after}, &page)
					p := page[module]
					for _, e := range p.Edges {
						view[key] = append(view[key], e.Node.ID)
					}
					if !p.PageInfo.HasNextPage {
						view[key] = append(view[key], fmt.Sprintf("total=%d", p.TotalCount))
						break
					}
					after = p.PageInfo.EndCursor
				}
				sort.Strings(view[key])
			}
		}
	}
	return view
}

func runScript(t *testing.T, env []string, script string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join("..", "scripts", script), args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

func TestBackupAndRestoreKeepEveryRecordAndGrant(t *testing.T) {
	requireTools(t, "pg_dump", "pg_restore", "redis-cli")
	ctx := context.Background()
	dsn, conn := dbtest.NewDatabase(t)
	if _, err := demo.Seed(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var dbName string
	if err := conn.Get(&dbName, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	scriptEnv := []string{"DATABASE_URL=" + dsn, "REDIS_URL=" + dbtest.RedisURL(), "REDIS_PREFIX=test:" + dbName + ":"}
	serve := func() *apitest.Env {
		env := &apitest.Env{T: t, DB: conn, Counted: conn}
		env.Server = httptest.NewServer(apitest.NewHandler(t, conn))
		t.Cleanup(env.Server.Close)
		return env
	}

	first := serve()
	wantView, wantTables := accessView(t, first), tableDigests(t, conn)
	dump := filepath.Join(t.TempDir(), "warden.dump")
	runScript(t, scriptEnv, "backup.sh", dump)

	// Life goes on after the backup: a grant to a rep, a deleted record.
	rita := loginDemo(t, first, "rita@acme.example")
	owner := loginDemo(t, first, demo.OwnerEmail)
	hidden := firstInvisibleDeal(t, first, owner, rita)
	first.Must(owner, `mutation($ids: [ID!]!, $p: ID!) { shareRecords(module: DEALS, recordIds: $ids, shares: [{principal: {type: USER, id: $p}, access: READ_ONLY}]) { access } }`,
		map[string]any{"ids": []string{hidden}, "p": memberIDOf(t, first, rita)}, nil)
	var deleted struct {
		Leads struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	first.Must(owner, `{ leads(first: 1) { edges { node { id } } } }`, nil, &deleted)
	first.Must(owner, `mutation($id: ID!) { deleteLead(id: $id) }`, map[string]any{"id": deleted.Leads.Edges[0].Node.ID}, nil)
	if reflect.DeepEqual(accessView(t, serve()), wantView) {
		t.Fatalf("the changes after the backup changed nothing anyone sees: the test would prove nothing")
	}

	first.Server.Close() // the README: stop the instances, restore, start them
	runScript(t, scriptEnv, "restore.sh", dump)
	restored := serve()
	if got := tableDigests(t, conn); !reflect.DeepEqual(got, wantTables) {
		for _, table := range backupTables {
			if got[table] != wantTables[table] {
				t.Errorf("table %s differs after the restore", table)
			}
		}
	}
	if got := accessView(t, restored); !reflect.DeepEqual(got, wantView) {
		for k, v := range wantView {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("%s: after the restore sees %d entries, before the backup %d", k, len(got[k]), len(v))
			}
		}
		t.Fatalf("access after the restore differs from access at the backup")
	}
}

func loginDemo(t *testing.T, env *apitest.Env, email string) apitest.Caller {
	t.Helper()
	var out struct {
		Login struct {
			Token  string
			Viewer struct{ ActiveOrg struct{ ID string } }
		}
	}
	env.Must(apitest.Caller{}, `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token viewer { activeOrg { id } } } }`,
		map[string]any{"e": email, "p": demo.Password}, &out)
	return apitest.Caller{Token: out.Login.Token, Org: out.Login.Viewer.ActiveOrg.ID}
}

func memberIDOf(t *testing.T, env *apitest.Env, c apitest.Caller) string {
	t.Helper()
	var out struct {
		Viewer struct{ Member struct{ ID string } }
	}
	env.Must(c, `{ viewer { member { id } } }`, nil, &out)
	return out.Viewer.Member.ID
}

// firstInvisibleDeal is a deal the owner sees and the other caller does not.
func firstInvisibleDeal(t *testing.T, env *apitest.Env, owner, other apitest.Caller) string {
	t.Helper()
	var all struct {
		Deals struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	env.Must(owner, `{ deals(first: 100) { edges { node { id } } } }`, nil, &all)
	for _, e := range all.Deals.Edges {
		var one struct{ Deal *struct{ ID string } }
		env.Must(other, `query($id: ID!) { deal(id: $id) { id } }`, map[string]any{"id": e.Node.ID}, &one)
		if one.Deal == nil {
			return e.Node.ID
		}
	}
	t.Fatalf("%s sees every deal", strings.TrimSpace(other.Org))
	return ""
}

// Restoring the database but forgetting to flush Redis must not serve the
// grants of the lost future: the Redis copy of an org's access state names
// the change it was taken at, and a copy the database does not know is
// discarded.
func TestRestoreWithoutFlushingRedisServesNoStaleGrant(t *testing.T) {
	requireTools(t, "pg_dump", "pg_restore")
	ctx := context.Background()
	dsn, conn := dbtest.NewDatabase(t)
	if _, err := demo.Seed(ctx, conn); err != nil {
		t.Fatal(err)
	}
	serve := func() *apitest.Env {
		env := &apitest.Env{T: t, DB: conn, Counted: conn}
		env.Server = httptest.NewServer(apitest.NewHandler(t, conn))
		t.Cleanup(env.Server.Close)
		return env
	}
	a := serve()
	owner := loginDemo(t, a, demo.OwnerEmail)
	rita := loginDemo(t, a, "rita@acme.example")
	hidden := firstInvisibleDeal(t, a, owner, rita)
	dump := filepath.Join(t.TempDir(), "warden.dump")
	runScript(t, []string{"DATABASE_URL=" + dsn}, "backup.sh", dump)

	a.Must(owner, `mutation($ids: [ID!]!, $p: ID!) { shareRecords(module: DEALS, recordIds: $ids, shares: [{principal: {type: USER, id: $p}, access: READ_ONLY}]) { access } }`,
		map[string]any{"ids": []string{hidden}, "p": memberIDOf(t, a, rita)}, nil)
	// A fresh instance builds the org from Postgres and leaves its copy,
	// grant included, in Redis.
	var dbName string
	if err := conn.Get(&dbName, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	flushPrefix(t, "test:"+dbName+":")
	b := serve()
	sees := func(env *apitest.Env) bool {
		var one struct{ Deal *struct{ ID string } }
		env.Must(rita, `query($id: ID!) { deal(id: $id) { id } }`, map[string]any{"id": hidden}, &one)
		return one.Deal != nil
	}
	if !sees(b) {
		t.Fatalf("the share did not take effect")
	}
	waitForKeys(t, "test:"+dbName+":") // the copy is written in the background
	a.Server.Close()
	b.Server.Close()

	cmd := exec.Command("pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--dbname", dsn, dump)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	if sees(serve()) {
		t.Fatalf("after the restore (database behind the Redis copy) a fresh instance served the lost grant")
	}
	// The database moves on to the very version the stale copy has, with
	// other content: still not served.
	var orgKey int64
	if err := conn.Get(&orgKey, `SELECT id FROM orgs WHERE name = 'Acme Corp'`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(`WITH v AS (UPDATE org_security SET version = version + 1 WHERE org_id = $1 RETURNING version)
		INSERT INTO security_changes (org_id, version, kind, payload) SELECT $1, version, 'org', '{}' FROM v`, orgKey); err != nil {
		t.Fatal(err)
	}
	if sees(serve()) {
		t.Fatalf("after the restore and a new change at the copy's version, a fresh instance served the lost grant")
	}
}

func flushPrefix(t *testing.T, prefix string) {
	t.Helper()
	out, err := exec.Command("redis-cli", "-u", dbtest.RedisURL(), "--scan", "--pattern", prefix+"*").Output()
	if err != nil {
		t.Fatalf("redis-cli: %v", err)
	}
	for _, key := range strings.Fields(string(out)) {
		if err := exec.Command("redis-cli", "-u", dbtest.RedisURL(), "del", key).Run(); err != nil {
			t.Fatal(err)
		}
	}
}

func waitForKeys(t *testing.T, prefix string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, err := exec.Command("redis-cli", "-u", dbtest.RedisURL(), "--scan", "--pattern", prefix+"org:*:state").Output()
		if err == nil && len(strings.Fields(string(out))) > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no org state copy appeared in Redis under %s", prefix)
}
