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
			s.userID, s.sessionID = id.UserID, id.SessionID
			if rej := s.admitActiveOrg(ctx, req.Header.Get("X-Org-ID")); rej != nil {
				writeGraphQLError(w, rej.status, rej.code, rej.msg)
				return
			}
		}
		next.ServeHTTP(w, req.WithContext(context.WithValue(ctx, sessionKey{}, s)))
	})
}

// admitActiveOrg checks the token's session and makes the scope of the org
// the request acts in: X-Org-ID, else the user's default org. The common
// case, a live session and an active member naming their org, takes one
// statement; every other case falls back to the session check alone, which
// also tells a revoked token (as unauthenticated) from a non-member
// (FORBIDDEN). A rejection is the response to send instead.
func (s *session) admitActiveOrg(ctx context.Context, header string) *rejection {
	orgID, malformed := int64(0), false
	if header != "" {
		var err error
		orgID, err = ids.Decode(ids.Org, header)
		malformed = err != nil
		if !malformed {
			m, org, err := db.SessionMembershipOf(ctx, s.r.DB, s.sessionID, orgID, s.userID)
			switch {
			case err == nil && m.Active():
				s.mu.Lock()
				_, err = s.admit(ctx, orgID, m, org)
				s.mu.Unlock()
				if err != nil {
					slog.ErrorContext(ctx, "resolve active org", "org", orgID, "err", err)
					return rejectUnavailable
				}
				s.activeOrgID = orgID
				return nil
			case err != nil && !errors.Is(err, db.ErrNotFound):
				slog.ErrorContext(ctx, "check session and membership", "org", orgID, "err", err)
				return rejectUnavailable
			}
		}
	}
	// The token's session must be live: checked on every request, no cache,
	// so a logout is in force at once on every instance. The same statement
	// reads the default org.
	defaultOrg, err := db.SessionDefaultOrg(ctx, s.r.DB, s.sessionID, s.userID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		s.userID, s.sessionID = 0, ""
		s.authErr = auth.ErrTokenInvalid // revoked or expired: as unauthenticated
		return nil
	case err != nil:
		slog.ErrorContext(ctx, "check session", "err", err)
		return rejectUnavailable
	}
	if header == "" {
		if defaultOrg.Valid {
			s.activeOrgID = defaultOrg.Int64
		}
		return nil
	}
	if malformed {
		return rejectNotMember
	}
	switch _, err := s.scope(ctx, orgID); {
	case err == nil:
	case errors.Is(err, errNotMember):
		return rejectNotMember
	default:
		slog.ErrorContext(ctx, "resolve active org", "org", orgID, "err", err)
		return rejectUnavailable
	}
	s.activeOrgID = orgID
	return nil
}

// rejection is a response the session middleware sends instead of serving
// the request.
type rejection struct {
	status    int
	code, msg string
}

var (
	// rejectUnavailable: not the caller's fault, and not a reason to tell
	// them they are not a member: fail closed, say it is ours.
	rejectUnavailable = &rejection{http.StatusServiceUnavailable, apperr.Internal, "internal error; retry shortly"}
	rejectNotMember   = &rejection{http.StatusForbidden, apperr.Forbidden, "you are not an active member of the org in X-Org-ID"}
)

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
	return s.admit(ctx, orgID, m, org)
}

// admit makes the scope of an active member from their membership, with the
// org's access state at the version read with it. The caller holds s.mu.
func (s *session) admit(ctx context.Context, orgID int64, m *db.Member, org *db.Org) (*scope, error) {
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
