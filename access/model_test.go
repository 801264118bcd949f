package access_test

import (
	"encoding/json"
	"testing"

	"warden/access"
)

func TestEnumsRoundTrip(t *testing.T) {
	for l := access.LevelNone; l <= access.LevelFullAccess; l++ {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		var back access.Level
		if err := json.Unmarshal(b, &back); err != nil || back != l {
			t.Errorf("level %s: %s -> %s (%v)", l, b, back, err)
		}
	}
	if access.LevelNone >= access.LevelReadOnly || access.LevelReadWriteDelete >= access.LevelFullAccess {
		t.Error("levels are ordered")
	}
	for _, pt := range []access.PrincipalType{access.PrincipalUser, access.PrincipalRole, access.PrincipalRoleAndSubordinates, access.PrincipalGroup} {
		b, _ := pt.MarshalText()
		var back access.PrincipalType
		if err := back.UnmarshalText(b); err != nil || back != pt {
			t.Errorf("principal type %s", pt)
		}
	}
	for _, h := range []access.HierarchyMode{access.HierarchyRole, access.HierarchyReporting} {
		b, _ := h.MarshalText()
		var back access.HierarchyMode
		if err := back.UnmarshalText(b); err != nil || back != h {
			t.Errorf("hierarchy mode %s", h)
		}
	}
	for _, f := range []access.FieldAccess{access.FieldReadWrite, access.FieldReadOnly, access.FieldHidden} {
		b, _ := f.MarshalText()
		var back access.FieldAccess
		if err := back.UnmarshalText(b); err != nil || back != f {
			t.Errorf("field access %s", f)
		}
	}
	for _, d := range []access.DefaultAccess{access.Private, access.PublicReadOnly, access.PublicReadWrite, access.PublicReadWriteDelete} {
		l, err := d.Level()
		if err != nil {
			t.Fatal(err)
		}
		if back, err := access.DefaultAccessOf(l); err != nil || back != d {
			t.Errorf("default %s", d)
		}
	}
	if _, err := access.DefaultAccessOf(access.LevelFullAccess); err == nil {
		t.Error("FULL_ACCESS has no default")
	}
	for _, s := range []string{"ADMINISTRATOR", "OWNER", "HIERARCHY", "PEER", "ORG_DEFAULT", "SHARING_RULE", "RECORD_SHARE", "RELATED_SHARE"} {
		found := false
		for g := access.SourceAdministrator; g <= access.SourceRelatedShare; g++ {
			found = found || g.String() == s
		}
		if !found {
			t.Errorf("grant source %s missing", s)
		}
	}
	ps, err := access.ParsePermissionSet([]string{"view", "edit", "massUpdate"})
	if err != nil || !ps.Has(access.PermMassUpdate) || ps.Has(access.PermDelete) || len(ps.Names()) != 3 {
		t.Errorf("permission set %v %v", ps, err)
	}
	if ps.Without(access.PermMassUpdate).Has(access.PermMassUpdate) {
		t.Error("Without")
	}
	setup := access.SetupPermissionSet(0).With(access.SetupManageRoles)
	if !setup.Has(access.SetupManageRoles) || setup.Has(access.SetupViewAuditLog) || setup.Names()[0] != "manageRoles" {
		t.Error("setup permissions")
	}
	for _, m := range access.Modules {
		if got, err := access.ParseModule(string(m)); err != nil || got != m {
			t.Errorf("module %s", m)
		}
	}
	if _, err := access.ParseModule("INVOICES"); err == nil {
		t.Error("unknown module parsed")
	}
}
