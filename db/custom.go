package db

import (
	"context"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/access"
	"warden/records"
)

// CustomFieldsOf lists the custom fields defined on an org's module.
func CustomFieldsOf(ctx context.Context, q sqlx.QueryerContext, orgID int64, m access.Module) ([]*records.CustomField, error) {
	var rows []struct {
		records.CustomField
		Picklist pq.StringArray `db:"picklist_values"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT id, module, api_name, label, type, picklist_values
		FROM custom_field_definitions WHERE org_id = $1 AND module = $2 ORDER BY id`, orgID, string(m))
	if err != nil {
		return nil, wrap(err, "custom fields")
	}
	out := make([]*records.CustomField, len(rows))
	for i := range rows {
		cf := rows[i].CustomField
		cf.Picklist = rows[i].Picklist
		out[i] = &cf
	}
	return out, nil
}

// DetachChildren clears the references of a record's children to it (the
// contacts and deals of an account, the tasks about any record) and returns
// the children as they are now, so the caller can update the index.
func DetachChildren(ctx context.Context, tx *sqlx.Tx, orgID int64, m access.Module, id int64) ([]records.Record, error) {
	type child struct {
		meta   *records.Meta
		update string
	}
	var children []child
	if m == records.Accounts {
		children = append(children,
			child{records.MetaOf(records.Contacts), `UPDATE contacts SET account_id = NULL, updated_at = now() WHERE org_id = $1 AND account_id = $2 RETURNING id`},
			child{records.MetaOf(records.Deals), `UPDATE deals SET account_id = NULL, updated_at = now() WHERE org_id = $1 AND account_id = $2 RETURNING id`})
	}
	if m == records.Contacts {
		children = append(children, child{records.MetaOf(records.Deals), `UPDATE deals SET contact_id = NULL, updated_at = now() WHERE org_id = $1 AND contact_id = $2 RETURNING id`})
	}
	children = append(children, child{records.MetaOf(records.Tasks), `UPDATE tasks SET related_module = NULL, related_id = NULL, updated_at = now()
		WHERE org_id = $1 AND related_module = '` + string(m) + `' AND related_id = $2 RETURNING id`})
	var out []records.Record
	for _, c := range children {
		var keys []int64
		if err := sqlx.SelectContext(ctx, tx, &keys, c.update, orgID, id); err != nil {
			return nil, wrap(err, "detach children")
		}
		if len(keys) == 0 {
			continue
		}
		recs, err := GetRecords(ctx, tx, orgID, c.meta, keys)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if r, ok := recs[k]; ok {
				out = append(out, r)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM record_shares WHERE org_id = $1 AND module = $2 AND record_id = $3`, orgID, string(m), id); err != nil {
		return nil, wrap(err, "delete shares")
	}
	return out, nil
}
