package bench

import (
	"context"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/db/dbtest"
)

// Go benchmarks of the access engine through the real HTTP handler. They
// build one org per process: size S when WARDEN_BENCH_SIZE=S (2,000
// members, 200,000 deals; M works too), else the tiny org T, so that
//
//	go test -bench . -benchtime 1x ./bench/
//
// stays fast in CI. For real figures:
//
//	WARDEN_BENCH_SIZE=S go test -run '^$' -bench . -benchtime 200x ./bench/

var (
	goBenchOnce    sync.Once
	goBenchEnv     *env
	goBenchErr     error
	goBenchRestore = func() {}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if goBenchEnv != nil {
		goBenchEnv.close(true)
	}
	goBenchRestore()
	os.Exit(code)
}

func benchEnv(b *testing.B) *env {
	b.Helper()
	goBenchOnce.Do(func() {
		size := "T"
		if s := strings.TrimSpace(os.Getenv("WARDEN_BENCH_SIZE")); s != "" {
			size = s
		}
		spec, err := specFor(size)
		if err != nil {
			goBenchErr = err
			return
		}
		goBenchRestore = quietServerLog(os.Stderr)
		opt := Options{Size: spec.Name, DatabaseURL: dbtest.AdminURL(), RedisURL: dbtest.RedisURL(),
			DBName: dbtest.RandomName("warden_gobench_" + strings.ToLower(spec.Name) + "_"), Progress: os.Stderr}
		goBenchEnv, goBenchErr = setup(context.Background(), nil, opt, spec)
	})
	if goBenchErr != nil {
		b.Fatal(goBenchErr)
	}
	return goBenchEnv
}

// firstPage sends Q1 (first page of 50 deals by updatedAt) as v to instance A.
func (e *env) firstPage(ctx context.Context, v *viewer) error {
	resp, err := e.client.do(ctx, e.a.url, v.Token, e.orgID, q1Req)
	if err != nil {
		return err
	}
	return resp.err()
}

// BenchmarkFirstPage: Q1 for each probe viewer. Each iteration also sends
// the same request as the administrator (untimed) and the sub-benchmark
// reports its time relative to that as x_unsecured; "unsecured" is the
// administrator's request itself (no access filtering: the physical limit).
// cpu_ms/op is the process's CPU time (user+system, server and client,
// which share the process) spent during the timed requests, allocs/op and
// B/op their allocations: on a busy machine these vary less than the times.
func BenchmarkFirstPage(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	for _, name := range []string{"admin", "top", "mid", "leaf", "unsecured"} {
		b.Run(name, func(b *testing.B) {
			v := e.viewer(name)
			if name == "unsecured" {
				v = e.admin
			}
			vs, err := e.visibleSet(ctx, v.Member)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if err := e.firstPage(ctx, v); err != nil {
					b.Fatal(err)
				}
			}
			var base, cpu time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c0 := cpuTime()
				if err := e.firstPage(ctx, v); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
				if name == "unsecured" {
					continue
				}
				b.StopTimer()
				t0 := time.Now()
				if err := e.firstPage(ctx, e.admin); err != nil {
					b.Fatal(err)
				}
				base += time.Since(t0)
				b.StartTimer()
			}
			if name != "unsecured" && base > 0 {
				b.ReportMetric(float64(b.Elapsed())/float64(base), "x_unsecured")
			}
			visible := float64(len(e.gen.DealIDs))
			if !vs.All {
				visible = float64(vs.IDs.GetCardinality())
			}
			b.ReportMetric(visible, "visible")
			b.ReportMetric(ms(cpu)/float64(b.N), "cpu_ms/op")
		})
	}
}

var (
	changeOnce  sync.Once
	changeKinds []*change
	changeErr   error
	changeDone  = map[string]bool{} // the change is applied now (next: its reversal)
)

// BenchmarkChangeToVisible: each kind of access change of Q6 (through the
// API on instance A, alternately applied and reversed) until the next
// request of the affected viewer on instance B shows it. ns/op covers both;
// mutation_ms and visible_ms split it. cpu_ms/op is the process's CPU time
// meanwhile (both instances' catch-ups, the mutation and the probes, the
// client's side of them; not Postgres): on this shared machine it varies
// far less between runs than the times do.
//
//	WARDEN_BENCH_SIZE=M go test -run '^$' -bench ChangeToVisible -benchtime 40x ./bench/
func BenchmarkChangeToVisible(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	changeOnce.Do(func() { changeKinds, changeErr = e.changeFixtures(ctx, nil) })
	if changeErr != nil {
		b.Fatal(changeErr)
	}
	for _, c := range changeKinds {
		b.Run(c.kind, func(b *testing.B) {
			var mut, vis, cpu time.Duration
			b.ReportAllocs()
			for b.Loop() {
				c0 := cpuTime()
				fn, want := c.forward, true
				if changeDone[c.kind] {
					fn, want = c.reverse, false
				}
				s, err := e.apply(ctx, c, fn, want)
				if err != nil {
					b.Fatal(err)
				}
				changeDone[c.kind] = !changeDone[c.kind]
				cpu += cpuTime() - c0
				mut += s.mutation
				vis += s.visible
			}
			b.ReportMetric(ms(mut)/float64(b.N), "mutation_ms")
			b.ReportMetric(ms(vis)/float64(b.N), "visible_ms")
			b.ReportMetric(ms(cpu)/float64(b.N), "cpu_ms/op")
		})
	}
}

// BenchmarkGarbageCollection: one full collection of the process with the
// org warm on both instances (A built from Postgres, B from Redis). The
// index is most of a Warden process's heap and the collector marks it on
// every cycle, so its shape sets what each cycle costs every request:
// heap objects (M objects), the heap (heap_MiB), the process's CPU time per
// collection (gc_cpu_ms/op) and A's index (index_MiB).
func BenchmarkGarbageCollection(b *testing.B) {
	e := benchEnv(b)
	_, ix, err := e.a.engine.State(context.Background(), e.gen.Org)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c0 := cpuTime()
		runtime.GC()
		cpu += cpuTime() - c0
	}
	b.StopTimer()
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	b.ReportMetric(ms(cpu)/float64(b.N), "gc_cpu_ms/op")
	b.ReportMetric(float64(st.HeapObjects)/1e6, "M_objects")
	b.ReportMetric(float64(st.HeapAlloc)/(1<<20), "heap_MiB")
	b.ReportMetric(float64(ix.SizeBytes())/(1<<20), "index_MiB")
	runtime.KeepAlive(e)
}
