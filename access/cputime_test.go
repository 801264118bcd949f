//go:build linux

package access

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
	_, _, _ = syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// TestCPUTimes reports the CPU time per VisibleSet call on the benchmark
// org, measured on the calling thread: on a shared, loaded machine wall
// clock benchmarks mostly measure the neighbours. Run with WARDEN_CPU=1.
func TestCPUTimes(t *testing.T) {
	if os.Getenv("WARDEN_CPU") == "" {
		t.Skip("set WARDEN_CPU=1")
	}
	o := getBench(nil)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, ix := range []struct {
		name string
		ix   *Index
	}{{"layer", o.ix}, {"nolayer", o.plain}} {
		for _, v := range []struct {
			name string
			id   int64
		}{{"leaf-rep", o.leaf}, {"depth3-manager", o.depth3}, {"depth1-manager", o.depth1}, {"top", o.top}} {
			best := time.Hour
			for round := 0; round < 5; round++ {
				const n = 200
				start := threadCPU()
				for i := 0; i < n; i++ {
					o.snap.VisibleSet(ix.ix, v.id, Deals)
				}
				best = min(best, (threadCPU()-start)/n)
			}
			t.Logf("%-8s %-15s %8.1f µs CPU per call", ix.name, v.name, float64(best)/1e3)
		}
	}
	measure := func(name string, n int, f func()) {
		best := time.Hour
		for round := 0; round < 3; round++ {
			start := threadCPU()
			for i := 0; i < n; i++ {
				f()
			}
			best = min(best, (threadCPU()-start)/time.Duration(n))
		}
		t.Logf("%-24s %10.1f µs CPU per call", name, float64(best)/1e3)
	}
	data, _ := o.ix.MarshalBinary()
	t.Logf("index: %d records, %d bytes encoded, ~%d bytes in memory (with layer)", o.ix.Count(Deals), len(data), o.ix.SizeBytes())
	measure("UnmarshalBinary", 3, func() { _ = NewIndex().UnmarshalBinary(data) })
	measure("MarshalBinary", 3, func() { _, _ = o.ix.MarshalBinary() })
	plain := o.plain.Clone()
	measure("BindHierarchy (rebuild)", 3, func() { plain.BindHierarchy(nil); plain.BindHierarchy(o.snap) })
	measure("BindHierarchy (same)", 100, func() { plain.BindHierarchy(o.snap) })
	ix := o.ix.Clone()
	i := 0
	measure("UpsertRecord (owner+rules)", 2000, func() {
		i++
		k := (i * 7919) % len(o.ids)
		_ = ix.UpsertRecord(IndexedRecord{Module: Deals, ID: o.ids[k], OwnerID: o.members[i%len(o.members)],
			MatchingRules: o.snap.MatchingRules(Deals, o.fields[(k+i)%len(o.fields)])})
	})
	facts, _ := o.ix.Facts(Deals, o.ids[12345])
	measure("Access", 20000, func() { o.snap.Access(o.depth3, facts) })
	measure("Explain", 20000, func() { o.snap.Explain(o.depth3, facts) })
}
