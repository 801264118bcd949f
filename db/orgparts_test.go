package db

import (
	"encoding/json"
	"slices"
	"testing"

	"warden/access"
)

func TestTouched(t *testing.T) {
	change := func(kind string, payload any) Change {
		b, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		return Change{Kind: kind, Payload: b}
	}
	org := func(action, targetType string, id int64) Change {
		return change(ChangeOrg, OrgChange{Action: action, TargetType: targetType, TargetID: id})
	}
	tests := []struct {
		name    string
		changes []Change
		parts   OrgParts
		members []int64
		rules   []access.Module
	}{
		{"records and shares touch nothing", []Change{
			change(ChangeRecordUpsert, RecordChange{Module: access.Deals, ID: 1}),
			change(ChangeShareAdd, ShareChange{Module: access.Deals, RecordID: 1, Principal: access.User(2)}),
		}, 0, nil, nil},
		{"role move", []Change{org("role.move", "role", 7)}, PartRoles, nil, nil},
		{"role delete reloads all", []Change{org("role.delete", "role", 7)}, PartAll, nil, nil},
		{"member update names the member", []Change{org("member.update", "member", 9), org("member.deactivate", "member", 4)}, 0, []int64{9, 4}, nil},
		{"member action without a target reloads all", []Change{org("member.update", "member", 0)}, PartAll, nil, nil},
		{"profile delete moves members", []Change{org("profile.delete", "profile", 2)}, PartProfiles | PartMembers, nil, nil},
		{"group", []Change{change(ChangeOrg, map[string]any{"group": 3})}, PartGroups, nil, nil},
		{"rules of two modules", []Change{change(ChangeRules, map[string]any{"module": "DEALS"}), change(ChangeRules, map[string]any{"module": "LEADS"})},
			PartRules, nil, []access.Module{access.Deals, access.Leads}},
		{"rules of an unknown module reload all", []Change{change(ChangeRules, map[string]any{"module": "NOPE"})}, PartAll, nil, nil},
		{"unknown action reloads all", []Change{org("something.new", "thing", 1)}, PartAll, nil, nil},
		{"unknown payload reloads all", []Change{change(ChangeOrg, map[string]any{"member": 5})}, PartAll, nil, nil},
		{"malformed payload reloads all", []Change{{Kind: ChangeOrg, Payload: json.RawMessage(`[1]`)}}, PartAll, nil, nil},
		{"settings and roles add up", []Change{org("org.setModuleSharing", "org", 1), org("role.create", "role", 8)}, PartSettings | PartRoles, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.changes {
				tt.changes[i].Version = int64(10 + i)
			}
			got := TouchedBy(tt.changes)
			if want := int64(9 + len(tt.changes)); got.Version != want {
				t.Errorf("version = %d, want %d (the last change's)", got.Version, want)
			}
			if got.Parts != tt.parts {
				t.Errorf("parts = %06b, want %06b", got.Parts, tt.parts)
			}
			if tt.parts != PartAll && !slices.Equal(got.Members, tt.members) {
				t.Errorf("members = %v, want %v", got.Members, tt.members)
			}
			if len(got.Rules) != len(tt.rules) {
				t.Errorf("rules = %v, want %v", got.Rules, tt.rules)
			}
			for _, m := range tt.rules {
				if !got.Rules[m] {
					t.Errorf("rules = %v, want %v", got.Rules, tt.rules)
				}
			}
			if got.Any() != (tt.parts != 0 || len(tt.members) > 0) {
				t.Errorf("Any() = %v", got.Any())
			}
		})
	}
}

// KeepsPeople decides whether a catch-up may reuse the snapshot's roles,
// profiles and members: only when no change touched any of them.
func TestTouchedKeepsPeople(t *testing.T) {
	org := func(action, targetType string, id int64) Change {
		b, _ := json.Marshal(OrgChange{Action: action, TargetType: targetType, TargetID: id})
		return Change{Kind: ChangeOrg, Payload: b}
	}
	group := Change{Kind: ChangeOrg, Payload: json.RawMessage(`{"group": 3}`)}
	rules := Change{Kind: ChangeRules, Payload: json.RawMessage(`{"module": "DEALS"}`)}
	tests := []struct {
		name    string
		changes []Change
		keeps   bool
	}{
		{"a group", []Change{group}, true},
		{"rules and settings", []Change{rules, org("org.setHierarchyMode", "org", 1)}, true},
		{"a group and a member", []Change{group, org("member.update", "member", 9)}, false},
		{"a role move", []Change{org("role.move", "role", 7)}, false},
		{"a profile", []Change{org("profile.update", "profile", 2)}, false},
		{"an unknown action", []Change{org("something.new", "thing", 1)}, false},
	}
	for _, tt := range tests {
		touched := TouchedBy(tt.changes)
		if got := touched.KeepsPeople(); got != tt.keeps {
			t.Errorf("%s: KeepsPeople() = %v, want %v", tt.name, got, tt.keeps)
		}
	}
}

func TestMergeMembers(t *testing.T) {
	ms := func(ids ...int64) []access.Member {
		var out []access.Member
		for _, id := range ids {
			out = append(out, access.Member{ID: id, Name: "old"})
		}
		return out
	}
	fresh := func(ids ...int64) []access.Member {
		out := ms(ids...)
		for i := range out {
			out[i].Name = "new"
		}
		return out
	}
	tests := []struct {
		name    string
		members []access.Member
		ids     []int64
		fresh   []access.Member
		want    []string // id:name
	}{
		{"replace in the middle", ms(1, 2, 3), []int64{2}, fresh(2), []string{"1old", "2new", "3old"}},
		{"add at both ends", ms(2, 3), []int64{1, 4}, fresh(1, 4), []string{"1new", "2old", "3old", "4new"}},
		{"drop a vanished member", ms(1, 2, 3), []int64{2}, nil, []string{"1old", "3old"}},
		{"into an empty org", nil, []int64{5}, fresh(5), []string{"5new"}},
		{"replace and add", ms(1, 3, 5), []int64{3, 4, 5}, fresh(3, 4), []string{"1old", "3new", "4new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.members)
			var got []string
			for _, m := range mergeMembers(tt.members, tt.ids, tt.fresh) {
				got = append(got, string(rune('0'+m.ID))+m.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if !slices.Equal(before, tt.members) {
				t.Error("the members given were modified")
			}
		})
	}
}
