package faults

import (
	"fmt"
	"testing"
	"time"
)

// TestSIGTERMUnderLoad sends SIGTERM to the instance every client is using,
// the clients being behind a balancer that polls /readyz: the instance
// drains (readiness fails, connections close after their response) so the
// clients move to the other instance, the requests it had accepted all
// complete with their answer, the process exits cleanly, and every write is
// whole (the deal with its audit entry) or absent.
func TestSIGTERMUnderLoad(t *testing.T) {
	clients, phase := scale()
	pg, rd := startPostgres(t), startRedis(t)
	dbURL := pg.createDB(t, "warden")
	a := startWarden(t, "A", dbURL, rd.url(), "faults:")
	b := startWarden(t, "B", dbURL, rd.url(), "faults:")
	o := setupOrg(t, b.graphqlURL(), dbURL)

	l := startLoad(o, clients, loadOptions{allOnFirst: true, balancer: true}, a, b)
	t0 := l.started
	time.Sleep(phase)
	t1 := time.Now()
	a.sigterm(t)
	t2 := time.Now()
	time.Sleep(phase)
	t3 := time.Now()
	results := l.stop()

	if a.err != nil {
		t.Errorf("warden A after SIGTERM: %v, want a clean exit", a.err)
	}
	stats := phases(results, []string{"before", "shutting down", "after (on B)"}, []time.Time{t0, t1, t2, t3})
	for _, s := range stats {
		if s.Errors+s.Retryable+s.Dropped > 0 {
			t.Errorf("%s: %d errors, %d retryable errors, %d requests without a response (first: %v)",
				s.Name, s.Errors, s.Retryable, s.Dropped, s.FirstErrors)
		}
	}
	if stats[0].Refused > 0 {
		t.Errorf("before SIGTERM: %d requests refused", stats[0].Refused)
	}
	if stats[2].OK == 0 {
		t.Error("no request succeeded on B after A stopped: the clients did not fail over")
	}
	// In flight when the signal was sent: started before it, answered after.
	var inFlight, inFlightOK int
	for _, r := range results {
		if r.start.Before(t1) && r.start.Add(r.lat).After(t1) {
			inFlight++
			if r.outcome == outOK {
				inFlightOK++
			}
		}
	}
	if inFlightOK != inFlight {
		t.Errorf("%d of %d requests in flight at SIGTERM completed successfully", inFlightOK, inFlight)
	}
	okCreates, inDB := checkWrites(t, o, results)
	report(t, "Warden instance A stopped with SIGTERM (all clients on A, behind a balancer polling /readyz every 100 ms; SHUTDOWN_DRAIN 2s)", clients, stats,
		fmt.Sprintf("A exited %.0f ms after SIGTERM (exit error: %v); %d requests were in flight at the signal, %d of them completed with their answer; refused connections are requests A no longer accepted, sent again to B.",
			float64(t2.Sub(t1).Microseconds())/1000, a.err, inFlight, inFlightOK),
		fmt.Sprintf("Writes: %d createDeal answered ok, %d load deals in the database, each with its audit entry.", okCreates, inDB))
}
