package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/ids"
)

// The soak: many clients mixing reads and writes against both instances of
// the bench org for minutes, to show that nothing degrades with time: no
// errors, latency percentiles of the last minute like the first's, memory
// flat. It reuses the bench's generated org, instances and probe viewers.

// SoakOptions configure a soak run. Size, DatabaseURL, RedisURL, DBName,
// DropAfter and Progress mean what they mean in Options.
type SoakOptions struct {
	Options
	Duration time.Duration // default 10 minutes
	Clients  int           // default 64
	// Interval is the width of one row of the report (default one minute;
	// tests use a second).
	Interval time.Duration
	// WritePercent is the share of writes in the mix (default 20); the
	// kinds of read and of write keep their proportions.
	WritePercent float64
}

const (
	createDealMut = `mutation($in: CreateDealInput!) { createDeal(input: $in) { id } }`
	updateDealMut = `mutation($id: ID!, $in: UpdateDealInput!) { updateDeal(id: $id, input: $in) { id amount } }`
	deleteDealMut = `mutation($id: ID!) { deleteDeal(id: $id) }`
)

// soakOp is one kind of request of the mix, with its share of requests.
type soakOp struct {
	name  string
	write bool
	share float64 // per 100 requests
}

// soakMix: four in five requests read (Q1-Q4 as the probe viewers), one in
// five writes as the administrator (deal updates, a create followed by its
// delete, and an access change: a share followed by its revocation).
var soakMix = []soakOp{
	{"Q1", false, 30}, {"Q2", false, 15}, {"Q3", false, 10}, {"Q4", false, 25},
	{"updateDeal", true, 14}, {"createDeal+deleteDeal", true, 4}, {"shareRecords+revoke", true, 2},
}

// mixFor scales soakMix to writePercent writes.
func mixFor(writePercent float64) []soakOp {
	var reads, writes float64
	for _, op := range soakMix {
		if op.write {
			writes += op.share
		} else {
			reads += op.share
		}
	}
	out := make([]soakOp, len(soakMix))
	for i, op := range soakMix {
		op.share *= (100 - writePercent) / reads
		if op.write {
			op.share = soakMix[i].share * writePercent / writes
		}
		out[i] = op
	}
	return out
}

// soakBucket is one interval of the run.
type soakBucket struct {
	reads, writes []time.Duration
	errors        int
	first         []string
}

// memSample is the process's memory at one moment.
type memSample struct {
	At          float64 `json:"at_seconds"`
	RSSMiB      float64 `json:"rss_mib"`
	HeapLiveMiB float64 `json:"heap_live_mib"` // live heap as of the last GC
	HeapInUse   float64 `json:"heap_inuse_mib"`
	Goroutines  int     `json:"goroutines"`
}

// SoakInterval is one row of the soak report.
type SoakInterval struct {
	Index       int      `json:"index"` // 1-based
	Requests    int      `json:"requests"`
	Errors      int      `json:"errors"`
	RPS         float64  `json:"rps"`
	ReadP50     float64  `json:"read_p50_ms"`
	ReadP95     float64  `json:"read_p95_ms"`
	ReadP99     float64  `json:"read_p99_ms"`
	WriteP50    float64  `json:"write_p50_ms"`
	WriteP99    float64  `json:"write_p99_ms"`
	Max         float64  `json:"max_ms"`
	RSSMiB      float64  `json:"rss_mib_end"`
	HeapLiveMiB float64  `json:"heap_live_mib_end"`
	Goroutines  int      `json:"goroutines_end"`
	FirstErrors []string `json:"first_errors,omitempty"`
}

// SoakReport is bench-results/soak.json.
type SoakReport struct {
	Size            string             `json:"size"`
	StartedAt       string             `json:"started_at"`
	Seconds         float64            `json:"seconds"`
	Clients         int                `json:"clients"`
	IntervalSeconds float64            `json:"interval_seconds"`
	Mix             map[string]float64 `json:"mix_percent"`
	Requests        int                `json:"requests"`
	Errors          int                `json:"errors"`
	Reads           int                `json:"reads"`
	Writes          int                `json:"writes"`
	Intervals       []SoakInterval     `json:"intervals"`
	Memory          []memSample        `json:"memory"`
	// Last interval over first: latency and memory drift.
	ReadP50Drift  float64  `json:"read_p50_last_over_first"`
	ReadP99Drift  float64  `json:"read_p99_last_over_first"`
	WriteP99Drift float64  `json:"write_p99_last_over_first"`
	RSSStartMiB   float64  `json:"rss_mib_start"`
	RSSEndMiB     float64  `json:"rss_mib_end"`
	HeapStartMiB  float64  `json:"heap_live_mib_start"`
	HeapEndMiB    float64  `json:"heap_live_mib_end"`
	Machine       string   `json:"machine"`
	Notes         []string `json:"notes"`
}

// Soak loads the org as Run does and drives it with opt.Clients clients for
// opt.Duration, then writes <OutDir>/soak.json and soak.md. It returns the
// report; errors of requests are in the report, not in the returned error.
func Soak(ctx context.Context, conn *sqlx.DB, opt SoakOptions) (*SoakReport, error) {
	spec, err := specFor(opt.Size)
	if err != nil {
		return nil, err
	}
	if opt.Duration <= 0 {
		opt.Duration = 10 * time.Minute
	}
	if opt.Clients <= 0 {
		opt.Clients = 64
	}
	if opt.Interval <= 0 {
		opt.Interval = time.Minute
	}
	if opt.WritePercent <= 0 || opt.WritePercent >= 100 {
		opt.WritePercent = 20
	}
	if opt.OutDir == "" {
		opt.OutDir = "bench-results"
	}
	if opt.Progress == nil {
		opt.Progress = os.Stderr
	}
	if opt.DBName == "" {
		opt.DBName = "warden_bench_" + strings.ToLower(spec.Name)
	}
	if err := os.MkdirAll(opt.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	restore := quietServerLog(opt.Progress)
	defer restore()
	e, err := setup(ctx, conn, opt.Options, spec)
	if err != nil {
		return nil, err
	}
	defer e.close(opt.DropAfter)

	rep := e.soak(ctx, opt)
	jsonPath, mdPath := filepath.Join(opt.OutDir, "soak.json"), filepath.Join(opt.OutDir, "soak.md")
	if err := rep.write(jsonPath, mdPath); err != nil {
		return nil, err
	}
	e.logf("soak report written: %s, %s", jsonPath, mdPath)
	return rep, nil
}

func (e *env) soak(ctx context.Context, opt SoakOptions) *SoakReport {
	n := int(opt.Duration / opt.Interval)
	if opt.Duration%opt.Interval != 0 {
		n++
	}
	buckets := make([]soakBucket, n)
	var mu sync.Mutex
	started := time.Now()
	deadline := started.Add(opt.Duration)
	record := func(at time.Time, write bool, d time.Duration, err error) {
		i := int(at.Sub(started) / opt.Interval)
		if i >= n {
			i = n - 1
		}
		mu.Lock()
		defer mu.Unlock()
		b := &buckets[i]
		switch {
		case err != nil:
			b.errors++
			if len(b.first) < 3 {
				b.first = append(b.first, err.Error())
			}
		case write:
			b.writes = append(b.writes, d)
		default:
			b.reads = append(b.reads, d)
		}
	}

	// Memory is sampled every few seconds, and at the end of each interval.
	var mem []memSample
	memDone := make(chan struct{})
	stopMem := make(chan struct{})
	go func() {
		defer close(memDone)
		tick := time.NewTicker(min(5*time.Second, opt.Interval))
		defer tick.Stop()
		mem = append(mem, sampleMemory(started))
		for {
			select {
			case <-tick.C:
				mem = append(mem, sampleMemory(started))
			case <-stopMem:
				mem = append(mem, sampleMemory(started))
				return
			}
		}
	}()

	e.logf("soak: %d clients for %s (reads as admin/top/mid/leaf, writes as admin), both instances", opt.Clients, opt.Duration)
	var wg sync.WaitGroup
	for c := 0; c < opt.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			e.soakClient(ctx, c, deadline, mixFor(opt.WritePercent), record)
		}(c)
	}
	progressDone := make(chan struct{})
	go func() {
		t := time.NewTicker(opt.Interval)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-t.C:
				mu.Lock()
				b := buckets[min(i-1, n-1)]
				mu.Unlock()
				e.logf("soak interval %d/%d: %d reads (p50 %.1f ms, p99 %.1f ms), %d writes (p99 %.1f ms), %d errors",
					i, n, len(b.reads), quantile(b.reads, .5), quantile(b.reads, .99), len(b.writes), quantile(b.writes, .99), b.errors)
			case <-progressDone:
				return
			}
		}
	}()
	wg.Wait()
	close(progressDone)
	close(stopMem)
	<-memDone
	elapsed := time.Since(started)

	rep := &SoakReport{Size: e.spec.Name, StartedAt: started.UTC().Format(time.RFC3339), Seconds: round3(elapsed.Seconds()),
		Clients: opt.Clients, IntervalSeconds: opt.Interval.Seconds(), Mix: map[string]float64{}, Memory: mem,
		Machine: fmt.Sprintf("%s, %d CPUs, Postgres %s", runtime.Version(), runtime.NumCPU(), e.pgVersion)}
	for _, op := range mixFor(opt.WritePercent) {
		rep.Mix[op.name] = round3(op.share)
	}
	for i, b := range buckets {
		iv := SoakInterval{Index: i + 1, Requests: len(b.reads) + len(b.writes) + b.errors, Errors: b.errors,
			ReadP50: quantile(b.reads, .5), ReadP95: quantile(b.reads, .95), ReadP99: quantile(b.reads, .99),
			WriteP50: quantile(b.writes, .5), WriteP99: quantile(b.writes, .99),
			Max: max(maxOf(b.reads), maxOf(b.writes)), FirstErrors: b.first}
		width := opt.Interval.Seconds()
		if i == n-1 {
			width = elapsed.Seconds() - float64(i)*opt.Interval.Seconds()
		}
		if width > 0 {
			iv.RPS = round3(float64(iv.Requests) / width)
		}
		// Memory at the interval's end: the last sample taken before it.
		end := float64(i+1) * opt.Interval.Seconds()
		for _, m := range mem {
			if m.At <= end+0.5 {
				iv.RSSMiB, iv.HeapLiveMiB, iv.Goroutines = m.RSSMiB, m.HeapLiveMiB, m.Goroutines
			}
		}
		rep.Intervals = append(rep.Intervals, iv)
		rep.Requests += iv.Requests
		rep.Errors += iv.Errors
		rep.Reads += len(b.reads)
		rep.Writes += len(b.writes)
	}
	if len(rep.Intervals) > 0 {
		first, last := rep.Intervals[0], rep.Intervals[len(rep.Intervals)-1]
		rep.ReadP50Drift = ratio(last.ReadP50, first.ReadP50)
		rep.ReadP99Drift = ratio(last.ReadP99, first.ReadP99)
		rep.WriteP99Drift = ratio(last.WriteP99, first.WriteP99)
		// Memory "at the start" is at the end of the first interval: before
		// it the caches are still filling.
		rep.RSSStartMiB, rep.HeapStartMiB = first.RSSMiB, first.HeapLiveMiB
		rep.RSSEndMiB, rep.HeapEndMiB = last.RSSMiB, last.HeapLiveMiB
	}
	rep.Notes = append(rep.Notes,
		"Both Warden instances and the clients run in one process (the bench's in-process instances on loopback ports): RSS and the Go heap are that process's, clients included; Postgres and Redis are separate processes and not included.",
		"Latency is measured by the client from the first byte of the request written to the last byte of the response read.",
		fmt.Sprintf("Interval %d covers %.0f s; memory at the start is taken at the end of the first interval, once caches are warm.", len(rep.Intervals), elapsed.Seconds()-float64(len(rep.Intervals)-1)*opt.Interval.Seconds()),
		"The machine's CPUs are shared with Postgres, Redis and any other work running at the time; the figures are not isolated measurements.")
	if n := e.vacuumNote(ctx); n != "" {
		rep.Notes = append(rep.Notes, n)
	}
	return rep
}

// vacuumNote says whether Postgres reclaimed the dead row versions the
// writes left, so that a drift over the run can be read against it: no
// update of a deal is HOT (updated_at is indexed), and every security
// change is inserted and then numbered by an update. This project's CI
// machines run Postgres without autovacuum, which no production server
// should.
func (e *env) vacuumNote(ctx context.Context) string {
	var autovacuum string
	if err := e.conn.GetContext(ctx, &autovacuum, `SELECT current_setting('autovacuum')`); err != nil {
		return ""
	}
	var tables []struct {
		Name    string `db:"relname"`
		Dead    int64  `db:"n_dead_tup"`
		Updates int64  `db:"n_tup_upd"`
		HOT     int64  `db:"n_tup_hot_upd"`
		Vacuums int64  `db:"vacuums"`
	}
	if err := e.conn.SelectContext(ctx, &tables, `SELECT relname, n_dead_tup, n_tup_upd, n_tup_hot_upd,
		autovacuum_count + vacuum_count AS vacuums FROM pg_stat_user_tables
		WHERE relname IN ('deals', 'security_changes') ORDER BY relname`); err != nil {
		return ""
	}
	parts := make([]string, 0, len(tables))
	for _, t := range tables {
		parts = append(parts, fmt.Sprintf("%s %d dead row versions (%d updates, %d of them HOT), vacuumed %d times",
			t.Name, t.Dead, t.Updates, t.HOT, t.Vacuums))
	}
	return fmt.Sprintf("Postgres autovacuum is %s. At the end of the run, per pg_stat_user_tables (counted from the bulk load, whose VACUUM ANALYZE is among the vacuums): %s.", autovacuum, strings.Join(parts, "; "))
}

// soakClient sends requests until the deadline: client c reads as probe
// viewer c mod 4 on instance A or B alternately and writes as the
// administrator.
func (e *env) soakClient(ctx context.Context, c int, deadline time.Time, mix []soakOp, record func(time.Time, bool, time.Duration, error)) {
	r := rand.New(rand.NewPCG(uint64(c)+1, 0x50a4))
	v := e.viewers[c%len(e.viewers)]
	url := e.a.url
	if c%2 == 1 {
		url = e.b.url
	}
	leaf := e.viewer("leaf")
	send := func(token string, body gqlReq) (time.Duration, json.RawMessage, error) {
		resp, err := e.client.do(ctx, url, token, e.orgID, body)
		if err != nil {
			return 0, nil, err
		}
		if err := resp.err(); err != nil {
			return 0, nil, err
		}
		return resp.Latency, resp.Data, nil
	}
	randomDeal := func() string { return ids.Encode(ids.Deal, e.gen.DealIDs[r.IntN(len(e.gen.DealIDs))]) }
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pick, op := r.Float64()*100, mix[len(mix)-1]
		for _, o := range mix {
			if pick < o.share {
				op = o
				break
			}
			pick -= o.share
		}
		at := time.Now()
		var lat time.Duration
		var err error
		switch op.name {
		case "Q1":
			lat, _, err = send(v.Token, q1Req)
		case "Q2":
			lat, _, err = send(v.Token, q2Req)
		case "Q3":
			lat, _, err = send(v.Token, q3Req)
		case "Q4":
			lat, _, err = send(v.Token, q4Req(e.gen.DealIDs[r.IntN(len(e.gen.DealIDs))]))
		case "updateDeal":
			lat, _, err = send(e.admin.Token, newReq(updateDealMut, map[string]any{"id": randomDeal(),
				"in": map[string]any{"amount": float64(r.IntN(1_000_000)) / 100}}))
		case "createDeal+deleteDeal":
			var data json.RawMessage
			lat, data, err = send(e.admin.Token, newReq(createDealMut, map[string]any{"in": map[string]any{
				"name": "soak " + strconv.Itoa(c) + "-" + strconv.FormatInt(at.UnixNano(), 36), "amount": 1000, "stage": "Prospecting"}}))
			if err == nil {
				var out struct{ CreateDeal struct{ ID string } }
				if err = json.Unmarshal(data, &out); err == nil {
					var l2 time.Duration
					l2, _, err = send(e.admin.Token, newReq(deleteDealMut, map[string]any{"id": out.CreateDeal.ID}))
					lat += l2
				}
			}
		case "shareRecords+revoke":
			deal := []string{randomDeal()}
			pin := map[string]any{"type": "USER", "id": ids.Encode(ids.Member, leaf.Member)}
			lat, _, err = send(e.admin.Token, newReq(shareMut, map[string]any{"ids": deal,
				"shares": []any{map[string]any{"principal": pin, "access": "READ_ONLY"}}}))
			if err == nil {
				var l2 time.Duration
				l2, _, err = send(e.admin.Token, newReq(revokeMut, map[string]any{"ids": deal, "ps": []any{pin}}))
				lat += l2
			}
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", op.name, err)
		}
		record(at, op.write, lat, err)
	}
}

func sampleMemory(started time.Time) memSample {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	m := memSample{At: round3(time.Since(started).Seconds()), RSSMiB: rssMiB(), Goroutines: runtime.NumGoroutine()}
	if s[0].Value.Kind() == metrics.KindUint64 {
		m.HeapLiveMiB = round3(float64(s[0].Value.Uint64()) / (1 << 20))
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		m.HeapInUse = round3(float64(s[1].Value.Uint64()) / (1 << 20))
	}
	return m
}

// rssMiB is the process's resident set size (0 where /proc is missing).
func rssMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return round3(kb / 1024)
		}
	}
	return 0
}

func (r *SoakReport) write(jsonPath, mdPath string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	f, err := os.Create(mdPath)
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	r.markdown(w)
	return w.Flush()
}

func (r *SoakReport) markdown(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("# Warden soak, size %s", r.Size)
	p("")
	p("Run %s, %.0f s; %s. %d clients against two instances (A and B, one Redis), each client reading as one probe viewer (admin, top, mid, leaf in turn) and writing as the administrator.", r.StartedAt, r.Seconds, r.Machine, r.Clients)
	p("")
	p("Mix (per 100 requests): Q1 %.4g, Q2 %.4g, Q3 %.4g, Q4 %.4g (reads, as in the bench report); updateDeal %.4g, createDeal then deleteDeal %.4g, shareRecords then revokeRecordShares to the leaf viewer %.4g (writes; a pair is timed as one).",
		r.Mix["Q1"], r.Mix["Q2"], r.Mix["Q3"], r.Mix["Q4"], r.Mix["updateDeal"], r.Mix["createDeal+deleteDeal"], r.Mix["shareRecords+revoke"])
	p("")
	p("**Requests %d (reads %d, writes %d), errors %d.** Last interval over first: read p50 x%.2f, read p99 x%.2f, write p99 x%.2f. RSS %.0f MiB -> %.0f MiB, live heap %.0f MiB -> %.0f MiB (end of first interval -> end of run).",
		r.Requests, r.Reads, r.Writes, r.Errors, r.ReadP50Drift, r.ReadP99Drift, r.WriteP99Drift, r.RSSStartMiB, r.RSSEndMiB, r.HeapStartMiB, r.HeapEndMiB)
	p("")
	p("## Per interval (%.0f s each)", r.IntervalSeconds)
	p("")
	p("| # | requests | req/s | errors | read p50 ms | read p95 ms | read p99 ms | write p50 ms | write p99 ms | max ms | RSS MiB | live heap MiB | goroutines |")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, iv := range r.Intervals {
		p("| %d | %d | %.0f | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f | %d |", iv.Index, iv.Requests, iv.RPS, iv.Errors,
			iv.ReadP50, iv.ReadP95, iv.ReadP99, iv.WriteP50, iv.WriteP99, iv.Max, iv.RSSMiB, iv.HeapLiveMiB, iv.Goroutines)
	}
	if r.Errors > 0 {
		p("")
		p("First errors of each interval:")
		p("")
		for _, iv := range r.Intervals {
			for _, m := range iv.FirstErrors {
				p("- interval %d: %s", iv.Index, m)
			}
		}
	}
	p("")
	p("## Notes")
	p("")
	for _, n := range r.Notes {
		p("- %s", n)
	}
}
