package resolvers

import (
	"context"
	"errors"

	"warden/db"
	"warden/graph/model"
)

var _ = db.ErrNotFound
var _ model.Module

func (r *Resolver) createGroup(ctx context.Context, input model.CreateGroupInput) (*model.Group, error) {
	return nil, errors.New("createGroup: not implemented yet")
}

func (r *Resolver) updateGroup(ctx context.Context, id string, input model.UpdateGroupInput) (*model.Group, error) {
	return nil, errors.New("updateGroup: not implemented yet")
}

func (r *Resolver) deleteGroup(ctx context.Context, id string) (string, error) {
	return "", errors.New("deleteGroup: not implemented yet")
}

func (r *Resolver) createSharingRule(ctx context.Context, input model.CreateSharingRuleInput) (*model.SharingRule, error) {
	return nil, errors.New("createSharingRule: not implemented yet")
}

func (r *Resolver) updateSharingRule(ctx context.Context, id string, input model.UpdateSharingRuleInput) (*model.SharingRule, error) {
	return nil, errors.New("updateSharingRule: not implemented yet")
}

func (r *Resolver) deleteSharingRule(ctx context.Context, id string) (string, error) {
	return "", errors.New("deleteSharingRule: not implemented yet")
}

func (r *Resolver) shareRecords(ctx context.Context, module model.Module, recordIds []string, shares []*model.RecordShareInput) ([]*model.RecordShare, error) {
	return nil, errors.New("shareRecords: not implemented yet")
}

func (r *Resolver) revokeRecordShares(ctx context.Context, module model.Module, recordIds []string, principals []*model.PrincipalInput) (int, error) {
	return 0, errors.New("revokeRecordShares: not implemented yet")
}

func (r *Resolver) groups(ctx context.Context) ([]*model.Group, error) {
	return nil, errors.New("groups: not implemented yet")
}

func (r *Resolver) sharingRules(ctx context.Context, module model.Module) ([]*model.SharingRule, error) {
	return nil, errors.New("sharingRules: not implemented yet")
}

func (r *Resolver) recordShares(ctx context.Context, module model.Module, recordID string) ([]*model.RecordShare, error) {
	return nil, errors.New("recordShares: not implemented yet")
}
