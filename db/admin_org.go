package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// Writes of the org administration: roles, members, hierarchy mode, module
// defaults, and reads of the audit log. Every function takes the org and
// filters on it: a key of another org is ErrNotFound like a missing one.
// Callers run the writes in one transaction together with their audit entry
// and LogSecurityChange.

// LockOrg locks the org's security row until the transaction ends and
// returns its security version. Access-changing writes of one org take this
// lock before they validate, so no other access change of the org can
// commit in between (they all bump the version on this row): with
// OrgChangedSince, a write knows that the state it validated against is the
// state it changes.
//
// The row is org_security's, not orgs': nothing references it, so the lock
// never meets the FOR KEY SHARE locks of foreign key checks (see migration
// 00008).
func LockOrg(ctx context.Context, tx *sqlx.Tx, orgID int64) (int64, error) {
	var v int64
	err := sqlx.GetContext(ctx, tx, &v, `SELECT version FROM org_security WHERE org_id = $1 FOR NO KEY UPDATE`, orgID)
	return v, notFound(err, "lock org")
}

const roleColumns = `org_id, id, name, parent_id, share_with_peers`

// RoleByID loads a role of the org; ErrNotFound when none.
func RoleByID(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) (*Role, error) {
	var r Role
	err := sqlx.GetContext(ctx, q, &r, `SELECT `+roleColumns+` FROM roles WHERE org_id = $1 AND id = $2`, orgID, id)
	return &r, notFound(err, "role")
}

// TopRole loads the org's top role (the one without a parent).
func TopRole(ctx context.Context, q sqlx.QueryerContext, orgID int64) (*Role, error) {
	var r Role
	err := sqlx.GetContext(ctx, q, &r, `SELECT `+roleColumns+` FROM roles WHERE org_id = $1 AND parent_id IS NULL ORDER BY id LIMIT 1`, orgID)
	return &r, notFound(err, "top role")
}

// RoleNamed returns the name of a role of the org whose name equals name
// case-insensitively, other than exceptID; "" when there is none.
func RoleNamed(ctx context.Context, q sqlx.QueryerContext, orgID int64, name string, exceptID int64) (string, error) {
	var out []string
	err := sqlx.SelectContext(ctx, q, &out, `SELECT name FROM roles WHERE org_id = $1 AND lower(name) = lower($2) AND id <> $3 LIMIT 1`,
		orgID, name, exceptID)
	if err != nil || len(out) == 0 {
		return "", wrap(err, "role by name")
	}
	return out[0], nil
}

// InsertRole creates a role under parentID.
func InsertRole(ctx context.Context, tx *sqlx.Tx, orgID int64, name string, parentID int64, shareWithPeers bool) (*Role, error) {
	var r Role
	err := sqlx.GetContext(ctx, tx, &r, `INSERT INTO roles (org_id, name, parent_id, share_with_peers) VALUES ($1, $2, $3, $4)
		RETURNING `+roleColumns, orgID, name, parentID, shareWithPeers)
	return &r, wrap(err, "insert role")
}

// UpdateRole sets a role's name and peer sharing.
func UpdateRole(ctx context.Context, tx *sqlx.Tx, orgID, id int64, name string, shareWithPeers bool) (*Role, error) {
	var r Role
	err := sqlx.GetContext(ctx, tx, &r, `UPDATE roles SET name = $3, share_with_peers = $4 WHERE org_id = $1 AND id = $2
		RETURNING `+roleColumns, orgID, id, name, shareWithPeers)
	return &r, notFound(err, "update role")
}

// SetRoleParent moves a role (and its subtree) under parentID.
func SetRoleParent(ctx context.Context, tx *sqlx.Tx, orgID, id, parentID int64) (*Role, error) {
	var r Role
	err := sqlx.GetContext(ctx, tx, &r, `UPDATE roles SET parent_id = $3 WHERE org_id = $1 AND id = $2 RETURNING `+roleColumns,
		orgID, id, parentID)
	return &r, notFound(err, "move role")
}

// ChildRoleNames lists the names of a role's direct children.
func ChildRoleNames(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) ([]string, error) {
	var out []string
	err := sqlx.SelectContext(ctx, q, &out, `SELECT name FROM roles WHERE org_id = $1 AND parent_id = $2 ORDER BY name, id`, orgID, id)
	return out, wrap(err, "child roles")
}

// RoleUsage is where a role is named as a principal (ROLE or
// ROLE_AND_SUBORDINATES).
type RoleUsage struct {
	Groups []string         // group names
	Rules  []string         // "MODULE rule name"
	Shares map[string]int64 // module -> records shared with the role
}

// Empty reports whether the role is named nowhere.
func (u RoleUsage) Empty() bool { return len(u.Groups) == 0 && len(u.Rules) == 0 && len(u.Shares) == 0 }

// RoleUsageOf finds the groups, sharing rules (source or target) and record
// shares that name the role.
func RoleUsageOf(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) (RoleUsage, error) {
	out := RoleUsage{Shares: map[string]int64{}}
	if err := sqlx.SelectContext(ctx, q, &out.Groups, `SELECT DISTINCT g.name FROM group_members gm
		JOIN groups g ON g.org_id = gm.org_id AND g.id = gm.group_id
		WHERE gm.org_id = $1 AND gm.principal_type IN ('ROLE', 'ROLE_AND_SUBORDINATES') AND gm.principal_id = $2
		ORDER BY g.name`, orgID, id); err != nil {
		return out, wrap(err, "role usage in groups")
	}
	if err := sqlx.SelectContext(ctx, q, &out.Rules, `SELECT module || ' rule ' || name FROM sharing_rules
		WHERE org_id = $1 AND ((source_type IN ('ROLE', 'ROLE_AND_SUBORDINATES') AND source_id = $2)
			OR (target_type IN ('ROLE', 'ROLE_AND_SUBORDINATES') AND target_id = $2))
		ORDER BY module, name, id`, orgID, id); err != nil {
		return out, wrap(err, "role usage in sharing rules")
	}
	var shares []struct {
		Module string `db:"module"`
		N      int64  `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, q, &shares, `SELECT module, count(DISTINCT record_id) AS n FROM record_shares
		WHERE org_id = $1 AND principal_type IN ('ROLE', 'ROLE_AND_SUBORDINATES') AND principal_id = $2
		GROUP BY module ORDER BY module`, orgID, id); err != nil {
		return out, wrap(err, "role usage in record shares")
	}
	for _, s := range shares {
		out.Shares[s.Module] = s.N
	}
	return out, nil
}

// DeleteRole moves the role's members to transferTo, drops the role's
// assignment rotation state, and deletes the role. It returns the members
// moved. The caller has checked that the role has no children and that no
// group, rule or share names it.
func DeleteRole(ctx context.Context, tx *sqlx.Tx, orgID, id, transferTo int64) ([]int64, error) {
	var moved []int64
	if err := sqlx.SelectContext(ctx, tx, &moved, `UPDATE members SET role_id = $3 WHERE org_id = $1 AND role_id = $2 RETURNING id`,
		orgID, id, transferTo); err != nil {
		return nil, wrap(err, "transfer role members")
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM assignment_state WHERE org_id = $1
		AND principal_type IN ('ROLE', 'ROLE_AND_SUBORDINATES') AND principal_id = $2`, orgID, id); err != nil {
		return nil, wrap(err, "drop role assignment state")
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return nil, wrap(err, "delete role")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	return moved, nil
}

// ProfileByID loads a profile of the org; ErrNotFound when none.
func ProfileByID(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) (*Profile, error) {
	var p Profile
	err := sqlx.GetContext(ctx, q, &p, `SELECT org_id, id, name, is_admin, is_standard, module_permissions, setup_permissions
		FROM profiles WHERE org_id = $1 AND id = $2`, orgID, id)
	return &p, notFound(err, "profile")
}

// ShiftName returns the name of a shift of the org; ErrNotFound when none.
func ShiftName(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) (string, error) {
	var name string
	err := sqlx.GetContext(ctx, q, &name, `SELECT name FROM shifts WHERE org_id = $1 AND id = $2`, orgID, id)
	return name, notFound(err, "shift")
}

// MemberByID loads a member of the org with its user's name and email.
func MemberByID(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) (*Member, error) {
	var m Member
	err := sqlx.GetContext(ctx, q, &m, `SELECT `+memberColumns+` FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = $1 AND m.id = $2`, orgID, id)
	return &m, notFound(err, "member")
}

// MemberRow is a membership to insert or the new state of one to update.
type MemberRow struct {
	UserID      int64
	RoleID      int64
	ProfileID   int64
	ReportsToID sql.NullInt64
	ShiftID     sql.NullInt64
	TimeZone    sql.NullString
}

// InsertMember makes the user an ACTIVE member of the org and returns it.
func InsertMember(ctx context.Context, tx *sqlx.Tx, orgID int64, m MemberRow) (*Member, error) {
	var id int64
	if err := sqlx.GetContext(ctx, tx, &id, `INSERT INTO members (org_id, user_id, role_id, profile_id, reports_to_id, shift_id, time_zone)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		orgID, m.UserID, m.RoleID, m.ProfileID, m.ReportsToID, m.ShiftID, m.TimeZone); err != nil {
		if isUniqueViolation(err) {
			return nil, ErrMemberExists
		}
		return nil, wrap(err, "insert member")
	}
	return MemberByID(ctx, tx, orgID, id)
}

// ErrMemberExists is returned when the user is already a member of the org.
var ErrMemberExists = errors.New("already a member")

// UpdateMemberRow sets a member's role, profile, reporting manager and time
// zone (the user id and shift of m are not written).
func UpdateMemberRow(ctx context.Context, tx *sqlx.Tx, orgID, id int64, m MemberRow) (*Member, error) {
	res, err := tx.ExecContext(ctx, `UPDATE members SET role_id = $3, profile_id = $4, reports_to_id = $5, time_zone = $6
		WHERE org_id = $1 AND id = $2`, orgID, id, m.RoleID, m.ProfileID, m.ReportsToID, m.TimeZone)
	if err != nil {
		return nil, wrap(err, "update member")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	return MemberByID(ctx, tx, orgID, id)
}

// SetMemberStatus sets a member ACTIVE or INACTIVE.
func SetMemberStatus(ctx context.Context, tx *sqlx.Tx, orgID, id int64, status string) (*Member, error) {
	res, err := tx.ExecContext(ctx, `UPDATE members SET status = $3 WHERE org_id = $1 AND id = $2`, orgID, id, status)
	if err != nil {
		return nil, wrap(err, "set member status")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	return MemberByID(ctx, tx, orgID, id)
}

// SetDefaultOrgIfNone makes the org the user's default org when they have none.
func SetDefaultOrgIfNone(ctx context.Context, tx *sqlx.Tx, userID, orgID int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE users SET default_org_id = $2 WHERE id = $1 AND default_org_id IS NULL`, userID, orgID)
	return wrap(err, "set default org")
}

// MoveDefaultOrgAway points a user whose default org is orgID at their oldest
// other org where they are ACTIVE, or at none.
func MoveDefaultOrgAway(ctx context.Context, tx *sqlx.Tx, userID, orgID int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE users SET default_org_id = (SELECT min(org_id) FROM members
			WHERE user_id = $1 AND org_id <> $2 AND status = 'ACTIVE')
		WHERE id = $1 AND default_org_id = $2`, userID, orgID)
	return wrap(err, "move default org")
}

// SetHierarchyMode sets the org's hierarchy mode (ROLE or REPORTING).
func SetHierarchyMode(ctx context.Context, tx *sqlx.Tx, orgID int64, mode string) error {
	_, err := tx.ExecContext(ctx, `UPDATE orgs SET hierarchy_mode = $2 WHERE id = $1`, orgID, mode)
	return wrap(err, "set hierarchy mode")
}

// ModuleDefault is a module's org-wide default access; PRIVATE when none is set.
func ModuleDefault(ctx context.Context, q sqlx.QueryerContext, orgID int64, module string) (string, error) {
	var out []string
	if err := sqlx.SelectContext(ctx, q, &out, `SELECT default_access FROM module_sharing WHERE org_id = $1 AND module = $2`,
		orgID, module); err != nil {
		return "", wrap(err, "module default")
	}
	if len(out) == 0 {
		return "PRIVATE", nil
	}
	return out[0], nil
}

// SetModuleDefault sets a module's org-wide default access.
func SetModuleDefault(ctx context.Context, tx *sqlx.Tx, orgID int64, module, defaultAccess string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO module_sharing (org_id, module, default_access) VALUES ($1, $2, $3)
		ON CONFLICT (org_id, module) DO UPDATE SET default_access = EXCLUDED.default_access`, orgID, module, defaultAccess)
	return wrap(err, "set module sharing")
}

// AuditRow is one entry of an org's audit log, before and after as stored.
type AuditRow struct {
	Key        int64         `db:"id"`
	At         time.Time     `db:"at"`
	ActorID    sql.NullInt64 `db:"actor_id"`
	Action     string        `db:"action"`
	TargetType string        `db:"target_type"`
	TargetID   sql.NullInt64 `db:"target_id"`
	Before     []byte        `db:"before"` // JSON; nil when none
	After      []byte        `db:"after"`
}

// AuditFilter narrows the audit log; zero values match everything.
type AuditFilter struct {
	Action     string
	TargetType string
	ActorID    int64
}

// AuditPage is a page of the audit log, newest first.
type AuditPage struct {
	Rows        []AuditRow
	HasNextPage bool
	TotalCount  int
}

// ListAudit pages the org's audit log newest first, after the entry
// beforeID (0: from the newest). wantCount asks for the total as well.
func ListAudit(ctx context.Context, q sqlx.QueryerContext, orgID int64, f AuditFilter, beforeID int64, first int, wantCount bool) (AuditPage, error) {
	where := `org_id = $1 AND ($2::text = '' OR action = $2) AND ($3::text = '' OR target_type = $3)
		AND ($4::bigint = 0 OR actor_id = $4)`
	var page AuditPage
	err := sqlx.SelectContext(ctx, q, &page.Rows, `SELECT id, at, actor_id, action, target_type, target_id, before, after
		FROM audit_log WHERE `+where+` AND ($5::bigint = 0 OR id < $5) ORDER BY id DESC LIMIT $6`,
		orgID, f.Action, f.TargetType, f.ActorID, beforeID, first+1)
	if err != nil {
		return page, wrap(err, "list audit log")
	}
	if len(page.Rows) > first {
		page.Rows, page.HasNextPage = page.Rows[:first], true
	}
	if wantCount {
		err = sqlx.GetContext(ctx, q, &page.TotalCount, `SELECT count(*) FROM audit_log WHERE `+where,
			orgID, f.Action, f.TargetType, f.ActorID)
	}
	return page, wrap(err, "count audit log")
}

// LockOrgUnchangedSince locks the org's security row (LockOrg) and then
// reports whether a change of the org's structure was logged after base
// (OrgChangedSince). Two statements, in this order: the check runs after
// the lock is granted, so it sees every change committed by whoever held
// it, and none can commit after it until this transaction ends.
func LockOrgUnchangedSince(ctx context.Context, tx *sqlx.Tx, orgID, base int64) (stale bool, err error) {
	if _, err := LockOrg(ctx, tx, orgID); err != nil {
		return false, err
	}
	return OrgChangedSince(ctx, tx, orgID, base)
}

// OrgChangedSince reports whether a change that the org's access snapshot is
// built from (roles, members, profiles, groups, defaults, mode, rules) was
// logged after version. Record and share changes only touch the index.
func OrgChangedSince(ctx context.Context, q sqlx.QueryerContext, orgID, version int64) (bool, error) {
	var changed bool
	err := sqlx.GetContext(ctx, q, &changed, `SELECT EXISTS (SELECT 1 FROM security_changes
		WHERE org_id = $1 AND version > $2 AND kind IN ($3, $4))`, orgID, version, ChangeOrg, ChangeRules)
	return changed, wrap(err, "org changed since")
}
