// Package bench owns `warden bench`: it generates a large seeded org in bulk
// and measures secured requests against the administrator's through the
// real HTTP endpoint, writing the report to bench-results/.
//
//	make bench SIZE=S    # 2,000 members, 200,000 deals
//	make bench SIZE=M    # 10,000 members, 1,000,000 deals
//
// A run drops and recreates the database warden_bench_<size> next to
// DATABASE_URL's, loads the org with COPY, serves it from two in-process
// instances (A and B, one Redis prefix unique to the run) on loopback
// ports, and measures Q1-Q7 (see the report's notes for the exact
// definitions). It writes bench-results/<size>.json, <size>.md and the CPU
// profile <size>-leaf-q1.cpu.pprof.
//
// TestBenchSmall runs the same pipeline on a tiny org (size T) in `make
// test`; bench_test.go holds Go benchmarks (BenchmarkFirstPage,
// BenchmarkRoleMoveToVisible) on the S org when WARDEN_BENCH_SIZE=S.
package bench
