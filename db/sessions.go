package db

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"
)

// Sessions: one row per issued token, named by the token's jti. A token is
// honoured only while its row is neither revoked nor expired, which every
// request checks with one primary-key lookup: inside the membership read
// when the request names its org (SessionMembershipOf), else on its own
// (SessionDefaultOrg). Liveness is judged by the database's clock, the one
// clock all instances share.

// Session is one issued token's server-side state.
type Session struct {
	ID              string       `db:"id"`
	UserID          int64        `db:"user_id"`
	AuthenticatedAt time.Time    `db:"authenticated_at"`
	CreatedAt       time.Time    `db:"created_at"`
	ExpiresAt       time.Time    `db:"expires_at"`
	RevokedAt       sql.NullTime `db:"revoked_at"`
}

// CreateSession stores a new session.
func CreateSession(ctx context.Context, q sqlx.ExecerContext, s Session) error {
	_, err := q.ExecContext(ctx, `INSERT INTO sessions (id, user_id, authenticated_at, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, s.ID, s.UserID, s.AuthenticatedAt, s.CreatedAt, s.ExpiresAt)
	return wrap(err, "create session")
}

// SessionDefaultOrg checks that the session is the user's, unrevoked and
// unexpired (by the database's clock), and returns the user's default org in the same
// statement (a request without X-Org-ID acts there). ErrNotFound when the
// session is not live.
func SessionDefaultOrg(ctx context.Context, q sqlx.QueryerContext, sessionID string, userID int64) (sql.NullInt64, error) {
	var org sql.NullInt64
	err := sqlx.GetContext(ctx, q, &org, `SELECT u.default_org_id FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()`, sessionID, userID)
	return org, notFound(err, "session")
}

// RevokeSession ends a live session of the user and returns it;
// ErrNotFound when it is not live (already revoked, expired, or not theirs),
// so of two concurrent revocations (or refreshes) exactly one succeeds.
func RevokeSession(ctx context.Context, q sqlx.QueryerContext, sessionID string, userID int64) (*Session, error) {
	var s Session
	err := sqlx.GetContext(ctx, q, &s, `UPDATE sessions SET revoked_at = now()
		WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
		RETURNING id, user_id, authenticated_at, created_at, expires_at, revoked_at`, sessionID, userID)
	return &s, notFound(err, "revoke session")
}

// RevokeUserSessions ends every live session of the user and returns how
// many there were.
func RevokeUserSessions(ctx context.Context, q sqlx.ExecerContext, userID int64) (int64, error) {
	res, err := q.ExecContext(ctx, `UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()`, userID)
	if err != nil {
		return 0, wrap(err, "revoke user sessions")
	}
	return res.RowsAffected()
}

// PurgeSessions deletes the user's sessions that expired more than a day
// ago: past their expiry they only take space (their tokens are refused by
// their own expiry too).
func PurgeSessions(ctx context.Context, q sqlx.ExecerContext, userID int64) error {
	_, err := q.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND expires_at < now() - interval '1 day'`, userID)
	return wrap(err, "purge sessions")
}
