package resolvers

import (
	"context"
	"strconv"
	"strings"
	"time"

	"warden/access"
	"warden/apperr"
	"warden/csvio"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// exportRecords: the records and fields the viewer may read, as CSV.

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
		if f.System || sc.snap.CanReadField(sc.member.Key, m, f.Name) {
			out = append(out, exportColumn{name: f.Name, op: records.Operand{Field: f}})
		}
	}
	for _, d := range custom {
		if sc.snap.CanReadField(sc.member.Key, m, d.APIName) {
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
