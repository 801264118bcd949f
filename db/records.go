package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/access"
	"warden/records"
)

// ErrNotFound (errors.go) is returned for a record that does not exist in
// the org: an id of another org or module is not found either.

// Queryer runs queries: a *sqlx.DB or a *sqlx.Tx.
type Queryer interface {
	sqlx.QueryerContext
	sqlx.ExecerContext
}

// Visible is the set of records a viewer may see, decided by the access
// engine: All (administrators, public modules) or the ids in IDs (a roaring
// bitmap of record ids). IDs must hold only ids of existing records of the
// listed org and module: its cardinality is reported as the total count of
// an unfiltered list. A nil or empty IDs without All sees nothing.
type Visible struct {
	All bool
	IDs *roaring.Bitmap
	// ModuleCount, when ModuleCountKnown, is the number of records of the
	// module in the org (the engine's exact count): the totalCount of an
	// unfiltered list with All, without a count(*) over the table, and the
	// denominator of a dense set's density, which sizes its scan chunks.
	ModuleCount      int
	ModuleCountKnown bool
}

// SparseVisibleLimit is the largest visible set a list sends to Postgres as
// the candidate ids (id = ANY($n)); a larger one is dense: Postgres scans in
// the requested order and rows outside the set are dropped here. Measured
// (bench, 200k deals): at ~9,000 ids Postgres spends 17-43 ms planning the
// array alone, more than a dense scan costs at that density.
var SparseVisibleLimit = 2000

// The bounds of one chunk of a dense scan (rows read per query).
var (
	denseChunkMin = 200
	denseChunkMax = 20000
)

// ListParams is one page of a module's list.
type ListParams struct {
	Org     int64
	Meta    *records.Meta
	Filter  records.Expr
	Order   records.Order   // empty: id descending only
	After   *records.Cursor // nil: the first page
	First   int             // 1..100, validated by the caller
	Visible Visible

	WantRows, WantCount bool
}

// ListResult is a page: up to First rows in order, whether more follow, and
// the number of visible rows matching the filter (when WantCount).
type ListResult struct {
	Rows        []records.Record
	HasNextPage bool
	TotalCount  int
}

// listPlan is how a list applies the visible set.
type listPlan int

const (
	listAll listPlan = iota
	listNone
	listSparse
	listDense
)

func chooseListPlan(v Visible) listPlan {
	switch {
	case v.All:
		return listAll
	case v.IDs == nil || v.IDs.IsEmpty():
		return listNone
	case v.IDs.GetCardinality() <= uint64(max(SparseVisibleLimit, 0)):
		return listSparse
	}
	return listDense
}

// ListRecords returns a page of the module's records that the viewer may
// see and that match the filter, in the requested order (then by id in the
// direction of the last key; NULLs last in both directions), after the
// cursor. Pagination is by keyset, never by offset.
//
// Plans: Visible.All adds no predicate. A visible set of at most
// SparseVisibleLimit ids becomes "id = ANY($n)". A larger one is dense:
// the table is scanned in the requested order, in chunks sized from the
// set's density, and only visible rows are kept. The total count is
// count(*) for All and sparse, the bitmap's cardinality for an unfiltered
// dense list, and the visible ids among the filtered ones otherwise.
func ListRecords(ctx context.Context, q Queryer, p ListParams) (ListResult, error) {
	m, err := recordModelFor(p.Meta)
	if err != nil {
		return ListResult{}, err
	}
	if p.WantRows && (p.First < 1 || p.First > 1000) {
		return ListResult{}, fmt.Errorf("list %s: page size %d out of range", p.Meta.Module, p.First)
	}
	if c := p.After; c != nil && (c.Org != p.Org || (c.Module != "" && c.Module != string(p.Meta.Module))) {
		return ListResult{}, fmt.Errorf("list %s: the cursor belongs to another list", p.Meta.Module)
	}
	l := &lister{q: q, p: p, m: m, plan: chooseListPlan(p.Visible)}
	var res ListResult
	if l.plan == listNone {
		return res, nil
	}
	// Compile once up front so that a bad filter or ordering fails before
	// any query runs.
	if _, err := l.build(selRows, l.start(), 1); err != nil {
		return ListResult{}, fmt.Errorf("list %s: %w", p.Meta.Module, err)
	}
	if p.WantRows {
		if res.Rows, res.HasNextPage, err = l.rows(ctx); err != nil {
			return ListResult{}, fmt.Errorf("list %s: %w", p.Meta.Module, err)
		}
	}
	if p.WantCount {
		if res.TotalCount, err = l.count(ctx); err != nil {
			return ListResult{}, fmt.Errorf("count %s: %w", p.Meta.Module, err)
		}
	}
	return res, nil
}

type lister struct {
	q    Queryer
	p    ListParams
	m    *recordModel
	plan listPlan

	sparse []int64 // the visible ids of a sparse plan, once listed
}

type listQuery struct {
	sql  string
	args []any
	keys []listOrderKey
}

// What a list query selects.
type listSelection int

const (
	selRows  listSelection = iota // the page's rows, ordered, after pos, limited
	selCount                      // count(*)
	selIDs                        // the ids, unordered
	selKeys                       // the ids and sort keys, ordered, after pos, limited
)

// build compiles a list query: the filter, the sparse candidate set and, for
// rows, the keyset condition from pos (nil: from the start), the order and
// LIMIT limit.
func (l *lister) build(sel listSelection, pos *keysetPos, limit int) (listQuery, error) {
	b := newRecordSQL(l.p.Meta, l.m, l.p.Org)
	where := []string{"org_id = $1"}
	if !l.p.Filter.IsEmpty() {
		f, err := b.expr(l.p.Filter, 1)
		if err != nil {
			return listQuery{}, err
		}
		where = append(where, f)
	}
	if l.plan == listSparse {
		if l.sparse == nil {
			l.sparse = visibleIDs(l.p.Visible.IDs)
		}
		where = append(where, "id = ANY("+b.bind(pq.Array(l.sparse))+"::bigint[])")
	}
	switch sel {
	case selCount:
		return listQuery{sql: "SELECT count(*) FROM " + l.p.Meta.Table + " WHERE " + strings.Join(where, " AND "), args: b.args}, nil
	case selIDs:
		return listQuery{sql: "SELECT id FROM " + l.p.Meta.Table + " WHERE " + strings.Join(where, " AND "), args: b.args}, nil
	}
	keys, err := b.orderKeys(l.p.Order)
	if err != nil {
		return listQuery{}, err
	}
	if pos != nil {
		a, err := b.afterSQL(keys, *pos)
		if err != nil {
			return listQuery{}, err
		}
		where = append(where, a)
	}
	cols := l.m.selectSQ
	if sel == selKeys {
		// As text, see scanKeys; aliased, or ORDER BY amount would sort by
		// the output column of that name, the text.
		cols = "id"
		for i, k := range keys {
			cols += ", (" + k.sql + ")::text AS sort_key_" + strconv.Itoa(i)
		}
	}
	s := "SELECT " + cols + " FROM " + l.p.Meta.Table + " WHERE " + strings.Join(where, " AND ") +
		" ORDER BY " + listOrderBySQL(keys) + " LIMIT " + b.bind(limit)
	return listQuery{sql: s, args: b.args, keys: keys}, nil
}

// start is the position the page starts after, from the client's cursor.
func (l *lister) start() *keysetPos {
	if l.p.After == nil {
		return nil
	}
	return &keysetPos{values: l.p.After.Values, id: l.p.After.ID}
}

// rows fetches the page: First+1 rows tell whether a next page exists.
func (l *lister) rows(ctx context.Context) ([]records.Record, bool, error) {
	need := l.p.First + 1
	var out []records.Record
	if l.plan != listDense {
		bq, err := l.build(selRows, l.start(), need)
		if err != nil {
			return nil, false, err
		}
		if out, err = l.fetch(ctx, bq); err != nil {
			return nil, false, err
		}
	} else {
		var err error
		if out, err = l.denseRows(ctx, need); err != nil {
			return nil, false, err
		}
	}
	if len(out) > l.p.First {
		return out[:l.p.First], true, nil
	}
	return out, false, nil
}

// denseRows scans the table in the requested order, chunk by chunk, keeping
// visible rows until need of them are found or the rows run out. A chunk is
// sized to hold the rows still needed at the density seen so far (at first,
// the bitmap's cardinality over its id span), with a margin of 1.5.
//
// The scan reads only ids and sort keys (a narrow row, often from the
// index alone); the records themselves are read afterwards, by id, for the
// few kept. Decoding every scanned record was most of a manager's list:
// at 5% density a page of 50 scans a thousand rows.
func (l *lister) denseRows(ctx context.Context, need int) ([]records.Record, error) {
	bm := l.p.Visible.IDs
	density := 1.0
	if l.p.Visible.ModuleCountKnown && l.p.Visible.ModuleCount > 0 {
		// The share of the module's records that are visible: ids of one
		// sequence are shared by every module, so a span of ids would
		// understate it and over-size the chunks.
		density = float64(bm.GetCardinality()) / float64(l.p.Visible.ModuleCount)
	} else if span := float64(bm.Maximum()) - float64(bm.Minimum()) + 1; span > 0 {
		density = float64(bm.GetCardinality()) / span
	}
	pos := l.start()
	var keep []int64
	scanned := 0
	for len(keep) < need {
		density = min(max(density, 1e-6), 1)
		chunk := int(min(math.Ceil(float64(need-len(keep))/density*1.5), float64(denseChunkMax)))
		chunk = min(max(chunk, denseChunkMin), denseChunkMax)
		bq, err := l.build(selKeys, pos, chunk)
		if err != nil {
			return nil, err
		}
		ids, last, err := scanKeys(ctx, l.q, bq, chunk)
		if err != nil {
			return nil, err
		}
		scanned += len(ids)
		for _, id := range ids {
			if id >= 0 && id <= math.MaxUint32 && bm.Contains(uint32(id)) {
				keep = append(keep, id)
				if len(keep) == need {
					break
				}
			}
		}
		if last == nil {
			break // fewer rows than the chunk: the table is exhausted
		}
		pos = last
		if len(keep) > 0 {
			density = float64(len(keep)) / float64(scanned)
		} else {
			density /= 4
		}
	}
	return l.fetchInOrder(ctx, keep)
}

// scanKeys runs a selKeys query of limit rows: the ids in order, and the
// keyset position of the limit-th row when there is one (nil: the rows ran
// out, nothing follows). The sort keys come as text and only that row's are
// parsed: a dense scan reads a thousand rows for a page of 50, and the
// driver's decoding of every row's timestamp was half of the scan's CPU.
func scanKeys(ctx context.Context, q Queryer, bq listQuery, limit int) ([]int64, *keysetPos, error) {
	rows, err := q.QueryContext(ctx, bq.sql, bq.args...)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = rows.Close() }()
	ids := make([]int64, 0, limit)
	var last *keysetPos
	var id int64
	// NullString: the driver hands text over as a string (no copy), and
	// keeps an empty string apart from NULL, which RawBytes does not.
	raw := make([]sql.NullString, len(bq.keys))
	dest := make([]any, 1+len(bq.keys))
	dest[0] = &id
	for i := range raw {
		dest[i+1] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
		if len(ids) == limit {
			last = &keysetPos{id: id, values: make([]any, len(bq.keys))}
			for i, k := range bq.keys {
				if last.values[i], err = keyFromText(k.kind, raw[i]); err != nil {
					return nil, nil, fmt.Errorf("sort key %s: %w", k.op.Name(), err)
				}
			}
		}
	}
	return ids, last, rows.Err()
}

// keyFromText is a sort key's value from its text form (nil for NULL), in
// the types keysetValue takes.
func keyFromText(kind records.Kind, raw sql.NullString) (any, error) {
	if !raw.Valid {
		return nil, nil
	}
	s := raw.String
	switch kind {
	case records.KindString:
		return s, nil
	case records.KindFloat:
		return strconv.ParseFloat(s, 64)
	case records.KindInt:
		return strconv.ParseInt(s, 10, 64)
	case records.KindBool:
		return strconv.ParseBool(s)
	case records.KindDate:
		return s, nil // YYYY-MM-DD; keysetValue parses it
	}
	return pq.ParseTimestamp(time.UTC, s) // KindTime
}

// fetchInOrder reads the records of ids (of this org) in the order given.
// A record deleted since the scan is left out.
func (l *lister) fetchInOrder(ctx context.Context, ids []int64) ([]records.Record, error) {
	byID, err := GetRecords(ctx, l.q, l.p.Org, l.p.Meta, ids)
	if err != nil {
		return nil, err
	}
	out := make([]records.Record, 0, len(ids))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func (l *lister) fetch(ctx context.Context, bq listQuery) ([]records.Record, error) {
	rows, err := l.q.QueryxContext(ctx, bq.sql, bq.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []records.Record
	for rows.Next() {
		rec := l.m.newRecord()
		if err := rows.StructScan(rec); err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

// count is the number of visible rows matching the filter.
func (l *lister) count(ctx context.Context) (int, error) {
	if l.p.Filter.IsEmpty() {
		// The engine's sets are exact: no table scan to count them.
		switch {
		case l.plan == listAll && l.p.Visible.ModuleCountKnown:
			return l.p.Visible.ModuleCount, nil
		case l.plan != listAll:
			return int(l.p.Visible.IDs.GetCardinality()), nil
		}
	}
	if l.plan != listDense {
		bq, err := l.build(selCount, nil, 0)
		if err != nil {
			return 0, err
		}
		var n int
		if err := sqlx.GetContext(ctx, l.q, &n, bq.sql, bq.args...); err != nil {
			return 0, err
		}
		return n, nil
	}
	// Dense with a filter: the visible ids among the matching ones.
	bq, err := l.build(selIDs, nil, 0)
	if err != nil {
		return 0, err
	}
	rows, err := l.q.QueryContext(ctx, bq.sql, bq.args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	bm := l.p.Visible.IDs
	n := 0
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		if id >= 0 && id <= math.MaxUint32 && bm.Contains(uint32(id)) {
			n++
		}
	}
	return n, rows.Err()
}

func visibleIDs(bm *roaring.Bitmap) []int64 {
	ids := bm.ToArray()
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

// CursorFor is the cursor of a row under an ordering: its key values (a
// time as an RFC 3339 string with nanoseconds, a date as YYYY-MM-DD,
// numbers, strings, booleans, nil for an empty value) and its id, with the
// org, module and the ordering's signature.
func CursorFor(rec records.Record, order records.Order) records.Cursor {
	m := recordModelOf(rec)
	h := rec.Base()
	vals := make([]any, len(order))
	for i, k := range order {
		var v any
		if m != nil {
			v = m.operandValue(rec, k.Operand)
		}
		switch x := v.(type) {
		case records.Date:
			v = x.String()
		case records.RecordKey:
			v = x.ID
		case time.Time:
			v = x.Format(time.RFC3339Nano)
		}
		vals[i] = v
	}
	return records.Cursor{Org: h.OrgID, Module: string(recordModule(rec)), Sig: order.Signature(), Values: vals, ID: h.Key}
}

// GetRecords loads the records of the module with the given ids in one
// query, for dataloaders. Ids absent from the org (or of another module) are
// absent from the map.
func GetRecords(ctx context.Context, q Queryer, org int64, meta *records.Meta, ids []int64) (map[int64]records.Record, error) {
	return recordsByID(ctx, q, org, meta, ids, "")
}

// recordsByID reads records by id; suffix ends the statement (a lock).
func recordsByID(ctx context.Context, q Queryer, org int64, meta *records.Meta, ids []int64, suffix string) (map[int64]records.Record, error) {
	m, err := recordModelFor(meta)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]records.Record, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.QueryxContext(ctx, "SELECT "+m.selectSQ+" FROM "+meta.Table+
		" WHERE org_id = $1 AND id = ANY($2::bigint[])"+suffix, org, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", meta.Module, err)
	}
	if err := scanRecordsByID(rows, m, out); err != nil {
		return nil, fmt.Errorf("load %s: %w", meta.Module, err)
	}
	return out, nil
}

// scanRecordsByID reads every row into out, by id, and closes rows.
func scanRecordsByID(rows *sqlx.Rows, m *recordModel, out map[int64]records.Record) error {
	defer rows.Close()
	for rows.Next() {
		rec := m.newRecord()
		if err := rows.StructScan(rec); err != nil {
			return err
		}
		out[rec.Base().Key] = rec
	}
	return rows.Err()
}

// GetRecordForUpdate loads a record and locks its row until the transaction
// ends; ErrNotFound when the org has no such record.
func GetRecordForUpdate(ctx context.Context, tx *sqlx.Tx, org int64, meta *records.Meta, id int64) (records.Record, error) {
	m, err := recordModelFor(meta)
	if err != nil {
		return nil, err
	}
	rec := m.newRecord()
	err = tx.QueryRowxContext(ctx, "SELECT "+m.selectSQ+" FROM "+meta.Table+
		" WHERE org_id = $1 AND id = $2 FOR UPDATE", org, id).StructScan(rec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s record: %w", meta.Module, err)
	}
	return rec, nil
}

// recordWritableColumns checks the columns of an insert or update against the
// model (the keys are column names: owner_id, name, custom, ...; never id
// nor org_id) and returns them sorted with their values.
func recordWritableColumns(m *recordModel, cols map[string]any) ([]string, []any, error) {
	names := make([]string, 0, len(cols))
	for name := range cols {
		if m.byName[name] == nil || name == "id" || name == "org_id" {
			return nil, nil, fmt.Errorf("column %q is not writable in %s", name, m.module)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	vals := make([]any, len(names))
	for i, name := range names {
		vals[i] = recordWriteValue(cols[name])
	}
	return names, vals, nil
}

// recordWriteValue adapts a typed value to a parameter: a record key is its id
// (the zero key is NULL), a plain map is jsonb.
func recordWriteValue(v any) any {
	switch x := v.(type) {
	case records.RecordKey:
		if x.ID == 0 {
			return nil
		}
		return x.ID
	case *records.RecordKey:
		if x == nil || x.ID == 0 {
			return nil
		}
		return x.ID
	case access.Module:
		return string(x)
	case map[string]any:
		return records.JSONMap(x)
	}
	return v
}

// InsertRecord inserts a record of the module in the org and returns the
// stored row. cols are keyed by column name with typed values; the database
// fills id, created_at, updated_at and the defaults.
func InsertRecord(ctx context.Context, q Queryer, org int64, meta *records.Meta, cols map[string]any) (records.Record, error) {
	m, err := recordModelFor(meta)
	if err != nil {
		return nil, err
	}
	names, vals, err := recordWritableColumns(m, cols)
	if err != nil {
		return nil, fmt.Errorf("insert %s: %w", meta.Module, err)
	}
	ph := make([]string, len(names))
	for i := range names {
		ph[i] = fmt.Sprintf("$%d", i+2)
	}
	s := "INSERT INTO " + meta.Table + " (" + strings.Join(append([]string{"org_id"}, names...), ", ") +
		") VALUES (" + strings.Join(append([]string{"$1"}, ph...), ", ") + ") RETURNING " + m.selectSQ
	rec := m.newRecord()
	if err := q.QueryRowxContext(ctx, s, append([]any{org}, vals...)...).StructScan(rec); err != nil {
		return nil, fmt.Errorf("insert %s: %w", meta.Module, err)
	}
	return rec, nil
}

// UpdateRecord sets the given columns of a record of the org (and
// updated_at to now(), unless cols sets it) and returns the stored row;
// ErrNotFound when the org has no such record. A custom column replaces the
// whole jsonb object.
func UpdateRecord(ctx context.Context, q Queryer, org int64, meta *records.Meta, id int64, cols map[string]any) (records.Record, error) {
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
		sets = append(sets, fmt.Sprintf("%s = $%d", name, i+3))
	}
	if _, ok := cols["updated_at"]; !ok {
		sets = append(sets, "updated_at = now()")
	}
	s := "UPDATE " + meta.Table + " SET " + strings.Join(sets, ", ") +
		" WHERE org_id = $1 AND id = $2 RETURNING " + m.selectSQ
	rec := m.newRecord()
	err = q.QueryRowxContext(ctx, s, append([]any{org, id}, vals...)...).StructScan(rec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", meta.Module, err)
	}
	return rec, nil
}

// DeleteRecord deletes a record of the org; ErrNotFound when there is none.
func DeleteRecord(ctx context.Context, q Queryer, org int64, meta *records.Meta, id int64) error {
	if _, err := recordModelFor(meta); err != nil {
		return err
	}
	res, err := q.ExecContext(ctx, "DELETE FROM "+meta.Table+" WHERE org_id = $1 AND id = $2", org, id)
	if err != nil {
		return fmt.Errorf("delete %s: %w", meta.Module, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete %s: %w", meta.Module, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// StreamRecordFields calls fn for every record of the module in the org, in
// no particular order, with its owner, its parent (the account of a contact
// or deal, the record a task is about; nil when none) and the values of the
// named fields, keyed by API name. A standard field's value is typed like a
// filter value (string, float64, int64, bool, records.Date, time.Time,
// records.RecordKey; nil when NULL, "" kept). A name that is not a standard
// field is a custom field: its value is the jsonb value as decoded (string,
// float64, bool, nil when absent); DecodeCustomValue types it exactly as the
// SQL filters do. It serves the visibility index and criteria-rule bitmaps.
//
// The rows stream from one open query: fn must not use q (on a transaction
// the connection is busy until the stream ends). An error from fn stops the
// stream and is returned as is.
func StreamRecordFields(ctx context.Context, q Queryer, org int64, meta *records.Meta, fields []string,
	fn func(id int64, owner int64, parent *records.RecordKey, values map[string]any) error) error {
	m, err := recordModelFor(meta)
	if err != nil {
		return err
	}
	cols := []string{"id", "owner_id"}
	seen := map[string]bool{"id": true, "owner_id": true}
	add := func(c string) {
		if !seen[c] && m.byName[c] != nil {
			seen[c] = true
			cols = append(cols, c)
		}
	}
	// The parent's columns, where the module has them (records.ParentOf).
	add("account_id")
	add(relatedModuleColumn)
	add("related_id")
	type fieldRef struct {
		name string
		op   records.Operand
	}
	var std, custom []fieldRef
	for _, name := range fields {
		if f := meta.Field(name); f != nil {
			std = append(std, fieldRef{name: name, op: records.Operand{Field: f}})
			add(f.Column)
			if f.Kind == records.KindRecordRef {
				add(relatedModuleColumn)
			}
			continue
		}
		custom = append(custom, fieldRef{name: name})
	}
	if len(custom) > 0 {
		add("custom")
	}
	rows, err := q.QueryxContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+meta.Table+" WHERE org_id = $1", org)
	if err != nil {
		return fmt.Errorf("stream %s: %w", meta.Module, err)
	}
	defer rows.Close()
	rec := m.newRecord()
	for rows.Next() {
		if err := rows.StructScan(rec); err != nil {
			return fmt.Errorf("stream %s: %w", meta.Module, err)
		}
		values := make(map[string]any, len(fields))
		for _, f := range std {
			values[f.name] = m.operandValue(rec, f.op)
		}
		for _, f := range custom {
			values[f.name] = rec.Base().Custom[f.name]
		}
		var parent *records.RecordKey
		if mod, id, ok := records.ParentOf(rec); ok {
			parent = &records.RecordKey{Module: mod, ID: id}
		}
		if err := fn(rec.Base().Key, rec.Base().OwnerID, parent, values); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("stream %s: %w", meta.Module, err)
	}
	return nil
}
