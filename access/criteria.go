package access

import (
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxCriteriaConditions is the most conditions one criteria may hold.
const MaxCriteriaConditions = 25

// MaxInValues is the most values one IN condition may list.
const MaxInValues = 100

// MatchCriteria reports whether a record with the given fields matches c.
//
// EQ, NEQ and IN compare exactly (strings are case sensitive); CONTAINS
// ignores case. On an empty field (nil, absent or "") only IS_EMPTY and NEQ
// hold: NEQ against an empty field is true whatever the value. Numbers
// compare numerically whatever their Go type (int, int64, float64,
// json.Number, ...); strings lexicographically; a time.Time compares
// chronologically with another time.Time or with a "YYYY-MM-DD" (midnight
// UTC) or RFC 3339 string. An ordering comparison between values of
// different kinds is false. A nil criteria or one without conditions
// matches nothing: a rule never widens access by accident.
func MatchCriteria(c *Criteria, fields map[string]any) bool {
	if c == nil || len(c.Conditions) == 0 {
		return false
	}
	switch c.Op {
	case And:
		for i := range c.Conditions {
			if !matchCondition(&c.Conditions[i], fields) {
				return false
			}
		}
		return true
	case Or:
		for i := range c.Conditions {
			if matchCondition(&c.Conditions[i], fields) {
				return true
			}
		}
		return false
	}
	return false
}

func matchCondition(cond *Condition, fields map[string]any) bool {
	v, present := fields[cond.Field]
	if !present || isEmptyValue(v) {
		return cond.Op == OpIsEmpty || cond.Op == OpNeq
	}
	switch cond.Op {
	case OpIsEmpty:
		return false
	case OpEq:
		return valuesEqual(v, cond.Value)
	case OpNeq:
		return !valuesEqual(v, cond.Value)
	case OpIn:
		found := false
		eachListValue(cond.Value, func(x any) bool {
			if valuesEqual(v, x) {
				found = true
				return false
			}
			return true
		})
		return found
	case OpLt, OpLte, OpGt, OpGte:
		c, ok := compareValues(v, cond.Value)
		if !ok {
			return false
		}
		switch cond.Op {
		case OpLt:
			return c < 0
		case OpLte:
			return c <= 0
		case OpGt:
			return c > 0
		default:
			return c >= 0
		}
	case OpContains:
		fs, ok1 := v.(string)
		vs, ok2 := cond.Value.(string)
		return ok1 && ok2 && containsFold(fs, vs)
	}
	return false
}

func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case json.Number:
		return x == ""
	case *string:
		return x == nil || *x == ""
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// eachListValue calls f for each element of a list value (any slice); a
// non-list value has no elements.
func eachListValue(list any, f func(any) bool) {
	switch l := list.(type) {
	case []any:
		for _, x := range l {
			if !f(x) {
				return
			}
		}
		return
	case []string:
		for _, x := range l {
			if !f(x) {
				return
			}
		}
		return
	case nil:
		return
	}
	rv := reflect.ValueOf(list)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return
	}
	for i := 0; i < rv.Len(); i++ {
		if !f(rv.Index(i).Interface()) {
			return
		}
	}
}

func isList(v any) bool {
	if v == nil {
		return false
	}
	if _, ok := v.([]byte); ok {
		return false
	}
	k := reflect.ValueOf(v).Kind()
	return k == reflect.Slice || k == reflect.Array
}

// number is a numeric value: an exact integer when isInt, else a float.
type number struct {
	isInt bool
	i     int64
	f     float64
}

func toNumber(v any) (number, bool) {
	switch x := v.(type) {
	case int:
		return number{true, int64(x), 0}, true
	case int8:
		return number{true, int64(x), 0}, true
	case int16:
		return number{true, int64(x), 0}, true
	case int32:
		return number{true, int64(x), 0}, true
	case int64:
		return number{true, x, 0}, true
	case uint:
		return uintNumber(uint64(x)), true
	case uint8:
		return number{true, int64(x), 0}, true
	case uint16:
		return number{true, int64(x), 0}, true
	case uint32:
		return number{true, int64(x), 0}, true
	case uint64:
		return uintNumber(x), true
	case float32:
		return floatNumber(float64(x))
	case float64:
		return floatNumber(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return number{true, i, 0}, true
		}
		if f, err := x.Float64(); err == nil {
			return floatNumber(f)
		}
	}
	return number{}, false
}

func uintNumber(u uint64) number {
	if u <= math.MaxInt64 {
		return number{true, int64(u), 0}
	}
	return number{false, 0, float64(u)}
}

func floatNumber(f float64) (number, bool) {
	if math.IsNaN(f) {
		return number{}, false
	}
	// Integral floats in the exact range compare as integers, so that
	// 75000 (int64 from the database) equals 75000.0 (float64 from JSON).
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return number{true, int64(f), 0}, true
	}
	return number{false, 0, f}, true
}

func compareNumbers(a, b number) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	af, bf := a.f, b.f
	if a.isInt {
		af = float64(a.i)
	}
	if b.isInt {
		bf = float64(b.i)
	}
	switch {
	case af < bf:
		return -1
	case af > bf:
		return 1
	}
	return 0
}

// toTime converts a time.Time or a date/RFC 3339 string to a time.
func toTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case *time.Time:
		if x != nil {
			return *x, true
		}
	case string:
		if t, err := time.Parse(time.DateOnly, x); err == nil {
			return t, true
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func isTime(v any) bool {
	switch v.(type) {
	case time.Time, *time.Time:
		return true
	}
	return false
}

// compareValues orders a and b when they are of comparable kinds.
func compareValues(a, b any) (int, bool) {
	if na, ok := toNumber(a); ok {
		nb, ok := toNumber(b)
		if !ok {
			return 0, false
		}
		return compareNumbers(na, nb), true
	}
	if isTime(a) || isTime(b) {
		ta, ok1 := toTime(a)
		tb, ok2 := toTime(b)
		if !ok1 || !ok2 {
			return 0, false
		}
		return ta.Compare(tb), true
	}
	sa, ok1 := a.(string)
	sb, ok2 := b.(string)
	if ok1 && ok2 {
		return strings.Compare(sa, sb), true
	}
	return 0, false
}

// valuesEqual is exact equality: numbers by value, times by instant,
// strings byte for byte, booleans as such; different kinds are unequal.
func valuesEqual(a, b any) bool {
	if ba, ok := a.(bool); ok {
		bb, ok := b.(bool)
		return ok && ba == bb
	}
	if _, ok := b.(bool); ok {
		return false
	}
	if a == nil || b == nil || isList(a) || isList(b) {
		return false
	}
	c, ok := compareValues(a, b)
	return ok && c == 0
}

// containsFold reports whether substr is within s, ignoring case (Unicode
// simple folding, as strings.EqualFold).
func containsFold(s, substr string) bool {
	if substr == "" {
		return true
	}
	for i := 0; i < len(s); {
		if hasPrefixFold(s[i:], substr) {
			return true
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		_, n1 := utf8.DecodeRuneInString(s)
		_, n2 := utf8.DecodeRuneInString(prefix)
		if !strings.EqualFold(s[:n1], prefix[:n2]) {
			return false
		}
		s, prefix = s[n1:], prefix[n2:]
	}
	return true
}

// FieldKind is the type of a field, for validating criteria.
type FieldKind uint8

// Field kinds.
const (
	FieldKindString   FieldKind = iota + 1 // text, email, phone, picklist
	FieldKindNumber                        // integer, decimal, currency, percent
	FieldKindDate                          // "YYYY-MM-DD"
	FieldKindDateTime                      // RFC 3339
	FieldKindBool
)

func (k FieldKind) String() string {
	switch k {
	case FieldKindString:
		return "string"
	case FieldKindNumber:
		return "number"
	case FieldKindDate:
		return "date"
	case FieldKindDateTime:
		return "datetime"
	case FieldKindBool:
		return "boolean"
	}
	return "unknown"
}

func opAllowed(k FieldKind, op ConditionOp) bool {
	switch op {
	case OpEq, OpNeq, OpIsEmpty:
		return true
	case OpIn:
		return k != FieldKindBool
	case OpLt, OpLte, OpGt, OpGte:
		return k != FieldKindBool
	case OpContains:
		return k == FieldKindString
	}
	return false
}

func valueFits(k FieldKind, v any) bool {
	switch k {
	case FieldKindString:
		_, ok := v.(string)
		return ok
	case FieldKindNumber:
		_, ok := toNumber(v)
		return ok
	case FieldKindDate:
		if s, ok := v.(string); ok {
			_, err := time.Parse(time.DateOnly, s)
			return err == nil
		}
		return isTime(v)
	case FieldKindDateTime:
		if s, ok := v.(string); ok {
			_, ok := toTime(s)
			return ok
		}
		return isTime(v)
	case FieldKindBool:
		_, ok := v.(bool)
		return ok
	}
	return false
}

// ValidateCriteria checks a criteria for the admin API against the fields of
// the module (name -> kind): a known logical op, 1 to MaxCriteriaConditions
// conditions, known fields, an operator valid for the field's kind, and a
// value of the field's kind (IN: a list of 1 to MaxInValues such values;
// IS_EMPTY: the value is ignored).
func ValidateCriteria(c *Criteria, fieldKinds map[string]FieldKind) error {
	if c == nil {
		return NewInvalidErr("criteria is required")
	}
	if c.Op != And && c.Op != Or {
		return NewInvalidErr("criteria op must be AND or OR, not %q", string(c.Op))
	}
	if len(c.Conditions) == 0 {
		return NewInvalidErr("criteria needs at least one condition")
	}
	if len(c.Conditions) > MaxCriteriaConditions {
		return NewLimitErr("criteria has %d conditions; at most %d are allowed", len(c.Conditions), MaxCriteriaConditions)
	}
	for i, cond := range c.Conditions {
		kind, ok := fieldKinds[cond.Field]
		if !ok {
			return NewInvalidErr("condition %d: unknown field %q", i+1, cond.Field)
		}
		if !opAllowed(kind, cond.Op) {
			return NewInvalidErr("condition %d: operator %q is not valid for %s field %q", i+1, string(cond.Op), kind, cond.Field)
		}
		switch cond.Op {
		case OpIsEmpty:
		case OpIn:
			if !isList(cond.Value) {
				return NewInvalidErr("condition %d: IN needs a list of values", i+1)
			}
			n, bad := 0, false
			eachListValue(cond.Value, func(x any) bool {
				n++
				if !valueFits(kind, x) {
					bad = true
					return false
				}
				return true
			})
			if bad {
				return NewInvalidErr("condition %d: every IN value must be a %s", i+1, kind)
			}
			if n == 0 {
				return NewInvalidErr("condition %d: IN needs at least one value", i+1)
			}
			if n > MaxInValues {
				return NewLimitErr("condition %d: IN lists %d values; at most %d are allowed", i+1, n, MaxInValues)
			}
		default:
			if !valueFits(kind, cond.Value) {
				return NewInvalidErr("condition %d: %s needs a %s value", i+1, string(cond.Op), kind)
			}
		}
	}
	return nil
}

// ReferencedFields lists, sorted and once each, the fields c reads: a write
// to any of them must re-evaluate the record against the rule.
func ReferencedFields(c *Criteria) []string {
	if c == nil {
		return nil
	}
	seen := make(map[string]bool, len(c.Conditions))
	var out []string
	for _, cond := range c.Conditions {
		if !seen[cond.Field] {
			seen[cond.Field] = true
			out = append(out, cond.Field)
		}
	}
	sort.Strings(out)
	return out
}
