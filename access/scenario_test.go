package access_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"warden/access"
	"warden/access/scenariotest"
)

const scenarioDir = "testdata/scenarios"

func describeGrants(e access.Explanation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "level %s, can %v", e.Level, e.Permissions.Names())
	if e.Note != "" {
		fmt.Fprintf(&b, " (%s)", e.Note)
	}
	for _, g := range e.Grants {
		fmt.Fprintf(&b, "\n    %s %s via %s", g.Source, g.Level, g.Via)
	}
	return b.String()
}

// TestScenarios runs the conformance suite of shared/scenarios against the
// engine three ways: Explain with brute-force facts, Explain with the
// index's facts, and membership of the visible set.
func TestScenarios(t *testing.T) {
	scenarios, err := scenariotest.LoadDir(scenarioDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) == 0 {
		t.Fatalf("no scenarios in %s", scenarioDir)
	}
	for _, sc := range scenarios {
		snap, err := sc.Snapshot()
		if err != nil {
			t.Fatalf("%s: %v", sc.Name(), err)
		}
		ix, err := sc.Index(snap)
		if err != nil {
			t.Fatalf("%s: %v", sc.Name(), err)
		}
		for _, member := range sc.MemberNames {
			mid := sc.MemberIDs[member]
			visible := map[access.Module]access.VisibleSet{}
			for _, m := range access.Modules {
				visible[m] = snap.VisibleSet(ix, mid, m)
			}
			for i := range sc.Records {
				rec := &sc.Records[i]
				t.Run(sc.Name()+"/"+member+"/"+rec.Key, func(t *testing.T) {
					want := sc.Expected(member, rec.Key)
					wantCan := slices.Clone(want.Can)
					slices.Sort(wantCan)

					check := func(how string, e access.Explanation) {
						t.Helper()
						got := e.Permissions.Names()
						slices.Sort(got)
						if e.Level.String() != want.Level || !slices.Equal(got, wantCan) {
							t.Errorf("%s: want level %s, can %v; got %s", how, want.Level, wantCan, describeGrants(e))
						}
					}
					brute := snap.Explain(mid, sc.BruteFacts(rec))
					check("Explain(BruteFacts)", brute)
					facts, ok := ix.Facts(rec.Module, rec.ID)
					if !ok {
						t.Fatalf("record %s not in the index", rec.Key)
					}
					check("Explain(index facts)", snap.Explain(mid, facts))
					wantRead := slices.Contains(want.Can, "read")
					if got := visible[rec.Module].Contains(rec.ID); got != wantRead {
						t.Errorf("VisibleSet contains %s = %v, want %v; %s", rec.Key, got, wantRead, describeGrants(brute))
					}
				})
			}
		}
	}
}
