package resolvers

import (
	"context"

	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
)

// Shared plumbing of the administration resolvers. Every administration
// change: checks the caller's setup permission, validates through access/,
// writes in one transaction with its audit entry and its security change
// (which bumps the org's security version), and drops the request's cached
// scopes so the rest of the request sees the new state.

// adminScope is the caller's scope in the active org, if their profile holds
// the setup permission.
func adminScope(ctx context.Context, perm access.SetupPermission) (*scope, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	if !sc.snap.HasSetup(sc.member.Key, perm) {
		return nil, apperr.NewForbidden("your profile lacks the %s permission", perm)
	}
	return sc, nil
}

// adminWrite runs fn in a transaction, then forgets the request's scopes
// and tells other instances the active org changed.
func (r *Resolver) adminWrite(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if s := sessionFrom(ctx); s != nil {
		return r.adminWriteIn(ctx, s.activeOrgID, fn)
	}
	return r.inTx(ctx, fn)
}

// adminWriteIn is adminWrite for a change of org, which need not be the
// request's active org (an invitation accepted from another org).
func (r *Resolver) adminWriteIn(ctx context.Context, org int64, fn func(tx *sqlx.Tx) error) error {
	if err := r.inTx(ctx, fn); err != nil {
		return err
	}
	if s := sessionFrom(ctx); s != nil {
		s.changed(org)
	}
	return nil
}

// audit appends the change to the org's audit log, in the transaction.
func audit(ctx context.Context, tx *sqlx.Tx, sc *scope, action, targetType string, targetID int64, before, after any) error {
	return db.Audit(ctx, tx, sc.org.Key, sc.member.Key, action, targetType, targetID, before, after)
}

// parsePrincipal decodes a principal input into one that exists in the org;
// an id of another org or type is NOT_FOUND, like a missing one.
func (sc *scope) parsePrincipal(in *model.PrincipalInput) (access.Principal, error) {
	if in == nil {
		return access.Principal{}, apperr.NewBadInput("principal is required")
	}
	var (
		p    access.Principal
		err  error
		kind ids.Kind
	)
	switch in.Type {
	case model.PrincipalTypeUser:
		p.Type, kind = access.PrincipalUser, ids.Member
	case model.PrincipalTypeRole:
		p.Type, kind = access.PrincipalRole, ids.Role
	case model.PrincipalTypeRoleAndSubordinates:
		p.Type, kind = access.PrincipalRoleAndSubordinates, ids.Role
	case model.PrincipalTypeGroup:
		p.Type, kind = access.PrincipalGroup, ids.Group
	default:
		return p, apperr.NewBadInput("unknown principal type %q", in.Type)
	}
	if p.ID, err = ids.Decode(kind, in.ID); err != nil {
		return p, apperr.NewNotFound("no %s with id %s in this org", in.Type, in.ID)
	}
	exists := false
	switch p.Type {
	case access.PrincipalUser:
		_, exists = sc.snap.Member(p.ID)
	case access.PrincipalRole, access.PrincipalRoleAndSubordinates:
		_, exists = sc.snap.Role(p.ID)
	case access.PrincipalGroup:
		_, exists = sc.snap.Group(p.ID)
	}
	if !exists {
		return p, apperr.NewNotFound("no %s with id %s in this org", in.Type, in.ID)
	}
	return p, nil
}

// principalOut is a principal as the API shows it, with its current name.
func (sc *scope) principalOut(p access.Principal) *model.Principal {
	out := &model.Principal{Type: model.PrincipalType(p.Type.String())}
	switch p.Type {
	case access.PrincipalUser:
		out.ID = ids.Encode(ids.Member, p.ID)
		if m, ok := sc.snap.Member(p.ID); ok {
			out.Name = m.Name
		}
	case access.PrincipalRole, access.PrincipalRoleAndSubordinates:
		out.ID = ids.Encode(ids.Role, p.ID)
		if r, ok := sc.snap.Role(p.ID); ok {
			out.Name = r.Name
		}
	case access.PrincipalGroup:
		out.ID = ids.Encode(ids.Group, p.ID)
		if g, ok := sc.snap.Group(p.ID); ok {
			out.Name = g.Name
		}
	}
	return out
}
