package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/access"
)

// Storage of groups, sharing rules and record shares for the administration
// API. Every query names the org: an id of another org is not found, exactly
// like an id that never existed. None of these functions logs a security
// change: the caller logs one per access-changing write, in the same
// transaction (LogSecurityChange).

// ErrNameTaken is returned when a name that must be unique in the org is
// already used.
var ErrNameTaken = errors.New("name taken")

// GroupRow is a group with its direct members, as stored.
type GroupRow struct {
	Key         int64     `db:"id"`
	Name        string    `db:"name"`
	Description string    `db:"description"`
	CreatedAt   time.Time `db:"created_at"`
	Members     []access.Principal
}

// GroupsOfOrg lists the org's groups by name (case-insensitively), each with
// its members ordered by type (USER, ROLE, ROLE_AND_SUBORDINATES, GROUP) then id.
func GroupsOfOrg(ctx context.Context, q sqlx.QueryerContext, orgID int64) ([]*GroupRow, error) {
	return selectGroups(ctx, q, orgID, nil)
}

// GroupByID loads one group of the org with its members; ErrNotFound when the
// org has no such group.
func GroupByID(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) (*GroupRow, error) {
	out, err := selectGroups(ctx, q, orgID, &id)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out[0], nil
}

func selectGroups(ctx context.Context, q sqlx.QueryerContext, orgID int64, only *int64) ([]*GroupRow, error) {
	var groups []*GroupRow
	if err := sqlx.SelectContext(ctx, q, &groups, `SELECT id, name, description, created_at FROM groups
		WHERE org_id = $1 AND ($2::bigint IS NULL OR id = $2) ORDER BY lower(name), id`, orgID, only); err != nil {
		return nil, wrap(err, "groups")
	}
	if len(groups) == 0 {
		return groups, nil
	}
	var members []struct {
		GroupID int64  `db:"group_id"`
		Type    string `db:"principal_type"`
		ID      int64  `db:"principal_id"`
	}
	if err := sqlx.SelectContext(ctx, q, &members, `SELECT group_id, principal_type, principal_id FROM group_members
		WHERE org_id = $1 AND ($2::bigint IS NULL OR group_id = $2)`, orgID, only); err != nil {
		return nil, wrap(err, "group members")
	}
	byID := make(map[int64]*GroupRow, len(groups))
	for _, g := range groups {
		g.Members = []access.Principal{}
		byID[g.Key] = g
	}
	for _, m := range members {
		t, err := access.ParsePrincipalType(m.Type)
		if err != nil {
			return nil, err
		}
		if g := byID[m.GroupID]; g != nil {
			g.Members = append(g.Members, access.Principal{Type: t, ID: m.ID})
		}
	}
	for _, g := range groups {
		SortPrincipals(g.Members)
	}
	return groups, nil
}

// SortPrincipals orders principals by type (USER, ROLE,
// ROLE_AND_SUBORDINATES, GROUP), then id.
func SortPrincipals(ps []access.Principal) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Type != ps[j].Type {
			return ps[i].Type < ps[j].Type
		}
		return ps[i].ID < ps[j].ID
	})
}

// GroupNameTaken reports whether another group of the org (not exceptID) has
// the name, compared case-insensitively.
func GroupNameTaken(ctx context.Context, q sqlx.QueryerContext, orgID int64, name string, exceptID int64) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM groups WHERE org_id = $1 AND lower(name) = lower($2) AND id <> $3`,
		orgID, name, exceptID)
	return n > 0, wrap(err, "group name")
}

// InsertGroup creates a group with its members; ErrNameTaken when the org
// already has a group of that name.
func InsertGroup(ctx context.Context, tx *sqlx.Tx, orgID int64, name, description string, members []access.Principal) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, tx, &id, `INSERT INTO groups (org_id, name, description) VALUES ($1, $2, $3) RETURNING id`,
		orgID, name, description)
	if isUniqueViolation(err) {
		return 0, ErrNameTaken
	}
	if err != nil {
		return 0, wrap(err, "insert group")
	}
	return id, insertGroupMembers(ctx, tx, orgID, id, members)
}

// UpdateGroup renames a group and sets its description; when members is not
// nil, it replaces the group's members. ErrNotFound when the org has no such
// group, ErrNameTaken when another group has the name.
func UpdateGroup(ctx context.Context, tx *sqlx.Tx, orgID, id int64, name, description string, members []access.Principal) error {
	res, err := tx.ExecContext(ctx, `UPDATE groups SET name = $3, description = $4 WHERE org_id = $1 AND id = $2`,
		orgID, id, name, description)
	if isUniqueViolation(err) {
		return ErrNameTaken
	}
	if err != nil {
		return wrap(err, "update group")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if members == nil {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE org_id = $1 AND group_id = $2`, orgID, id); err != nil {
		return wrap(err, "clear group members")
	}
	return insertGroupMembers(ctx, tx, orgID, id, members)
}

func insertGroupMembers(ctx context.Context, tx *sqlx.Tx, orgID, groupID int64, members []access.Principal) error {
	if len(members) == 0 {
		return nil
	}
	types := make([]string, len(members))
	pids := make([]int64, len(members))
	for i, p := range members {
		types[i], pids[i] = p.Type.String(), p.ID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO group_members (org_id, group_id, principal_type, principal_id)
		SELECT $1, $2, t, p FROM unnest($3::text[], $4::bigint[]) AS u(t, p) ON CONFLICT DO NOTHING`,
		orgID, groupID, pq.StringArray(types), pq.Int64Array(pids))
	return wrap(err, "insert group members")
}

// GroupUsage is what refers to a group: the groups it is a member of, the
// sharing rules that name it as source or target, and the records shared
// with it directly.
type GroupUsage struct {
	ParentGroups []string // names
	Rules        []string // "name (MODULE)"
	Shares       int
}

// InUse reports whether anything refers to the group.
func (u GroupUsage) InUse() bool { return len(u.ParentGroups) > 0 || len(u.Rules) > 0 || u.Shares > 0 }

// GroupUsageOf lists what refers to group id of the org.
func GroupUsageOf(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) (GroupUsage, error) {
	var u GroupUsage
	if err := sqlx.SelectContext(ctx, q, &u.ParentGroups, `SELECT g.name FROM group_members gm
		JOIN groups g ON g.org_id = gm.org_id AND g.id = gm.group_id
		WHERE gm.org_id = $1 AND gm.principal_type = 'GROUP' AND gm.principal_id = $2 ORDER BY lower(g.name)`, orgID, id); err != nil {
		return u, wrap(err, "group parents")
	}
	if err := sqlx.SelectContext(ctx, q, &u.Rules, `SELECT name || ' (' || module || ')' FROM sharing_rules
		WHERE org_id = $1 AND ((source_type = 'GROUP' AND source_id = $2) OR (target_type = 'GROUP' AND target_id = $2))
		ORDER BY id`, orgID, id); err != nil {
		return u, wrap(err, "group rules")
	}
	if err := sqlx.GetContext(ctx, q, &u.Shares, `SELECT count(*) FROM record_shares
		WHERE org_id = $1 AND principal_type = 'GROUP' AND principal_id = $2`, orgID, id); err != nil {
		return u, wrap(err, "group shares")
	}
	return u, nil
}

// DeleteGroup deletes a group and its member list; ErrNotFound when the org
// has no such group. The caller checks first that nothing refers to it.
func DeleteGroup(ctx context.Context, tx *sqlx.Tx, orgID, id int64) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return wrap(err, "delete group")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// ruleColumns are a sharing rule's values in the form LoadOrgData reads:
// criteria is json.Marshal(access.Criteria), Go field names, as text (a
// []byte would go over as binary jsonb: ConnString).
func ruleColumns(r access.SharingRule) (srcType sql.NullString, srcID sql.NullInt64, criteria sql.NullString, err error) {
	if r.Source != nil {
		srcType = sql.NullString{String: r.Source.Type.String(), Valid: true}
		srcID = sql.NullInt64{Int64: r.Source.ID, Valid: true}
	}
	if r.Criteria != nil {
		b, err := json.Marshal(r.Criteria)
		if err != nil {
			return srcType, srcID, criteria, fmt.Errorf("rule criteria: %w", err)
		}
		criteria = sql.NullString{String: string(b), Valid: true}
	}
	return srcType, srcID, criteria, nil
}

// InsertSharingRule stores a new sharing rule of the org and returns its id.
func InsertSharingRule(ctx context.Context, tx *sqlx.Tx, orgID int64, r access.SharingRule) (int64, error) {
	st, sid, crit, err := ruleColumns(r)
	if err != nil {
		return 0, err
	}
	var id int64
	err = sqlx.GetContext(ctx, tx, &id, `INSERT INTO sharing_rules (org_id, module, name, source_type, source_id, criteria,
		target_type, target_id, access, superiors_allowed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		orgID, string(r.Module), r.Name, st, sid, crit, r.Target.Type.String(), r.Target.ID, r.Level.String(), r.SuperiorsAllowed)
	return id, wrap(err, "insert sharing rule")
}

// UpdateSharingRule replaces a sharing rule's definition (not its module);
// ErrNotFound when the org has no such rule.
func UpdateSharingRule(ctx context.Context, tx *sqlx.Tx, orgID int64, r access.SharingRule) error {
	st, sid, crit, err := ruleColumns(r)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE sharing_rules SET name = $3, source_type = $4, source_id = $5, criteria = $6,
		target_type = $7, target_id = $8, access = $9, superiors_allowed = $10 WHERE org_id = $1 AND id = $2`,
		orgID, r.ID, r.Name, st, sid, crit, r.Target.Type.String(), r.Target.ID, r.Level.String(), r.SuperiorsAllowed)
	if err != nil {
		return wrap(err, "update sharing rule")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteSharingRule deletes a sharing rule; ErrNotFound when the org has no
// such rule.
func DeleteSharingRule(ctx context.Context, tx *sqlx.Tx, orgID, id int64) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM sharing_rules WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return wrap(err, "delete sharing rule")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RecordShareRow is one direct share of a record, as stored.
type RecordShareRow struct {
	access.Share
	SharedBy  sql.NullInt64
	CreatedAt time.Time
}

type recordShareScan struct {
	Module         string        `db:"module"`
	RecordID       int64         `db:"record_id"`
	Type           string        `db:"principal_type"`
	PrincipalID    int64         `db:"principal_id"`
	Access         string        `db:"access"`
	IncludeRelated bool          `db:"include_related"`
	SharedBy       sql.NullInt64 `db:"shared_by"`
	CreatedAt      time.Time     `db:"created_at"`
}

func (s recordShareScan) row() (RecordShareRow, error) {
	t, err := access.ParsePrincipalType(s.Type)
	if err != nil {
		return RecordShareRow{}, err
	}
	l, err := access.ParseLevel(s.Access)
	if err != nil {
		return RecordShareRow{}, err
	}
	return RecordShareRow{Share: access.Share{Module: access.Module(s.Module), RecordID: s.RecordID,
		Principal: access.Principal{Type: t, ID: s.PrincipalID}, Level: l, IncludeRelated: s.IncludeRelated},
		SharedBy: s.SharedBy, CreatedAt: s.CreatedAt}, nil
}

const recordShareColumns = `module, record_id, principal_type, principal_id, access, include_related, shared_by, created_at`

// RecordSharesOf lists the direct shares of the given records of a module,
// by record, then principal type and id.
func RecordSharesOf(ctx context.Context, q sqlx.QueryerContext, orgID int64, m access.Module, recordIDs []int64) ([]RecordShareRow, error) {
	var rows []recordShareScan
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+recordShareColumns+` FROM record_shares
		WHERE org_id = $1 AND module = $2 AND record_id = ANY($3::bigint[])`, orgID, string(m), pq.Int64Array(recordIDs)); err != nil {
		return nil, wrap(err, "record shares")
	}
	out := make([]RecordShareRow, 0, len(rows))
	for _, r := range rows {
		row, err := r.row()
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.RecordID != b.RecordID {
			return a.RecordID < b.RecordID
		}
		if a.Principal.Type != b.Principal.Type {
			return a.Principal.Type < b.Principal.Type
		}
		return a.Principal.ID < b.Principal.ID
	})
	return out, nil
}

// UpsertRecordShare shares a record with a principal, replacing the level,
// includeRelated, sharer and time of an existing share with that principal.
func UpsertRecordShare(ctx context.Context, tx *sqlx.Tx, orgID int64, sh access.Share, sharedBy int64) (RecordShareRow, error) {
	var r recordShareScan
	if err := sqlx.GetContext(ctx, tx, &r, `INSERT INTO record_shares (org_id, module, record_id, principal_type, principal_id,
		access, include_related, shared_by) VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, 0))
		ON CONFLICT (org_id, module, record_id, principal_type, principal_id) DO UPDATE SET
			access = EXCLUDED.access, include_related = EXCLUDED.include_related,
			shared_by = EXCLUDED.shared_by, created_at = now()
		RETURNING `+recordShareColumns, orgID, string(sh.Module), sh.RecordID, sh.Principal.Type.String(), sh.Principal.ID,
		sh.Level.String(), sh.IncludeRelated, sharedBy); err != nil {
		return RecordShareRow{}, wrap(err, "upsert record share")
	}
	return r.row()
}

// DeleteRecordShare removes the share of a record with a principal and
// reports whether there was one.
func DeleteRecordShare(ctx context.Context, tx *sqlx.Tx, orgID int64, m access.Module, recordID int64, p access.Principal) (bool, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM record_shares WHERE org_id = $1 AND module = $2 AND record_id = $3
		AND principal_type = $4 AND principal_id = $5`, orgID, string(m), recordID, p.Type.String(), p.ID)
	if err != nil {
		return false, wrap(err, "delete record share")
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// LockRecordsForSharing locks the org's records of the table with the given
// ids, in id order, and returns the ids that exist. FOR NO KEY UPDATE: the
// shares of one record change one transaction at a time and never beside a
// write of the record itself, so what a share change checks (the record's
// owner, its other shares, the limits) stays true until it commits. A
// record being deleted concurrently is either gone once the lock is
// granted or stays until the transaction ends, so a share is never written
// for a deleted record.
func LockRecordsForSharing(ctx context.Context, tx *sqlx.Tx, orgID int64, table string, recordIDs []int64) (map[int64]bool, error) {
	var found []int64
	if err := sqlx.SelectContext(ctx, tx, &found, `SELECT id FROM `+pq.QuoteIdentifier(table)+`
		WHERE org_id = $1 AND id = ANY($2::bigint[]) ORDER BY id FOR NO KEY UPDATE`, orgID, pq.Int64Array(recordIDs)); err != nil {
		return nil, wrap(err, "lock records")
	}
	out := make(map[int64]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}
