package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"warden/access/scenariotest"
	"warden/api/apitest"
	"warden/records"
)

// TestScenariosThroughGraphQL is the access conformance suite run through the
// real path: each scenario org is written to Postgres, the engine builds its
// snapshot and index from there, and every member's lists and every listed
// record's level and permissions are compared with the file's expectations.
func TestScenariosThroughGraphQL(t *testing.T) {
	scenarios, err := scenariotest.LoadDir(filepath.Join("..", "access", "testdata", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) < 50 {
		t.Fatalf("only %d scenario files found", len(scenarios))
	}
	env := apitest.New(t)
	for _, sc := range scenarios {
		t.Run(sc.Name(), func(t *testing.T) {
			t.Parallel()
			loaded, err := apitest.LoadScenario(context.Background(), env.DB, sc)
			if err != nil {
				t.Fatal(err)
			}
			for _, member := range sc.MemberNames {
				caller := apitest.Caller{Token: loaded.Token(t, member), Org: fmt.Sprintf("org_%d", loaded.OrgID)}
				for _, mod := range records.AllModules {
					got, forbidden := listAccess(t, env, caller, string(mod))
					for _, rec := range sc.File.Records {
						if rec.Module != string(mod) {
							continue
						}
						key := rec.Module + "/" + rec.ID
						want := sc.Expected(member, key)
						wantRead := slices.Contains(want.Can, "read")
						g, visible := got[loaded.Records[key]]
						switch {
						case forbidden && wantRead:
							t.Errorf("%s: %s is FORBIDDEN, want read of %s", member, mod, key)
						case visible != wantRead:
							t.Errorf("%s on %s: visible=%v, want %v (expected %+v)", member, key, visible, wantRead, want)
						case visible && (g.Level != want.Level || !slices.Equal(g.can(), sortedCopy(want.Can))):
							t.Errorf("%s on %s: level %s can %v, want level %s can %v", member, key, g.Level, g.can(), want.Level, sortedCopy(want.Can))
						}
					}
				}
			}
		})
	}
}

type recordAccess struct {
	Level                                                 string
	CanRead, CanEdit, CanDelete, CanShare, CanChangeOwner bool
}

func (a recordAccess) can() []string {
	var out []string
	for _, c := range []struct {
		ok   bool
		name string
	}{{a.CanRead, "read"}, {a.CanEdit, "edit"}, {a.CanDelete, "delete"}, {a.CanShare, "share"}, {a.CanChangeOwner, "changeOwner"}} {
		if c.ok {
			out = append(out, c.name)
		}
	}
	slices.Sort(out)
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// listAccess pages through a module's list as the caller and returns each
// visible record's access, or forbidden when the profile has no view.
func listAccess(t *testing.T, env *apitest.Env, c apitest.Caller, module string) (map[int64]recordAccess, bool) {
	t.Helper()
	field := strings.ToLower(module)
	out := map[int64]recordAccess{}
	after := ""
	for {
		q := fmt.Sprintf(`query($after: String) { %s(first: 100, after: $after) { totalCount
			edges { node { id access { level canRead canEdit canDelete canShare canChangeOwner } } }
			pageInfo { hasNextPage endCursor } } }`, field)
		vars := map[string]any{}
		if after != "" {
			vars["after"] = after
		}
		r := env.Do(c, q, vars)
		if len(r.Errors) > 0 {
			if r.Errors[0].Code() == "FORBIDDEN" {
				return out, true
			}
			t.Fatalf("%s list: %+v", module, r.Errors)
		}
		var data map[string]struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					ID     string
					Access recordAccess
				}
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
		if err := json.Unmarshal(r.Data, &data); err != nil {
			t.Fatal(err)
		}
		conn := data[field]
		for _, e := range conn.Edges {
			var key int64
			_, _ = fmt.Sscanf(e.Node.ID[strings.Index(e.Node.ID, "_")+1:], "%d", &key)
			out[key] = e.Node.Access
		}
		if !conn.PageInfo.HasNextPage {
			if conn.TotalCount != len(out) {
				t.Errorf("%s: totalCount %d, listed %d", module, conn.TotalCount, len(out))
			}
			return out, false
		}
		after = conn.PageInfo.EndCursor
	}
}
