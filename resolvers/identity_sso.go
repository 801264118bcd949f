package resolvers

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"warden/apperr"
	"warden/auth"
	"warden/db"
	"warden/graph/model"
)

// Sessions and single sign-on. Every token Warden issues names a session
// row (its jti); SessionMiddleware refuses a token whose session is revoked
// or expired, so refresh and logout are in force at once on every instance.

// maxSignInAge bounds how long refreshing may keep one sign-in alive: past
// it, the user proves who they are again (password or SSO).
const maxSignInAge = 30 * 24 * time.Hour

// issueSession stores a new session of the user and returns its token.
// authenticatedAt is when the user last signed in (now for a sign-in; the
// old session's for a refresh).
func (r *Resolver) issueSession(ctx context.Context, q sqlx.ExecerContext, userID int64, authenticatedAt time.Time) (string, time.Time, error) {
	sid, err := auth.NewSessionID()
	if err != nil {
		return "", time.Time{}, err
	}
	token, exp, err := r.Tokens.IssueSession(userID, sid)
	if err != nil {
		return "", time.Time{}, err
	}
	err = db.CreateSession(ctx, q, db.Session{ID: sid, UserID: userID, AuthenticatedAt: authenticatedAt, CreatedAt: time.Now(), ExpiresAt: exp})
	return token, exp, err
}

// signedIn answers a sign-in: a new session, its token and the viewer.
// Each sign-in also clears the user's long-expired sessions.
func (r *Resolver) signedIn(ctx context.Context, u *db.User) (*model.AuthPayload, error) {
	if err := db.PurgeSessions(ctx, r.DB, u.Key); err != nil {
		return nil, err
	}
	token, exp, err := r.issueSession(ctx, r.DB, u.Key, time.Now())
	if err != nil {
		return nil, err
	}
	v, err := r.viewerOf(ctx, u, 0)
	if err != nil {
		return nil, err
	}
	return &model.AuthPayload{Token: token, ExpiresAt: exp, Viewer: v}, nil
}

// refreshToken replaces the caller's session with a new one: the token sent
// stops working when this returns. Of two concurrent refreshes of one token
// only one succeeds.
func (r *Resolver) refreshToken(ctx context.Context) (*model.AuthPayload, error) {
	s, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	var token string
	var exp time.Time
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		old, err := db.RevokeSession(ctx, tx, s.sessionID, s.userID)
		if errors.Is(err, db.ErrNotFound) {
			return apperr.NewUnauthenticated("the token is invalid or expired: sign in again")
		}
		if err != nil {
			return err
		}
		if time.Since(old.AuthenticatedAt) > maxSignInAge {
			return apperr.NewUnauthenticated("this sign-in is older than %d days: sign in again", int(maxSignInAge/(24*time.Hour)))
		}
		token, exp, err = r.issueSession(ctx, tx, s.userID, old.AuthenticatedAt)
		return err
	})
	if err != nil {
		return nil, err
	}
	u, err := db.UserByID(ctx, r.DB, s.userID)
	if err != nil {
		return nil, err
	}
	v, err := r.viewerOf(ctx, u, s.activeOrgID)
	if err != nil {
		return nil, err
	}
	return &model.AuthPayload{Token: token, ExpiresAt: exp, Viewer: v}, nil
}

// logout revokes the token sent.
func (r *Resolver) logout(ctx context.Context) (bool, error) {
	s, err := requireUser(ctx)
	if err != nil {
		return false, err
	}
	if _, err := db.RevokeSession(ctx, r.DB, s.sessionID, s.userID); err != nil && !errors.Is(err, db.ErrNotFound) {
		return false, err
	}
	return true, nil
}

// logoutEverywhere revokes every token of the caller, the one sent included.
func (r *Resolver) logoutEverywhere(ctx context.Context) (int, error) {
	s, err := requireUser(ctx)
	if err != nil {
		return 0, err
	}
	n, err := db.RevokeUserSessions(ctx, r.DB, s.userID)
	return int(n), err
}

// loginWithIDToken signs in with an ID token of the configured provider.
// The identity maps to a user by its (issuer, subject) link; else by the
// verified email, which links the subject; else a new user is created.
func (r *Resolver) loginWithIDToken(ctx context.Context, idToken string) (*model.AuthPayload, error) {
	ext, err := r.SSO.Verify(ctx, idToken)
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrSSODisabled):
		return nil, apperr.NewBadInput("single sign-on is not configured on this server: sign in with email and password")
	case errors.Is(err, auth.ErrIDTokenExpired):
		return nil, apperr.NewUnauthenticated("the ID token has expired: sign in at the identity provider again")
	case errors.Is(err, auth.ErrEmailUnverified):
		return nil, apperr.NewUnauthenticated("the identity provider has not verified this account's email")
	case errors.Is(err, auth.ErrDomainNotAllowed):
		return nil, apperr.NewForbidden("accounts of this email domain may not sign in here")
	case errors.Is(err, auth.ErrProviderUnavailable):
		slog.ErrorContext(ctx, "identity provider", "err", err)
		return nil, &apperr.Error{Code: apperr.Unavailable, Msg: "the identity provider cannot be reached; retry shortly", Err: err}
	default:
		// Signature, issuer, audience, format: one answer, details in the log.
		slog.InfoContext(ctx, "ID token refused", "err", err)
		return nil, apperr.NewUnauthenticated("the ID token is not valid for this server")
	}
	var u *db.User
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		u, err = db.UserByIdentity(ctx, tx, ext.Issuer, ext.Subject)
		if err == nil || !errors.Is(err, db.ErrNotFound) {
			return err
		}
		u, err = db.UserByEmail(ctx, tx, ext.Email)
		switch {
		case errors.Is(err, db.ErrNotFound):
			if u, err = db.CreateUser(ctx, tx, ext.Email, ssoName(ext), ""); errors.Is(err, db.ErrEmailTaken) {
				return apperr.NewConflict("an account with this email was created meanwhile: retry")
			} else if err != nil {
				return err
			}
		case err != nil:
			return err
		}
		// The provider vouches for the email: the subject now signs in as
		// this user. A user keeps one subject per provider, so an email
		// re-assigned at the provider does not take over the account.
		if err := db.LinkIdentity(ctx, tx, ext.Issuer, ext.Subject, u.Key, ext.Email); errors.Is(err, db.ErrIdentityLinked) {
			return apperr.NewConflict("this account is linked to another identity at the provider")
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r.signedIn(ctx, u)
}

// ssoName is a new SSO user's name: the token's, else the email's local part.
func ssoName(ext auth.ExternalIdentity) string {
	name := ext.Name
	if name == "" {
		name, _, _ = strings.Cut(ext.Email, "@")
	}
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200])
	}
	return name
}
