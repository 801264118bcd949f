package db

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/ids"
)

// Invitations to join an org. Every function but InvitationByTokenHash
// takes the org and filters on it; the token hash is a global secret, so
// that lookup is the way an invitee (not yet a member) finds theirs.

// Invitation is an invitation to an org; only its token's hash is stored.
type Invitation struct {
	OrgID       int64          `db:"org_id"`
	Key         int64          `db:"id"`
	Email       string         `db:"email"`
	RoleID      int64          `db:"role_id"`
	ProfileID   int64          `db:"profile_id"`
	ReportsToID sql.NullInt64  `db:"reports_to_id"`
	ShiftID     sql.NullInt64  `db:"shift_id"`
	TimeZone    sql.NullString `db:"time_zone"`
	InvitedBy   int64          `db:"invited_by"`
	CreatedAt   time.Time      `db:"created_at"`
	ExpiresAt   time.Time      `db:"expires_at"`
	AcceptedAt  sql.NullTime   `db:"accepted_at"`
	AcceptedBy  sql.NullInt64  `db:"accepted_by"`
	RevokedAt   sql.NullTime   `db:"revoked_at"`
}

// ID is the invitation's public id.
func (i *Invitation) ID() string { return ids.Encode(ids.Invitation, i.Key) }

// Status is PENDING, ACCEPTED, REVOKED or EXPIRED at now.
func (i *Invitation) Status(now time.Time) string {
	switch {
	case i.AcceptedAt.Valid:
		return "ACCEPTED"
	case i.RevokedAt.Valid:
		return "REVOKED"
	case !now.Before(i.ExpiresAt):
		return "EXPIRED"
	}
	return "PENDING"
}

const invitationColumns = `org_id, id, email, role_id, profile_id, reports_to_id, shift_id, time_zone, invited_by,
	created_at, expires_at, accepted_at, accepted_by, revoked_at`

// InsertInvitation stores an invitation; tokenHash is the hash of its secret.
func InsertInvitation(ctx context.Context, tx *sqlx.Tx, in Invitation, tokenHash []byte) (*Invitation, error) {
	var out Invitation
	err := sqlx.GetContext(ctx, tx, &out, `INSERT INTO invitations (org_id, email, role_id, profile_id, reports_to_id, shift_id,
		time_zone, token_hash, invited_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		RETURNING `+invitationColumns,
		in.OrgID, in.Email, in.RoleID, in.ProfileID, in.ReportsToID, in.ShiftID, in.TimeZone, tokenHash, in.InvitedBy, in.CreatedAt, in.ExpiresAt)
	return &out, wrap(err, "insert invitation")
}

// PendingInvitationFor reports whether the org has an invitation for the
// email that is neither accepted, revoked nor expired at now.
func PendingInvitationFor(ctx context.Context, q sqlx.QueryerContext, orgID int64, email string, now time.Time) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM invitations WHERE org_id = $1 AND lower(email) = lower($2)
		AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3`, orgID, email, now)
	return n > 0, wrap(err, "pending invitation")
}

// InvitationsOfOrg lists an org's invitations, newest first.
func InvitationsOfOrg(ctx context.Context, q sqlx.QueryerContext, orgID int64) ([]*Invitation, error) {
	var out []*Invitation
	err := sqlx.SelectContext(ctx, q, &out, `SELECT `+invitationColumns+` FROM invitations WHERE org_id = $1 ORDER BY id DESC`, orgID)
	return out, wrap(err, "invitations")
}

// InvitationByID loads an invitation of the org, locking it when forUpdate;
// ErrNotFound when none.
func InvitationByID(ctx context.Context, q sqlx.QueryerContext, orgID, id int64, forUpdate bool) (*Invitation, error) {
	lock := ""
	if forUpdate {
		lock = " FOR UPDATE"
	}
	var out Invitation
	err := sqlx.GetContext(ctx, q, &out, `SELECT `+invitationColumns+` FROM invitations WHERE org_id = $1 AND id = $2`+lock, orgID, id)
	return &out, notFound(err, "invitation")
}

// InvitationByTokenHash finds the invitation whose token hashes to h, in
// any org; ErrNotFound when none.
func InvitationByTokenHash(ctx context.Context, q sqlx.QueryerContext, h []byte) (*Invitation, error) {
	var out Invitation
	err := sqlx.GetContext(ctx, q, &out, `SELECT `+invitationColumns+` FROM invitations WHERE token_hash = $1`, h)
	return &out, notFound(err, "invitation by token")
}

// RevokeInvitation marks a pending invitation of the org revoked at now.
func RevokeInvitation(ctx context.Context, tx *sqlx.Tx, orgID, id int64, now time.Time) (*Invitation, error) {
	var out Invitation
	err := sqlx.GetContext(ctx, tx, &out, `UPDATE invitations SET revoked_at = $3 WHERE org_id = $1 AND id = $2
		RETURNING `+invitationColumns, orgID, id, now)
	return &out, notFound(err, "revoke invitation")
}

// MarkInvitationAccepted records that member accepted the invitation at now.
func MarkInvitationAccepted(ctx context.Context, tx *sqlx.Tx, orgID, id, member int64, now time.Time) (*Invitation, error) {
	var out Invitation
	err := sqlx.GetContext(ctx, tx, &out, `UPDATE invitations SET accepted_at = $3, accepted_by = $4 WHERE org_id = $1 AND id = $2
		RETURNING `+invitationColumns, orgID, id, now, member)
	return &out, notFound(err, "accept invitation")
}
