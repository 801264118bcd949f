package db

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// ModulePerms is a profile's module permissions: module -> permission names.
// A module not named has no permissions.
type ModulePerms map[string][]string

// Scan reads jsonb.
func (m *ModulePerms) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		if s, isStr := src.(string); isStr {
			b = []byte(s)
		} else if src == nil {
			*m = ModulePerms{}
			return nil
		} else {
			return fmt.Errorf("cannot scan %T into ModulePerms", src)
		}
	}
	out := ModulePerms{}
	if err := json.Unmarshal(b, &out); err != nil {
		return err
	}
	*m = out
	return nil
}

// Value writes jsonb.
func (m ModulePerms) Value() (driver.Value, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string][]string(m))
	return string(b), err // text: a []byte would go over as binary jsonb (ConnString)
}

// AllModulePermissions and AllSetupPermissions are the Administrator's.
var (
	AllModulePermissions = []string{"view", "create", "edit", "delete", "share", "changeOwner", "export", "import", "massUpdate", "massDelete"}
	AllSetupPermissions  = []string{"manageUsers", "manageRoles", "manageProfiles", "manageGroups", "manageSharing", "manageShifts", "viewAuditLog"}
	StandardPermissions  = []string{"view", "create", "edit", "share"}
	moduleNames          = []string{"LEADS", "CONTACTS", "ACCOUNTS", "DEALS", "TASKS"}
)

func permsForAll(perms []string) ModulePerms {
	out := ModulePerms{}
	for _, m := range moduleNames {
		out[m] = append([]string(nil), perms...)
	}
	return out
}

// NewOrg is what CreateOrg made.
type NewOrg struct {
	Org      *Org
	Member   *Member
	TopRole  *Role
	Admin    *Profile
	Standard *Profile
}

// CreateOrg creates an org with its Administrator and Standard profiles and a
// top role, and makes the user its administrator at the top role. The caller
// runs it in a transaction.
func CreateOrg(ctx context.Context, tx *sqlx.Tx, userID int64, name, timeZone string) (*NewOrg, error) {
	var out NewOrg
	out.Org = &Org{}
	if err := sqlx.GetContext(ctx, tx, out.Org, `INSERT INTO orgs (name, time_zone) VALUES ($1, $2)
		RETURNING id, name, hierarchy_mode, 1 AS security_version, time_zone, created_at`, name, timeZone); err != nil {
		return nil, wrap(err, "insert org")
	}
	orgID := out.Org.Key
	out.Admin = &Profile{}
	if err := sqlx.GetContext(ctx, tx, out.Admin, `INSERT INTO profiles (org_id, name, is_admin, module_permissions, setup_permissions)
		VALUES ($1, 'Administrator', true, $2, $3) RETURNING org_id, id, name, is_admin, is_standard, module_permissions, setup_permissions`,
		orgID, permsForAll(AllModulePermissions), stringArray(AllSetupPermissions)); err != nil {
		return nil, wrap(err, "insert administrator profile")
	}
	out.Standard = &Profile{}
	if err := sqlx.GetContext(ctx, tx, out.Standard, `INSERT INTO profiles (org_id, name, is_standard, module_permissions)
		VALUES ($1, 'Standard', true, $2) RETURNING org_id, id, name, is_admin, is_standard, module_permissions, setup_permissions`,
		orgID, permsForAll(StandardPermissions)); err != nil {
		return nil, wrap(err, "insert standard profile")
	}
	out.TopRole = &Role{}
	if err := sqlx.GetContext(ctx, tx, out.TopRole, `INSERT INTO roles (org_id, name) VALUES ($1, 'CEO')
		RETURNING org_id, id, name, parent_id, share_with_peers`, orgID); err != nil {
		return nil, wrap(err, "insert top role")
	}
	var memberID int64
	if err := sqlx.GetContext(ctx, tx, &memberID, `INSERT INTO members (org_id, user_id, role_id, profile_id)
		VALUES ($1, $2, $3, $4) RETURNING id`, orgID, userID, out.TopRole.Key, out.Admin.Key); err != nil {
		return nil, wrap(err, "insert member")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO business_hours (org_id, time_zone) VALUES ($1, $2)`, orgID, timeZone); err != nil {
		return nil, wrap(err, "insert business hours")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET default_org_id = $2 WHERE id = $1 AND default_org_id IS NULL`, userID, orgID); err != nil {
		return nil, wrap(err, "set default org")
	}
	m, err := MemberOfUser(ctx, tx, orgID, userID)
	if err != nil {
		return nil, err
	}
	out.Member = m
	return &out, nil
}

// Audit appends an entry to the org's audit log, in the caller's transaction
// so the entry and the change commit or fail together.
func Audit(ctx context.Context, q sqlx.ExecerContext, orgID, actorID int64, action, targetType string, targetID int64, before, after any) error {
	b, err := jsonOrNil(before)
	if err != nil {
		return err
	}
	a, err := jsonOrNil(after)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO audit_log (org_id, actor_id, action, target_type, target_id, before, after)
		VALUES ($1, NULLIF($2, 0), $3, $4, NULLIF($5, 0), $6, $7)`, orgID, actorID, action, targetType, targetID, b, a)
	return wrap(err, "audit")
}

func jsonOrNil(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("audit payload: %w", err)
	}
	return string(b), nil // text, not binary jsonb (ConnString)
}
