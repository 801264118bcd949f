package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/ids"
)

// ErrEmailTaken is returned when a signup names an email already registered.
var ErrEmailTaken = errors.New("email already registered")

// User is a global identity.
type User struct {
	Key          int64          `db:"id"`
	Email        string         `db:"email"`
	Name         string         `db:"name"`
	PasswordHash sql.NullString `db:"password_hash"`
	DefaultOrgID sql.NullInt64  `db:"default_org_id"`
	CreatedAt    time.Time      `db:"created_at"`
}

// ID is the user's public id.
func (u *User) ID() string { return ids.Encode(ids.User, u.Key) }

// Org is one tenant.
type Org struct {
	Key             int64     `db:"id"`
	Name            string    `db:"name"`
	HierarchyMode   string    `db:"hierarchy_mode"`
	SecurityVersion int64     `db:"security_version"`
	TimeZone        string    `db:"time_zone"`
	CreatedAt       time.Time `db:"created_at"`
}

// ID is the org's public id.
func (o *Org) ID() string { return ids.Encode(ids.Org, o.Key) }

// Member is a user's membership in an org, with the user's name and email.
type Member struct {
	OrgID       int64          `db:"org_id"`
	Key         int64          `db:"id"`
	UserID      int64          `db:"user_id"`
	RoleID      int64          `db:"role_id"`
	ProfileID   int64          `db:"profile_id"`
	ReportsToID sql.NullInt64  `db:"reports_to_id"`
	ShiftID     sql.NullInt64  `db:"shift_id"`
	TimeZoneCol sql.NullString `db:"time_zone"`
	Status      string         `db:"status"`
	Name        string         `db:"name"`
	Email       string         `db:"email"`
}

// ID is the member's public id.
func (m *Member) ID() string { return ids.Encode(ids.Member, m.Key) }

// Active reports whether the member may sign in to the org.
func (m *Member) Active() bool { return m.Status == memberActive }

const memberActive = "ACTIVE"

// Role is a node of an org's role tree.
type Role struct {
	OrgID          int64         `db:"org_id"`
	Key            int64         `db:"id"`
	Name           string        `db:"name"`
	ParentID       sql.NullInt64 `db:"parent_id"`
	ShareWithPeers bool          `db:"share_with_peers"`
}

// ID is the role's public id.
func (r *Role) ID() string { return ids.Encode(ids.Role, r.Key) }

// Profile holds a set of module and setup permissions.
type Profile struct {
	OrgID             int64          `db:"org_id"`
	Key               int64          `db:"id"`
	Name              string         `db:"name"`
	IsAdmin           bool           `db:"is_admin"`
	IsStandard        bool           `db:"is_standard"`
	ModulePermissions ModulePerms    `db:"module_permissions"`
	SetupPermissions  pq.StringArray `db:"setup_permissions"`
}

// ID is the profile's public id.
func (p *Profile) ID() string { return ids.Encode(ids.Profile, p.Key) }

const memberColumns = `m.org_id, m.id, m.user_id, m.role_id, m.profile_id, m.reports_to_id, m.shift_id,
	m.time_zone, m.status, u.name, u.email`

// CreateUser registers an identity.
func CreateUser(ctx context.Context, q sqlx.QueryerContext, email, name, passwordHash string) (*User, error) {
	var u User
	err := sqlx.GetContext(ctx, q, &u, `INSERT INTO users (email, name, password_hash) VALUES ($1, $2, NULLIF($3, ''))
		RETURNING id, email, name, password_hash, default_org_id, created_at`, email, name, passwordHash)
	if isUniqueViolation(err) {
		return nil, ErrEmailTaken
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return &u, nil
}

// UserByEmail finds an identity by email, case-insensitively; ErrNotFound when none.
func UserByEmail(ctx context.Context, q sqlx.QueryerContext, email string) (*User, error) {
	var u User
	err := sqlx.GetContext(ctx, q, &u, `SELECT id, email, name, password_hash, default_org_id, created_at
		FROM users WHERE lower(email) = lower($1)`, email)
	return &u, notFound(err, "user by email")
}

// UserByID finds an identity; ErrNotFound when none.
func UserByID(ctx context.Context, q sqlx.QueryerContext, id int64) (*User, error) {
	var u User
	err := sqlx.GetContext(ctx, q, &u, `SELECT id, email, name, password_hash, default_org_id, created_at
		FROM users WHERE id = $1`, id)
	return &u, notFound(err, "user by id")
}

// SetDefaultOrg records the org a user's requests act in without X-Org-ID.
func SetDefaultOrg(ctx context.Context, q sqlx.ExecerContext, userID, orgID int64) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET default_org_id = $2 WHERE id = $1`, userID, orgID)
	return wrap(err, "set default org")
}

// OrgByID loads an org; ErrNotFound when none.
func OrgByID(ctx context.Context, q sqlx.QueryerContext, id int64) (*Org, error) {
	var o Org
	err := sqlx.GetContext(ctx, q, &o, `SELECT o.id, o.name, o.hierarchy_mode, s.version AS security_version, o.time_zone, o.created_at
		FROM orgs o JOIN org_security s ON s.org_id = o.id WHERE o.id = $1`, id)
	return &o, notFound(err, "org")
}

// OrgsOfUser lists the orgs where the user is an ACTIVE member, oldest first.
func OrgsOfUser(ctx context.Context, q sqlx.QueryerContext, userID int64) ([]*Org, error) {
	var out []*Org
	err := sqlx.SelectContext(ctx, q, &out, `SELECT o.id, o.name, o.hierarchy_mode, s.version AS security_version, o.time_zone, o.created_at
		FROM orgs o JOIN org_security s ON s.org_id = o.id JOIN members m ON m.org_id = o.id
		WHERE m.user_id = $1 AND m.status = 'ACTIVE' ORDER BY o.id`, userID)
	return out, wrap(err, "orgs of user")
}

// MemberOfUser returns the user's membership in the org; ErrNotFound when none.
func MemberOfUser(ctx context.Context, q sqlx.QueryerContext, orgID, userID int64) (*Member, error) {
	var m Member
	err := sqlx.GetContext(ctx, q, &m, `SELECT `+memberColumns+` FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = $1 AND m.user_id = $2`, orgID, userID)
	return &m, notFound(err, "member of user")
}

// MembershipOf is the user's membership in the org with the org itself and
// its current security version, read in one statement: every request of a
// member starts here, and the version is what its access state is caught
// up to (read after the request began, so never older than a change that
// had returned). ErrNotFound when the user is not a member.
func MembershipOf(ctx context.Context, q sqlx.QueryerContext, orgID, userID int64) (*Member, *Org, error) {
	return membership(ctx, q, membershipQuery, orgID, userID)
}

// SessionMembershipOf is MembershipOf for a request that carries a token:
// the row comes back only while the token's session is live (by the same
// test as SessionDefaultOrg), so one statement both checks the token and
// reads the membership. ErrNotFound does not say which of the two failed;
// SessionDefaultOrg tells them apart.
func SessionMembershipOf(ctx context.Context, q sqlx.QueryerContext, sessionID string, orgID, userID int64) (*Member, *Org, error) {
	return membership(ctx, q, membershipQuery+` AND EXISTS (SELECT 1 FROM sessions ss
		WHERE ss.id = $3 AND ss.user_id = $2 AND ss.revoked_at IS NULL AND ss.expires_at > now())`, orgID, userID, sessionID)
}

const membershipQuery = `SELECT ` + memberColumns + `, o.name AS org_name, o.hierarchy_mode,
		s.version AS security_version, o.time_zone AS org_time_zone, o.created_at AS org_created_at
		FROM members m JOIN users u ON u.id = m.user_id JOIN orgs o ON o.id = m.org_id JOIN org_security s ON s.org_id = o.id
		WHERE m.org_id = $1 AND m.user_id = $2`

func membership(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) (*Member, *Org, error) {
	var row struct {
		Member
		OrgName         string    `db:"org_name"`
		HierarchyMode   string    `db:"hierarchy_mode"`
		SecurityVersion int64     `db:"security_version"`
		OrgTimeZone     string    `db:"org_time_zone"`
		OrgCreatedAt    time.Time `db:"org_created_at"`
	}
	if err := sqlx.GetContext(ctx, q, &row, query, args...); err != nil {
		return nil, nil, notFound(err, "membership")
	}
	org := &Org{Key: row.OrgID, Name: row.OrgName, HierarchyMode: row.HierarchyMode, SecurityVersion: row.SecurityVersion,
		TimeZone: row.OrgTimeZone, CreatedAt: row.OrgCreatedAt}
	m := row.Member
	return &m, org, nil
}

// MembersByIDs loads members of the org by id (for dataloaders).
func MembersByIDs(ctx context.Context, q sqlx.QueryerContext, orgID int64, keys []int64) (map[int64]*Member, error) {
	var rows []*Member
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+memberColumns+` FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = $1 AND m.id = ANY($2)`, orgID, pq.Array(keys))
	if err != nil {
		return nil, wrap(err, "members by ids")
	}
	out := make(map[int64]*Member, len(rows))
	for _, r := range rows {
		out[r.Key] = r
	}
	return out, nil
}

// MemberPage is a page of an org's members ordered by name, then id.
type MemberPage struct {
	Members     []*Member
	HasNextPage bool
	TotalCount  int
}

// MemberFilter narrows a member list.
type MemberFilter struct {
	Status string
	RoleID int64
	Search string
}

// ListMembers pages an org's members by (name, id) after the given position.
func ListMembers(ctx context.Context, q sqlx.QueryerContext, orgID int64, f MemberFilter, afterName string, afterID int64, first int) (MemberPage, error) {
	where := `m.org_id = $1 AND ($2 = '' OR m.status = $2) AND ($3 = 0 OR m.role_id = $3)
		AND ($4 = '' OR u.name ILIKE '%' || $4 || '%' OR u.email ILIKE '%' || $4 || '%')`
	search := escapeLike(f.Search)
	var page MemberPage
	err := sqlx.SelectContext(ctx, q, &page.Members, `SELECT `+memberColumns+` FROM members m JOIN users u ON u.id = m.user_id
		WHERE `+where+` AND ($5 = 0 OR (u.name, m.id) > ($6, $5)) ORDER BY u.name, m.id LIMIT $7`,
		orgID, f.Status, f.RoleID, search, afterID, afterName, first+1)
	if err != nil {
		return page, wrap(err, "list members")
	}
	if len(page.Members) > first {
		page.Members, page.HasNextPage = page.Members[:first], true
	}
	err = sqlx.GetContext(ctx, q, &page.TotalCount, `SELECT count(*) FROM members m JOIN users u ON u.id = m.user_id WHERE `+where,
		orgID, f.Status, f.RoleID, search)
	return page, wrap(err, "count members")
}

// RolesOfOrg lists an org's roles, parents before children where possible (by id).
func RolesOfOrg(ctx context.Context, q sqlx.QueryerContext, orgID int64) ([]*Role, error) {
	var out []*Role
	err := sqlx.SelectContext(ctx, q, &out, `SELECT org_id, id, name, parent_id, share_with_peers FROM roles WHERE org_id = $1 ORDER BY id`, orgID)
	return out, wrap(err, "roles")
}

// ProfilesOfOrg lists an org's profiles.
func ProfilesOfOrg(ctx context.Context, q sqlx.QueryerContext, orgID int64) ([]*Profile, error) {
	var out []*Profile
	err := sqlx.SelectContext(ctx, q, &out, `SELECT org_id, id, name, is_admin, is_standard, module_permissions, setup_permissions
		FROM profiles WHERE org_id = $1 ORDER BY id`, orgID)
	return out, wrap(err, "profiles")
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return wrap(err, what)
}

func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isUniqueViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}

func escapeLike(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}

func stringArray(s []string) pq.StringArray { return pq.StringArray(s) }
