package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"sort"
	"strings"
)

// latStat is one query and viewer: latencies of sequential requests, and
// their ratio to the administrator's same request in the same run.
type latStat struct {
	N        int     `json:"n"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Mean     float64 `json:"mean_ms"`
	Max      float64 `json:"max_ms"`
	RatioP50 float64 `json:"ratio_p50"`
	RatioP99 float64 `json:"ratio_p99"`
	AdminP50 float64 `json:"admin_p50_ms"`
	AdminP99 float64 `json:"admin_p99_ms"`
	Errors   int     `json:"errors"`
	// CPU time of this process (client and both instances; Postgres not
	// included) per request: much less sensitive than latency to other
	// work on the machine.
	CPUP50      float64 `json:"go_cpu_p50_ms"`
	AdminCPUP50 float64 `json:"admin_go_cpu_p50_ms"`
	RatioCPUP50 float64 `json:"ratio_go_cpu_p50"`
}

// tputStat is Q5 for one viewer, or one reference request.
type tputStat struct {
	Request       string  `json:"request,omitempty"` // reference rows only
	Clients       int     `json:"clients"`
	Seconds       float64 `json:"seconds"`
	Requests      int     `json:"requests"`
	ThroughputRPS float64 `json:"throughput_rps"`
	RatioRPS      float64 `json:"ratio_rps"`
	Errors        int     `json:"errors"`
	P50           float64 `json:"p50_ms"`
	P99           float64 `json:"p99_ms"`
	RatioP50      float64 `json:"ratio_p50"`
	RatioP99      float64 `json:"ratio_p99"`
}

// changeStat is Q6 for one kind of change.
type changeStat struct {
	Via               string  `json:"via"` // api, or direct when the API lacked the operation
	Viewer            string  `json:"viewer"`
	Deal              string  `json:"deal"`
	Samples           int     `json:"samples"`
	Failures          int     `json:"failures"`
	MutationP50       float64 `json:"mutation_p50_ms"`
	MutationP99       float64 `json:"mutation_p99_ms"`
	P50               float64 `json:"p50_ms"` // mutation returned -> B's response shows the change
	P99               float64 `json:"p99_ms"`
	Max               float64 `json:"max_ms"`
	TotalP50          float64 `json:"total_p50_ms"` // mutation sent -> B's response shows the change
	TotalP99          float64 `json:"total_p99_ms"`
	ForwardP99        float64 `json:"forward_p99_ms"` // the change itself (add, move, grant)
	ReverseP99        float64 `json:"reverse_p99_ms"` // its reversal
	FirstPollFraction float64 `json:"first_poll_fraction"`
	// The bench process's garbage collector while the kind's trials ran:
	// cycles completed and the CPU it used. A cycle on the heap of two
	// warm M instances lasts hundreds of milliseconds on 2 cores; trials
	// that overlap one show it in the tail.
	GCCycles int     `json:"gc_cycles"`
	GCCPUms  float64 `json:"gc_cpu_ms"`
}

type viewerInfo struct {
	Member        string `json:"member"`
	RoleDepth     int    `json:"role_depth"`
	Visible       int    `json:"visible"`
	VisibleEngine uint64 `json:"visible_engine"`
	Plan          string `json:"plan"`
}

type explainEntry struct {
	Request string `json:"request"`
	Text    string `json:"text"`
}

type profileInfo struct {
	Explain         []explainEntry `json:"explain"`
	CPUFile         string         `json:"cpu_profile_file,omitempty"`
	CPURequests     int            `json:"cpu_profile_requests,omitempty"`
	CPUTopServer    string         `json:"cpu_top_server,omitempty"`
	CPUTopServerCum string         `json:"cpu_top_server_cum,omitempty"`
	CPUTopProcess   string         `json:"cpu_top_process,omitempty"`
	CPUNote         string         `json:"cpu_note,omitempty"`
}

type phaseLoad struct {
	Phase string `json:"phase"`
	Load  string `json:"load"`
}

type targetCheck struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Target string `json:"target"`
	Pass   bool   `json:"pass"`
}

type orgInfo struct {
	Members       int `json:"members"`
	Roles         int `json:"roles"`
	RoleDepth     int `json:"role_depth"`
	Groups        int `json:"groups"`
	NestedGroups  int `json:"nested_groups"`
	OwnerRules    int `json:"owner_rules"`
	CriteriaRules int `json:"criteria_rules"`
	Deals         int `json:"deals"`
	Accounts      int `json:"accounts"`
	Contacts      int `json:"contacts"`
	DealShares    int `json:"deal_shares"`
	SharedDeals   int `json:"shared_deals"`
	AccountShares int `json:"account_shares"`
}

type report struct {
	Size            string  `json:"size"`
	StartedAt       string  `json:"started_at"`
	DurationSeconds float64 `json:"duration_seconds"`
	GoVersion       string  `json:"go_version"`
	CPUs            int     `json:"cpus"`
	GOGC            int64   `json:"gogc"` // the GC target in effect (Warden's default unless GOGC is set)
	Postgres        string  `json:"postgres"`
	Requests        int     `json:"requests_per_series"`
	Warmup          int     `json:"warmup_per_series"`
	Org             orgInfo `json:"org"`

	Viewers map[string]viewerInfo          `json:"viewers"`
	Queries map[string]map[string]*latStat `json:"queries"` // Q1..Q4 -> viewer
	Q5      map[string]*tputStat           `json:"q5"`
	// Q5Reference: the same clients with requests that read (almost) no
	// records, the ceiling the rest of the stack puts on Q5.
	Q5Reference []*tputStat            `json:"q5_reference"`
	Q6          map[string]*changeStat `json:"q6"`

	ThroughputRPS        float64 `json:"throughput_rps"` // Q5: the lowest of the secured viewers
	Errors               int     `json:"errors"`         // every failed or wrong response of the run
	ChangeToVisibleMsP99 float64 `json:"change_to_visible_ms_p99"`
	LoadSeconds          float64 `json:"load_seconds"` // COPY + index rebuild + VACUUM ANALYZE (generation excluded)
	LoadPhases           struct {
		Generate float64 `json:"generate_seconds"`
		Copy     float64 `json:"copy_seconds"`
		Indexes  float64 `json:"index_rebuild_seconds"`
		Vacuum   float64 `json:"vacuum_analyze_seconds"`
	} `json:"load_phases"`
	IndexMB          float64 `json:"index_mb"`
	RSSMB            float64 `json:"rss_mb"`
	HeapInuseMB      float64 `json:"heap_inuse_mb"`
	ColdBuildSeconds float64 `json:"index_cold_build_seconds"`
	RedisWarmSeconds float64 `json:"index_redis_warm_seconds"`

	// The machine's load average (1, 5, 15 min) as each phase ended: other
	// work on the machine shows here.
	LoadAvg []phaseLoad `json:"load_average"`

	Targets []targetCheck `json:"targets"`
	Profile profileInfo   `json:"profile"`
	Notes   []string      `json:"notes"`

	viewerOrder []string
}

func newReport(e *env) *report {
	g := e.gen
	rep := &report{Size: e.spec.Name, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), GOGC: gcPercent(), Postgres: e.pgVersion,
		Requests: e.spec.Requests, Warmup: e.spec.Warmup,
		Viewers: map[string]viewerInfo{}, Queries: map[string]map[string]*latStat{}, Q5: map[string]*tputStat{},
		Q6: map[string]*changeStat{}, LoadSeconds: round3(e.loadSeconds), ColdBuildSeconds: round3(e.coldBuildSeconds),
		RedisWarmSeconds: round3(e.redisWarmSeconds)}
	rep.Org = orgInfo{Members: len(g.Members), Roles: len(g.Roles), RoleDepth: e.spec.Depth, Groups: len(g.Groups),
		NestedGroups: e.spec.Nested, OwnerRules: e.spec.OwnerRules, CriteriaRules: e.spec.CriteriaRules,
		Deals: len(g.DealIDs), Accounts: e.spec.Accounts, Contacts: e.spec.Contacts, DealShares: g.DealShares,
		SharedDeals: len(g.DealShared), AccountShares: g.AcctShares}
	tm := g.Timing
	rep.LoadPhases.Generate, rep.LoadPhases.Copy = round3(tm.Generate), round3(tm.Copy)
	rep.LoadPhases.Indexes, rep.LoadPhases.Vacuum = round3(tm.Indexes), round3(tm.Vacuum)
	for _, v := range e.viewers {
		rep.viewerOrder = append(rep.viewerOrder, v.Name)
	}
	if e.redisNote != "" {
		rep.note("%s", e.redisNote)
	}
	rep.note("all figures come from one process: the bench client, instances A and B share its %d CPUs with Postgres", runtime.NumCPU())
	rep.note("Q1-Q4: sequential requests to instance A; every round sends each series once in a rotating order; ratio = viewer / administrator (same request; for Q4 the same ids)")
	rep.note("Q5: Q1 and Q2 alternately; ratio_rps = viewer throughput / administrator throughput")
	rep.note("Q6: p50/p99 are from the mutation's response on A to the first response of B showing the change; total_* include the mutation; each trial measures the change and its reversal")
	rep.note("Q7: load_seconds is COPY + index rebuild + VACUUM ANALYZE on a fresh database (generating the rows in memory is reported apart); rss_mb is the whole bench process (both warm instances, the client, the generator's id lists) after GC; index_mb is access.Index.SizeBytes of instance A's warm index")
	rep.note("the servers' per-request access log is formatted (JSON, as in production) but discarded")
	return rep
}

// phase records the load average as a phase ends.
func (r *report) phase(name string) {
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	r.LoadAvg = append(r.LoadAvg, phaseLoad{Phase: name, Load: load})
}

func (r *report) note(format string, args ...any) {
	if len(r.Notes) < 200 {
		r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
	}
}

func (r *report) secured() []string {
	var out []string
	for _, v := range r.viewerOrder {
		if v != "admin" {
			out = append(out, v)
		}
	}
	return out
}

// finish derives the headline figures and checks the targets.
func (r *report) finish() {
	first := true
	for _, v := range r.secured() {
		if st := r.Q5[v]; st != nil && (first || st.ThroughputRPS < r.ThroughputRPS) {
			r.ThroughputRPS, first = st.ThroughputRPS, false
		}
	}
	for _, st := range r.Q6 {
		r.ChangeToVisibleMsP99 = max(r.ChangeToVisibleMsP99, st.P99)
	}
	add := func(name, value, target string, pass bool) {
		r.Targets = append(r.Targets, targetCheck{Name: name, Value: value, Target: target, Pass: pass})
	}
	for _, v := range r.secured() {
		for _, q := range []string{"Q1", "Q2"} {
			if st := r.Queries[q][v]; st != nil {
				add(q+" "+v, fmt.Sprintf("p50 %.3fx, p99 %.3fx", st.RatioP50, st.RatioP99), "p50 <= 1.25x, p99 <= 2x",
					st.RatioP50 <= 1.25 && st.RatioP99 <= 2 && st.Errors == 0)
			}
		}
		if st := r.Queries["Q3"][v]; st != nil {
			add("Q3 "+v, fmt.Sprintf("p50 %.3fx (p99 %.3fx)", st.RatioP50, st.RatioP99), "p50 <= 1x", st.RatioP50 <= 1 && st.Errors == 0)
		}
		if st := r.Queries["Q4"][v]; st != nil {
			add("Q4 "+v, fmt.Sprintf("p50 %.3fx (p99 %.3fx)", st.RatioP50, st.RatioP99), "p50 <= 1.1x", st.RatioP50 <= 1.1 && st.Errors == 0)
		}
		if st := r.Q5[v]; st != nil {
			add("Q5 "+v, fmt.Sprintf("%.0f req/s, %d errors", st.ThroughputRPS, st.Errors), ">= 1500 req/s, 0 errors",
				st.ThroughputRPS >= 1500 && st.Errors == 0)
		}
	}
	for _, k := range sortedKeys(r.Q6) {
		st := r.Q6[k]
		add("Q6 "+k, fmt.Sprintf("p99 %.1f ms (%d failures)", st.P99, st.Failures), "p99 < 10 ms", st.P99 < 10 && st.Failures == 0)
	}
	add("Q7 load", fmt.Sprintf("%.1f s", r.LoadSeconds), "< 60 s (size M)", r.LoadSeconds < 60)
	add("Q7 index", fmt.Sprintf("%.1f MiB", r.IndexMB), "< 64 MB (size M)", r.IndexMB*(1<<20) < 64e6)
	add("errors", fmt.Sprint(r.Errors), "0", r.Errors == 0)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (r *report) write(jsonPath, mdPath string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(mdPath, []byte(r.markdown()), 0o644)
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.Org
	p("# Warden bench, size %s\n\n", r.Size)
	p("Run %s, %.0f s; %s, %d CPUs, GOGC %d, Postgres %s.\n\n", r.StartedAt, r.DurationSeconds, r.GoVersion, r.CPUs, r.GOGC, r.Postgres)
	p("Org: %d members on %d roles (depth %d, 3 children per role), %d groups (%d nested), %d owner-based and %d criteria-based sharing rules; "+
		"%d deals (%d shares on %d deals), %d accounts (%d shares), %d contacts.\n\n",
		o.Members, o.Roles, o.RoleDepth, o.Groups, o.NestedGroups, o.OwnerRules, o.CriteriaRules, o.Deals, o.DealShares, o.SharedDeals,
		o.Accounts, o.AccountShares, o.Contacts)

	p("## Probe viewers\n\n| viewer | member | role depth | visible deals (API totalCount) | engine | list plan |\n|---|---|---|---|---|---|\n")
	for _, v := range r.viewerOrder {
		vi := r.Viewers[v]
		p("| %s | %s | %d | %d | %d | %s |\n", v, vi.Member, vi.RoleDepth, vi.Visible, vi.VisibleEngine, vi.Plan)
	}

	p("\n## Q1-Q4 latency (instance A, sequential, %d requests per series after %d warm-up)\n\n", r.Requests, r.Warmup)
	p("Q1: first page of 50 deals by updatedAt, 6 fields, owner, account. Q2: same, filter stage = %s, ordered by amount. "+
		"Q3: totalCount alone. Q4: deal(id), half the ids visible to the viewer, half not (the administrator asks for the same ids).\n\n", filterStage)
	p("Go CPU: CPU time of the bench process (client and servers, not Postgres) per request, p50.\n\n")
	p("| query | viewer | p50 ms | p99 ms | admin p50 | admin p99 | p50 x admin | p99 x admin | Go CPU ms | Go CPU x admin | errors |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, q := range []string{"Q1", "Q2", "Q3", "Q4"} {
		for _, v := range r.viewerOrder {
			if st := r.Queries[q][v]; st != nil {
				p("| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %d |\n", q, v, st.P50, st.P99, st.AdminP50, st.AdminP99,
					st.RatioP50, st.RatioP99, st.CPUP50, st.RatioCPUP50, st.Errors)
			}
		}
	}

	p("\n## Q5 throughput (Q1 and Q2 alternately, concurrent clients, instance A)\n\n")
	p("| viewer | clients | seconds | req/s | x admin | p50 ms | p99 ms | p50 x admin | p99 x admin | errors |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, v := range r.viewerOrder {
		if st := r.Q5[v]; st != nil {
			p("| %s | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %d |\n", v, st.Clients, st.Seconds, st.ThroughputRPS, st.RatioRPS,
				st.P50, st.P99, st.RatioP50, st.RatioP99, st.Errors)
		}
	}

	p("\nReference: the same clients, as the leaf, with requests that read no deals or one. Authentication, the org's scope, " +
		"HTTP and GraphQL execution alone reach this much on this machine, so it bounds Q5 from above.\n\n")
	p("| request | clients | seconds | req/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|\n")
	for _, st := range r.Q5Reference {
		p("| `%s` | %d | %.0f | %.0f | %.2f | %.2f | %d |\n", st.Request, st.Clients, st.Seconds, st.ThroughputRPS, st.P50, st.P99, st.Errors)
	}

	p("\n## Q6 access change on A until B shows it\n\n")
	p("visible: from the mutation's response on A to B's first response showing the change; total: from sending the mutation. " +
		"Samples: each trial's change and its reversal. GC: cycles of the bench process's garbage collector completed while the kind's trials ran, " +
		"and the CPU it used (both instances and the client share the process).\n\n")
	p("| change | via | viewer | samples | mutation p50 ms | mutation p99 ms | visible p50 ms | visible p99 ms | change p99 | reversal p99 | total p99 ms | B's first answer right | failures | GC cycles | GC CPU ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range sortedKeys(r.Q6) {
		st := r.Q6[k]
		p("| %s | %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f%% | %d | %d | %.0f |\n", k, st.Via, st.Viewer, st.Samples, st.MutationP50,
			st.MutationP99, st.P50, st.P99, st.ForwardP99, st.ReverseP99, st.TotalP99, 100*st.FirstPollFraction, st.Failures, st.GCCycles, st.GCCPUms)
	}

	p("\n## Q7 load and memory\n\n| figure | value |\n|---|---|\n")
	p("| bulk load (COPY, index rebuild, VACUUM ANALYZE) | %.1f s |\n", r.LoadSeconds)
	p("| of which COPY / index rebuild / VACUUM ANALYZE | %.1f / %.1f / %.1f s |\n", r.LoadPhases.Copy, r.LoadPhases.Indexes, r.LoadPhases.Vacuum)
	p("| generating the rows in memory (not included) | %.1f s |\n", r.LoadPhases.Generate)
	p("| index cold build on A (from Postgres) | %.2f s |\n", r.ColdBuildSeconds)
	p("| index warm-up on B (from Redis) | %.2f s |\n", r.RedisWarmSeconds)
	p("| warm index (SizeBytes) | %.1f MiB |\n", r.IndexMB)
	p("| process RSS, org warm on A and B | %.0f MiB |\n", r.RSSMB)
	p("| Go heap in use | %.0f MiB |\n", r.HeapInuseMB)

	p("\n## Machine load (load average 1/5/15 min, %d CPUs)\n\n| after | load |\n|---|---|\n", r.CPUs)
	for _, l := range r.LoadAvg {
		p("| %s | %s |\n", l.Phase, l.Load)
	}

	p("\n## Headline\n\n| key | value |\n|---|---|\n")
	p("| throughput_rps (Q5, lowest secured viewer) | %.0f |\n| errors | %d |\n| change_to_visible_ms_p99 (worst kind) | %.1f |\n| load_seconds | %.1f |\n| index_mb | %.1f |\n",
		r.ThroughputRPS, r.Errors, r.ChangeToVisibleMsP99, r.LoadSeconds, r.IndexMB)

	p("\n## Targets\n\n| check | value | target | |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		mark := "pass"
		if !t.Pass {
			mark = "**MISS**"
		}
		p("| %s | %s | %s | %s |\n", t.Name, t.Value, t.Target, mark)
	}

	p("\n## Profile\n\n")
	for _, x := range r.Profile.Explain {
		p("### EXPLAIN (ANALYZE, BUFFERS): %s\n\n```\n%s\n```\n\n", x.Request, x.Text)
	}
	if r.Profile.CPUFile != "" {
		p("### CPU profile: leaf Q1 on instance A (%d requests, file %s)\n\n", r.Profile.CPURequests, r.Profile.CPUFile)
		if r.Profile.CPUTopServer != "" {
			p("Server request goroutines only (label warden=server), flat:\n\n```\n%s\n```\n\n", r.Profile.CPUTopServer)
			p("Server request goroutines only, cumulative, Warden's own functions:\n\n```\n%s\n```\n\n", r.Profile.CPUTopServerCum)
			p("Whole process (client and net/http included), flat:\n\n```\n%s\n```\n\n", r.Profile.CPUTopProcess)
		}
	}
	if r.Profile.CPUNote != "" {
		p("%s\n\n", r.Profile.CPUNote)
	}
	p("## Notes\n\n")
	for _, n := range r.Notes {
		p("- %s\n", n)
	}
	return b.String()
}

// gcState is what the runtime reports of the garbage collector so far.
type gcState struct {
	cycles     uint64
	cpuSeconds float64
}

// readGC reads the GC's completed cycles and CPU time from runtime/metrics
// (no stop-the-world, unlike runtime.ReadMemStats).
func readGC() gcState {
	samples := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(samples)
	var st gcState
	if samples[0].Value.Kind() == metrics.KindUint64 {
		st.cycles = samples[0].Value.Uint64()
	}
	if samples[1].Value.Kind() == metrics.KindFloat64 {
		st.cpuSeconds = samples[1].Value.Float64()
	}
	return st
}

// gcPercent is the GC target in effect (GOGC, or what the program set).
func gcPercent() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return int64(s[0].Value.Uint64())
	}
	return -1
}
