package resolvers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jmoiron/sqlx"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"warden/access"
	"warden/apperr"
	"warden/csvio"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// Bulk work on records: transferOwnership, massUpdate and massDelete check
// every record exactly as the single-record writes do (writableRecord,
// parseWrite) before anything is written, then write all of them in one
// transaction with the same change-log entries, so the access index stays
// exact and every instance sees the change when the mutation returns.
// exportRecords reads through the list query's path; importRecords checks
// every row through parseWrite before writing any.

// Limits of one bulk call.
const (
	maxBulkIDs      = 500
	maxExportRows   = 100_000
	exportPageSize  = 1000
	maxImportRows   = 10_000
	maxImportBytes  = 8 << 20
	maxImportErrors = 1000
)

// moduleInputKeys are the keys of MassUpdateInput and RecordFilter, one per
// module.
var moduleInputKeys = map[access.Module]string{
	records.Leads: "lead", records.Contacts: "contact", records.Accounts: "account",
	records.Deals: "deal", records.Tasks: "task",
}

// recordError names the record a bulk call failed on, in the message and
// in extensions.recordId, so a client can point at it.
func recordError(ctx context.Context, id string, err error) error {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return err
	}
	return &gqlerror.Error{Err: err, Message: ae.Msg, Path: graphql.GetPath(ctx),
		Extensions: map[string]any{"recordId": id}}
}

// bulkIDs checks the size of an id list and drops repeats, keeping the
// first occurrence's place.
func bulkIDs(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, apperr.NewBadInput("ids must name at least one record")
	}
	if len(in) > maxBulkIDs {
		return nil, apperr.NewLimitExceeded("at most %d ids per call; got %d", maxBulkIDs, len(in))
	}
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, id := range in {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// bulkTarget is a bulk write's records, checked: their public ids and keys
// in the caller's order.
type bulkTarget struct {
	m    access.Module
	ids  []string
	keys []int64
}

// checkRecords asks writableRecord, record by record, whether the viewer
// may act on each with perm; the first record that fails is named. An id
// that is invisible, of another org or type, or missing gets one answer:
// NOT_FOUND.
func (r *Resolver) checkRecords(ctx context.Context, sc *scope, m access.Module, in []string, perm access.Permission) (*bulkTarget, error) {
	list, err := bulkIDs(in)
	if err != nil {
		return nil, err
	}
	t := &bulkTarget{m: m, ids: list, keys: make([]int64, len(list))}
	for i, id := range list {
		key, err := r.writableRecord(sc, m, id, perm)
		if err != nil {
			return nil, recordError(ctx, id, err)
		}
		t.keys[i] = key
	}
	return t, nil
}

// lock locks the target's rows in the transaction and returns them by key;
// a record deleted since it was checked fails the call, named.
func (t *bulkTarget) lock(ctx context.Context, tx *sqlx.Tx, sc *scope) (map[int64]records.Record, error) {
	locked, err := db.LockRecords(ctx, tx, sc.org.Key, records.MetaOf(t.m), t.keys)
	if err != nil {
		return nil, err
	}
	for i, k := range t.keys {
		if _, ok := locked[k]; !ok {
			return nil, recordError(ctx, t.ids[i], apperr.NewNotFound("no %s with id %s", t.m, t.ids[i]))
		}
	}
	return locked, nil
}

// logUpserts logs the written records' facts for the index, in the
// target's order.
func (t *bulkTarget) logUpserts(ctx context.Context, tx *sqlx.Tx, sc *scope, written map[int64]records.Record) error {
	payloads := make([]any, 0, len(t.keys))
	for i, k := range t.keys {
		rec, ok := written[k]
		if !ok {
			return recordError(ctx, t.ids[i], apperr.NewNotFound("no %s with id %s", t.m, t.ids[i]))
		}
		payloads = append(payloads, bulkRecordChange(rec))
	}
	_, err := db.LogSecurityChanges(ctx, tx, sc.org.Key, db.ChangeRecordUpsert, payloads)
	return err
}

// bulkRecordChange is the change-log payload logRecord (records.go) writes
// for a record: keep the two one.
func bulkRecordChange(rec records.Record) db.RecordChange {
	rc := db.RecordChange{Module: records.ModuleOf(rec), ID: rec.Base().Key, Owner: rec.Base().OwnerID, Fields: records.FieldValues(rec)}
	if pm, pid, ok := records.ParentOf(rec); ok {
		rc.Parent = &access.RecordRef{Module: pm, ID: pid}
	}
	return rc
}

// recordAuditEntry is the audit entry auditRecord (audit_fields.go) writes
// for a single-record write, so bulk writes read the same in the audit log
// and field-level security redacts them alike.
func recordAuditEntry(action string, rec records.Record, before, after map[string]any) db.AuditEntry {
	e := db.AuditEntry{Action: action, TargetType: strings.ToLower(string(records.ModuleOf(rec))), TargetID: rec.Base().Key}
	if before != nil {
		e.Before = before
	}
	if after != nil {
		e.After = after
	}
	return e
}

// auditUpdates appends one "record.update" entry per written record with
// the named fields before and after, in the target's order.
func (t *bulkTarget) auditUpdates(ctx context.Context, tx *sqlx.Tx, sc *scope, locked, written map[int64]records.Record, fields []string) error {
	entries := make([]db.AuditEntry, 0, len(t.keys))
	for _, k := range t.keys {
		entries = append(entries, recordAuditEntry("record.update", written[k], recordAuditState(locked[k], fields), recordAuditState(written[k], fields)))
	}
	return db.AuditMany(ctx, tx, sc.org.Key, sc.member.Key, entries)
}

func (t *bulkTarget) result() *model.BulkResult {
	return &model.BulkResult{Count: len(t.ids), Ids: t.ids}
}

// transferOwnership gives records to another active member: changeOwner on
// the module, and on each record the access that permits an owner change.
func (r *Resolver) transferOwnership(ctx context.Context, module model.Module, in []string, newOwnerID string) (*model.BulkResult, error) {
	m := access.Module(module)
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermChangeOwner); err != nil {
		return nil, err
	}
	owner, err := ids.Decode(ids.Member, newOwnerID)
	if om, ok := sc.snap.Member(owner); err != nil || !ok || !om.Active {
		return nil, apperr.NewBadInput("newOwnerId does not name an active member of this org")
	}
	t, err := r.checkRecords(ctx, sc, m, in, access.PermChangeOwner)
	if err != nil {
		return nil, err
	}
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		locked, err := t.lock(ctx, tx, sc)
		if err != nil {
			return err
		}
		written, err := db.UpdateRecords(ctx, tx, sc.org.Key, records.MetaOf(m), t.keys, map[string]any{"owner_id": owner})
		if err != nil {
			return err
		}
		if err := t.logUpserts(ctx, tx, sc, written); err != nil {
			return err
		}
		return t.auditUpdates(ctx, tx, sc, locked, written, []string{"owner"})
	})
	if err != nil {
		return nil, err
	}
	sessionFrom(ctx).changed(sc.org.Key)
	return t.result(), nil
}

// massUpdate applies one update input to every record: massUpdate and edit
// on the module, the input checked as updateX checks it (types, READ_ONLY
// and HIDDEN fields, references), edit access on each record.
func (r *Resolver) massUpdate(ctx context.Context, module model.Module, in []string, input map[string]any) (*model.BulkResult, error) {
	m := access.Module(module)
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermEdit); err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermMassUpdate); err != nil {
		return nil, err
	}
	update, err := moduleInput(m, input, "input")
	if err != nil {
		return nil, err
	}
	w, err := r.parseWrite(ctx, sc, m, update, false)
	if err != nil {
		return nil, err
	}
	if len(w.Columns) == 0 {
		return nil, apperr.NewBadInput("input sets no field")
	}
	t, err := r.checkRecords(ctx, sc, m, in, access.PermEdit)
	if err != nil {
		return nil, err
	}
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		locked, err := t.lock(ctx, tx, sc)
		if err != nil {
			return err
		}
		written, err := db.UpdateRecords(ctx, tx, sc.org.Key, records.MetaOf(m), t.keys, w.Columns)
		if err != nil {
			return err
		}
		if err := t.logUpserts(ctx, tx, sc, written); err != nil {
			return err
		}
		return t.auditUpdates(ctx, tx, sc, locked, written, w.Fields)
	})
	if err != nil {
		return nil, err
	}
	sessionFrom(ctx).changed(sc.org.Key)
	return t.result(), nil
}

// massDelete deletes records: massDelete and delete on the module, delete
// access on each record; children lose their reference as deleteX does.
func (r *Resolver) massDelete(ctx context.Context, module model.Module, in []string) (*model.BulkResult, error) {
	m := access.Module(module)
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermDelete); err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermMassDelete); err != nil {
		return nil, err
	}
	t, err := r.checkRecords(ctx, sc, m, in, access.PermDelete)
	if err != nil {
		return nil, err
	}
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		locked, err := t.lock(ctx, tx, sc)
		if err != nil {
			return err
		}
		deleted, orphans, err := db.DeleteRecords(ctx, tx, sc.org.Key, m, t.keys)
		if err != nil {
			return err
		}
		if len(deleted) != len(t.keys) {
			return errors.New("mass delete: locked records went missing")
		}
		payloads := make([]any, 0, len(t.keys))
		for _, k := range t.keys {
			payloads = append(payloads, db.RecordChange{Module: m, ID: k})
		}
		if _, err := db.LogSecurityChanges(ctx, tx, sc.org.Key, db.ChangeRecordDelete, payloads); err != nil {
			return err
		}
		payloads = payloads[:0]
		for _, child := range orphans {
			payloads = append(payloads, bulkRecordChange(child))
		}
		if _, err := db.LogSecurityChanges(ctx, tx, sc.org.Key, db.ChangeRecordUpsert, payloads); err != nil {
			return err
		}
		entries := make([]db.AuditEntry, 0, len(t.keys))
		for _, k := range t.keys {
			entries = append(entries, recordAuditEntry("record.delete", locked[k], recordAuditState(locked[k], nil), nil))
		}
		return db.AuditMany(ctx, tx, sc.org.Key, sc.member.Key, entries)
	})
	if err != nil {
		return nil, err
	}
	sessionFrom(ctx).changed(sc.org.Key)
	return t.result(), nil
}

// moduleInput picks the module's key out of a one-key-per-module input
// (MassUpdateInput, RecordFilter); nil when the input is nil.
func moduleInput(m access.Module, in map[string]any, arg string) (map[string]any, error) {
	if in == nil {
		return nil, nil
	}
	key, ok := moduleInputKeys[m]
	if !ok {
		return nil, apperr.NewBadInput("unknown module %s", m)
	}
	for k := range in {
		if k != key {
			return nil, apperr.NewBadInput("%s is for %s: set %s.%s, not %s.%s", arg, m, arg, key, arg, k)
		}
	}
	v, _ := in[key].(map[string]any)
	if v == nil {
		return nil, apperr.NewBadInput("%s.%s is required for %s", arg, key, m)
	}
	return v, nil
}

// ---- export ----

// exportColumn is one column of an export: a standard or custom field.
type exportColumn struct {
	name string
	op   records.Operand
}

// exportColumns are the fields the viewer may read: system fields, then the
// module's standard fields, then its custom fields. A hidden field is no
// column at all.
func exportColumns(sc *scope, m access.Module, custom []*records.CustomField) []exportColumn {
	var out []exportColumn
	for _, f := range records.MetaOf(m).Fields {
		if f.System || sc.fieldAccess(m, f.Name) != access.FieldHidden {
			out = append(out, exportColumn{name: f.Name, op: records.Operand{Field: f}})
		}
	}
	for _, d := range custom {
		if sc.fieldAccess(m, d.APIName) != access.FieldHidden {
			out = append(out, exportColumn{name: d.APIName, op: records.Operand{Custom: d}})
		}
	}
	return out
}

// exportRecords writes the CSV of the records the viewer may see that match
// the filter, page by page through the list query's repository path.
func (r *Resolver) exportRecords(ctx context.Context, module model.Module, filter map[string]any) (string, error) {
	m := access.Module(module)
	sc, err := activeScope(ctx)
	if err != nil {
		return "", err
	}
	if err := sc.requireModule(m, access.PermExport); err != nil {
		return "", err
	}
	raw, err := moduleInput(m, filter, "filter")
	if err != nil {
		return "", err
	}
	if raw, err = plain(raw); err != nil {
		return "", err
	}
	meta := records.MetaOf(m)
	custom, err := sc.customFields(ctx, m)
	if err != nil {
		return "", err
	}
	expr, err := records.ParseFilter(meta, custom, raw)
	if err != nil {
		return "", err
	}
	if err := sc.checkReadableOperands(m, expr.Operands()); err != nil {
		return "", err
	}
	// Oldest first; the id breaks ties in the same direction.
	order := records.Order{{Operand: records.Operand{Field: meta.Field("createdAt")}}}
	params := db.ListParams{Org: sc.org.Key, Meta: meta, Filter: expr, Order: order, First: exportPageSize,
		Visible: sc.dbVisible(m), WantCount: true}
	counted, err := db.ListRecords(ctx, r.DB, params)
	if err != nil {
		return "", err
	}
	if counted.TotalCount > maxExportRows {
		return "", apperr.NewLimitExceeded("the export would hold %d records; the limit is %d: narrow the filter", counted.TotalCount, maxExportRows)
	}
	cols := exportColumns(sc, m, custom)
	var b strings.Builder
	w := csvio.NewWriter(&b)
	row := make([]string, len(cols))
	for i, c := range cols {
		row[i] = c.name
	}
	if err := w.Write(row); err != nil {
		return "", err
	}
	params.WantCount, params.WantRows = false, true
	for written := 0; ; {
		page, err := db.ListRecords(ctx, r.DB, params)
		if err != nil {
			return "", err
		}
		for _, rec := range page.Rows {
			for i, c := range cols {
				row[i] = exportCell(sc, rec, c)
			}
			if err := w.Write(row); err != nil {
				return "", err
			}
		}
		written += len(page.Rows)
		if !page.HasNextPage || len(page.Rows) == 0 {
			break
		}
		if written >= maxExportRows {
			// Records created since the count: the limit holds regardless.
			return "", apperr.NewLimitExceeded("the export would hold more than %d records: narrow the filter", maxExportRows)
		}
		cur := db.CursorFor(page.Rows[len(page.Rows)-1], order)
		params.After = &cur
		if err := ctx.Err(); err != nil {
			return "", err
		}
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// exportCell formats one field of a record. A reference to a record the
// viewer cannot see is empty, as the field reads null in the API; text is
// made safe from spreadsheet formulas.
func exportCell(sc *scope, rec records.Record, c exportColumn) string {
	if c.op.Field != nil && c.op.Field.Name == "id" {
		return records.PublicID(rec)
	}
	switch v := db.FieldValue(rec, c.op).(type) {
	case nil:
		return ""
	case string:
		return csvio.SafeText(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case records.Date:
		return v.String()
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case records.RecordKey:
		if c.op.Field != nil && c.op.Field.Kind == records.KindMemberRef {
			return ids.Encode(ids.Member, v.ID)
		}
		meta := records.MetaOf(v.Module)
		if meta == nil || !sc.snap.Can(sc.member.Key, v.Module, access.PermView) || !sc.recordVisible(v.Module, v.ID) {
			return ""
		}
		return ids.Encode(meta.IDKind, v.ID)
	default:
		return ""
	}
}

// ---- import ----

// importColumn is a CSV column an import writes: a standard field, a custom
// field or the owner.
type importColumn struct {
	index  int
	header string
	field  *records.Field
	custom *records.CustomField
}

// importRun collects an import's row-level errors.
type importRun struct {
	errs []*model.ImportRowError
}

func (run *importRun) add(row int, column, code, format string, args ...any) {
	e := &model.ImportRowError{Row: row, Message: fmt.Sprintf(format, args...), Code: code}
	if column != "" {
		e.Column = &column
	}
	run.errs = append(run.errs, e)
}

// result is the failed import's answer: the errors in row order (a row's
// own in the order found), at most maxImportErrors of them.
func (run *importRun) result() *model.ImportResult {
	sort.SliceStable(run.errs, func(i, j int) bool { return run.errs[i].Row < run.errs[j].Row })
	shown := run.errs[:min(len(run.errs), maxImportErrors)]
	return &model.ImportResult{Ok: false, Ids: []string{}, Errors: shown, ErrorCount: len(run.errs)}
}

// addErr records err as a row error when it is the client's (a bad value,
// a forbidden field); any other error is returned.
func (run *importRun) addErr(row int, column string, err error) error {
	var ae *apperr.Error
	var ie *records.InputError
	switch {
	case errors.As(err, &ae) && ae.Code != apperr.Internal:
		run.add(row, column, ae.Code, "%s", ae.Msg)
	case errors.As(err, &ie):
		run.add(row, column, apperr.BadUserInput, "%s", ie.Msg)
	default:
		return err
	}
	return nil
}

// importRecords creates one record per CSV row, or none: every row is
// checked as createX checks its input before any row is written.
func (r *Resolver) importRecords(ctx context.Context, module model.Module, data string) (*model.ImportResult, error) {
	m := access.Module(module)
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermCreate); err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermImport); err != nil {
		return nil, err
	}
	header, rows, malformed, err := csvio.Read(data, csvio.Limits{MaxBytes: maxImportBytes, MaxRows: maxImportRows})
	if errors.Is(err, csvio.ErrTooLarge) {
		return nil, apperr.NewLimitExceeded("an import holds at most %d rows and %d MiB: split the file", maxImportRows, maxImportBytes>>20)
	}
	if err != nil {
		return nil, err
	}
	run := &importRun{}
	meta := records.MetaOf(m)
	custom, err := sc.customFields(ctx, m)
	if err != nil {
		return nil, err
	}
	for _, e := range malformed {
		run.add(e.Row, e.Column, apperr.BadUserInput, "%s", e.Message)
	}
	if header == nil {
		return run.result(), nil
	}
	cols := r.importHeader(sc, m, meta, custom, header, run)
	// With a bad header the rows' cells are still checked, column by
	// column, but not as whole records: they would all fail for the
	// header's reason again.
	wholeRows := len(run.errs) == 0
	writes := make([]map[string]any, 0, len(rows))
	for _, row := range rows {
		cells, err := r.importRow(ctx, sc, m, meta, custom, cols, row, wholeRows, run)
		if err != nil {
			return nil, err
		}
		if cells != nil {
			writes = append(writes, cells)
		}
	}
	if len(rows) == 0 && len(run.errs) == 0 {
		run.add(2, "", apperr.BadUserInput, "the CSV has no data rows")
	}
	if len(run.errs) > 0 {
		return run.result(), nil
	}
	var created []string
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		recs, err := db.InsertRecords(ctx, tx, sc.org.Key, meta, writes)
		if err != nil {
			return err
		}
		payloads := make([]any, len(recs))
		entries := make([]db.AuditEntry, len(recs))
		created = make([]string, len(recs))
		for i, rec := range recs {
			payloads[i] = bulkRecordChange(rec)
			entries[i] = recordAuditEntry("record.create", rec, nil, recordAuditState(rec, nil))
			created[i] = records.PublicID(rec)
		}
		if _, err := db.LogSecurityChanges(ctx, tx, sc.org.Key, db.ChangeRecordUpsert, payloads); err != nil {
			return err
		}
		return db.AuditMany(ctx, tx, sc.org.Key, sc.member.Key, entries)
	})
	if err != nil {
		return nil, err
	}
	sessionFrom(ctx).changed(sc.org.Key)
	return &model.ImportResult{Ok: true, Created: len(created), Ids: created, Errors: []*model.ImportRowError{}}, nil
}

// importHeader maps the header to the fields the import may write, and
// reports (as row 1) every column it may not: unknown, repeated, system,
// READ_ONLY or HIDDEN for the viewer, the owner without changeOwner, and
// mandatory fields without a column.
func (r *Resolver) importHeader(sc *scope, m access.Module, meta *records.Meta, custom []*records.CustomField, header []string, run *importRun) []importColumn {
	var cols []importColumn
	seen := map[string]bool{}
	for i, h := range header {
		col := importColumn{index: i, header: h}
		switch {
		case h == "":
			run.add(1, "", apperr.BadUserInput, "column %d has no header", i+1)
			continue
		case meta.Field(h) != nil:
			col.field = meta.Field(h)
		case meta.FieldByInputKey(h) != nil:
			col.field = meta.FieldByInputKey(h)
		default:
			for _, d := range custom {
				if d.APIName == h {
					col.custom = d
				}
			}
		}
		name := h
		switch {
		case col.field != nil:
			name = col.field.Name
		case col.custom == nil:
			run.add(1, h, apperr.BadUserInput, "unknown column %q: not a field of %s", h, m)
			continue
		}
		if seen[name] {
			run.add(1, h, apperr.BadUserInput, "column %s appears twice", name)
			continue
		}
		seen[name] = true
		if col.field != nil && col.field.Name == "owner" {
			if !sc.snap.Can(sc.member.Key, m, access.PermChangeOwner) {
				run.add(1, h, apperr.Forbidden, "an owner column needs the changeOwner permission on %s", m)
				continue
			}
		} else if col.field != nil && col.field.System {
			run.add(1, h, apperr.BadUserInput, "%s is set by the server and cannot be imported: remove the column", h)
			continue
		}
		if fa := sc.fieldAccess(m, name); fa != access.FieldReadWrite {
			run.add(1, h, apperr.FieldForbidden, "field %s of %s is %s for your profile", name, m, fa)
			continue
		}
		cols = append(cols, col)
	}
	for _, f := range meta.Fields {
		if f.Mandatory && !seen[f.Name] {
			run.add(1, f.Name, apperr.BadUserInput, "the header needs a %s column: %s is required", f.Name, f.Name)
		}
	}
	return cols
}

// importRow checks one row, cell by cell through the single-record write
// path (types, field-level security, references the viewer can see), then
// (when whole) as a complete create input, and returns the columns to
// insert; nil when the row has errors or is not checked whole.
func (r *Resolver) importRow(ctx context.Context, sc *scope, m access.Module, meta *records.Meta, custom []*records.CustomField,
	cols []importColumn, row csvio.Row, whole bool, run *importRun) (map[string]any, error) {
	before := len(run.errs)
	input := map[string]any{}
	customIn := map[string]any{}
	for _, c := range cols {
		cell := row.Cells[c.index]
		if strings.TrimSpace(cell) == "" {
			if c.field != nil && c.field.Mandatory {
				run.add(row.Number, c.header, apperr.BadUserInput, "%s is required", c.field.Name)
			}
			continue
		}
		if c.field != nil && c.field.Name == "owner" {
			key, err := ids.Decode(ids.Member, strings.TrimSpace(cell))
			if om, ok := sc.snap.Member(key); err != nil || !ok || !om.Active {
				run.add(row.Number, c.header, apperr.BadUserInput, "%q does not name an active member of this org", cell)
				continue
			}
			input[c.field.InputKey()] = strings.TrimSpace(cell)
			continue
		}
		kind := records.KindString
		if c.field != nil {
			kind = c.field.Kind
		} else {
			kind = c.custom.Kind()
		}
		v, err := importValue(kind, cell)
		if err != nil {
			run.add(row.Number, c.header, apperr.BadUserInput, "%s: %v", c.header, err)
			continue
		}
		one := map[string]any{}
		if c.field != nil {
			one[c.field.InputKey()] = v
		} else {
			one["customFields"] = map[string]any{c.custom.APIName: v}
		}
		if _, err := r.parseWrite(ctx, sc, m, one, false); err != nil {
			if err := run.addErr(row.Number, c.header, err); err != nil {
				return nil, err
			}
			continue
		}
		if c.field != nil {
			input[c.field.InputKey()] = v
		} else {
			customIn[c.custom.APIName] = v
		}
	}
	if len(run.errs) > before || !whole {
		return nil, nil
	}
	if len(customIn) > 0 {
		input["customFields"] = customIn
	}
	input, err := plain(input)
	if err != nil {
		return nil, err
	}
	w, err := records.ParseWrite(meta, custom, input, true)
	if err != nil {
		return nil, run.addErr(row.Number, "", err)
	}
	owner := sc.member.Key
	if w.Owner != nil {
		owner = *w.Owner
	}
	w.Columns["owner_id"] = owner
	w.Columns["created_by"] = sc.member.Key
	return w.Columns, nil
}

// importValue reads a cell as a value of the field's kind, in the form the
// API's inputs carry it: numbers and booleans parsed, everything else text.
func importValue(kind records.Kind, cell string) (any, error) {
	switch kind {
	case records.KindFloat, records.KindInt:
		f, err := strconv.ParseFloat(strings.TrimSpace(cell), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errors.New("expected a number such as 1234.5")
		}
		return f, nil
	case records.KindBool:
		switch strings.ToLower(strings.TrimSpace(cell)) {
		case "true", "yes", "1":
			return true, nil
		case "false", "no", "0":
			return false, nil
		}
		return nil, errors.New("expected true or false")
	case records.KindString:
		return cell, nil
	}
	return strings.TrimSpace(cell), nil
}
