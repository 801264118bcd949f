package resolvers

import (
	"context"
	"errors"
	"math"
	"net/mail"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/apperr"
	"warden/auth"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/ratelimit"
)

func (r *Resolver) signup(ctx context.Context, in model.SignupInput) (*model.AuthPayload, error) {
	email := strings.TrimSpace(in.Email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return nil, apperr.NewBadInput("email %q is not a valid address", in.Email)
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 200 {
		return nil, apperr.NewBadInput("name must be 1 to 200 characters")
	}
	if err := auth.ValidatePassword(in.Password); err != nil {
		return nil, apperr.NewBadInput("%s", err.Error())
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	u, err := db.CreateUser(ctx, r.DB, email, name, hash)
	if errors.Is(err, db.ErrEmailTaken) {
		return nil, apperr.NewConflict("an account with this email already exists: sign in instead")
	}
	if err != nil {
		return nil, err
	}
	return r.authPayload(ctx, u)
}

func (r *Resolver) login(ctx context.Context, email, password string) (*model.AuthPayload, error) {
	email = strings.TrimSpace(email)
	ip := ratelimit.ClientIPFrom(ctx)
	// Checked before the password, so a throttled guess learns nothing; the
	// answer is the same whether the email exists or not.
	if wait := r.LoginThrottle.Wait(ctx, email, ip); wait > 0 {
		return nil, apperr.NewRateLimited(wait, "too many failed sign-ins for this email or from your address; retry in %d s",
			int(math.Ceil(wait.Seconds())))
	}
	u, err := db.UserByEmail(ctx, r.DB, email)
	if errors.Is(err, db.ErrNotFound) || (err == nil && !u.PasswordHash.Valid) {
		auth.DummyVerify() // the same time as a wrong password: no email enumeration
		r.LoginThrottle.Failed(ctx, email, ip)
		return nil, apperr.NewUnauthenticated("wrong email or password")
	}
	if err != nil {
		return nil, err
	}
	ok, err := auth.VerifyPassword(u.PasswordHash.String, password)
	if err != nil {
		return nil, err
	}
	if !ok {
		r.LoginThrottle.Failed(ctx, email, ip)
		return nil, apperr.NewUnauthenticated("wrong email or password")
	}
	r.LoginThrottle.Succeeded(ctx, email)
	return r.authPayload(ctx, u)
}

func (r *Resolver) authPayload(ctx context.Context, u *db.User) (*model.AuthPayload, error) {
	return r.signedIn(ctx, u) // a session per sign-in: identity_sso.go
}

// viewerOf describes the user and, when activeOrg is one of their orgs, their
// membership there.
func (r *Resolver) viewerOf(ctx context.Context, u *db.User, activeOrg int64) (*model.Viewer, error) {
	orgs, err := db.OrgsOfUser(ctx, r.DB, u.Key)
	if err != nil {
		return nil, err
	}
	v := &model.Viewer{User: u, Orgs: orgs}
	if activeOrg == 0 && u.DefaultOrgID.Valid {
		activeOrg = u.DefaultOrgID.Int64
	}
	for _, o := range orgs {
		if o.Key == activeOrg {
			v.ActiveOrg = o
			if v.Member, err = db.MemberOfUser(ctx, r.DB, o.Key, u.Key); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func (r *Resolver) viewer(ctx context.Context) (*model.Viewer, error) {
	s, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	u, err := db.UserByID(ctx, r.DB, s.userID)
	if err != nil {
		return nil, err
	}
	return r.viewerOf(ctx, u, s.activeOrgID)
}

func (r *Resolver) createOrg(ctx context.Context, in model.CreateOrgInput) (*db.Org, error) {
	s, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 200 {
		return nil, apperr.NewBadInput("name must be 1 to 200 characters")
	}
	zone := "UTC"
	if in.TimeZone != nil && *in.TimeZone != "" {
		if _, err := time.LoadLocation(*in.TimeZone); err != nil || *in.TimeZone == "Local" {
			return nil, apperr.NewBadInput("timeZone %q is not an IANA time zone", *in.TimeZone)
		}
		zone = *in.TimeZone
	}
	var out *db.NewOrg
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		if out, err = db.CreateOrg(ctx, tx, s.userID, name, zone); err != nil {
			return err
		}
		return db.Audit(ctx, tx, out.Org.Key, out.Member.Key, "org.create", "org", out.Org.Key, nil,
			map[string]any{"name": name, "timeZone": zone})
	})
	if err != nil {
		return nil, err
	}
	return out.Org, nil
}

func (r *Resolver) setDefaultOrg(ctx context.Context, orgID string) (*model.Viewer, error) {
	s, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	key, err := ids.Decode(ids.Org, orgID)
	if err != nil {
		return nil, errNotMember
	}
	if _, err := s.scope(ctx, key); err != nil {
		return nil, err
	}
	if err := db.SetDefaultOrg(ctx, r.DB, s.userID, key); err != nil {
		return nil, err
	}
	u, err := db.UserByID(ctx, r.DB, s.userID)
	if err != nil {
		return nil, err
	}
	return r.viewerOf(ctx, u, key)
}

// org is another org of the viewer's: null when they are not an active
// member, exactly as when it does not exist.
func (r *Resolver) org(ctx context.Context, id string) (*db.Org, error) {
	key, err := ids.Decode(ids.Org, id)
	if err != nil {
		return nil, nil
	}
	sc, err := scopeOf(ctx, key)
	if errors.Is(err, errNotMember) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return sc.org, nil
}

func (r *Resolver) members(ctx context.Context, sc *scope, first int, after *string, filter *model.MemberFilter) (*model.MemberConnection, error) {
	if first < 1 || first > maxPageSize {
		return nil, apperr.NewBadInput("first must be between 1 and %d", maxPageSize)
	}
	var f db.MemberFilter
	var err error
	if filter != nil {
		if filter.Status != nil {
			f.Status = string(*filter.Status)
		}
		if filter.RoleID != nil {
			if f.RoleID, err = ids.Decode(ids.Role, *filter.RoleID); err != nil {
				f.RoleID = -1 // matches nothing, like an unknown role
			}
		}
		if filter.Search != nil {
			f.Search = *filter.Search
		}
	}
	var afterName string
	var afterID int64
	if after != nil && *after != "" {
		cur, err := sc.cursors.DecodeMember(*after, sc.org.Key)
		if err != nil {
			return nil, err
		}
		afterName, afterID = cur.Name, cur.ID
	}
	p, err := db.ListMembers(ctx, r.DB, sc.org.Key, f, afterName, afterID, first)
	if err != nil {
		return nil, err
	}
	conn := &model.MemberConnection{Edges: []*model.MemberEdge{}, PageInfo: &model.PageInfo{HasNextPage: p.HasNextPage}, TotalCount: p.TotalCount}
	for _, m := range p.Members {
		c := sc.cursors.EncodeMember(sc.org.Key, m.Name, m.Key)
		conn.Edges = append(conn.Edges, &model.MemberEdge{Cursor: c, Node: m})
		conn.PageInfo.EndCursor = &c
	}
	return conn, nil
}
