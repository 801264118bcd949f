package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/apperr"
	"warden/auth"
	"warden/cache"
	"warden/dataloaders"
	"warden/db"
	"warden/ids"
	"warden/records"
)

// session is one request's view of the caller: who they are, which org the
// request acts in, and the scope of every org it touches.
type session struct {
	r           *Resolver
	userID      int64
	sessionID   string // the token's session (jti)
	activeOrgID int64
	authErr     error

	mu     sync.Mutex
	scopes map[int64]*scope
}

// scope is the caller acting in one org: their membership, the org's access
// state at the version read for this request, and the org's loaders.
type scope struct {
	org    *db.Org
	member *db.Member
	snap   *access.Snapshot
	index  *access.Index
	// engine handed out snap and index (nil for a trial state): it
	// remembers visible sets across requests.
	engine  *cache.Engine
	loaders *dataloaders.Loaders
	conn    *sqlx.DB
	// cursors sign and check this viewer's cursors in this org.
	cursors records.CursorCodec

	mu       sync.Mutex
	visible  map[access.Module]access.VisibleSet
	lookups  map[access.Module]int // records checked one by one (recordVisible)
	custom   map[access.Module][]*records.CustomField
	roles    []*db.Role
	profiles []*db.Profile
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// SessionMiddleware resolves the active org of each request: the X-Org-ID
// header, else the user's default org. A request naming an org the caller is
// not an ACTIVE member of is refused with FORBIDDEN before anything runs.
func (r *Resolver) SessionMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx := req.Context()
		s := &session{r: r, scopes: map[int64]*scope{}, authErr: auth.AuthErrorFrom(ctx)}
		if id, ok := auth.IdentityFrom(ctx); ok {
			// The token's session must be live: one primary-key lookup per
			// request, no cache, so a logout is in force at once on every
			// instance. The same statement reads the default org.
			defaultOrg, err := db.SessionDefaultOrg(ctx, r.DB, id.SessionID, id.UserID)
			switch {
			case errors.Is(err, db.ErrNotFound):
				s.authErr = auth.ErrTokenInvalid // revoked or expired: as unauthenticated
				next.ServeHTTP(w, req.WithContext(context.WithValue(ctx, sessionKey{}, s)))
				return
			case err != nil:
				slog.ErrorContext(ctx, "check session", "err", err)
				writeGraphQLError(w, http.StatusServiceUnavailable, apperr.Internal, "internal error; retry shortly")
				return
			}
			s.userID, s.sessionID = id.UserID, id.SessionID
			if h := req.Header.Get("X-Org-ID"); h != "" {
				orgID, err := ids.Decode(ids.Org, h)
				if err == nil {
					_, err = s.scope(ctx, orgID)
				}
				switch {
				case err == nil:
				case errors.Is(err, ids.ErrMalformed) || errors.Is(err, errNotMember):
					writeGraphQLError(w, http.StatusForbidden, apperr.Forbidden, "you are not an active member of the org in X-Org-ID")
					return
				default:
					// Not the caller's fault, and not a reason to tell them
					// they are not a member: fail closed, say it is ours.
					slog.ErrorContext(ctx, "resolve active org", "org", orgID, "err", err)
					writeGraphQLError(w, http.StatusServiceUnavailable, apperr.Internal, "internal error; retry shortly")
					return
				}
				s.activeOrgID = orgID
			} else if defaultOrg.Valid {
				s.activeOrgID = defaultOrg.Int64
			}
		}
		next.ServeHTTP(w, req.WithContext(context.WithValue(ctx, sessionKey{}, s)))
	})
}

// requireUser returns the signed-in user's id or UNAUTHENTICATED.
func requireUser(ctx context.Context) (*session, error) {
	s := sessionFrom(ctx)
	if s == nil {
		return nil, apperr.NewUnauthenticated("sign in first: send Authorization: Bearer <token>")
	}
	if s.authErr != nil {
		return nil, apperr.NewUnauthenticated("the token is invalid or expired: sign in again")
	}
	if s.userID == 0 {
		return nil, apperr.NewUnauthenticated("sign in first: send Authorization: Bearer <token>")
	}
	return s, nil
}

// activeScope is the scope of the org the request acts in.
func activeScope(ctx context.Context) (*scope, error) {
	s, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	if s.activeOrgID == 0 {
		return nil, apperr.NewForbidden("no active org: send X-Org-ID or set a default org")
	}
	return s.scope(ctx, s.activeOrgID)
}

// scopeOf is the caller's scope in the org; FORBIDDEN when they are not an
// ACTIVE member there (and nothing about the org is revealed).
func scopeOf(ctx context.Context, orgID int64) (*scope, error) {
	s, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	return s.scope(ctx, orgID)
}

var errNotMember = apperr.NewForbidden("you are not an active member of this org")

func (s *session) scope(ctx context.Context, orgID int64) (*scope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.scopes[orgID]; ok {
		if sc == nil {
			return nil, errNotMember
		}
		return sc, nil
	}
	m, org, err := db.MembershipOf(ctx, s.r.DB, orgID, s.userID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && !m.Active()) {
		s.scopes[orgID] = nil
		return nil, errNotMember
	}
	if err != nil {
		return nil, err
	}
	snap, ix, err := s.r.Engine.StateAt(ctx, orgID, org.SecurityVersion)
	if err != nil {
		return nil, err
	}
	sc := &scope{org: org, member: m, snap: snap, index: ix, engine: s.r.Engine,
		conn: s.r.DB, loaders: dataloaders.New(s.r.DB, orgID), visible: map[access.Module]access.VisibleSet{},
		cursors: s.r.Cursors.ForViewer(m.Key)}
	s.scopes[orgID] = sc
	return sc, nil
}

// changed is called after a write to an org commits: the request drops its
// scopes so the rest of it sees the new state, and other instances are told
// to catch up.
func (s *session) changed(orgID int64) {
	s.mu.Lock()
	s.scopes = map[int64]*scope{}
	s.mu.Unlock()
	s.r.Engine.Notify(orgID)
}

func writeGraphQLError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	retryable := ""
	if status == http.StatusServiceUnavailable {
		// A dependency is down: the same request can succeed shortly, as
		// apperr.Present says of a resolver's UNAVAILABLE.
		retryable = `,"retryable":true`
	}
	_, _ = w.Write([]byte(`{"errors":[{"message":` + quoteJSON(msg) + `,"extensions":{"code":"` + code + `"` + retryable + `}}],"data":null}`))
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
