package api_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"warden/api/apitest"
	"warden/db"
)

// startRedis runs a private redis-server that the test can kill: the fault
// is real, not simulated.
func startRedis(t *testing.T) (url string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			_ = c.Close()
			return fmt.Sprintf("redis://127.0.0.1:%d/0", port), stop
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return "", nil
}

// With Redis killed mid-test, answers stay correct from Postgres — a revoke
// included — and /readyz reports the degradation.
func TestRedisKilledMidTest(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	redisURL, killRedis := startRedis(t)
	srv := httptest.NewServer(apitest.NewHandlerWithRedis(t, env.Counted, redisURL))
	t.Cleanup(srv.Close)
	viaRedis := &apitest.Env{T: t, DB: env.DB, Server: srv, Counted: env.Counted}

	boss := viaRedis.Signup("boss@example.com", "Boss")
	org := viaRedis.CreateOrg(boss, "O")
	rep := viaRedis.Signup("rep@example.com", "Rep")
	viaRedis.AddMember(org.Org, rep, "Rep", "CEO", false)
	var created struct{ CreateDeal struct{ ID string } }
	viaRedis.Must(org, `mutation { createDeal(input: {name: "Shared"}) { id } }`, nil, &created)
	dealKey := strings.TrimPrefix(created.CreateDeal.ID, "deal_")

	repCount := func() int {
		var out struct{ Deals struct{ TotalCount int } }
		viaRedis.Must(rep.In(org.Org), `{ deals(first: 5) { totalCount } }`, nil, &out)
		return out.Deals.TotalCount
	}
	setShare := func(add bool) {
		ctx := context.Background()
		tx := env.DB.MustBeginTx(ctx, nil)
		var member int64
		if err := tx.Get(&member, `SELECT m.id FROM members m JOIN users u ON u.id = m.user_id WHERE u.email = 'rep@example.com'`); err != nil {
			t.Fatal(err)
		}
		kind := db.ChangeShareRemove
		if add {
			kind = db.ChangeShareAdd
			tx.MustExec(`INSERT INTO record_shares (org_id, module, record_id, principal_type, principal_id, access) VALUES ($1, 'DEALS', $2, 'USER', $3, 'READ_ONLY')`,
				apitest.OrgKey(org.Org), dealKey, member)
		} else {
			tx.MustExec(`DELETE FROM record_shares WHERE org_id = $1 AND record_id = $2`, apitest.OrgKey(org.Org), dealKey)
		}
		var id int64
		fmt.Sscan(dealKey, &id)
		payload := map[string]any{"module": "DEALS", "record": id, "principal": map[string]any{"Type": "USER", "ID": member}, "level": "READ_ONLY"}
		if err := db.LogSecurityChange(ctx, tx, apitest.OrgKey(org.Org), kind, payload); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	readyz := func() string {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("readyz %d: %s", resp.StatusCode, b)
		}
		return string(b)
	}

	if n := repCount(); n != 0 {
		t.Fatalf("before the share: rep sees %d deals", n)
	}
	setShare(true)
	if n := repCount(); n != 1 {
		t.Fatalf("after the share: rep sees %d deals, want 1", n)
	}
	if r := readyz(); !strings.Contains(r, `"redis":"ok"`) {
		t.Fatalf("readyz with Redis up: %s", r)
	}

	killRedis()
	setShare(false)
	if n := repCount(); n != 0 {
		t.Fatalf("revoked while Redis is down: rep still sees %d deals", n)
	}
	setShare(true)
	if n := repCount(); n != 1 {
		t.Fatalf("granted while Redis is down: rep sees %d deals, want 1", n)
	}
	if r := readyz(); !strings.Contains(r, "degraded") {
		t.Fatalf("readyz with Redis down must report the degradation: %s", r)
	}
	// A new instance with Redis down builds the org from Postgres.
	fresh := httptest.NewServer(apitest.NewHandlerWithRedis(t, env.Counted, redisURL))
	t.Cleanup(fresh.Close)
	viaFresh := &apitest.Env{T: t, DB: env.DB, Server: fresh, Counted: env.Counted}
	var out struct{ Deals struct{ TotalCount int } }
	viaFresh.Must(rep.In(org.Org), `{ deals(first: 5) { totalCount } }`, nil, &out)
	if out.Deals.TotalCount != 1 {
		t.Fatalf("fresh instance without Redis: rep sees %d, want 1", out.Deals.TotalCount)
	}
}
