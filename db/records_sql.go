package db

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"warden/access"
	"warden/records"
)

// This file compiles parsed filters and orderings (records.Expr,
// records.Order) to SQL. Identifiers come only from the models and
// records.Meta; every value, custom field keys included, is a bind
// parameter.

// maxFilterDepth bounds the recursion over a filter; the parser allows 5.
const maxFilterDepth = 32

// recordSQL accumulates bind parameters; $1 is always the org.
type recordSQL struct {
	meta  *records.Meta
	model *recordModel
	args  []any
}

func newRecordSQL(meta *records.Meta, m *recordModel, org int64) *recordSQL {
	return &recordSQL{meta: meta, model: m, args: []any{org}}
}

// bind adds a parameter and returns its placeholder.
func (b *recordSQL) bind(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// sqlOperand is a compiled operand: its SQL expression, kind and whether it
// can be NULL.
type sqlOperand struct {
	sql      string
	kind     records.Kind
	nullable bool
	field    *records.Field // nil for a custom field
}

// operand compiles a standard column or a custom jsonb value, cast to its
// kind behind a guard that turns a malformed stored value into NULL.
func (b *recordSQL) operand(op records.Operand) (sqlOperand, error) {
	if op.Custom != nil {
		text := "(custom->>" + b.bind(op.Custom.APIName) + "::text)"
		kind := op.Custom.Kind()
		var expr string
		switch kind {
		case records.KindString:
			expr = text
		case records.KindInt:
			expr = "(CASE WHEN " + text + " ~ '" + customIntPattern + "' THEN " + text + "::bigint END)"
		case records.KindFloat:
			expr = "(CASE WHEN " + text + " ~ '" + customDecimalPattern + "' THEN " + text + "::numeric END)"
		case records.KindBool:
			expr = "(CASE WHEN " + text + " IN ('true', 'false') THEN " + text + "::boolean END)"
		case records.KindDate:
			expr = "(CASE WHEN " + text + " ~ '" + customDatePattern + "' THEN CASE WHEN " +
				validDaySQL(text) + " THEN " + text + "::date END END)"
		case records.KindTime:
			expr = "(CASE WHEN " + text + " ~ '" + customTimePattern + "' THEN CASE WHEN " +
				validDaySQL(text) + " THEN " + text + "::timestamptz END END)"
		default:
			return sqlOperand{}, fmt.Errorf("custom field %q has an unsupported kind", op.Custom.APIName)
		}
		return sqlOperand{sql: expr, kind: kind, nullable: true}, nil
	}
	f, err := b.field(op.Field)
	if err != nil {
		return sqlOperand{}, err
	}
	c := b.model.byName[f.Column]
	if c == nil {
		return sqlOperand{}, fmt.Errorf("field %q is not a column of %s", f.Name, b.meta.Module)
	}
	return sqlOperand{sql: c.name, kind: f.Kind, nullable: c.nullable, field: f}, nil
}

// field returns the module's own definition of a standard field: its column
// is taken from the module's metadata, whatever the operand carries.
func (b *recordSQL) field(f *records.Field) (*records.Field, error) {
	if f == nil {
		return nil, fmt.Errorf("filter or order names no field")
	}
	mf := b.meta.Field(f.Name)
	if mf == nil || mf.Column != f.Column || mf.Kind != f.Kind {
		return nil, fmt.Errorf("field %q is not a field of %s", f.Name, b.meta.Module)
	}
	return mf, nil
}

// validDaySQL checks, for a text that matched a date pattern, that its day
// exists in its month (2023-02-30 does not), so the cast cannot fail. It runs
// in a nested CASE: Postgres does not promise the order of AND operands.
func validDaySQL(text string) string {
	return "substr(" + text + ", 9, 2)::int <= date_part('day', (substr(" + text +
		", 1, 7) || '-01')::date + interval '1 month - 1 day')"
}

// expr compiles a filter expression; an empty one is TRUE.
func (b *recordSQL) expr(e records.Expr, depth int) (string, error) {
	if depth > maxFilterDepth {
		return "", fmt.Errorf("filter nests too deeply")
	}
	var parts []string
	if e.Cond != nil {
		s, err := b.cond(e.Cond)
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	for _, list := range []struct {
		subs []records.Expr
		join string
	}{{e.And, " AND "}, {e.Or, " OR "}} {
		if len(list.subs) == 0 {
			continue
		}
		subs := make([]string, len(list.subs))
		for i, s := range list.subs {
			var err error
			if subs[i], err = b.expr(s, depth+1); err != nil {
				return "", err
			}
		}
		parts = append(parts, "("+strings.Join(subs, list.join)+")")
	}
	switch len(parts) {
	case 0:
		return "TRUE", nil
	case 1:
		return parts[0], nil
	}
	return "(" + strings.Join(parts, " AND ") + ")", nil
}

// cond compiles one condition with the access model's empty-field rule: on
// an empty field (NULL; for text also the empty string) only isEmpty:true
// and neq hold.
func (b *recordSQL) cond(c *records.Cond) (string, error) {
	mark := len(b.args)
	s, err := b.cond1(c)
	if s == "TRUE" || s == "FALSE" {
		// A constant binds nothing: Postgres refuses a parameter that no
		// expression uses (its type cannot be determined).
		b.args = b.args[:mark]
	}
	return s, err
}

func (b *recordSQL) cond1(c *records.Cond) (string, error) {
	if c.Operand.Field != nil && c.Operand.Field.Kind == records.KindRecordRef {
		return b.recordRefCond(c)
	}
	o, err := b.operand(c.Operand)
	if err != nil {
		return "", err
	}
	name := c.Operand.Name()
	text := o.kind == records.KindString
	e := o.sql
	switch c.Op {
	case "isEmpty":
		want, ok := c.Value.(bool)
		if !ok {
			return "", fmt.Errorf("%s.isEmpty: want a boolean", name)
		}
		switch {
		case text && want:
			return "(" + e + " IS NULL OR " + e + " = '')", nil
		case text:
			return "(" + e + " IS NOT NULL AND " + e + " <> '')", nil
		case want:
			return "(" + e + " IS NULL)", nil
		}
		return "(" + e + " IS NOT NULL)", nil
	case "eq", "neq":
		v, ok, err := condParam(o, c.Value)
		if err != nil {
			return "", fmt.Errorf("%s.%s: %w", name, c.Op, err)
		}
		if c.Op == "eq" {
			if !ok { // "" or a key of no record: no row equals it
				return "FALSE", nil
			}
			return "(" + e + " = " + b.bind(v) + ")", nil
		}
		if !ok {
			return "TRUE", nil
		}
		return "(" + e + " IS DISTINCT FROM " + b.bind(v) + ")", nil
	case "in":
		list, ok := c.Value.([]any)
		if !ok {
			return "", fmt.Errorf("%s.in: want a list", name)
		}
		var ph []string
		for _, item := range list {
			v, ok, err := condParam(o, item)
			if err != nil {
				return "", fmt.Errorf("%s.in: %w", name, err)
			}
			if ok {
				ph = append(ph, b.bind(v))
			}
		}
		if len(ph) == 0 {
			return "FALSE", nil
		}
		return "(" + e + " IN (" + strings.Join(ph, ", ") + "))", nil
	case "lt", "lte", "gt", "gte":
		switch o.kind {
		case records.KindRef, records.KindMemberRef, records.KindBool:
			return "", fmt.Errorf("%s does not support %s", name, c.Op)
		}
		v, _, err := condParam(o, c.Value)
		if err != nil {
			return "", fmt.Errorf("%s.%s: %w", name, c.Op, err)
		}
		sqlOp := map[string]string{"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[c.Op]
		s := e + " " + sqlOp + " " + b.bind(v)
		if text {
			s += " AND " + e + " <> ''"
		}
		return "(" + s + ")", nil
	case "contains":
		s, ok := c.Value.(string)
		if !text || !ok {
			return "", fmt.Errorf("%s does not support contains", name)
		}
		// LIKE's default escape character is the backslash.
		r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
		return "(" + e + " ILIKE " + b.bind("%"+r.Replace(s)+"%") + " AND " + e + " <> '')", nil
	}
	return "", fmt.Errorf("unknown operator %q on %s", c.Op, name)
}

// condParam checks a condition value against the operand's kind and returns
// the parameter to bind; ok is false for a value no row can equal (the
// empty string, the zero key of an id that names no record).
func condParam(o sqlOperand, v any) (param any, ok bool, err error) {
	bad := func() (any, bool, error) { return nil, false, fmt.Errorf("value of type %T does not fit the field", v) }
	switch o.kind {
	case records.KindString:
		s, isStr := v.(string)
		if !isStr {
			return bad()
		}
		return s, s != "", nil
	case records.KindFloat:
		switch n := v.(type) {
		case float64:
			if math.IsNaN(n) || math.IsInf(n, 0) {
				return bad()
			}
			return n, true, nil
		case int64:
			return float64(n), true, nil
		case int:
			return float64(n), true, nil
		}
		return bad()
	case records.KindInt:
		if n, isInt := recordInt64(v); isInt {
			return n, true, nil
		}
		return bad()
	case records.KindBool:
		if bv, isBool := v.(bool); isBool {
			return bv, true, nil
		}
		return bad()
	case records.KindDate:
		switch d := v.(type) {
		case records.Date:
			return d, true, nil
		case time.Time:
			return records.Date{Time: d}, true, nil
		}
		return bad()
	case records.KindTime:
		if t, isTime := v.(time.Time); isTime {
			return t, true, nil
		}
		return bad()
	case records.KindRef, records.KindMemberRef:
		k, isKey := v.(records.RecordKey)
		if !isKey {
			return bad()
		}
		if k.ID == 0 || (o.kind == records.KindRef && o.field != nil && k.Module != "" && k.Module != o.field.Ref) {
			return nil, false, nil
		}
		return k.ID, true, nil
	}
	return bad()
}

// recordRefCond compiles a condition on Task.relatedTo, which compares the
// pair (related_module, related_id).
func (b *recordSQL) recordRefCond(c *records.Cond) (string, error) {
	f, err := b.field(c.Operand.Field)
	if err != nil {
		return "", err
	}
	idCol, modCol := b.model.byName[f.Column], b.model.byName[relatedModuleColumn]
	if idCol == nil || modCol == nil {
		return "", fmt.Errorf("field %q is not a record reference of %s", f.Name, b.meta.Module)
	}
	key := func(v any) (records.RecordKey, bool, error) {
		k, ok := v.(records.RecordKey)
		if !ok {
			return k, false, fmt.Errorf("%s: value of type %T is not a record key", f.Name, v)
		}
		return k, k.ID != 0 && k.Module != "", nil
	}
	eq := func(k records.RecordKey) string {
		return "(" + modCol.name + " = " + b.bind(string(k.Module)) + " AND " + idCol.name + " = " + b.bind(k.ID) + ")"
	}
	switch c.Op {
	case "isEmpty":
		want, ok := c.Value.(bool)
		if !ok {
			return "", fmt.Errorf("%s.isEmpty: want a boolean", f.Name)
		}
		if want {
			return "(" + idCol.name + " IS NULL)", nil
		}
		return "(" + idCol.name + " IS NOT NULL)", nil
	case "eq":
		k, ok, err := key(c.Value)
		if err != nil || !ok {
			return "FALSE", err
		}
		return eq(k), nil
	case "neq":
		k, ok, err := key(c.Value)
		if err != nil || !ok {
			return "TRUE", err
		}
		return "(" + modCol.name + " IS DISTINCT FROM " + b.bind(string(k.Module)) + " OR " +
			idCol.name + " IS DISTINCT FROM " + b.bind(k.ID) + ")", nil
	case "in":
		list, ok := c.Value.([]any)
		if !ok {
			return "", fmt.Errorf("%s.in: want a list", f.Name)
		}
		var ors []string
		for _, item := range list {
			k, ok, err := key(item)
			if err != nil {
				return "", err
			}
			if ok {
				ors = append(ors, eq(k))
			}
		}
		if len(ors) == 0 {
			return "FALSE", nil
		}
		return "(" + strings.Join(ors, " OR ") + ")", nil
	}
	return "", fmt.Errorf("%s does not support %s", f.Name, c.Op)
}

// listOrderKey is one compiled key of an ordering.
type listOrderKey struct {
	sqlOperand
	op   records.Operand
	desc bool
}

// orderKeys compiles an ordering. References are not orderable.
func (b *recordSQL) orderKeys(order records.Order) ([]listOrderKey, error) {
	keys := make([]listOrderKey, 0, len(order))
	for _, k := range order {
		o, err := b.operand(k.Operand)
		if err != nil {
			return nil, err
		}
		switch o.kind {
		case records.KindRef, records.KindMemberRef, records.KindRecordRef:
			return nil, fmt.Errorf("cannot order by %s", k.Operand.Name())
		}
		keys = append(keys, listOrderKey{sqlOperand: o, op: k.Operand, desc: k.Desc})
	}
	return keys, nil
}

// listIDDesc is the direction of the id tie-breaker: the last key's, or
// descending (newest first) without keys.
func listIDDesc(keys []listOrderKey) bool {
	if len(keys) == 0 {
		return true
	}
	return keys[len(keys)-1].desc
}

// listOrderBySQL is the ORDER BY list: NULLs last in both directions (only
// nullable keys say so, so that a NOT NULL key still matches its index).
func listOrderBySQL(keys []listOrderKey) string {
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		s := k.sql + " ASC"
		if k.desc {
			s = k.sql + " DESC"
		}
		if k.nullable {
			s += " NULLS LAST"
		}
		parts = append(parts, s)
	}
	if listIDDesc(keys) {
		parts = append(parts, "id DESC")
	} else {
		parts = append(parts, "id ASC")
	}
	return strings.Join(parts, ", ")
}

// keysetPos is a place in an ordered list: the key values of a row (typed,
// nil for NULL) and its id. Rows strictly after it come next.
type keysetPos struct {
	values []any
	id     int64
}

// afterSQL is the keyset condition "the row comes strictly after pos" for
// the ordering, with NULLs last in both directions.
func (b *recordSQL) afterSQL(keys []listOrderKey, pos keysetPos) (string, error) {
	if len(pos.values) != len(keys) {
		return "", fmt.Errorf("cursor does not fit the ordering")
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		v, err := keysetValue(k.kind, pos.values[i])
		if err != nil {
			return "", fmt.Errorf("cursor value for %s: %w", k.op.Name(), err)
		}
		vals[i] = v
	}
	desc := listIDDesc(keys)
	cmp := ">"
	if desc {
		cmp = "<"
	}
	// Every key NOT NULL and in the id's direction: one row comparison,
	// which an index on (org_id, keys..., id) serves.
	row := true
	for i, k := range keys {
		if k.nullable || vals[i] == nil || k.desc != desc {
			row = false
		}
	}
	if row {
		lhs := make([]string, 0, len(keys)+1)
		rhs := make([]string, 0, len(keys)+1)
		for i, k := range keys {
			lhs = append(lhs, k.sql)
			rhs = append(rhs, b.bind(vals[i]))
		}
		lhs = append(lhs, "id")
		rhs = append(rhs, b.bind(pos.id))
		if len(keys) == 0 {
			return "(id " + cmp + " " + rhs[0] + ")", nil
		}
		return "((" + strings.Join(lhs, ", ") + ") " + cmp + " (" + strings.Join(rhs, ", ") + "))", nil
	}
	// The lexicographic expansion: equal on the keys before i and after on
	// key i, for each i; or equal on all keys and after on the id.
	ph := make([]string, len(keys))
	eqs := make([]string, len(keys))
	for i, k := range keys {
		if vals[i] == nil {
			eqs[i] = k.sql + " IS NULL"
			continue
		}
		ph[i] = b.bind(vals[i])
		eqs[i] = k.sql + " = " + ph[i]
	}
	var ors []string
	for i, k := range keys {
		if vals[i] == nil {
			continue // nothing sorts after NULL within this key
		}
		op := ">"
		if k.desc {
			op = "<"
		}
		after := k.sql + " " + op + " " + ph[i]
		if k.nullable {
			after = "(" + after + " OR " + k.sql + " IS NULL)"
		}
		ors = append(ors, "("+strings.Join(append(append([]string{}, eqs[:i]...), after), " AND ")+")")
	}
	ors = append(ors, "("+strings.Join(append(append([]string{}, eqs...), "id "+cmp+" "+b.bind(pos.id)), " AND ")+")")
	return "(" + strings.Join(ors, " OR ") + ")", nil
}

// keysetValue normalizes a cursor value to the parameter for its key's
// kind. It takes both the typed form (records.CursorCodec.Decode,
// operandValue) and the JSON form (CursorFor).
func keysetValue(kind records.Kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch kind {
	case records.KindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case records.KindFloat:
		switch n := v.(type) {
		case float64:
			return n, nil
		case int64:
			return float64(n), nil
		case int:
			return float64(n), nil
		case interface{ Float64() (float64, error) }:
			return n.Float64()
		}
	case records.KindInt:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int:
			return int64(n), nil
		case float64:
			if n == math.Trunc(n) && math.Abs(n) <= 1<<53 {
				return int64(n), nil
			}
		case interface{ Int64() (int64, error) }:
			return n.Int64()
		}
	case records.KindBool:
		if bv, ok := v.(bool); ok {
			return bv, nil
		}
	case records.KindDate:
		switch d := v.(type) {
		case records.Date:
			return d, nil
		case string:
			return records.ParseDate(d)
		}
	case records.KindTime:
		switch t := v.(type) {
		case time.Time:
			return t, nil
		case string:
			return time.Parse(time.RFC3339Nano, t)
		}
	}
	return nil, fmt.Errorf("value of type %T does not fit the key", v)
}

// recordModule returns the module name of a record, for cursors.
func recordModule(rec records.Record) access.Module {
	if m := recordModelOf(rec); m != nil {
		return m.module
	}
	return ""
}
