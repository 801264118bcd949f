package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"warden/db/dbtest"
)

// TestBenchSmall runs the whole benchmark pipeline at size T (60 members,
// 3,000 deals) so that `warden bench` cannot rot: load, both instances,
// Q1-Q7, the profile and the report files. Its figures are not checked.
func TestBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark pipeline; skipped with -short")
	}
	out := t.TempDir()
	opt := Options{Size: "T", DatabaseURL: dbtest.AdminURL(), RedisURL: dbtest.RedisURL(), OutDir: out,
		DBName: dbtest.RandomName("warden_bench_t_"), DropAfter: true, Progress: testWriter{t}}
	if err := Run(context.Background(), nil, opt); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"T.json", "T.md", "T-leaf-q1.cpu.pprof"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty (%v)", f, err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(out, "T.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"throughput_rps", "errors", "change_to_visible_ms_p99", "load_seconds", "index_mb"} {
		if _, ok := rep[k].(float64); !ok {
			t.Errorf("report key %s missing or not a number: %v", k, rep[k])
		}
	}
	if n, _ := rep["errors"].(float64); n != 0 {
		t.Errorf("errors = %v; notes: %v", n, rep["notes"])
	}
	queries, _ := rep["queries"].(map[string]any)
	for _, q := range []string{"Q1", "Q2", "Q3", "Q4"} {
		byViewer, _ := queries[q].(map[string]any)
		for _, v := range []string{"admin", "top", "mid", "leaf"} {
			st, _ := byViewer[v].(map[string]any)
			for _, k := range []string{"p50_ms", "p99_ms", "ratio_p50", "ratio_p99"} {
				if x, ok := st[k].(float64); !ok || x <= 0 {
					t.Errorf("%s %s: %s = %v", q, v, k, st[k])
				}
			}
		}
	}
	q5, _ := rep["q5"].(map[string]any)
	for _, v := range []string{"admin", "top", "mid", "leaf"} {
		st, _ := q5[v].(map[string]any)
		if x, _ := st["throughput_rps"].(float64); x <= 0 {
			t.Errorf("Q5 %s: throughput_rps = %v", v, st["throughput_rps"])
		}
	}
	refs, _ := rep["q5_reference"].([]any)
	if len(refs) != len(q5References) {
		t.Errorf("Q5 reference: %d rows, want %d", len(refs), len(q5References))
	}
	for _, r := range refs {
		st, _ := r.(map[string]any)
		if x, _ := st["throughput_rps"].(float64); x <= 0 || st["errors"] != 0.0 {
			t.Errorf("Q5 reference %v: throughput_rps %v, errors %v", st["request"], st["throughput_rps"], st["errors"])
		}
	}
	q6, _ := rep["q6"].(map[string]any)
	for _, k := range []string{"moveRole", "updateMember(role)", "createSharingRule", "shareRecords", "updateGroup(nested)"} {
		st, _ := q6[k].(map[string]any)
		if n, _ := st["samples"].(float64); n == 0 {
			t.Errorf("Q6 %s: no samples (%v)", k, st)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "T.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| Q1 | leaf |", "## Q5", "Reference: the same clients", "## Q6", "## Q7", "EXPLAIN (ANALYZE, BUFFERS): Q1 leaf"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("T.md lacks %q", want)
		}
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
