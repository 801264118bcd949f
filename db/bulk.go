package db

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/access"
	"warden/records"
)

// Bulk record writes: the statements of the single-record writes, set-wise,
// so a batch of hundreds of records (or an import of thousands) costs a
// handful of round trips inside its one transaction.

// LockRecords loads the org's records of the module with the given ids and
// locks their rows until the transaction ends (in id order, so two batches
// never deadlock on each other). Ids the org does not have are absent from
// the map.
func LockRecords(ctx context.Context, tx *sqlx.Tx, org int64, meta *records.Meta, ids []int64) (map[int64]records.Record, error) {
	return recordsByID(ctx, tx, org, meta, ids, " ORDER BY id FOR UPDATE")
}

// UpdateRecords sets the same columns on every listed record of the org
// (and updated_at to now()) and returns the stored rows by id. Unlike
// UpdateRecord, a "custom" column is a patch merged into each record's
// custom fields (keys absent from it are left alone, a null removes its
// key), since the records' other custom values differ. Ids the org does not have are absent from
// the result.
func UpdateRecords(ctx context.Context, tx *sqlx.Tx, org int64, meta *records.Meta, ids []int64, cols map[string]any) (map[int64]records.Record, error) {
	m, err := recordModelFor(meta)
	if err != nil {
		return nil, err
	}
	names, vals, err := recordWritableColumns(m, cols)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", meta.Module, err)
	}
	sets := make([]string, 0, len(names)+1)
	for i, name := range names {
		if name == "custom" {
			// A null in the patch clears the field, as in UpdateRecord's
			// callers (a cleared custom field is an absent key).
			sets = append(sets, fmt.Sprintf("custom = jsonb_strip_nulls(custom || $%d::jsonb)", i+3))
			continue
		}
		sets = append(sets, fmt.Sprintf("%s = $%d", name, i+3))
	}
	sets = append(sets, "updated_at = now()")
	s := "UPDATE " + meta.Table + " SET " + strings.Join(sets, ", ") +
		" WHERE org_id = $1 AND id = ANY($2::bigint[]) RETURNING " + m.selectSQ
	rows, err := tx.QueryxContext(ctx, s, append([]any{org, pq.Array(ids)}, vals...)...)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", meta.Module, err)
	}
	out := make(map[int64]records.Record, len(ids))
	if err := scanRecordsByID(rows, m, out); err != nil {
		return nil, fmt.Errorf("update %s: %w", meta.Module, err)
	}
	return out, nil
}

// DeleteRecords deletes the listed records of the org, as DeleteRecord and
// DetachChildren do one by one: their children (the contacts and deals of
// an account, the deals of a contact, the tasks about any of them) lose
// their reference, their shares go, and the children are returned as they
// are now so the caller can update the index. It returns the ids deleted.
func DeleteRecords(ctx context.Context, tx *sqlx.Tx, org int64, m access.Module, ids []int64) ([]int64, []records.Record, error) {
	meta := records.MetaOf(m)
	if _, err := recordModelFor(meta); err != nil {
		return nil, nil, err
	}
	type child struct {
		meta   *records.Meta
		update string
	}
	var children []child
	if m == records.Accounts {
		children = append(children,
			child{records.MetaOf(records.Contacts), `UPDATE contacts SET account_id = NULL, updated_at = now() WHERE org_id = $1 AND account_id = ANY($2::bigint[]) RETURNING id`},
			child{records.MetaOf(records.Deals), `UPDATE deals SET account_id = NULL, updated_at = now() WHERE org_id = $1 AND account_id = ANY($2::bigint[]) RETURNING id`})
	}
	if m == records.Contacts {
		children = append(children, child{records.MetaOf(records.Deals), `UPDATE deals SET contact_id = NULL, updated_at = now() WHERE org_id = $1 AND contact_id = ANY($2::bigint[]) RETURNING id`})
	}
	children = append(children, child{records.MetaOf(records.Tasks), `UPDATE tasks SET related_module = NULL, related_id = NULL, updated_at = now()
		WHERE org_id = $1 AND related_module = '` + string(m) + `' AND related_id = ANY($2::bigint[]) RETURNING id`})
	var orphans []records.Record
	for _, c := range children {
		var keys []int64
		if err := sqlx.SelectContext(ctx, tx, &keys, c.update, org, pq.Array(ids)); err != nil {
			return nil, nil, wrap(err, "detach children")
		}
		if len(keys) == 0 {
			continue
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		recs, err := GetRecords(ctx, tx, org, c.meta, keys)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range keys {
			if r, ok := recs[k]; ok {
				orphans = append(orphans, r)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM record_shares WHERE org_id = $1 AND module = $2 AND record_id = ANY($3::bigint[])`,
		org, string(m), pq.Array(ids)); err != nil {
		return nil, nil, wrap(err, "delete shares")
	}
	var deleted []int64
	if err := sqlx.SelectContext(ctx, tx, &deleted, "DELETE FROM "+meta.Table+" WHERE org_id = $1 AND id = ANY($2::bigint[]) RETURNING id",
		org, pq.Array(ids)); err != nil {
		return nil, nil, fmt.Errorf("delete %s: %w", meta.Module, err)
	}
	return deleted, orphans, nil
}

// InsertRecords inserts records of the module in the org with COPY and
// returns the stored rows in input order. Every row may set its own columns
// (keyed by column name, as for InsertRecord); a column a row does not set
// is NULL, its custom fields empty. The ids are drawn from the records'
// sequence first, so each row's id is known before it is written.
func InsertRecords(ctx context.Context, tx *sqlx.Tx, org int64, meta *records.Meta, rows []map[string]any) ([]records.Record, error) {
	m, err := recordModelFor(meta)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	union := map[string]any{"custom": nil}
	for _, r := range rows {
		for c := range r {
			union[c] = nil
		}
	}
	names, _, err := recordWritableColumns(m, union)
	if err != nil {
		return nil, fmt.Errorf("insert %s: %w", meta.Module, err)
	}
	var keys []int64
	if err := sqlx.SelectContext(ctx, tx, &keys, `SELECT nextval('record_id_seq') FROM generate_series(1, $1)`, len(rows)); err != nil {
		return nil, fmt.Errorf("insert %s: %w", meta.Module, err)
	}
	values := make([][]any, len(rows))
	for i, r := range rows {
		vals := make([]any, 0, len(names)+2)
		vals = append(vals, org, keys[i])
		for _, name := range names {
			v, ok := r[name]
			if !ok && name == "custom" {
				v = records.JSONMap{}
			}
			cv, err := copyValue(recordWriteValue(v))
			if err != nil {
				return nil, fmt.Errorf("insert %s: %w", meta.Module, err)
			}
			vals = append(vals, cv)
		}
		values[i] = vals
	}
	if err := copyRows(ctx, tx, meta.Table, append([]string{"org_id", "id"}, names...), values); err != nil {
		return nil, fmt.Errorf("insert %s: %w", meta.Module, err)
	}
	got, err := GetRecords(ctx, tx, org, meta, keys)
	if err != nil {
		return nil, err
	}
	out := make([]records.Record, len(rows))
	for i, k := range keys {
		if out[i] = got[k]; out[i] == nil {
			return nil, fmt.Errorf("insert %s: row %d not stored", meta.Module, i)
		}
	}
	return out, nil
}

// copyValue is a parameter as COPY's text format needs it: lib/pq would
// send a driver.Valuer's []byte (jsonb) as bytea.
func copyValue(v any) (any, error) {
	if dv, ok := v.(driver.Valuer); ok {
		x, err := dv.Value()
		if err != nil {
			return nil, err
		}
		v = x
	}
	if b, ok := v.([]byte); ok {
		return string(b), nil
	}
	return v, nil
}

// CopyStatement is the COPY ... FROM STDIN statement that lib/pq streams
// rows into when it is prepared (each Exec with arguments sends one row).
func CopyStatement(table string, cols []string) string {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pq.QuoteIdentifier(c)
	}
	return "COPY " + pq.QuoteIdentifier(table) + " (" + strings.Join(quoted, ", ") + ") FROM STDIN"
}

// copyRows loads rows into table with COPY, in the transaction.
func copyRows(ctx context.Context, tx *sqlx.Tx, table string, cols []string, rows [][]any) error {
	stmt, err := tx.PrepareContext(ctx, CopyStatement(table, cols))
	if err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			_ = stmt.Close()
			return err
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		_ = stmt.Close()
		return err
	}
	return stmt.Close()
}

// LogSecurityChanges is LogSecurityChange for many changes of one kind, in
// one statement: they get consecutive versions at the commit, in the order
// given, so a replay applies them exactly as if logged one by one.
func LogSecurityChanges(ctx context.Context, tx *sqlx.Tx, orgID int64, kind string, payloads []any) error {
	if len(payloads) == 0 {
		return nil
	}
	bodies := make([]string, len(payloads))
	for i, p := range payloads {
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("change payload: %w", err)
		}
		bodies[i] = string(b)
	}
	return logChanges(ctx, tx, orgID, kind, bodies)
}

// FieldValue is the value of a standard or custom field of a record, typed
// as the list filters compare it: string, float64, int64, bool,
// records.Date, time.Time or records.RecordKey (an owner or createdBy is a
// member's key); nil when empty.
func FieldValue(rec records.Record, op records.Operand) any {
	m := recordModelOf(rec)
	if m == nil {
		return nil
	}
	return m.operandValue(rec, op)
}

// AuditEntry is one audit log entry of a batch (see Audit).
type AuditEntry struct {
	Action, TargetType string
	TargetID           int64
	Before, After      any // nil: none
}

// AuditMany appends entries to the org's audit log in one statement, in the
// caller's transaction and in order: a bulk write's entries are the ones
// its single-record writes would make, without a round trip each.
func AuditMany(ctx context.Context, tx *sqlx.Tx, orgID, actorID int64, entries []AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	actions := make([]string, len(entries))
	types := make([]string, len(entries))
	targets := make([]int64, len(entries))
	befores := make([]string, len(entries))
	afters := make([]string, len(entries))
	for i, e := range entries {
		actions[i], types[i], targets[i] = e.Action, e.TargetType, e.TargetID
		for _, p := range []struct {
			v   any
			out *string
		}{{e.Before, &befores[i]}, {e.After, &afters[i]}} {
			b, err := json.Marshal(p.v) // nil is "null": no value
			if err != nil {
				return fmt.Errorf("audit payload: %w", err)
			}
			*p.out = string(b)
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (org_id, actor_id, action, target_type, target_id, before, after)
		SELECT $1, NULLIF($2, 0), e.action, e.target_type, NULLIF(e.target_id, 0), NULLIF(e.before, 'null')::jsonb, NULLIF(e.after, 'null')::jsonb
		FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[]) WITH ORDINALITY AS e(action, target_type, target_id, before, after, ord)
		ORDER BY e.ord`,
		orgID, actorID, pq.Array(actions), pq.Array(types), pq.Array(targets), pq.Array(befores), pq.Array(afters))
	return wrap(err, "audit")
}
