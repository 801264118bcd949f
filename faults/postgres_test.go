package faults

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// TestPostgresRestartUnderLoad stops Postgres (fast shutdown: sessions
// terminated) under load and starts it again. While it is down every request
// fails at once with INTERNAL and extensions.retryable = true (HTTP 503 when
// the session check itself fails), none hangs until the request timeout;
// once it is back the same Warden processes answer again, and no write is
// half done.
func TestPostgresRestartUnderLoad(t *testing.T) {
	clients, phase := scale()
	pg, rd := startPostgres(t), startRedis(t)
	dbURL := pg.createDB(t, "warden")
	a := startWarden(t, "A", dbURL, rd.url(), "faults:")
	b := startWarden(t, "B", dbURL, rd.url(), "faults:")
	o := setupOrg(t, a.graphqlURL(), dbURL)

	l := startLoad(o, clients, loadOptions{}, a, b)
	t0 := l.started
	time.Sleep(phase)
	t1 := time.Now()
	if err := pg.stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	time.Sleep(phase)
	t2 := time.Now()
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	time.Sleep(phase)
	t3 := time.Now()
	results := l.stop()

	names := []string{"before", "stopping", "down", "starting", "after"}
	stats := phases(results, names, []time.Time{t0, t1, down, t2, up, t3})
	// Requests that ended before the stop began all succeeded (those in
	// flight when it began are the fault's).
	var beforeN, beforeOK int
	for _, r := range results {
		if r.start.Add(r.lat).Before(t1) {
			beforeN++
			if r.outcome == outOK {
				beforeOK++
			}
		}
	}
	if beforeN == 0 || beforeOK != beforeN {
		t.Errorf("before the stop: %d of %d requests succeeded", beforeOK, beforeN)
	}
	for _, s := range stats {
		if s.Errors+s.Dropped > 0 {
			t.Errorf("%s: %d requests failed without a retryable error and %d got no response (first errors: %v)",
				s.Name, s.Errors, s.Dropped, s.FirstErrors)
		}
	}
	// While Postgres is down, requests fail fast instead of hanging until
	// the 30 s request timeout (the bound leaves a wide margin on both
	// sides). Requests in flight or queued when it went down are the
	// load's, and may have waited before it.
	if s := stats[2]; s.FailMax > 5000 {
		t.Errorf("%s: a failed request took %.0f ms; want it to fail fast", s.Name, s.FailMax)
	}
	if stats[2].Retryable == 0 {
		t.Error("no request failed while Postgres was down: was it down?")
	}

	// Recovery without restarting Warden: after the first success on
	// each instance once Postgres is back, everything succeeds.
	after := []result{}
	for _, r := range results {
		if !r.start.Before(up) {
			after = append(after, r)
		}
	}
	sort.Slice(after, func(i, j int) bool { return after[i].start.Before(after[j].start) })
	recovered := time.Time{}
	lastFailure := time.Time{}
	for _, r := range after {
		if r.outcome == outOK && recovered.IsZero() {
			recovered = r.start.Add(r.lat)
		}
		if r.outcome != outOK {
			lastFailure = r.start
		}
	}
	if recovered.IsZero() {
		t.Fatal("no request succeeded after Postgres came back")
	}
	var settled, settledOK int
	for _, r := range after {
		if r.start.After(lastFailure) {
			settled++
			if r.outcome == outOK {
				settledOK++
			}
		}
	}
	if settled == 0 || !lastFailure.Before(t3.Add(-phase/2)) {
		t.Errorf("requests still failed %.1f s after Postgres came back (last failure at +%.1f s)",
			t3.Sub(up).Seconds(), lastFailure.Sub(up).Seconds())
	}
	okCreates, inDB := checkWrites(t, o, results)

	lastFailureAfter := "none"
	if !lastFailure.IsZero() {
		lastFailureAfter = fmt.Sprintf("+%.0f ms", float64(lastFailure.Sub(up).Microseconds())/1000)
	}
	report(t, "Postgres stopped (pg_ctl stop -m fast) and started", clients, stats,
		fmt.Sprintf("Phases count requests by when they started: the failures under before were in flight when the stop began. The %d requests that ended before it all succeeded.", beforeN),
		fmt.Sprintf("Postgres took %.0f ms to stop and was down %.1f s; start took %.0f ms. After it was up, the first request succeeded at +%.0f ms and the last failure started at %s; the %d requests after it all succeeded.",
			float64(down.Sub(t1).Milliseconds()), t2.Sub(down).Seconds(), float64(up.Sub(t2).Milliseconds()),
			float64(recovered.Sub(up).Microseconds())/1000, lastFailureAfter, settled),
		fmt.Sprintf("Writes: %d createDeal answered ok, %d load deals in the database, each with its audit entry.", okCreates, inDB))
}
