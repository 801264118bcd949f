package resolvers

import (
	"context"
	"errors"

	"warden/db"
	"warden/graph/model"
)

var _ = db.ErrNotFound
var _ model.Module

func (r *Resolver) createRole(ctx context.Context, input model.CreateRoleInput) (*db.Role, error) {
	return nil, errors.New("createRole: not implemented yet")
}

func (r *Resolver) updateRole(ctx context.Context, id string, input model.UpdateRoleInput) (*db.Role, error) {
	return nil, errors.New("updateRole: not implemented yet")
}

func (r *Resolver) moveRole(ctx context.Context, id string, parentID string) (*db.Role, error) {
	return nil, errors.New("moveRole: not implemented yet")
}

func (r *Resolver) deleteRole(ctx context.Context, id string, transferToRoleID string) (string, error) {
	return "", errors.New("deleteRole: not implemented yet")
}

func (r *Resolver) addMember(ctx context.Context, input model.AddMemberInput) (*db.Member, error) {
	return nil, errors.New("addMember: not implemented yet")
}

func (r *Resolver) updateMember(ctx context.Context, id string, input model.UpdateMemberInput) (*db.Member, error) {
	return nil, errors.New("updateMember: not implemented yet")
}

func (r *Resolver) deactivateMember(ctx context.Context, id string) (*db.Member, error) {
	return nil, errors.New("deactivateMember: not implemented yet")
}

func (r *Resolver) reactivateMember(ctx context.Context, id string) (*db.Member, error) {
	return nil, errors.New("reactivateMember: not implemented yet")
}

func (r *Resolver) setHierarchyMode(ctx context.Context, mode model.HierarchyMode) (*model.OrgSettings, error) {
	return nil, errors.New("setHierarchyMode: not implemented yet")
}

func (r *Resolver) setModuleSharing(ctx context.Context, module model.Module, defaultAccess model.DefaultAccess) (*model.OrgSettings, error) {
	return nil, errors.New("setModuleSharing: not implemented yet")
}

func (r *Resolver) auditLog(ctx context.Context, first int, after *string, filter *model.AuditFilter) (*model.AuditEntryConnection, error) {
	return nil, errors.New("auditLog: not implemented yet")
}
