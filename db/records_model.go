package db

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"warden/access"
	"warden/records"
)

// This file maps the record models to SQL: which columns a module's table
// has (from the models' db tags, never from input), and how a record's field
// values read back in Go, including custom values decoded exactly as the SQL
// filters read them.

// relatedModuleColumn is the second column of Task.relatedTo, a KindRecordRef
// whose Field.Column is related_id.
const relatedModuleColumn = "related_module"

// recordIdentRe is what a table or column name taken from the models may look like.
var recordIdentRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// recordColumn is one column of a record model.
type recordColumn struct {
	name     string
	index    []int // reflect field index path in the model struct
	nullable bool  // a pointer field: the column may be NULL
}

// recordModel is the SQL shape of one module's Go model.
type recordModel struct {
	module   access.Module
	table    string
	typ      reflect.Type   // the struct type (records.Deal, ...)
	columns  []recordColumn // in struct order: the SELECT and RETURNING list
	byName   map[string]*recordColumn
	selectSQ string // "id, org_id, ..."
}

var recordModels = buildRecordModels()

func buildRecordModels() map[access.Module]*recordModel {
	types := []struct {
		module access.Module
		table  string
		typ    reflect.Type
	}{
		{records.Leads, "leads", reflect.TypeFor[records.Lead]()},
		{records.Contacts, "contacts", reflect.TypeFor[records.Contact]()},
		{records.Accounts, "accounts", reflect.TypeFor[records.Account]()},
		{records.Deals, "deals", reflect.TypeFor[records.Deal]()},
		{records.Tasks, "tasks", reflect.TypeFor[records.Task]()},
	}
	out := map[access.Module]*recordModel{}
	for _, mt := range types {
		t := mt.typ
		m := &recordModel{module: mt.module, table: mt.table, typ: t, byName: map[string]*recordColumn{}}
		var walk func(t reflect.Type, prefix []int)
		walk = func(t reflect.Type, prefix []int) {
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				idx := append(append([]int{}, prefix...), i)
				tag := f.Tag.Get("db")
				if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
					walk(f.Type, idx)
					continue
				}
				if tag == "" || tag == "-" || !f.IsExported() {
					continue
				}
				if !recordIdentRe.MatchString(tag) {
					panic(fmt.Sprintf("db: model %s has an unusable column name %q", t, tag))
				}
				m.columns = append(m.columns, recordColumn{name: tag, index: idx, nullable: f.Type.Kind() == reflect.Pointer})
			}
		}
		walk(t, nil)
		names := make([]string, len(m.columns))
		for i := range m.columns {
			m.byName[m.columns[i].name] = &m.columns[i]
			names[i] = m.columns[i].name
		}
		m.selectSQ = strings.Join(names, ", ")
		out[mt.module] = m
	}
	return out
}

// recordModelFor checks the module's metadata and returns its model.
func recordModelFor(meta *records.Meta) (*recordModel, error) {
	if meta == nil {
		return nil, fmt.Errorf("records: no module metadata")
	}
	m := recordModels[meta.Module]
	if m == nil || meta.Table != m.table {
		return nil, fmt.Errorf("records: unknown module %q", meta.Module)
	}
	return m, nil
}

// newRecord allocates an empty record of the module's model, to scan into.
func (m *recordModel) newRecord() records.Record {
	switch m.module {
	case records.Leads:
		return &records.Lead{}
	case records.Contacts:
		return &records.Contact{}
	case records.Accounts:
		return &records.Account{}
	case records.Deals:
		return &records.Deal{}
	case records.Tasks:
		return &records.Task{}
	}
	panic("db: no model for module " + string(m.module)) // recordModels has exactly these
}

// recordModelOf returns the model of a record's concrete type.
func recordModelOf(rec records.Record) *recordModel {
	switch rec.(type) {
	case *records.Lead:
		return recordModels[records.Leads]
	case *records.Contact:
		return recordModels[records.Contacts]
	case *records.Account:
		return recordModels[records.Accounts]
	case *records.Deal:
		return recordModels[records.Deals]
	case *records.Task:
		return recordModels[records.Tasks]
	}
	return nil
}

// columnValue is the value of a column of the record: nil for NULL, else
// the dereferenced Go value.
func (m *recordModel) columnValue(rec records.Record, name string) any {
	c := m.byName[name]
	if c == nil || rec == nil {
		return nil
	}
	v := reflect.ValueOf(rec).Elem().FieldByIndex(c.index)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	return v.Interface()
}

// operandValue is the value of a standard or custom field of the record,
// typed like a records.Cond value of the operand's kind: string, float64,
// int64, bool, records.Date, time.Time or records.RecordKey; nil when empty
// in the SQL sense of NULL (an empty string stays "").
func (m *recordModel) operandValue(rec records.Record, op records.Operand) any {
	if op.Custom != nil {
		return DecodeCustomValue(op.Custom.Kind(), rec.Base().Custom[op.Custom.APIName])
	}
	f := op.Field
	if f == nil {
		return nil
	}
	if f.Kind == records.KindRecordRef {
		mod, _ := m.columnValue(rec, relatedModuleColumn).(string)
		id, ok := m.columnValue(rec, f.Column).(int64)
		if !ok || mod == "" {
			return nil
		}
		return records.RecordKey{Module: access.Module(mod), ID: id}
	}
	v := m.columnValue(rec, f.Column)
	if v == nil {
		return nil
	}
	switch f.Kind {
	case records.KindRef, records.KindMemberRef:
		id, ok := recordInt64(v)
		if !ok {
			return nil
		}
		return records.RecordKey{Module: f.Ref, ID: id}
	case records.KindInt:
		if n, ok := recordInt64(v); ok {
			return n
		}
	case records.KindFloat:
		switch n := v.(type) {
		case float64:
			return n
		case float32:
			return float64(n)
		}
		if n, ok := recordInt64(v); ok {
			return float64(n)
		}
	}
	return v
}

func recordInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	}
	return 0, false
}

// The guards a custom value passes before a typed SQL cast; a stored value
// that fails its guard reads as NULL (empty), so a bad value can never fail
// a query. The same patterns, as Go regexps, decide DecodeCustomValue, so Go
// and SQL agree on every stored value. They use only syntax that RE2 and
// Postgres' ARE read alike (no backslashes: immune to
// standard_conforming_strings).
const (
	customIntPattern     = `^-?[0-9]{1,18}$`
	customDecimalPattern = `^-?[0-9]{1,255}([.][0-9]{1,255})?$`
	customDatePattern    = `^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`
	customTimePattern    = `^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,9})?(Z|[-+](0[0-9]|1[0-5]):[0-5][0-9])$`
)

var (
	customIntRe     = regexp.MustCompile(customIntPattern)
	customDecimalRe = regexp.MustCompile(customDecimalPattern)
	customDateRe    = regexp.MustCompile(customDatePattern)
	customTimeRe    = regexp.MustCompile(customTimePattern)
)

// customJSONText is what Postgres' custom->>'key' yields for a value decoded
// from the jsonb: the string itself, a number's decimal text, true/false.
// ok is false for an absent key or a JSON null (SQL NULL).
func customJSONText(raw any) (string, bool) {
	switch v := raw.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		return v.String(), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int:
		return strconv.Itoa(v), true
	}
	var b strings.Builder
	if !writeJSONBText(&b, raw) {
		return "", false
	}
	return b.String(), true
}

// writeJSONBText writes a JSON value as Postgres prints jsonb: object keys
// by length then bytes, ", " and ": " separators, numbers in plain decimal.
func writeJSONBText(b *strings.Builder, v any) bool {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
	case json.Number:
		b.WriteString(x.String())
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case int:
		b.WriteString(strconv.Itoa(x))
	case string:
		writeJSONBString(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if !writeJSONBText(b, e) {
				return false
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if len(keys[i]) != len(keys[j]) {
				return len(keys[i]) < len(keys[j])
			}
			return keys[i] < keys[j]
		})
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONBString(b, k)
			b.WriteString(": ")
			if !writeJSONBText(b, x[k]) {
				return false
			}
		}
		b.WriteByte('}')
	default: // another Go type: through its JSON form
		raw, err := json.Marshal(x)
		if err != nil {
			return false
		}
		var generic any
		if json.Unmarshal(raw, &generic) != nil {
			return false
		}
		return writeJSONBText(b, generic) // a decoded value: one of the cases above
	}
	return true
}

// writeJSONBString quotes a string as Postgres' escape_json does.
func writeJSONBString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if c < ' ' {
				fmt.Fprintf(b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// DecodeCustomValue reads a custom field's stored value (as decoded from the
// record's jsonb) as a value of the field's kind, with exactly the semantics
// the SQL filters and orderings give it: string for text kinds, int64 for
// NUMBER, float64 for DECIMAL, bool, records.Date, time.Time (rounded to
// microseconds as Postgres does). An absent, null or malformed value (one
// the kind's guard rejects, such as "abc" for a NUMBER or 2023-02-30 for a
// DATE) is nil: empty. An empty string stays "" for text kinds.
func DecodeCustomValue(kind records.Kind, raw any) any {
	s, ok := customJSONText(raw)
	if !ok {
		return nil
	}
	switch kind {
	case records.KindInt:
		if !customIntRe.MatchString(s) {
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil
		}
		return n
	case records.KindFloat:
		if !customDecimalRe.MatchString(s) {
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil
		}
		return f
	case records.KindBool:
		switch s {
		case "true":
			return true
		case "false":
			return false
		}
		return nil
	case records.KindDate:
		if !customDateRe.MatchString(s) {
			return nil
		}
		d, err := records.ParseDate(s)
		if err != nil {
			return nil
		}
		return d
	case records.KindTime:
		if !customTimeRe.MatchString(s) {
			return nil
		}
		t, ok := parsePGTime(s)
		if !ok {
			return nil
		}
		return t
	case records.KindString:
		return s
	}
	return nil
}

// parsePGTime reads an RFC 3339 time as Postgres' timestamptz input does:
// the fraction of a second becomes rint(strtod(".fff") * 1e6) microseconds.
func parsePGTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return t, true
	}
	j := i + 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	frac, err := strconv.ParseFloat("0"+s[i:j], 64)
	if err != nil {
		return time.Time{}, false
	}
	us := math.RoundToEven(frac * 1e6)
	return t.Truncate(time.Second).Add(time.Duration(us) * time.Microsecond), true
}
