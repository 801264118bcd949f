// Package faults shows, with a load running, what Warden does on its worst
// day (issue #8 item 3): Redis stopped and restarted, Postgres restarted, an
// instance killed with SIGTERM, and mutations interrupted at every point.
//
// The tests start their own Postgres (initdb/pg_ctl in a temporary
// directory, on a free port, run as a non-root user like
// scripts/services.sh does) and their own Redis (redis-server as a child
// process), build the warden binary and run instances of it as
// subprocesses on loopback ports, so the servers they stop are theirs: the
// shared Postgres and Redis of other tests are never touched. The
// interrupted-mutation test runs the handler in-process over the shared
// Postgres, through a database driver that injects the faults.
//
// The load: each client loops over a mix of reads as a viewer who sees only
// the deals shared with them (a list, one shared deal, checked to be
// there) and writes as the owner (createDeal, updateDeal). A client whose
// instance refuses connections moves to the next instance; in the SIGTERM
// scenario the clients sit behind a balancer that polls /readyz every
// 100 ms, as a deployment's load balancer does, so that the instance's
// drain (SHUTDOWN_DRAIN) moves them before it stops accepting.
//
// `go test ./faults/` runs a short version of each scenario (8 clients, a
// fault of about 2 s). The long version runs with
//
//	WARDEN_FAULTS_LONG=1 WARDEN_FAULTS_SECONDS=60 go test -v -timeout 60m ./faults/
//
// (make faults): 64 clients and phases (before, during, after the fault)
// of WARDEN_FAULTS_SECONDS each. Each scenario logs requests, errors and
// latency percentiles per phase; with WARDEN_FAULTS_REPORT=<file> it also
// appends them to that file as Markdown. The tests skip, saying why, when
// initdb, pg_ctl or redis-server is not installed.
package faults
