package access

import (
	"math/rand"
	"reflect"
	"testing"
)

// WithGroupsAndRules must build exactly what NewSnapshot builds (every
// field, unexported ones included) when only groups, rules, defaults or the
// hierarchy mode changed; and refuse what NewSnapshot refuses.
func TestWithGroupsAndRulesEqualsNewSnapshot(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for o := 0; o < 300; o++ {
		w := newWorld(r)
		prev, err := NewSnapshot(w.org)
		if err != nil {
			t.Fatalf("org %d: %v", o, err)
		}
		next := w.org
		next.Version++
		next.Groups, next.Rules = nil, nil
		w.org.Groups = nil
		w.randGroups(r, r.Intn(6))
		next.Groups = w.org.Groups
		for n := r.Intn(6); n > 0; n-- {
			next.Rules = append(next.Rules, w.randRule(r))
		}
		if r.Intn(3) == 0 {
			next.HierarchyMode = HierarchyRole + HierarchyReporting - next.HierarchyMode
		}
		next.Defaults = map[Module]Level{}
		for _, m := range Modules {
			if r.Intn(3) == 0 {
				next.Defaults[m] = Level(1 + r.Intn(3))
			}
		}
		if r.Intn(10) == 0 && len(next.Rules) > 0 {
			next.Rules[0].Target = GroupPrincipal(999) // unknown: both must refuse
		}
		want, wantErr := NewSnapshot(next)
		got, gotErr := prev.WithGroupsAndRules(next)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("org %d: NewSnapshot error %v, WithGroupsAndRules error %v", o, wantErr, gotErr)
		}
		if wantErr != nil {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("org %d: WithGroupsAndRules differs from NewSnapshot", o)
		}
	}
}
