package resolvers

import (
	"context"
	"errors"

	"warden/db"
	"warden/graph/model"
)

var _ = db.ErrNotFound
var _ model.Module

func (r *Resolver) accessExplanation(ctx context.Context, module model.Module, recordID string, memberID string) (*model.AccessExplanation, error) {
	return nil, errors.New("accessExplanation: not implemented yet")
}

func (r *Resolver) whoCanAccess(ctx context.Context, module model.Module, recordID string, first int, after *string) (*model.MemberAccessConnection, error) {
	return nil, errors.New("whoCanAccess: not implemented yet")
}
