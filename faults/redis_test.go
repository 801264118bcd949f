package faults

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"warden/ids"
)

// TestRedisRestartUnderLoad stops Redis (SIGKILL) under load and starts it
// again: requests keep succeeding from Postgres, a grant revoked while Redis
// is down is served by no instance, and once Redis is back the instances
// use it again without a restart: notifications reach the other instance
// and org state copies are stored and loaded.
func TestRedisRestartUnderLoad(t *testing.T) {
	clients, phase := scale()
	pg, rd := startPostgres(t), startRedis(t)
	dbURL := pg.createDB(t, "warden")
	const prefix = "faults:"
	a := startWarden(t, "A", dbURL, rd.url(), prefix)
	b := startWarden(t, "B", dbURL, rd.url(), prefix)
	o := setupOrg(t, a.graphqlURL(), dbURL)

	// The grant revoked during the outage: visible on both instances
	// first, so each holds an access state in which it is granted.
	var cd struct{ CreateDeal struct{ ID string } }
	mustPost(t, a.graphqlURL(), o.owner, o.id, createDealMut, map[string]any{"in": map[string]any{"name": "revoked while Redis is down"}}, &cd)
	revoked := cd.CreateDeal.ID
	viewer := ids.Encode(ids.Member, o.viewerMember)
	mustPost(t, a.graphqlURL(), o.owner, o.id, shareMut, map[string]any{"ids": []string{revoked}, "p": viewer}, nil)
	for _, w := range []*wardenProc{a, b} {
		if !o.sees(t, w.graphqlURL(), revoked) {
			t.Fatalf("instance %s: the viewer does not see the shared deal before the outage", w.name)
		}
	}
	errorsBefore := a.metrics(t)["warden_access_state_redis_errors_total"]

	l := startLoad(o, clients, loadOptions{}, a, b)
	t0 := l.started
	time.Sleep(phase)
	t1 := time.Now()
	rd.stop()
	time.Sleep(phase / 2)
	// The administrator retries while the answer says to: under a heavy
	// write load the org's lock can be busy past the request timeout.
	revokeTries, revokeTook := postRetrying(t, a.graphqlURL(), o.owner, o.id, revokeMut, map[string]any{"ids": []string{revoked}, "p": viewer})
	for _, w := range []*wardenProc{a, b} {
		if o.sees(t, w.graphqlURL(), revoked) {
			t.Errorf("instance %s serves a grant revoked while Redis is down", w.name)
		}
	}
	time.Sleep(phase / 2)
	if err := rd.start(); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	time.Sleep(phase)
	t3 := time.Now()
	results := l.stop()

	stats := phases(results, []string{"before", "Redis down", "after"}, []time.Time{t0, t1, t2, t3})
	for _, s := range stats {
		if s.OK == 0 || s.OK != s.Requests {
			t.Errorf("%s: %d of %d requests succeeded, want all (first errors: %v)", s.Name, s.OK, s.Requests, s.FirstErrors)
		}
	}
	for _, w := range []*wardenProc{a, b} {
		if o.sees(t, w.graphqlURL(), revoked) {
			t.Errorf("instance %s serves the revoked grant after Redis is back", w.name)
		}
	}
	ma := a.metrics(t)
	if ma["warden_access_state_redis_errors_total"] <= errorsBefore {
		t.Errorf("instance A counted no Redis error during the outage (%v before, %v after): was Redis really down?",
			errorsBefore, ma["warden_access_state_redis_errors_total"])
	}

	// Recovery, with no load and no request to B: an access change on A
	// reaches B through Redis and B catches up in the background.
	catchUps := b.metrics(t)["warden_access_state_catchups_total"]
	errorsAfter := a.metrics(t)["warden_access_state_redis_errors_total"]
	notified := false
	for deadline := time.Now().Add(15 * time.Second); !notified && time.Now().Before(deadline); {
		mustPost(t, a.graphqlURL(), o.owner, o.id, shareMut, map[string]any{"ids": []string{revoked}, "p": viewer}, nil)
		mustPost(t, a.graphqlURL(), o.owner, o.id, revokeMut, map[string]any{"ids": []string{revoked}, "p": viewer}, nil)
		for wait := time.Now().Add(time.Second); time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
			if b.metrics(t)["warden_access_state_catchups_total"] > catchUps {
				notified = true
				break
			}
		}
	}
	if !notified {
		t.Error("after Redis came back, B never caught up from a notification: its subscription did not recover")
	}
	if got := a.metrics(t)["warden_access_state_redis_errors_total"]; got != errorsAfter {
		t.Errorf("A's Redis errors went on after Redis came back: %v -> %v", errorsAfter, got)
	}

	// A new instance builds the org from Postgres and stores its copy in
	// the restarted Redis; the next new instance loads that copy.
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rd.port)})
	defer rdb.Close()
	c := startWarden(t, "C", dbURL, rd.url(), prefix)
	o.sees(t, c.graphqlURL(), o.shared[0])
	key := prefix + "org:" + strconv.FormatInt(o.key, 10) + ":state"
	stored := false
	for deadline := time.Now().Add(10 * time.Second); !stored && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		n, err := rdb.Exists(context.Background(), key).Result()
		stored = err == nil && n == 1
	}
	if !stored {
		t.Errorf("instance C did not store the org's state in Redis (%s)", key)
	}
	d := startWarden(t, "D", dbURL, rd.url(), prefix)
	if !o.sees(t, d.graphqlURL(), o.shared[0]) || o.sees(t, d.graphqlURL(), revoked) {
		t.Error("instance D, warmed from Redis, answers wrongly")
	}
	md := d.metrics(t)
	if md["warden_access_state_redis_hits_total"] != 1 || md["warden_access_state_builds_total"] != 0 {
		t.Errorf("instance D: Redis hits %v, builds %v; want the org loaded from Redis (1 hit, no build)",
			md["warden_access_state_redis_hits_total"], md["warden_access_state_builds_total"])
	}

	report(t, "Redis stopped (SIGKILL) and restarted", clients, stats,
		fmt.Sprintf("The revocation during the outage took %d tries and %.0f ms; right after it neither A nor B served the revoked deal to the viewer.", revokeTries, float64(revokeTook.Microseconds())/1000),
		fmt.Sprintf("A's warden_access_state_redis_errors_total: %v before the outage, %v after it; B caught up from a notification after Redis returned: %v; instance D loaded the org from the restarted Redis: hits %v, builds %v.",
			errorsBefore, errorsAfter, notified, md["warden_access_state_redis_hits_total"], md["warden_access_state_builds_total"]))
}
