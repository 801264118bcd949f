package db

import (
	"context"
	"errors"

	"github.com/jmoiron/sqlx"
)

// Links from an external identity provider's subjects to users.

// ErrIdentityLinked is returned when a user already has another subject at
// the issuer.
var ErrIdentityLinked = errors.New("user already linked to another subject at this issuer")

// UserByIdentity finds the user an (issuer, subject) signs in as;
// ErrNotFound when none.
func UserByIdentity(ctx context.Context, q sqlx.QueryerContext, issuer, subject string) (*User, error) {
	var u User
	err := sqlx.GetContext(ctx, q, &u, `SELECT u.id, u.email, u.name, u.password_hash, u.default_org_id, u.created_at
		FROM user_identities i JOIN users u ON u.id = i.user_id WHERE i.issuer = $1 AND i.subject = $2`, issuer, subject)
	return &u, notFound(err, "user by identity")
}

// LinkIdentity records that (issuer, subject) signs in as the user.
// ErrIdentityLinked when the user has another subject at the issuer, or the
// subject was linked to someone meanwhile.
func LinkIdentity(ctx context.Context, q sqlx.ExecerContext, issuer, subject string, userID int64, email string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO user_identities (issuer, subject, user_id, email) VALUES ($1, $2, $3, $4)`,
		issuer, subject, userID, email)
	if isUniqueViolation(err) {
		return ErrIdentityLinked
	}
	return wrap(err, "link identity")
}
