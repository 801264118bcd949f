package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/db/dbtest"
)

// TestSoakBrief runs `warden soak`'s code path on the tiny org for a few
// seconds: every request of the mix succeeds on both instances and the
// report is written with one row per interval.
func TestSoakBrief(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the soak pipeline; skipped with -short")
	}
	out := t.TempDir()
	opt := SoakOptions{Options: Options{Size: "T", DatabaseURL: dbtest.AdminURL(), RedisURL: dbtest.RedisURL(), OutDir: out,
		DBName: dbtest.RandomName("warden_soak_t_"), DropAfter: true, Progress: testWriter{t}},
		Duration: 3 * time.Second, Interval: time.Second, Clients: 8}
	rep, err := Soak(context.Background(), nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 {
		for _, iv := range rep.Intervals {
			t.Errorf("interval %d: %d errors, first: %v", iv.Index, iv.Errors, iv.FirstErrors)
		}
	}
	if len(rep.Intervals) != 3 {
		t.Errorf("intervals = %d, want 3", len(rep.Intervals))
	}
	if rep.Reads == 0 || rep.Writes == 0 {
		t.Errorf("reads %d, writes %d: want both", rep.Reads, rep.Writes)
	}
	if rep.RSSEndMiB <= 0 || rep.HeapEndMiB <= 0 {
		t.Errorf("memory not sampled: RSS %v MiB, heap %v MiB", rep.RSSEndMiB, rep.HeapEndMiB)
	}
	md, err := os.ReadFile(filepath.Join(out, "soak.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| 3 |") {
		t.Errorf("soak.md lacks the third interval:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(out, "soak.json")); err != nil {
		t.Error(err)
	}
}
