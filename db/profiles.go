package db

import (
	"context"
	"sort"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/access"
	"warden/records"
)

// Profiles, field permissions and custom field definitions. Every function
// takes the org and filters on it; writes run in the caller's transaction,
// which holds the org's lock (LockOrg).

const profileColumns = `org_id, id, name, is_admin, is_standard, module_permissions, setup_permissions`

// ModulePermsOf converts the engine's module permissions to the stored form.
// Every module is named, with an empty list when it has no permissions.
func ModulePermsOf(mods map[access.Module]access.PermissionSet) ModulePerms {
	out := ModulePerms{}
	for _, m := range access.Modules {
		names := mods[m].Names()
		if names == nil {
			names = []string{}
		}
		out[string(m)] = names
	}
	return out
}

// InsertProfile creates a profile that is neither Administrator nor Standard;
// ErrNameTaken when the org has a profile of that name (ignoring case).
func InsertProfile(ctx context.Context, tx *sqlx.Tx, orgID int64, name string, mods ModulePerms, setup []string) (*Profile, error) {
	var p Profile
	err := sqlx.GetContext(ctx, tx, &p, `INSERT INTO profiles (org_id, name, module_permissions, setup_permissions)
		VALUES ($1, $2, $3, $4) RETURNING `+profileColumns, orgID, name, mods, pq.StringArray(nonNil(setup)))
	if isUniqueViolation(err) {
		return nil, ErrNameTaken
	}
	return &p, wrap(err, "insert profile")
}

// UpdateProfile sets a profile's name and permissions; ErrNotFound when the
// org has no such profile, ErrNameTaken when the name is used.
func UpdateProfile(ctx context.Context, tx *sqlx.Tx, orgID, id int64, name string, mods ModulePerms, setup []string) (*Profile, error) {
	var p Profile
	err := sqlx.GetContext(ctx, tx, &p, `UPDATE profiles SET name = $3, module_permissions = $4, setup_permissions = $5
		WHERE org_id = $1 AND id = $2 AND NOT is_admin RETURNING `+profileColumns, orgID, id, name, mods, pq.StringArray(nonNil(setup)))
	if isUniqueViolation(err) {
		return nil, ErrNameTaken
	}
	return &p, notFound(err, "update profile")
}

// DeleteProfile moves the profile's members (active or not) to transferTo,
// deletes the profile with its field permissions, and returns the members
// moved. The Administrator and Standard profiles are never deleted.
func DeleteProfile(ctx context.Context, tx *sqlx.Tx, orgID, id, transferTo int64) ([]int64, error) {
	var moved []int64
	if err := sqlx.SelectContext(ctx, tx, &moved, `UPDATE members SET profile_id = $3 WHERE org_id = $1 AND profile_id = $2 RETURNING id`,
		orgID, id, transferTo); err != nil {
		return nil, wrap(err, "move profile members")
	}
	sort.Slice(moved, func(i, j int) bool { return moved[i] < moved[j] })
	res, err := tx.ExecContext(ctx, `DELETE FROM profiles WHERE org_id = $1 AND id = $2 AND NOT is_admin AND NOT is_standard`, orgID, id)
	if err != nil {
		return nil, wrap(err, "delete profile")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	return moved, nil
}

// CopyFieldPermissions gives profile to exactly the field permissions of
// profile from (a clone).
func CopyFieldPermissions(ctx context.Context, tx *sqlx.Tx, orgID, from, to int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM field_permissions WHERE org_id = $1 AND profile_id = $2`, orgID, to); err != nil {
		return wrap(err, "clear field permissions")
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO field_permissions (org_id, profile_id, module, field, access)
		SELECT org_id, $3, module, field, access FROM field_permissions WHERE org_id = $1 AND profile_id = $2`, orgID, from, to)
	return wrap(err, "copy field permissions")
}

// SetFieldPermissions stores a profile's access to fields of a module. Only
// restrictions are stored: READ_WRITE, what a field not named gets, removes
// the field's row.
func SetFieldPermissions(ctx context.Context, tx *sqlx.Tx, orgID, profileID int64, m access.Module, settings []access.FieldSetting) error {
	for _, s := range settings {
		var err error
		if s.Access == access.FieldReadWrite {
			_, err = tx.ExecContext(ctx, `DELETE FROM field_permissions WHERE org_id = $1 AND profile_id = $2 AND module = $3 AND field = $4`,
				orgID, profileID, string(m), s.Field)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO field_permissions (org_id, profile_id, module, field, access) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (org_id, profile_id, module, field) DO UPDATE SET access = EXCLUDED.access`,
				orgID, profileID, string(m), s.Field, s.Access.String())
		}
		if err != nil {
			return wrap(err, "set field permission")
		}
	}
	return nil
}

// CustomFieldByID loads a custom field definition of the org; ErrNotFound when none.
func CustomFieldByID(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) (*records.CustomField, error) {
	var row struct {
		records.CustomField
		Picklist pq.StringArray `db:"picklist_values"`
	}
	err := sqlx.GetContext(ctx, q, &row, `SELECT id, module, api_name, label, type, picklist_values
		FROM custom_field_definitions WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return nil, notFound(err, "custom field")
	}
	cf := row.CustomField
	cf.Picklist = nonNil(row.Picklist)
	return &cf, nil
}

// InsertCustomField defines a custom field; ErrNameTaken when the module has
// one of that apiName.
func InsertCustomField(ctx context.Context, tx *sqlx.Tx, orgID int64, cf records.CustomField) (*records.CustomField, error) {
	var id int64
	err := sqlx.GetContext(ctx, tx, &id, `INSERT INTO custom_field_definitions (org_id, module, api_name, label, type, picklist_values)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, orgID, string(cf.Module), cf.APIName, cf.Label, cf.Type, pq.StringArray(nonNil(cf.Picklist)))
	if isUniqueViolation(err) {
		return nil, ErrNameTaken
	}
	if err != nil {
		return nil, wrap(err, "insert custom field")
	}
	return CustomFieldByID(ctx, tx, orgID, id)
}

// UpdateCustomField stores a definition's label, type and picklist.
func UpdateCustomField(ctx context.Context, tx *sqlx.Tx, orgID int64, cf records.CustomField) (*records.CustomField, error) {
	res, err := tx.ExecContext(ctx, `UPDATE custom_field_definitions SET label = $3, type = $4, picklist_values = $5
		WHERE org_id = $1 AND id = $2`, orgID, cf.ID, cf.Label, cf.Type, pq.StringArray(nonNil(cf.Picklist)))
	if err != nil {
		return nil, wrap(err, "update custom field")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	return CustomFieldByID(ctx, tx, orgID, cf.ID)
}

// DeleteCustomField removes a definition, its values from the module's
// records (so a later field of the same name starts empty) and every
// profile's permission on it (so it starts READ_WRITE, as new fields do).
// It returns how many records held a value.
func DeleteCustomField(ctx context.Context, tx *sqlx.Tx, orgID int64, cf *records.CustomField) (int64, error) {
	meta := records.MetaOf(cf.Module)
	if meta == nil {
		return 0, ErrNotFound
	}
	res, err := tx.ExecContext(ctx, `UPDATE `+meta.Table+` SET custom = custom - $2::text WHERE org_id = $1 AND custom ? $2::text`, orgID, cf.APIName)
	if err != nil {
		return 0, wrap(err, "drop custom values")
	}
	cleared, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `DELETE FROM field_permissions WHERE org_id = $1 AND module = $2 AND field = $3`,
		orgID, string(cf.Module), cf.APIName); err != nil {
		return 0, wrap(err, "drop field permissions")
	}
	res, err = tx.ExecContext(ctx, `DELETE FROM custom_field_definitions WHERE org_id = $1 AND id = $2`, orgID, cf.ID)
	if err != nil {
		return 0, wrap(err, "delete custom field")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, ErrNotFound
	}
	return cleared, nil
}

// CustomValueUsage counts, per value, the module's records whose custom
// field holds one of values.
func CustomValueUsage(ctx context.Context, q sqlx.QueryerContext, orgID int64, cf *records.CustomField, values []string) (map[string]int64, error) {
	meta := records.MetaOf(cf.Module)
	if meta == nil || len(values) == 0 {
		return map[string]int64{}, nil
	}
	var rows []struct {
		Value string `db:"value"`
		N     int64  `db:"n"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT custom->>$2::text AS value, count(*) AS n FROM `+meta.Table+`
		WHERE org_id = $1 AND custom->>$2::text = ANY($3) GROUP BY 1`, orgID, cf.APIName, pq.StringArray(values))
	if err != nil {
		return nil, wrap(err, "custom value usage")
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Value] = r.N
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
