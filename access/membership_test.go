package access_test

import (
	"testing"

	"warden/access"
)

func TestValidateMembershipChange(t *testing.T) {
	std := access.Profile{ID: 2, Name: "Standard", Modules: map[access.Module]access.PermissionSet{}}
	adminProf := access.Profile{ID: 1, Name: "Administrator", Administrator: true}
	snap, err := access.NewSnapshot(access.OrgData{OrgID: 1,
		Roles:    []access.Role{{ID: 1, Name: "CEO"}, {ID: 2, ParentID: 1, Name: "Rep"}},
		Profiles: []access.Profile{adminProf, std},
		Members: []access.Member{
			{ID: 10, RoleID: 1, ProfileID: 1, Active: true, Name: "Ada"}, // the only active Administrator
			{ID: 11, RoleID: 2, ProfileID: 2, Active: true, Name: "Hal"}, // manageUsers, not Administrator
			{ID: 12, RoleID: 2, ProfileID: 2, Active: true, Name: "Rep"},
			{ID: 13, RoleID: 2, ProfileID: 1, Active: false, Name: "Old admin"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	const ada, hal, rep, oldAdmin = 10, 11, 12, 13
	cases := []struct {
		name  string
		actor int64
		c     access.MembershipChange
		code  string // "" allowed
	}{
		{"add a Standard member", hal, access.MembershipChange{ProfileChanges: true}, ""},
		{"non-admin adds an Administrator", hal, access.MembershipChange{ProfileChanges: true, NewProfileAdmin: true}, access.CodeForbidden},
		{"admin adds an Administrator", ada, access.MembershipChange{ProfileChanges: true, NewProfileAdmin: true}, ""},
		{"non-admin promotes someone", hal, access.MembershipChange{Target: rep, ProfileChanges: true, NewProfileAdmin: true}, access.CodeForbidden},
		{"non-admin changes own role", hal, access.MembershipChange{Target: hal, RoleChanges: true}, access.CodeForbidden},
		{"non-admin changes another's role", hal, access.MembershipChange{Target: rep, RoleChanges: true}, ""},
		{"admin demotes the last active Administrator", ada, access.MembershipChange{Target: ada, ProfileChanges: true}, access.CodeConflict},
		{"deactivate yourself", ada, access.MembershipChange{Target: ada, Deactivate: true}, access.CodeConflict},
		{"non-admin deactivates the last Administrator", hal, access.MembershipChange{Target: ada, Deactivate: true}, access.CodeConflict},
		{"non-admin deactivates a rep", hal, access.MembershipChange{Target: rep, Deactivate: true}, ""},
		{"non-admin reactivates an Administrator", hal, access.MembershipChange{Target: oldAdmin, Reactivate: true}, access.CodeForbidden},
		{"admin reactivates an Administrator", ada, access.MembershipChange{Target: oldAdmin, Reactivate: true}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := access.ErrorCode(snap.ValidateMembershipChange(tc.actor, tc.c)); got != tc.code {
				t.Fatalf("code %q, want %q", got, tc.code)
			}
		})
	}
}
