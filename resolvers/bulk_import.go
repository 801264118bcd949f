package resolvers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/apperr"
	"warden/csvio"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// importRecords: records from CSV, every row checked before any is written.

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
			payloads[i] = recordChange(rec)
			entries[i] = recordAuditEntry("record.create", rec, nil, recordAuditState(rec, nil))
			created[i] = records.PublicID(rec)
		}
		if err := db.LogSecurityChanges(ctx, tx, sc.org.Key, db.ChangeRecordUpsert, payloads); err != nil {
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
		if !sc.snap.CanWriteField(sc.member.Key, m, name) {
			run.add(1, h, apperr.FieldForbidden, "field %s of %s is %s for your profile", name, m, sc.fieldAccess(m, name))
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
		var kind records.Kind
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
		// The cell's value through the single-record write path: its type
		// and format, and a reference's target visible to the viewer
		// (parseWrite; the header checked field-level security once). A
		// plain value needs no parseWrite round trip through JSON.
		var err2 error
		if c.field != nil && (c.field.Kind == records.KindRef || c.field.Kind == records.KindRecordRef) {
			_, err2 = r.parseWrite(ctx, sc, m, one, false)
		} else {
			_, err2 = records.ParseWrite(meta, custom, one, false)
		}
		if err2 != nil {
			if err := run.addErr(row.Number, c.header, err2); err != nil {
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
