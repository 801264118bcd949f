package resolvers

import (
	"context"
	"strconv"

	"warden/access"
	"warden/db"
	"warden/graph/model"
	"warden/records"
)

func rolesOf(ctx context.Context, orgID int64) ([]*db.Role, error) {
	sc, err := scopeOf(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return sc.orgRoles(ctx)
}

func roleOf(ctx context.Context, orgID, roleID int64) (*db.Role, error) {
	roles, err := rolesOf(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		if r.Key == roleID {
			return r, nil
		}
	}
	return nil, nil
}

func profilesOf(ctx context.Context, orgID int64) ([]*db.Profile, error) {
	sc, err := scopeOf(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return sc.orgProfiles(ctx)
}

func profileOf(ctx context.Context, orgID, profileID int64) (*db.Profile, error) {
	ps, err := profilesOf(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Key == profileID {
			return p, nil
		}
	}
	return nil, nil
}

func modulePermissions(p *db.Profile) []*model.ModulePermission {
	var out []*model.ModulePermission
	for _, m := range records.AllModules {
		set, _ := access.ParsePermissionSet(p.ModulePermissions[string(m)])
		if p.IsAdmin {
			set = access.AllPermissions
		}
		out = append(out, &model.ModulePermission{Module: model.Module(m),
			View: set.Has(access.PermView), Create: set.Has(access.PermCreate), Edit: set.Has(access.PermEdit),
			Delete: set.Has(access.PermDelete), Share: set.Has(access.PermShare), ChangeOwner: set.Has(access.PermChangeOwner),
			Export: set.Has(access.PermExport), Import: set.Has(access.PermImport),
			MassUpdate: set.Has(access.PermMassUpdate), MassDelete: set.Has(access.PermMassDelete)})
	}
	return out
}

func orgSettings(sc *scope) *model.OrgSettings {
	out := &model.OrgSettings{HierarchyMode: model.HierarchyMode(sc.snap.HierarchyMode().String()),
		SecurityVersion: strconv.FormatInt(sc.snap.Version(), 10), TimeZone: sc.org.TimeZone}
	for _, m := range records.AllModules {
		d, _ := access.DefaultAccessOf(sc.snap.Default(m))
		out.ModuleSharing = append(out.ModuleSharing, &model.ModuleSharing{Module: model.Module(m), DefaultAccess: model.DefaultAccess(d)})
	}
	return out
}
