package resolvers

import (
	"context"
	"errors"
	"maps"
	"strings"
	"unicode"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// Profiles and field permissions (manageProfiles). Every change runs through
// changeOrg (admin_org.go): the caller's setup permission, the org's lock, one
// transaction with the audit entry (before and after) and the security change
// that makes every instance reload the org's profiles before it answers the
// next request. The rules (prerequisites, the fixed Administrator profile,
// unrestrictable fields, who may change what) are access/'s:
// Snapshot.ValidateProfileChange and Snapshot.ValidateFieldSettings.

const maxProfileName = 100

func profileName(s string) (string, error) {
	name := strings.TrimSpace(s)
	if n := len([]rune(name)); n < 1 || n > maxProfileName {
		return "", apperr.NewBadInput("a profile name is 1 to %d characters", maxProfileName)
	}
	return name, nil
}

// profileIn resolves a profile id of the org in the locked state.
func (c *orgChange) profileIn(id, field string) (*access.Profile, error) {
	if key, err := ids.Decode(ids.Profile, id); err == nil {
		if p, ok := c.snap.Profile(key); ok {
			return p, nil
		}
	}
	return nil, apperr.NewNotFound("%s: no profile with id %s in this org", field, id)
}

// cloneProfile is a deep copy of p; the Administrator profile's copy holds
// every permission explicitly and is not the Administrator profile.
func cloneProfile(p *access.Profile) access.Profile {
	out := access.Profile{ID: p.ID, Name: p.Name, Administrator: p.Administrator, Standard: p.Standard, Setup: p.Setup,
		Modules: map[access.Module]access.PermissionSet{}, Fields: map[access.Module]map[string]access.FieldAccess{}}
	for _, m := range access.Modules {
		if p.Administrator {
			out.Modules[m] = access.AllPermissions
		} else if ps := p.Modules[m]; ps != 0 {
			out.Modules[m] = ps
		}
	}
	if p.Administrator {
		out.Setup = access.AllSetupPermissions
	}
	for m, fs := range p.Fields {
		out.Fields[m] = maps.Clone(fs)
	}
	return out
}

// applyModulePermissions sets, per module named, the permissions the input
// gives; a permission left out (null) keeps its value.
func applyModulePermissions(mods map[access.Module]access.PermissionSet, in []*model.ModulePermissionInput) error {
	seen := map[access.Module]bool{}
	for _, mp := range in {
		if mp == nil {
			continue
		}
		m, err := moduleIn(mp.Module)
		if err != nil {
			return err
		}
		if seen[m] {
			return apperr.NewBadInput("modulePermissions names %s more than once", m)
		}
		seen[m] = true
		set := mods[m]
		for _, x := range []struct {
			v *bool
			p access.Permission
		}{{mp.View, access.PermView}, {mp.Create, access.PermCreate}, {mp.Edit, access.PermEdit},
			{mp.Delete, access.PermDelete}, {mp.Share, access.PermShare}, {mp.ChangeOwner, access.PermChangeOwner},
			{mp.Export, access.PermExport}, {mp.Import, access.PermImport}, {mp.MassUpdate, access.PermMassUpdate},
			{mp.MassDelete, access.PermMassDelete}} {
			switch {
			case x.v == nil:
			case *x.v:
				set = set.With(x.p)
			default:
				set = set.Without(x.p)
			}
		}
		mods[m] = set
	}
	return nil
}

func setupPermissionsIn(names []string) (access.SetupPermissionSet, error) {
	var out access.SetupPermissionSet
	for _, n := range names {
		p, err := access.ParseSetupPermission(n)
		if err != nil {
			return 0, apperr.NewBadInput("unknown setup permission %q; known: %s", n, strings.Join(access.AllSetupPermissions.Names(), ", "))
		}
		out = out.With(p)
	}
	return out, nil
}

// profileState is a profile as the audit log keeps it.
func profileState(p *access.Profile) map[string]any {
	out := access.DescribeProfile(p)
	out["id"] = ids.Encode(ids.Profile, p.ID)
	return out
}

func nameTaken(err error, name string) error {
	if errors.Is(err, db.ErrNameTaken) {
		return apperr.NewConflict("a profile named %q already exists", name)
	}
	return err
}

func (r *Resolver) createProfile(ctx context.Context, input model.CreateProfileInput) (*db.Profile, error) {
	var out *db.Profile
	err := r.changeOrg(ctx, access.SetupManageProfiles, false, func(c *orgChange) error {
		name, err := profileName(input.Name)
		if err != nil {
			return err
		}
		np := access.Profile{Modules: map[access.Module]access.PermissionSet{}}
		var clone *access.Profile
		if input.CloneFromID != nil {
			if clone, err = c.profileIn(*input.CloneFromID, "cloneFromId"); err != nil {
				return err
			}
			np = cloneProfile(clone)
			np.ID, np.Administrator, np.Standard = 0, false, false
		}
		np.Name = name
		if err := applyModulePermissions(np.Modules, input.ModulePermissions); err != nil {
			return err
		}
		if input.SetupPermissions != nil {
			if np.Setup, err = setupPermissionsIn(input.SetupPermissions); err != nil {
				return err
			}
		}
		if err := c.snap.ValidateProfileChange(access.ProfileChange{Actor: c.sc.member.Key, New: &np}); err != nil {
			return err
		}
		if out, err = db.InsertProfile(ctx, c.tx, c.sc.org.Key, name, db.ModulePermsOf(np.Modules), np.Setup.Names()); err != nil {
			return nameTaken(err, name)
		}
		if clone != nil {
			if err := db.CopyFieldPermissions(ctx, c.tx, c.sc.org.Key, clone.ID, out.Key); err != nil {
				return err
			}
		}
		np.ID = out.Key
		after := profileState(&np)
		if clone != nil {
			after["clonedFromId"] = ids.Encode(ids.Profile, clone.ID)
		}
		return c.record(ctx, "profile.create", "profile", out.Key, nil, after)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Resolver) updateProfile(ctx context.Context, id string, input model.UpdateProfileInput) (*db.Profile, error) {
	var out *db.Profile
	err := r.changeOrg(ctx, access.SetupManageProfiles, false, func(c *orgChange) error {
		cur, err := c.profileIn(id, "id")
		if err != nil {
			return err
		}
		if input.Name == nil && input.ModulePermissions == nil && input.SetupPermissions == nil {
			return apperr.NewBadInput("nothing to update: give name, modulePermissions or setupPermissions")
		}
		np := cloneProfile(cur)
		if input.Name != nil {
			if np.Name, err = profileName(*input.Name); err != nil {
				return err
			}
		}
		if err := applyModulePermissions(np.Modules, input.ModulePermissions); err != nil {
			return err
		}
		if input.SetupPermissions != nil {
			if np.Setup, err = setupPermissionsIn(input.SetupPermissions); err != nil {
				return err
			}
		}
		if err := c.snap.ValidateProfileChange(access.ProfileChange{Actor: c.sc.member.Key, Target: cur.ID, New: &np}); err != nil {
			return err
		}
		if np.Name == cur.Name && np.Setup == cur.Setup && maps.Equal(nonEmpty(np.Modules), nonEmpty(cur.Modules)) {
			out, err = db.ProfileByID(ctx, c.tx, c.sc.org.Key, cur.ID) // nothing changes: nothing written
			return err
		}
		if out, err = db.UpdateProfile(ctx, c.tx, c.sc.org.Key, cur.ID, np.Name, db.ModulePermsOf(np.Modules), np.Setup.Names()); err != nil {
			return nameTaken(err, np.Name)
		}
		return c.record(ctx, "profile.update", "profile", cur.ID, profileState(cur), profileState(&np))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// nonEmpty drops modules without permissions, which mean the same as absent ones.
func nonEmpty(mods map[access.Module]access.PermissionSet) map[access.Module]access.PermissionSet {
	out := map[access.Module]access.PermissionSet{}
	for m, ps := range mods {
		if ps != 0 {
			out[m] = ps
		}
	}
	return out
}

func (r *Resolver) deleteProfile(ctx context.Context, id, transferToProfileID string) (string, error) {
	var deleted string
	err := r.changeOrg(ctx, access.SetupManageProfiles, false, func(c *orgChange) error {
		cur, err := c.profileIn(id, "id")
		if err != nil {
			return err
		}
		to, err := c.profileIn(transferToProfileID, "transferToProfileId")
		if err != nil {
			return err
		}
		if err := c.snap.ValidateProfileChange(access.ProfileChange{Actor: c.sc.member.Key, Target: cur.ID, Delete: true, TransferTo: to.ID}); err != nil {
			return err
		}
		moved, err := db.DeleteProfile(ctx, c.tx, c.sc.org.Key, cur.ID, to.ID)
		if err != nil {
			return err
		}
		movedIDs := make([]string, 0, len(moved))
		for _, m := range moved {
			movedIDs = append(movedIDs, ids.Encode(ids.Member, m))
		}
		deleted = ids.Encode(ids.Profile, cur.ID)
		after := map[string]any{"deleted": true, "transferToProfileId": ids.Encode(ids.Profile, to.ID), "movedMembers": movedIDs}
		return c.record(ctx, "profile.delete", "profile", cur.ID, profileState(cur), after)
	})
	if err != nil {
		return "", err
	}
	return deleted, nil
}

// ---- field permissions ----

// moduleFieldNames lists every field of a module that field permissions
// name: system and standard fields in the module's order, then the custom
// fields in the order they were defined.
func moduleFieldNames(m access.Module, custom []*records.CustomField) []string {
	meta := records.MetaOf(m)
	out := make([]string, 0, len(meta.Fields)+len(custom))
	for _, f := range meta.Fields {
		out = append(out, f.Name)
	}
	for _, c := range custom {
		out = append(out, c.APIName)
	}
	return out
}

// fieldPermissionList shapes a module's fields with the access accessOf says.
func fieldPermissionList(m access.Module, custom []*records.CustomField, accessOf func(field string) access.FieldAccess) []*model.FieldPermission {
	meta := records.MetaOf(m)
	out := make([]*model.FieldPermission, 0, len(meta.Fields)+len(custom))
	for _, f := range meta.Fields {
		out = append(out, &model.FieldPermission{Module: model.Module(m), Field: f.Name, Label: fieldLabel(f.Name),
			Restrictable: !access.AlwaysReadWrite(m, f.Name), Access: model.FieldAccess(accessOf(f.Name).String())})
	}
	for _, c := range custom {
		out = append(out, &model.FieldPermission{Module: model.Module(m), Field: c.APIName, Label: c.Label, Custom: true,
			Restrictable: true, Access: model.FieldAccess(accessOf(c.APIName).String())})
	}
	return out
}

// fieldLabel puts a standard field's API name in words: "bankAccountNumber"
// is "Bank account number".
func fieldLabel(name string) string {
	if name == "id" {
		return "ID"
	}
	var b strings.Builder
	for i, r := range name {
		switch {
		case i == 0:
			b.WriteRune(unicode.ToUpper(r))
		case unicode.IsUpper(r):
			b.WriteRune(' ')
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func fieldAccessIn(a model.FieldAccess) (access.FieldAccess, error) {
	fa, err := access.ParseFieldAccess(string(a))
	if err != nil {
		return 0, apperr.NewBadInput("unknown field access %q", string(a))
	}
	return fa, nil
}

func (r *Resolver) setFieldPermissions(ctx context.Context, profileID string, module model.Module, fields []*model.FieldPermissionInput) ([]*model.FieldPermission, error) {
	m, err := moduleIn(module)
	if err != nil {
		return nil, err
	}
	var out []*model.FieldPermission
	err = r.changeOrg(ctx, access.SetupManageProfiles, false, func(c *orgChange) error {
		prof, err := c.profileIn(profileID, "profileId")
		if err != nil {
			return err
		}
		custom, err := db.CustomFieldsOf(ctx, c.tx, c.sc.org.Key, m)
		if err != nil {
			return err
		}
		settings := make([]access.FieldSetting, 0, len(fields))
		for _, f := range fields {
			if f == nil {
				continue
			}
			a, err := fieldAccessIn(f.Access)
			if err != nil {
				return err
			}
			settings = append(settings, access.FieldSetting{Field: f.Field, Access: a})
		}
		if err := c.snap.ValidateFieldSettings(c.sc.member.Key, prof.ID, m, moduleFieldNames(m, custom), settings); err != nil {
			return err
		}
		np := cloneProfile(prof)
		if np.Fields[m] == nil {
			np.Fields[m] = map[string]access.FieldAccess{}
		}
		before, after := map[string]string{}, map[string]string{}
		var changed []access.FieldSetting
		for _, s := range settings {
			old := prof.FieldSettingOf(m, s.Field)
			if old == s.Access {
				continue
			}
			before[s.Field], after[s.Field] = old.String(), s.Access.String()
			changed = append(changed, s)
			if s.Access == access.FieldReadWrite {
				delete(np.Fields[m], s.Field)
			} else {
				np.Fields[m][s.Field] = s.Access
			}
		}
		out = fieldPermissionList(m, custom, func(f string) access.FieldAccess { return np.FieldSettingOf(m, f) })
		if len(changed) == 0 {
			return nil // nothing changes: nothing written
		}
		if err := db.SetFieldPermissions(ctx, c.tx, c.sc.org.Key, prof.ID, m, changed); err != nil {
			return err
		}
		return c.record(ctx, "profile.setFieldPermissions", "profile", prof.ID,
			map[string]any{"module": string(m), "fields": before}, map[string]any{"module": string(m), "fields": after})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// viewerFieldPermissions is the viewer's own access to every field of the
// module: what reads, filters, ordering and writes will allow.
func (r *Resolver) viewerFieldPermissions(ctx context.Context, module model.Module) ([]*model.FieldPermission, error) {
	sc, m, err := moduleScope(ctx, module, access.PermView)
	if err != nil {
		return nil, err
	}
	custom, err := sc.customFields(ctx, m)
	if err != nil {
		return nil, err
	}
	return fieldPermissionList(m, custom, func(f string) access.FieldAccess { return sc.fieldAccess(m, f) }), nil
}

// profileFieldPermissions is a profile's field settings on a module, for
// admins (manageProfiles) and for the members who hold it.
func (r *Resolver) profileFieldPermissions(ctx context.Context, p *db.Profile, module model.Module) ([]*model.FieldPermission, error) {
	sc, err := scopeOf(ctx, p.OrgID)
	if err != nil {
		return nil, err
	}
	m, err := moduleIn(module)
	if err != nil {
		return nil, err
	}
	if sc.member.ProfileID != p.Key && !sc.snap.HasSetup(sc.member.Key, access.SetupManageProfiles) {
		return nil, apperr.NewForbidden("reading another profile's field permissions needs the %s permission", access.SetupManageProfiles)
	}
	prof, ok := sc.snap.Profile(p.Key)
	if !ok {
		return nil, apperr.NewNotFound("no profile with id %s in this org", p.ID())
	}
	custom, err := sc.customFields(ctx, m)
	if err != nil {
		return nil, err
	}
	return fieldPermissionList(m, custom, func(f string) access.FieldAccess { return prof.FieldSettingOf(m, f) }), nil
}
