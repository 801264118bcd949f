package apitest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/auth"
	"warden/db"
	"warden/db/dbtest"
	"warden/resolvers"
)

// SessionToken issues a token for the user as sign-in does: with a live
// session row, without which the server refuses the token.
func SessionToken(iss *auth.Issuer, conn *sqlx.DB, userID int64) (string, error) {
	sid, err := auth.NewSessionID()
	if err != nil {
		return "", err
	}
	tok, exp, err := iss.IssueSession(userID, sid)
	if err != nil {
		return "", err
	}
	now := time.Now()
	return tok, db.CreateSession(context.Background(), conn, db.Session{ID: sid, UserID: userID, AuthenticatedAt: now, CreatedAt: now, ExpiresAt: exp})
}

// NewWith starts a server on a fresh database whose resolver configure
// adjusts (a clock, single sign-on).
func NewWith(t testing.TB, configure func(*resolvers.Resolver)) *Env {
	t.Helper()
	_, conn := dbtest.NewDatabase(t)
	e := &Env{T: t, DB: conn}
	e.Server = httptest.NewServer(NewHandlerWith(t, conn, dbtest.RedisURL(), configure))
	t.Cleanup(e.Server.Close)
	return e
}

// Instance starts another server over the same database and Redis
// namespace, with its own in-process caches, as a second production
// instance would be.
func (e *Env) Instance(configure func(*resolvers.Resolver)) *Env {
	e.T.Helper()
	srv := httptest.NewServer(NewHandlerWith(e.T, e.DB, dbtest.RedisURL(), configure))
	e.T.Cleanup(srv.Close)
	return &Env{T: e.T, DB: e.DB, Server: srv}
}
