package records

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"warden/access"
	"warden/ids"
)

// InputError is bad client input: the presenter answers BAD_USER_INPUT.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// NewInputError builds an InputError.
func NewInputError(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// Expr is a parsed filter: a condition, or an AND / OR of sub-expressions.
type Expr struct {
	And  []Expr
	Or   []Expr
	Cond *Cond
}

// Operand names what a condition tests: a standard field or a custom one.
type Operand struct {
	Field  *Field
	Custom *CustomField
}

// Name is the operand's API name (field-level security is keyed by it).
func (o Operand) Name() string {
	if o.Custom != nil {
		return o.Custom.APIName
	}
	return o.Field.Name
}

// Kind is the type of the operand's values.
func (o Operand) Kind() Kind {
	if o.Custom != nil {
		return o.Custom.Kind()
	}
	return o.Field.Kind
}

// Cond is one comparison. Value is typed by the operand's kind: string,
// float64, int64, bool, Date, time.Time, RecordKey, or a slice of one of
// them for "in"; a bool for "isEmpty".
type Cond struct {
	Operand Operand
	Op      string // eq neq in lt lte gt gte contains isEmpty
	Value   any
}

// RecordKey is a decoded reference to a record of a module.
type RecordKey struct {
	Module access.Module
	ID     int64
}

const (
	maxFilterDepth = 5
	maxConditions  = 50
	maxInValues    = 500
)

// ParseFilter checks a module's filter input (as decoded by GraphQL) and
// returns it as an expression. Ids in it that do not name a record of the
// right type are kept as impossible values, so they match nothing exactly
// like an id that does not exist.
func ParseFilter(meta *Meta, custom []*CustomField, raw map[string]any) (Expr, error) {
	p := filterParser{meta: meta, custom: map[string]*CustomField{}}
	for _, c := range custom {
		p.custom[c.APIName] = c
	}
	return p.parse(raw, 1)
}

type filterParser struct {
	meta   *Meta
	custom map[string]*CustomField
	count  int
}

func (p *filterParser) parse(raw map[string]any, depth int) (Expr, error) {
	if depth > maxFilterDepth {
		return Expr{}, NewInputError("filter nests deeper than %d levels", maxFilterDepth)
	}
	var all []Expr
	for key, v := range raw {
		if v == nil {
			continue
		}
		switch key {
		case "and", "or":
			list, ok := v.([]any)
			if !ok {
				return Expr{}, NewInputError("filter.%s must be a list", key)
			}
			var subs []Expr
			for _, item := range list {
				m, ok := item.(map[string]any)
				if !ok {
					return Expr{}, NewInputError("filter.%s must be a list of filters", key)
				}
				e, err := p.parse(m, depth+1)
				if err != nil {
					return Expr{}, err
				}
				subs = append(subs, e)
			}
			if key == "and" {
				all = append(all, Expr{And: subs})
			} else {
				all = append(all, Expr{Or: subs})
			}
		case "custom":
			list, ok := v.([]any)
			if !ok {
				return Expr{}, NewInputError("filter.custom must be a list")
			}
			for _, item := range list {
				m, ok := item.(map[string]any)
				if !ok {
					return Expr{}, NewInputError("filter.custom must be a list of conditions")
				}
				name, _ := m["apiName"].(string)
				def := p.custom[name]
				if def == nil {
					return Expr{}, NewInputError("unknown custom field %q", name)
				}
				rest := make(map[string]any, len(m))
				for k, v := range m {
					if k != "apiName" {
						rest[k] = v
					}
				}
				conds, err := p.conditions(Operand{Custom: def}, rest)
				if err != nil {
					return Expr{}, err
				}
				all = append(all, conds...)
			}
		default:
			f := p.meta.Field(key)
			if f == nil {
				return Expr{}, NewInputError("unknown filter field %q", key)
			}
			m, ok := v.(map[string]any)
			if !ok {
				return Expr{}, NewInputError("filter.%s must be an object of operators", key)
			}
			conds, err := p.conditions(Operand{Field: f}, m)
			if err != nil {
				return Expr{}, err
			}
			all = append(all, conds...)
		}
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return Expr{And: all}, nil
}

func (p *filterParser) conditions(op Operand, ops map[string]any) ([]Expr, error) {
	var out []Expr
	for name, v := range ops {
		if v == nil {
			continue
		}
		p.count++
		if p.count > maxConditions {
			return nil, NewInputError("filter has more than %d conditions", maxConditions)
		}
		c := &Cond{Operand: op, Op: name}
		var err error
		switch name {
		case "isEmpty":
			b, ok := v.(bool)
			if !ok {
				return nil, NewInputError("%s.isEmpty must be a boolean", op.Name())
			}
			c.Value = b
		case "in":
			list, ok := v.([]any)
			if !ok {
				return nil, NewInputError("%s.in must be a list", op.Name())
			}
			if len(list) > maxInValues {
				return nil, NewInputError("%s.in has more than %d values", op.Name(), maxInValues)
			}
			vals := make([]any, 0, len(list))
			for _, item := range list {
				tv, err := typedValue(op, item)
				if err != nil {
					return nil, err
				}
				vals = append(vals, tv)
			}
			c.Value = vals
		case "contains":
			if op.Kind() != KindString {
				return nil, NewInputError("%s does not support contains", op.Name())
			}
			s, ok := v.(string)
			if !ok {
				return nil, NewInputError("%s.contains must be a string", op.Name())
			}
			c.Value = s
		case "eq", "neq":
			c.Value, err = typedValue(op, v)
		case "lt", "lte", "gt", "gte":
			switch op.Kind() {
			case KindRef, KindRecordRef, KindMemberRef, KindBool:
				return nil, NewInputError("%s does not support %s", op.Name(), name)
			}
			c.Value, err = typedValue(op, v)
		default:
			return nil, NewInputError("unknown operator %q on %s", name, op.Name())
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Expr{Cond: c})
	}
	return out, nil
}

// typedValue converts one operand value to the operand's kind.
func typedValue(op Operand, v any) (any, error) {
	bad := func(want string) error {
		return NewInputError("%s: expected %s, got %v", op.Name(), want, v)
	}
	switch op.Kind() {
	case KindString:
		s, ok := v.(string)
		if !ok {
			return nil, bad("a string")
		}
		if strings.ContainsRune(s, 0) {
			return nil, NewInputError("%s: text must not contain NUL characters", op.Name())
		}
		return s, nil
	case KindFloat:
		f, ok := toFloat(v)
		if !ok {
			return nil, bad("a number")
		}
		return f, nil
	case KindInt:
		f, ok := toFloat(v)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, bad("an integer")
		}
		if op.Field != nil && math.Abs(f) > math.MaxInt32 {
			return nil, NewInputError("%s: %v is out of range", op.Name(), v)
		}
		return int64(f), nil
	case KindBool:
		b, ok := v.(bool)
		if !ok {
			return nil, bad("a boolean")
		}
		return b, nil
	case KindDate:
		switch d := v.(type) {
		case Date:
			return d, nil
		case string:
			dd, err := ParseDate(d)
			if err != nil {
				return nil, bad("a date YYYY-MM-DD")
			}
			return dd, nil
		}
		return nil, bad("a date YYYY-MM-DD")
	case KindTime:
		switch t := v.(type) {
		case time.Time:
			return t, nil
		case string:
			tt, err := ParseTime(t)
			if err != nil {
				return nil, NewInputError("%s: %v", op.Name(), err)
			}
			return tt, nil
		}
		return nil, bad("an RFC 3339 time")
	case KindRef, KindRecordRef, KindMemberRef:
		s, ok := v.(string)
		if !ok {
			return nil, bad("an id")
		}
		return decodeRef(op.Field, s), nil
	}
	return nil, bad("a value")
}

// decodeRef turns an id into the key it names; an id of the wrong type
// becomes a key no row has, so it matches nothing, like a missing id.
func decodeRef(f *Field, s string) RecordKey {
	kind, n, err := ids.Parse(s)
	if err != nil {
		return RecordKey{}
	}
	switch f.Kind {
	case KindMemberRef:
		if kind == ids.Member {
			return RecordKey{ID: n}
		}
	case KindRef:
		if m := MetaOf(f.Ref); m != nil && m.IDKind == kind {
			return RecordKey{Module: f.Ref, ID: n}
		}
	case KindRecordRef:
		if mod, ok := ModuleOfIDKind(kind); ok {
			return RecordKey{Module: mod, ID: n}
		}
	}
	return RecordKey{}
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// Operands lists every operand an expression reads, for field-level checks
// that must refuse a filter on a hidden field before any data is read.
func (e Expr) Operands() []Operand {
	var out []Operand
	var walk func(Expr)
	walk = func(x Expr) {
		if x.Cond != nil {
			out = append(out, x.Cond.Operand)
		}
		for _, s := range x.And {
			walk(s)
		}
		for _, s := range x.Or {
			walk(s)
		}
	}
	walk(e)
	return out
}

// IsEmpty reports whether the expression has no condition at all.
func (e Expr) IsEmpty() bool { return e.Cond == nil && len(e.And) == 0 && len(e.Or) == 0 }
