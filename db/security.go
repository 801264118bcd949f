package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/access"
)

// CurrentVersion is the org's security version: Postgres is the source of
// truth every request checks its cached access state against.
func CurrentVersion(ctx context.Context, q sqlx.QueryerContext, orgID int64) (int64, error) {
	var v int64
	err := sqlx.GetContext(ctx, q, &v, `SELECT version FROM org_security WHERE org_id = $1`, orgID)
	return v, notFound(err, "security version")
}

// VersionMark returns the org's current security version and the mark of
// its change at version: when that change was committed, in microseconds
// (0 when the log has no such change). A copy of the org's state taken at
// version is a copy of this database's history only if the marks agree; a
// database restored from a backup has another future.
func VersionMark(ctx context.Context, q sqlx.QueryerContext, orgID, version int64) (current, mark int64, err error) {
	err = q.QueryRowxContext(ctx, `SELECT s.version,
		coalesce((SELECT (extract(epoch FROM c.at) * 1000000)::bigint FROM security_changes c
		          WHERE c.org_id = s.org_id AND c.version = $2), 0)
		FROM org_security s WHERE s.org_id = $1`, orgID, version).Scan(&current, &mark)
	return current, mark, notFound(err, "security version")
}

// Change kinds of the security change log.
const (
	ChangeRecordUpsert = "record.upsert" // payload: RecordChange
	ChangeRecordDelete = "record.delete" // payload: RecordChange (module, id)
	ChangeShareAdd     = "share.add"     // payload: ShareChange
	ChangeShareRemove  = "share.remove"  // payload: ShareChange
	ChangeRules        = "rules"         // payload: {"module": ...}: the module's rules changed
	ChangeOrg          = "org"           // roles, members, groups, profiles, defaults, mode
)

// RecordChange is the payload of a record write: what the index needs.
type RecordChange struct {
	Module access.Module     `json:"module"`
	ID     int64             `json:"id"`
	Owner  int64             `json:"owner,omitempty"`
	Parent *access.RecordRef `json:"parent,omitempty"`
	Fields map[string]any    `json:"fields,omitempty"`
}

// ShareChange is the payload of a share or revoke.
type ShareChange struct {
	Module         access.Module    `json:"module"`
	RecordID       int64            `json:"record"`
	Principal      access.Principal `json:"principal"`
	Level          access.Level     `json:"level"`
	IncludeRelated bool             `json:"includeRelated"`
}

// Change is one entry of the change log.
type Change struct {
	Version int64           `db:"version"`
	Kind    string          `db:"kind"`
	Payload json.RawMessage `db:"payload"`
}

// LogSecurityChange records an access-relevant change in the caller's
// transaction. The change gets its version when the transaction commits
// (migration 00008's deferred trigger bumps the org's security version and
// numbers the transaction's changes after it): the write and the new
// version commit together, concurrent writes of one org are serialised only
// for the length of their commit, and the log has no gaps.
func LogSecurityChange(ctx context.Context, tx *sqlx.Tx, orgID int64, kind string, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("change payload: %w", err)
	}
	return logChanges(ctx, tx, orgID, kind, []string{string(body)})
}

// logChanges logs one change per body, in order, under placeholder versions
// that the commit replaces (the subquery's ORDER BY makes the placeholders
// follow the bodies' order).
func logChanges(ctx context.Context, tx *sqlx.Tx, orgID int64, kind string, bodies []string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO security_changes (org_id, version, txn, kind, payload)
		SELECT $1, -nextval('security_change_placeholder'), pg_current_xact_id(), $2, p.body::jsonb
		FROM (SELECT body FROM unnest($3::text[]) WITH ORDINALITY AS u(body, ord) ORDER BY ord) p`,
		orgID, kind, pq.Array(bodies))
	return wrap(err, "log security change")
}

// ChangesSince lists the org's changes after version, oldest first.
func ChangesSince(ctx context.Context, q sqlx.QueryerContext, orgID, version int64) ([]Change, error) {
	var out []Change
	err := sqlx.SelectContext(ctx, q, &out, `SELECT version, kind, payload FROM security_changes
		WHERE org_id = $1 AND version > $2 ORDER BY version`, orgID, version)
	return out, wrap(err, "changes since")
}

type ruleRow struct {
	ID               int64          `db:"id"`
	Module           string         `db:"module"`
	Name             string         `db:"name"`
	SourceType       sql.NullString `db:"source_type"`
	SourceID         sql.NullInt64  `db:"source_id"`
	Criteria         []byte         `db:"criteria"`
	TargetType       string         `db:"target_type"`
	TargetID         int64          `db:"target_id"`
	Access           string         `db:"access"`
	SuperiorsAllowed bool           `db:"superiors_allowed"`
}

// LoadOrgData reads everything of an org the access snapshot is built from,
// in one repeatable-read transaction so the parts agree with the version.
func LoadOrgData(ctx context.Context, d *sqlx.DB, orgID int64) (access.OrgData, error) {
	tx, err := BeginSnapshot(ctx, d)
	if err != nil {
		return access.OrgData{}, err
	}
	defer func() { _ = tx.Rollback() }()
	return LoadOrgDataTx(ctx, tx, orgID)
}

// BeginSnapshot opens a read-only, repeatable-read transaction: everything
// read in it is one consistent state of the database.
func BeginSnapshot(ctx context.Context, d *sqlx.DB) (*sqlx.Tx, error) {
	tx, err := d.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	return tx, wrap(err, "begin snapshot")
}

// LoadOrgDataTx is LoadOrgData inside the caller's snapshot transaction, so
// the records and shares read with it agree with its version.
func LoadOrgDataTx(ctx context.Context, tx *sqlx.Tx, orgID int64) (access.OrgData, error) {
	out := access.OrgData{OrgID: orgID}
	err := loadOrgParts(ctx, tx, &out, PartAll)
	return out, err
}

// loadOrgParts reads the parts of an org's access data named into out,
// leaving the others as they are. The version is read with the settings.
func loadOrgParts(ctx context.Context, tx sqlx.QueryerContext, out *access.OrgData, parts OrgParts) error {
	orgID := out.OrgID
	var err error
	if parts&PartSettings != 0 {
		org, err := OrgByID(ctx, tx, orgID)
		if err != nil {
			return err
		}
		out.Version = org.SecurityVersion
		if out.HierarchyMode, err = access.ParseHierarchyMode(org.HierarchyMode); err != nil {
			return err
		}
		if out.Defaults, err = loadDefaults(ctx, tx, orgID); err != nil {
			return err
		}
	}
	if parts&PartRoles != 0 {
		roles, err := RolesOfOrg(ctx, tx, orgID)
		if err != nil {
			return err
		}
		out.Roles = make([]access.Role, 0, len(roles))
		for _, r := range roles {
			out.Roles = append(out.Roles, access.Role{ID: r.Key, ParentID: r.ParentID.Int64, Name: r.Name, ShareWithPeers: r.ShareWithPeers})
		}
	}
	if parts&PartMembers != 0 {
		if out.Members, err = loadMembers(ctx, tx, orgID, nil); err != nil {
			return err
		}
	}
	if parts&PartProfiles != 0 {
		if out.Profiles, err = loadProfiles(ctx, tx, orgID); err != nil {
			return err
		}
	}
	if parts&PartGroups != 0 {
		if out.Groups, err = loadGroups(ctx, tx, orgID); err != nil {
			return err
		}
	}
	if parts&PartRules != 0 {
		if out.Rules, err = loadRules(ctx, tx, orgID); err != nil {
			return err
		}
	}
	return nil
}

// loadMembers reads the org's members (only those of ids when not nil),
// ordered by id. It scans by hand: an org has thousands of members, and
// reflection would cost more than the query.
func loadMembers(ctx context.Context, q sqlx.QueryerContext, orgID int64, ids []int64) ([]access.Member, error) {
	query := `SELECT m.id, m.role_id, m.profile_id, coalesce(m.reports_to_id, 0), m.status, u.name
		FROM members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1`
	args := []any{orgID}
	if ids != nil {
		query += ` AND m.id = ANY($2)`
		args = append(args, pq.Array(ids))
	}
	rows, err := q.QueryxContext(ctx, query+` ORDER BY m.id`, args...)
	if err != nil {
		return nil, wrap(err, "members")
	}
	defer func() { _ = rows.Close() }()
	var out []access.Member
	for rows.Next() {
		var m access.Member
		var status string
		if err := rows.Scan(&m.ID, &m.RoleID, &m.ProfileID, &m.ReportsToID, &status, &m.Name); err != nil {
			return nil, wrap(err, "members")
		}
		m.Active = status == memberActive
		out = append(out, m)
	}
	return out, wrap(rows.Err(), "members")
}

func loadProfiles(ctx context.Context, q sqlx.QueryerContext, orgID int64) ([]access.Profile, error) {
	profiles, err := ProfilesOfOrg(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	fieldPerms, err := loadFieldPermissions(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	out := make([]access.Profile, 0, len(profiles))
	for _, p := range profiles {
		ap, err := toAccessProfile(p)
		if err != nil {
			return nil, err
		}
		ap.Fields = fieldPerms[p.Key]
		out = append(out, ap)
	}
	return out, nil
}

func loadDefaults(ctx context.Context, q sqlx.QueryerContext, orgID int64) (map[access.Module]access.Level, error) {
	var defaults []struct {
		Module string `db:"module"`
		Access string `db:"default_access"`
	}
	if err := sqlx.SelectContext(ctx, q, &defaults, `SELECT module, default_access FROM module_sharing WHERE org_id = $1`, orgID); err != nil {
		return nil, wrap(err, "module sharing")
	}
	out := map[access.Module]access.Level{}
	for _, d := range defaults {
		l, err := access.DefaultAccess(d.Access).Level()
		if err != nil {
			return nil, err
		}
		out[access.Module(d.Module)] = l
	}
	return out, nil
}

func loadRules(ctx context.Context, q sqlx.QueryerContext, orgID int64) ([]access.SharingRule, error) {
	var rows []ruleRow
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT id, module, name, source_type, source_id, criteria, target_type,
		target_id, access, superiors_allowed FROM sharing_rules WHERE org_id = $1 ORDER BY id`, orgID); err != nil {
		return nil, wrap(err, "sharing rules")
	}
	out := make([]access.SharingRule, 0, len(rows))
	for _, r := range rows {
		rule, err := r.toAccess()
		if err != nil {
			return nil, err
		}
		out = append(out, rule)
	}
	return out, nil
}

// ToAccessProfile converts a profile row to the engine's form.
func toAccessProfile(p *Profile) (access.Profile, error) {
	ap := access.Profile{ID: p.Key, Name: p.Name, Administrator: p.IsAdmin, Standard: p.IsStandard, Modules: map[access.Module]access.PermissionSet{}}
	for mod, names := range p.ModulePermissions {
		set, err := access.ParsePermissionSet(names)
		if err != nil {
			return ap, err
		}
		ap.Modules[access.Module(mod)] = set
	}
	for _, s := range p.SetupPermissions {
		sp, err := access.ParseSetupPermission(s)
		if err != nil {
			return ap, err
		}
		ap.Setup = ap.Setup.With(sp)
	}
	return ap, nil
}

func loadFieldPermissions(ctx context.Context, q sqlx.QueryerContext, orgID int64) (map[int64]map[access.Module]map[string]access.FieldAccess, error) {
	var rows []struct {
		ProfileID int64  `db:"profile_id"`
		Module    string `db:"module"`
		Field     string `db:"field"`
		Access    string `db:"access"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT profile_id, module, field, access FROM field_permissions WHERE org_id = $1`, orgID); err != nil {
		return nil, wrap(err, "field permissions")
	}
	out := map[int64]map[access.Module]map[string]access.FieldAccess{}
	for _, r := range rows {
		byMod := out[r.ProfileID]
		if byMod == nil {
			byMod = map[access.Module]map[string]access.FieldAccess{}
			out[r.ProfileID] = byMod
		}
		if byMod[access.Module(r.Module)] == nil {
			byMod[access.Module(r.Module)] = map[string]access.FieldAccess{}
		}
		fa, err := access.ParseFieldAccess(r.Access)
		if err != nil {
			return nil, err
		}
		byMod[access.Module(r.Module)][r.Field] = fa
	}
	return out, nil
}

func loadGroups(ctx context.Context, q sqlx.QueryerContext, orgID int64) ([]access.Group, error) {
	var groups []struct {
		ID   int64  `db:"id"`
		Name string `db:"name"`
	}
	if err := sqlx.SelectContext(ctx, q, &groups, `SELECT id, name FROM groups WHERE org_id = $1 ORDER BY id`, orgID); err != nil {
		return nil, wrap(err, "groups")
	}
	var members []struct {
		GroupID int64  `db:"group_id"`
		Type    string `db:"principal_type"`
		ID      int64  `db:"principal_id"`
	}
	if err := sqlx.SelectContext(ctx, q, &members, `SELECT group_id, principal_type, principal_id FROM group_members
		WHERE org_id = $1 ORDER BY group_id, principal_type, principal_id`, orgID); err != nil {
		return nil, wrap(err, "group members")
	}
	byGroup := map[int64][]access.Principal{}
	for _, m := range members {
		t, err := access.ParsePrincipalType(m.Type)
		if err != nil {
			return nil, err
		}
		byGroup[m.GroupID] = append(byGroup[m.GroupID], access.Principal{Type: t, ID: m.ID})
	}
	out := make([]access.Group, 0, len(groups))
	for _, g := range groups {
		out = append(out, access.Group{ID: g.ID, Name: g.Name, Members: byGroup[g.ID]})
	}
	return out, nil
}

func (r ruleRow) toAccess() (access.SharingRule, error) {
	rule := access.SharingRule{ID: r.ID, Module: access.Module(r.Module), Name: r.Name, SuperiorsAllowed: r.SuperiorsAllowed}
	tt, err := access.ParsePrincipalType(r.TargetType)
	if err != nil {
		return rule, err
	}
	rule.Target = access.Principal{Type: tt, ID: r.TargetID}
	if rule.Level, err = access.ParseLevel(r.Access); err != nil {
		return rule, err
	}
	if r.SourceType.Valid {
		st, err := access.ParsePrincipalType(r.SourceType.String)
		if err != nil {
			return rule, err
		}
		rule.Source = &access.Principal{Type: st, ID: r.SourceID.Int64}
	}
	if len(r.Criteria) > 0 {
		var c access.Criteria
		if err := json.Unmarshal(r.Criteria, &c); err != nil {
			return rule, fmt.Errorf("rule %d criteria: %w", r.ID, err)
		}
		rule.Criteria = &c
	}
	return rule, nil
}

// LoadShares reads every record share of the org.
func LoadShares(ctx context.Context, q sqlx.QueryerContext, orgID int64) ([]access.Share, error) {
	var rows []struct {
		Module         string `db:"module"`
		RecordID       int64  `db:"record_id"`
		Type           string `db:"principal_type"`
		PrincipalID    int64  `db:"principal_id"`
		Access         string `db:"access"`
		IncludeRelated bool   `db:"include_related"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT module, record_id, principal_type, principal_id, access, include_related
		FROM record_shares WHERE org_id = $1`, orgID); err != nil {
		return nil, wrap(err, "record shares")
	}
	out := make([]access.Share, 0, len(rows))
	for _, r := range rows {
		t, err := access.ParsePrincipalType(r.Type)
		if err != nil {
			return nil, err
		}
		l, err := access.ParseLevel(r.Access)
		if err != nil {
			return nil, err
		}
		out = append(out, access.Share{Module: access.Module(r.Module), RecordID: r.RecordID,
			Principal: access.Principal{Type: t, ID: r.PrincipalID}, Level: l, IncludeRelated: r.IncludeRelated})
	}
	return out, nil
}
