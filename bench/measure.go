package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"warden/access"
	"warden/db"
	"warden/ids"
)

// The measured requests. Q1: the first page of 50 deals by updatedAt with 6
// fields, the owner and the account; Q2: the same filtered on stage and
// ordered by amount; Q3: totalCount alone; Q4: one deal by id.
const (
	dealSelection = `edges { node { id name amount stage closingDate probability updatedAt owner { id name } account { id name } } } pageInfo { hasNextPage endCursor }`
	q1Query       = `query Q1 { deals(first: 50, orderBy: [{field: UPDATED_AT, direction: DESC}]) { ` + dealSelection + ` } }`
	q2Query       = `query Q2($stage: String!) { deals(first: 50, filter: {stage: {eq: $stage}}, orderBy: [{field: AMOUNT, direction: DESC}]) { ` + dealSelection + ` } }`
	q3Query       = `query Q3 { deals(first: 1) { totalCount } }`
	q4Query       = `query Q4($id: ID!) { deal(id: $id) { id name amount stage closingDate probability updatedAt owner { id name } account { id name } } }`
	probeQuery    = `query Probe($id: ID!) { deal(id: $id) { id } }`
)

var (
	q1Req = newReq(q1Query, nil)
	q2Req = newReq(q2Query, map[string]any{"stage": filterStage})
	q3Req = newReq(q3Query, nil)
)

func q4Req(id int64) gqlReq { return newReq(q4Query, map[string]any{"id": ids.Encode(ids.Deal, id)}) }

type pageData struct {
	Deals struct {
		Edges      []json.RawMessage `json:"edges"`
		TotalCount *int              `json:"totalCount"`
	} `json:"deals"`
}

type dealData struct {
	Deal *struct {
		ID string `json:"id"`
	} `json:"deal"`
}

// probe is one (query, viewer) series of the sequential measurement.
type probe struct {
	key   string
	token string
	body  func(i int) gqlReq
	check func(i int, r *gqlResp) error
	s     *samples
}

// measureAll runs every measurement and assembles the report.
func (e *env) measureAll(ctx context.Context, outDir string) (*report, error) {
	rep := newReport(e)
	rep.phase("load and warm-up")
	visible, err := e.visibleCounts(ctx, rep)
	if err != nil {
		return nil, err
	}
	if err := e.latencies(ctx, rep, visible); err != nil {
		return nil, err
	}
	rep.phase("Q1-Q4")
	if err := e.throughput(ctx, rep); err != nil {
		return nil, err
	}
	rep.phase("Q5")
	e.memory(ctx, rep)
	e.profile(ctx, rep, outDir)
	rep.phase("profile")
	if err := e.changes(ctx, rep); err != nil {
		return nil, err
	}
	rep.phase("Q6")
	rep.finish()
	return rep, nil
}

// visibleCounts prints each viewer's visible deals (the API's totalCount,
// checked against the engine) and returns the engine's visible sets.
func (e *env) visibleCounts(ctx context.Context, rep *report) (map[string]access.VisibleSet, error) {
	out := map[string]access.VisibleSet{}
	for _, v := range e.viewers {
		vs, err := e.visibleSet(ctx, v.Member)
		if err != nil {
			return nil, err
		}
		out[v.Name] = vs
		snapCount := uint64(len(e.gen.DealIDs))
		plan := "all (no predicate)"
		if !vs.All {
			snapCount = vs.IDs.GetCardinality()
			plan = "dense (ordered scan, filtered in Go)"
			if snapCount <= uint64(max(db.SparseVisibleLimit, 0)) {
				plan = "sparse (id = ANY)"
			}
		}
		r, err := e.client.do(ctx, e.a.url, v.Token, e.orgID, q3Req)
		if err != nil {
			return nil, fmt.Errorf("bench: visible count of %s: %w", v.Name, err)
		}
		if err := r.err(); err != nil {
			return nil, fmt.Errorf("bench: visible count of %s: %w", v.Name, err)
		}
		var pd pageData
		if err := json.Unmarshal(r.Data, &pd); err != nil || pd.Deals.TotalCount == nil {
			return nil, fmt.Errorf("bench: visible count of %s: bad response %s", v.Name, r.Data)
		}
		vi := viewerInfo{Member: ids.Encode(ids.Member, v.Member), RoleDepth: v.Depth, Visible: *pd.Deals.TotalCount,
			VisibleEngine: snapCount, Plan: plan}
		rep.Viewers[v.Name] = vi
		if uint64(vi.Visible) != snapCount {
			rep.Errors++
			rep.note("visible count of %s: API totalCount %d, engine %d", v.Name, vi.Visible, snapCount)
		}
		e.logf("viewer %-5s %s (role depth %d): %d visible deals of %d, plan %s", v.Name, vi.Member, v.Depth,
			vi.Visible, len(e.gen.DealIDs), plan)
	}
	return out, nil
}

// latencies measures Q1-Q4 sequentially, one request at a time, after a
// warm-up; every round sends each series once, in a rotating order, so the
// administrator's baseline is taken in the same conditions.
func (e *env) latencies(ctx context.Context, rep *report, visible map[string]access.VisibleSet) error {
	s := e.spec
	n := s.Requests + s.Warmup
	r := rand.New(rand.NewPCG(seed, 4))
	var probes []*probe
	pageCheck := func(want int) func(int, *gqlResp) error {
		return func(_ int, resp *gqlResp) error {
			var pd pageData
			if err := json.Unmarshal(resp.Data, &pd); err != nil {
				return err
			}
			if want >= 0 && len(pd.Deals.Edges) != want {
				return fmt.Errorf("page has %d edges, want %d", len(pd.Deals.Edges), want)
			}
			return nil
		}
	}
	for _, v := range e.viewers {
		want := min(50, rep.Viewers[v.Name].Visible)
		probes = append(probes,
			&probe{key: "Q1/" + v.Name, token: v.Token, body: func(int) gqlReq { return q1Req }, check: pageCheck(want)},
			&probe{key: "Q2/" + v.Name, token: v.Token, body: func(int) gqlReq { return q2Req }, check: pageCheck(-1)},
			&probe{key: "Q3/" + v.Name, token: v.Token, body: func(int) gqlReq { return q3Req }, check: func(_ int, resp *gqlResp) error {
				var pd pageData
				if err := json.Unmarshal(resp.Data, &pd); err != nil || pd.Deals.TotalCount == nil {
					return fmt.Errorf("no totalCount in %s", resp.Data)
				}
				if *pd.Deals.TotalCount != rep.Viewers[v.Name].Visible {
					return fmt.Errorf("totalCount %d, want %d", *pd.Deals.TotalCount, rep.Viewers[v.Name].Visible)
				}
				return nil
			}})
	}
	// Q4: for each secured viewer, ids half visible to it and half not; the
	// administrator asks for the same ids.
	for _, v := range e.viewers[1:] {
		vs := visible[v.Name]
		list := make([]int64, n)
		want := make([]bool, n)
		for i := range list {
			if i%2 == 0 && !vs.All && vs.IDs.GetCardinality() > 0 {
				id, err := vs.IDs.Select(uint32(r.Uint64N(vs.IDs.GetCardinality())))
				if err != nil {
					return err
				}
				list[i], want[i] = int64(id), true
				continue
			}
			for try := 0; ; try++ {
				id := e.gen.DealIDs[r.IntN(len(e.gen.DealIDs))]
				if !vs.Contains(id) || try > 1000 {
					list[i], want[i] = id, vs.Contains(id)
					break
				}
			}
		}
		check := func(expect func(i int) bool) func(int, *gqlResp) error {
			return func(i int, resp *gqlResp) error {
				var dd dealData
				if err := json.Unmarshal(resp.Data, &dd); err != nil {
					return err
				}
				if got := dd.Deal != nil; got != expect(i) {
					return fmt.Errorf("deal %d: visible %v, want %v", list[i], got, expect(i))
				}
				return nil
			}
		}
		body := func(i int) gqlReq { return q4Req(list[i]) }
		probes = append(probes,
			&probe{key: "Q4/" + v.Name, token: v.Token, body: body, check: check(func(i int) bool { return want[i] })},
			&probe{key: "Q4/admin@" + v.Name, token: e.admin.Token, body: body, check: check(func(int) bool { return true })})
	}
	for _, p := range probes {
		p.s = &samples{}
	}
	e.logf("Q1-Q4: %d series x %d requests (after %d warm-up), sequential, on instance A", len(probes), s.Requests, s.Warmup)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		for k := range probes {
			p := probes[(i+k)%len(probes)]
			body := p.body(i)
			c0 := cpuTime()
			resp, err := e.client.do(ctx, e.a.url, p.token, e.orgID, body)
			cpu := cpuTime() - c0
			if err == nil {
				err = resp.err()
			}
			if err == nil && p.check != nil {
				err = p.check(i, resp)
			}
			if i < s.Warmup {
				continue
			}
			if err != nil {
				p.s.fail(err)
				continue
			}
			p.s.add(resp.Latency)
			p.s.cpu = append(p.s.cpu, cpu)
		}
	}
	byKey := map[string]*samples{}
	for _, p := range probes {
		byKey[p.key] = p.s
	}
	admin4 := &samples{}
	for _, v := range e.viewers[1:] {
		admin4.merge(byKey["Q4/admin@"+v.Name])
	}
	byKey["Q4/admin"] = admin4
	for _, q := range []string{"Q1", "Q2", "Q3", "Q4"} {
		rep.Queries[q] = map[string]*latStat{}
		for _, v := range e.viewers {
			base := byKey[q+"/admin"]
			if q == "Q4" && v.Name != "admin" {
				base = byKey["Q4/admin@"+v.Name]
			}
			st := latStatOf(byKey[q+"/"+v.Name], base)
			rep.Queries[q][v.Name] = st
			rep.Errors += st.Errors
			for _, m := range byKey[q+"/"+v.Name].first {
				rep.note("%s %s: %s", q, v.Name, m)
			}
			e.logf("%s %-5s p50 %7.2f ms  p99 %7.2f ms  x admin %5.2f / %5.2f  Go CPU p50 %.2f ms (x admin %.2f)  errors %d",
				q, v.Name, st.P50, st.P99, st.RatioP50, st.RatioP99, st.CPUP50, st.RatioCPUP50, st.Errors)
		}
	}
	return nil
}

func latStatOf(s, base *samples) *latStat {
	st := &latStat{N: len(s.lat), P50: round3(quantile(s.lat, 0.50)), P99: round3(quantile(s.lat, 0.99)),
		Mean: round3(mean(s.lat)), Max: round3(maxOf(s.lat)), Errors: s.errors}
	st.AdminP50, st.AdminP99 = round3(quantile(base.lat, 0.50)), round3(quantile(base.lat, 0.99))
	st.RatioP50, st.RatioP99 = ratio(st.P50, st.AdminP50), ratio(st.P99, st.AdminP99)
	st.CPUP50, st.AdminCPUP50 = round3(quantile(s.cpu, 0.5)), round3(quantile(base.cpu, 0.5))
	st.RatioCPUP50 = ratio(st.CPUP50, st.AdminCPUP50)
	return st
}

// throughput (Q5): Q1 and Q2 alternately from Q5Clients concurrent clients
// for Q5Duration, per viewer, the administrator first; then the same clients
// with requests that read no records (the reference rows).
func (e *env) throughput(ctx context.Context, rep *report) error {
	s := e.spec
	var admin *tputStat
	for _, v := range e.viewers {
		e.logf("Q5 %-5s: %d clients for %s ...", v.Name, s.Q5Clients, s.Q5Duration)
		st, first, err := e.concurrently(ctx, v.Token, s.Q5Duration, func(i int) gqlReq {
			if i%2 == 1 {
				return q2Req
			}
			return q1Req
		})
		if err != nil {
			return err
		}
		if admin == nil {
			admin = st
		}
		st.RatioRPS = ratio(st.ThroughputRPS, admin.ThroughputRPS)
		st.RatioP50, st.RatioP99 = ratio(st.P50, admin.P50), ratio(st.P99, admin.P99)
		rep.Q5[v.Name] = st
		rep.Errors += st.Errors
		for _, m := range first {
			rep.note("Q5 %s: %s", v.Name, m)
		}
		e.logf("Q5 %-5s: %.0f req/s (x admin %.2f), p50 %.2f ms, p99 %.2f ms, errors %d", v.Name, st.ThroughputRPS,
			st.RatioRPS, st.P50, st.P99, st.Errors)
	}
	// What the same clients get from requests that need almost nothing of
	// the server: the ceiling this machine and stack put on Q5.
	leaf, dur := e.viewer("leaf"), min(s.Q5Duration, 10*time.Second)
	for _, ref := range q5References {
		st, first, err := e.concurrently(ctx, leaf.Token, dur, func(int) gqlReq { return ref.req })
		if err != nil {
			return err
		}
		st.Request = ref.name
		rep.Q5Reference = append(rep.Q5Reference, st)
		rep.Errors += st.Errors
		for _, m := range first {
			rep.note("Q5 reference %s: %s", ref.name, m)
		}
		e.logf("Q5 reference %s: %.0f req/s, p50 %.2f ms, errors %d", ref.name, st.ThroughputRPS, st.P50, st.Errors)
	}
	return nil
}

// q5References are requests of the leaf that read no deals, or one: what
// they reach is what authentication, the org's scope, HTTP and GraphQL
// execution alone allow on this machine.
var q5References = []struct {
	name string
	req  gqlReq
}{
	{"{ __typename } (session check, membership and access state only)", newReq(`query Ref { __typename }`, nil)},
	{"deals(first: 1) { edges { node { id } } }", newReq(`query Ref1 { deals(first: 1) { edges { node { id } } } }`, nil)},
}

// concurrently sends body(i) from Q5Clients clients to instance A for d and
// returns the throughput, the latencies and the first errors.
func (e *env) concurrently(ctx context.Context, token string, d time.Duration, body func(i int) gqlReq) (*tputStat, []string, error) {
	clients := e.spec.Q5Clients
	all := &samples{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			local := &samples{}
			for i := c; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				resp, err := e.client.do(ctx, e.a.url, token, e.orgID, body(i))
				if err == nil {
					err = resp.err()
				}
				if err != nil {
					local.fail(err)
					continue
				}
				local.add(resp.Latency)
			}
			mu.Lock()
			all.merge(local)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	secs := time.Since(start).Seconds()
	return &tputStat{Clients: clients, Seconds: round3(secs), Requests: len(all.lat) + all.errors,
		ThroughputRPS: round3(float64(len(all.lat)) / secs), Errors: all.errors,
		P50: round3(quantile(all.lat, 0.5)), P99: round3(quantile(all.lat, 0.99))}, all.first, nil
}

// memory (Q7): the warm index's size and the process's resident memory.
func (e *env) memory(ctx context.Context, rep *report) {
	if _, ix, err := e.a.engine.State(ctx, e.gen.Org); err == nil {
		rep.IndexMB = round3(float64(ix.SizeBytes()) / (1 << 20))
	}
	runtime.GC()
	debug.FreeOSMemory()
	rep.RSSMB = round3(float64(vmRSS()) / (1 << 20))
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	rep.HeapInuseMB = round3(float64(m.HeapInuse) / (1 << 20))
	e.logf("Q7: load %.1f s, index %.1f MiB, RSS %.0f MiB (Go heap in use %.0f MiB)", rep.LoadSeconds, rep.IndexMB,
		rep.RSSMB, rep.HeapInuseMB)
}

// vmRSS is the process's resident set size in bytes (0 when unknown).
func vmRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				kb, _ := strconv.ParseUint(fields[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
