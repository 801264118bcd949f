package access_test

import (
	"strings"
	"testing"

	"warden/access"
)

// profileOrg: Ada (Administrator), Pam (a "Profile Admin" profile holding
// manageProfiles and manageUsers), Sam (Standard), and an empty "Sales"
// profile nobody holds.
func profileOrg(t *testing.T) *access.Snapshot {
	t.Helper()
	all := func(ps access.PermissionSet) map[access.Module]access.PermissionSet {
		out := map[access.Module]access.PermissionSet{}
		for _, m := range access.Modules {
			out[m] = ps
		}
		return out
	}
	snap, err := access.NewSnapshot(access.OrgData{OrgID: 1,
		Roles: []access.Role{{ID: 1, Name: "CEO"}},
		Profiles: []access.Profile{
			{ID: 1, Name: "Administrator", Administrator: true},
			{ID: 2, Name: "Standard", Standard: true, Modules: all(access.StandardPermissions),
				Fields: map[access.Module]map[string]access.FieldAccess{access.Contacts: {"bankAccountNumber": access.FieldHidden}}},
			{ID: 3, Name: "Profile Admin", Modules: all(access.StandardPermissions),
				Setup: access.SetupPermissionSet(0).With(access.SetupManageProfiles, access.SetupManageUsers)},
			{ID: 4, Name: "Sales"},
		},
		Members: []access.Member{
			{ID: 10, RoleID: 1, ProfileID: 1, Active: true, Name: "Ada"},
			{ID: 11, RoleID: 1, ProfileID: 3, Active: true, Name: "Pam"},
			{ID: 12, RoleID: 1, ProfileID: 2, Active: true, Name: "Sam"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestProfilesValidateChange(t *testing.T) {
	snap := profileOrg(t)
	const ada, pam = 10, 11
	perms := func(ps ...access.Permission) map[access.Module]access.PermissionSet {
		return map[access.Module]access.PermissionSet{access.Deals: access.PermissionSet(0).With(ps...)}
	}
	prof := func(name string, mods map[access.Module]access.PermissionSet, setup ...access.SetupPermission) *access.Profile {
		return &access.Profile{Name: name, Modules: mods, Setup: access.SetupPermissionSet(0).With(setup...)}
	}
	cases := []struct {
		name    string
		c       access.ProfileChange
		code    string // "" allowed
		message string // a part of the message that must name the rule
	}{
		{"create with view and edit", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermView, access.PermEdit))}, "", ""},
		{"create needs no view (the model lists no prerequisite)", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermCreate))}, "", ""},
		{"edit needs view", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermEdit))}, access.CodeBadUserInput, "edit needs view"},
		{"delete needs view", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermDelete))}, access.CodeBadUserInput, "delete needs view"},
		{"share needs view", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermShare))}, access.CodeBadUserInput, "share needs view"},
		{"changeOwner needs view", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermChangeOwner))}, access.CodeBadUserInput, "changeOwner needs view"},
		{"export needs view", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermExport))}, access.CodeBadUserInput, "export needs view"},
		{"import needs create", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermView, access.PermImport))}, access.CodeBadUserInput, "import needs create"},
		{"massUpdate needs edit", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermView, access.PermMassUpdate))}, access.CodeBadUserInput, "massUpdate needs edit"},
		{"massDelete needs delete", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermView, access.PermMassDelete))}, access.CodeBadUserInput, "massDelete needs delete"},
		{"every permission", access.ProfileChange{Actor: ada, New: prof("Reps", perms(access.PermView, access.PermCreate, access.PermEdit, access.PermDelete,
			access.PermShare, access.PermChangeOwner, access.PermExport, access.PermImport, access.PermMassUpdate, access.PermMassDelete))}, "", ""},
		{"empty name", access.ProfileChange{Actor: ada, New: prof("  ", nil)}, access.CodeBadUserInput, "name"},
		{"name in use, other case", access.ProfileChange{Actor: ada, New: prof("sales", nil)}, access.CodeConflict, "Sales"},
		{"rename to own name", access.ProfileChange{Actor: ada, Target: 4, New: prof("SALES", nil)}, "", ""},
		{"change Administrator", access.ProfileChange{Actor: ada, Target: 1, New: prof("Administrator", nil)}, access.CodeConflict, "Administrator"},
		{"delete Administrator", access.ProfileChange{Actor: ada, Target: 1, Delete: true, TransferTo: 2}, access.CodeConflict, "Administrator"},
		{"edit Standard", access.ProfileChange{Actor: ada, Target: 2, New: prof("Standard", perms(access.PermView))}, "", ""},
		{"delete Standard", access.ProfileChange{Actor: ada, Target: 2, Delete: true, TransferTo: 4}, access.CodeConflict, "Standard"},
		{"delete Sales to Standard", access.ProfileChange{Actor: ada, Target: 4, Delete: true, TransferTo: 2}, "", ""},
		{"delete into itself", access.ProfileChange{Actor: ada, Target: 4, Delete: true, TransferTo: 4}, access.CodeBadUserInput, "another profile"},
		{"delete unknown", access.ProfileChange{Actor: ada, Target: 99, Delete: true, TransferTo: 2}, access.CodeNotFound, ""},
		{"transfer to unknown", access.ProfileChange{Actor: ada, Target: 4, Delete: true, TransferTo: 99}, access.CodeNotFound, ""},
		{"non-admin edits the profile they hold", access.ProfileChange{Actor: pam, Target: 3, New: prof("Profile Admin", nil, access.SetupManageProfiles)}, access.CodeForbidden, "hold"},
		{"non-admin deletes the profile they hold", access.ProfileChange{Actor: pam, Target: 3, Delete: true, TransferTo: 2}, access.CodeForbidden, "hold"},
		{"non-admin grants a setup permission they hold", access.ProfileChange{Actor: pam, Target: 4, New: prof("Sales", nil, access.SetupManageUsers)}, "", ""},
		{"non-admin grants one they lack", access.ProfileChange{Actor: pam, Target: 4, New: prof("Sales", nil, access.SetupManageSharing)}, access.CodeForbidden, "manageSharing"},
		{"non-admin creates a profile with one they lack", access.ProfileChange{Actor: pam, New: prof("Auditors", nil, access.SetupViewAuditLog)}, access.CodeForbidden, "viewAuditLog"},
		{"admin grants anything", access.ProfileChange{Actor: ada, Target: 4, New: prof("Sales", nil, access.SetupManageSharing, access.SetupViewAuditLog)}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := snap.ValidateProfileChange(tc.c)
			if got := access.ErrorCode(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if tc.message != "" && !strings.Contains(err.Error(), tc.message) {
				t.Errorf("message %q does not name %q", err, tc.message)
			}
		})
	}
}

func TestFieldPermissionsValidateSettings(t *testing.T) {
	snap := profileOrg(t)
	const ada, pam = 10, 11
	known := []string{"id", "owner", "createdBy", "createdAt", "updatedAt", "firstName", "lastName", "bankAccountNumber", "bankAccount"}
	set := func(f string, a access.FieldAccess) []access.FieldSetting {
		return []access.FieldSetting{{Field: f, Access: a}}
	}
	cases := []struct {
		name     string
		actor    int64
		profile  int64
		settings []access.FieldSetting
		code     string
		message  string
	}{
		{"hide a standard field", ada, 2, set("bankAccountNumber", access.FieldHidden), "", ""},
		{"read-only a custom field", ada, 2, set("bankAccount", access.FieldReadOnly), "", ""},
		{"hide the mandatory field", ada, 2, set("lastName", access.FieldHidden), access.CodeBadUserInput, "lastName"},
		{"read-only the mandatory field", ada, 2, set("lastName", access.FieldReadOnly), access.CodeBadUserInput, "mandatory"},
		{"hide a system field", ada, 2, set("owner", access.FieldHidden), access.CodeBadUserInput, "owner"},
		{"read-only createdAt", ada, 2, set("createdAt", access.FieldReadOnly), access.CodeBadUserInput, "system"},
		{"system field READ_WRITE is allowed", ada, 2, set("id", access.FieldReadWrite), "", ""},
		{"unknown field", ada, 2, set("salary", access.FieldHidden), access.CodeBadUserInput, "salary"},
		{"a field twice", ada, 2, append(set("firstName", access.FieldHidden), set("firstName", access.FieldReadOnly)...), access.CodeBadUserInput, "firstName"},
		{"no field", ada, 2, nil, access.CodeBadUserInput, ""},
		{"Administrator profile", ada, 1, set("firstName", access.FieldHidden), access.CodeConflict, "Administrator"},
		{"unknown profile", ada, 99, set("firstName", access.FieldHidden), access.CodeNotFound, ""},
		{"non-admin on the profile they hold", pam, 3, set("firstName", access.FieldHidden), access.CodeForbidden, ""},
		{"non-admin on another profile", pam, 2, set("firstName", access.FieldHidden), "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := snap.ValidateFieldSettings(tc.actor, tc.profile, access.Contacts, known, tc.settings)
			if got := access.ErrorCode(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if tc.message != "" && !strings.Contains(err.Error(), tc.message) {
				t.Errorf("message %q does not name %q", err, tc.message)
			}
		})
	}
}

func TestFieldPermissionsProfileAccess(t *testing.T) {
	snap := profileOrg(t)
	const ada, sam = 10, 12
	cases := []struct {
		member       int64
		module       access.Module
		field        string
		read, write  bool
		want         access.FieldAccess
		wantSettings access.FieldAccess
	}{
		{sam, access.Contacts, "bankAccountNumber", false, false, access.FieldHidden, access.FieldHidden},
		{sam, access.Contacts, "firstName", true, true, access.FieldReadWrite, access.FieldReadWrite},
		{sam, access.Contacts, "lastName", true, true, access.FieldReadWrite, access.FieldReadWrite},
		{ada, access.Contacts, "bankAccountNumber", true, true, access.FieldReadWrite, access.FieldReadWrite},
	}
	for _, tc := range cases {
		if got := snap.FieldAccess(tc.member, tc.module, tc.field); got != tc.want {
			t.Errorf("member %d %s.%s: %s, want %s", tc.member, tc.module, tc.field, got, tc.want)
		}
		if snap.CanReadField(tc.member, tc.module, tc.field) != tc.read || snap.CanWriteField(tc.member, tc.module, tc.field) != tc.write {
			t.Errorf("member %d %s.%s: read/write %v/%v, want %v/%v", tc.member, tc.module, tc.field,
				snap.CanReadField(tc.member, tc.module, tc.field), snap.CanWriteField(tc.member, tc.module, tc.field), tc.read, tc.write)
		}
		p, _ := snap.ProfileOf(tc.member)
		if got := p.FieldAccessOf(tc.module, tc.field); got != tc.want {
			t.Errorf("profile %s %s.%s: %s, want %s", p.Name, tc.module, tc.field, got, tc.want)
		}
		if got := p.FieldSettingOf(tc.module, tc.field); got != tc.wantSettings {
			t.Errorf("profile %s setting %s.%s: %s, want %s", p.Name, tc.module, tc.field, got, tc.wantSettings)
		}
	}
	// A profile without view on a module sees none of its fields, though
	// its settings say READ_WRITE.
	sales, _ := snap.Profile(4)
	if sales.FieldAccessOf(access.Deals, "name") != access.FieldHidden || sales.FieldSettingOf(access.Deals, "name") != access.FieldReadWrite {
		t.Errorf("Sales without view on DEALS: access %s, setting %s", sales.FieldAccessOf(access.Deals, "name"), sales.FieldSettingOf(access.Deals, "name"))
	}
}
