package access

import (
	"math/rand"
	"reflect"
	"slices"
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

// Rebuild must build exactly what NewSnapshot builds, whatever changed
// between the two orgs (members moved, joined, left or reordered, reporting
// lines redrawn, roles and profiles renumbered), and refuse what
// NewSnapshot refuses.
func TestRebuildEqualsNewSnapshot(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	reused, refused := 0, 0
	for o := 0; o < 600; o++ {
		w := newWorld(r)
		prev, err := NewSnapshot(w.org)
		if err != nil {
			t.Fatalf("org %d: %v", o, err)
		}
		next := w.org
		next.Version++
		next.Members = slices.Clone(w.org.Members)
		next.Roles = slices.Clone(w.org.Roles)
		next.Profiles = slices.Clone(w.org.Profiles)
		pick := func() int { return r.Intn(len(next.Members)) }
		for k := r.Intn(4); k > 0 && len(next.Members) > 0; k-- {
			m := &next.Members[pick()]
			switch r.Intn(5) {
			case 0:
				m.RoleID = next.Roles[r.Intn(len(next.Roles))].ID
			case 1:
				m.ProfileID = next.Profiles[r.Intn(len(next.Profiles))].ID
			case 2: // may draw a cycle: both must refuse it
				m.ReportsToID = next.Members[pick()].ID
			case 3:
				m.Active = !m.Active
			default:
				m.Name += "'"
			}
		}
		switch r.Intn(8) {
		case 0:
			if len(next.Members) > 1 {
				i := pick()
				next.Members = slices.Delete(next.Members, i, i+1)
				for j := range next.Members { // no line to the one who left
					if next.Members[j].ReportsToID == w.org.Members[i].ID {
						next.Members[j].ReportsToID = 0
					}
				}
			}
		case 1:
			next.Members = append(next.Members, Member{ID: 1 << 40, RoleID: next.Roles[0].ID, ProfileID: next.Profiles[0].ID, Active: true})
		case 2:
			r.Shuffle(len(next.Members), func(i, j int) { next.Members[i], next.Members[j] = next.Members[j], next.Members[i] })
		case 3:
			if len(next.Roles) > 1 {
				i := 1 + r.Intn(len(next.Roles)-1)
				next.Roles[i].ParentID = next.Roles[r.Intn(len(next.Roles))].ID // may be a cycle
			}
		case 4:
			r.Shuffle(len(next.Roles), func(i, j int) { next.Roles[i], next.Roles[j] = next.Roles[j], next.Roles[i] })
		case 5:
			r.Shuffle(len(next.Profiles), func(i, j int) { next.Profiles[i], next.Profiles[j] = next.Profiles[j], next.Profiles[i] })
		case 6:
			if len(next.Members) > 0 {
				next.Members[pick()].RoleID = 1 << 41 // unknown role
			}
		}
		want, wantErr := NewSnapshot(next)
		got, gotErr := prev.Rebuild(next)
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
			t.Fatalf("org %d: NewSnapshot error %v, Rebuild error %v", o, wantErr, gotErr)
		}
		if wantErr != nil {
			refused++
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("org %d: Rebuild differs from NewSnapshot", o)
		}
		if len(got.members) > 0 && len(prev.members) > 0 && reflect.ValueOf(got.memberIdx).Pointer() == reflect.ValueOf(prev.memberIdx).Pointer() {
			reused++
		}
	}
	if reused < 100 || refused == 0 {
		t.Fatalf("reused the member index %d times, refused %d orgs: the test did not cover both paths", reused, refused)
	}
}
