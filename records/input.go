package records

import (
	"fmt"
	"maps"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Write is a create or update input checked against the module's fields:
// the SQL columns to set, the API names of the fields written (for
// field-level security), and the references to check for visibility.
type Write struct {
	Columns map[string]any
	Fields  []string
	Owner   *int64 // ownerId on create; zero key when the id is malformed
	Refs    []Ref
}

// Ref is a reference the write sets: the target must be a record the writer
// may see.
type Ref struct {
	Field *Field
	Key   RecordKey
}

const maxTextLen = 10000

// ParseWrite checks an input. On create every mandatory field must be
// present; on update an absent key is left alone and null clears the field
// (a mandatory field cannot be cleared).
func ParseWrite(meta *Meta, custom []*CustomField, input map[string]any, create bool) (*Write, error) {
	w := &Write{Columns: map[string]any{}}
	// In key order: of several bad fields, the same one is reported every
	// time (map order would make the answer vary from call to call).
	for _, key := range slices.Sorted(maps.Keys(input)) {
		v := input[key]
		if key == "customFields" {
			if v == nil {
				continue
			}
			cf, ok := v.(map[string]any)
			if !ok {
				return nil, NewInputError("customFields must be an object of apiName: value")
			}
			values, names, err := parseCustom(custom, cf)
			if err != nil {
				return nil, err
			}
			w.Columns["custom"] = values
			w.Fields = append(w.Fields, names...)
			continue
		}
		f := meta.FieldByInputKey(key)
		if f == nil {
			return nil, NewInputError("unknown input field %q", key)
		}
		if f.Name == "owner" {
			if !create {
				return nil, NewInputError("change the owner with transferOwnership")
			}
			if v == nil {
				continue
			}
			s, ok := v.(string)
			if !ok {
				return nil, NewInputError("ownerId must be an id")
			}
			k := decodeRef(f, s)
			w.Owner = &k.ID
			continue
		}
		if v == nil {
			if f.Mandatory {
				return nil, NewInputError("%s is required and cannot be cleared", f.Name)
			}
			w.setNull(f)
			continue
		}
		if err := w.set(f, v); err != nil {
			return nil, err
		}
	}
	if create {
		for _, f := range meta.Fields {
			if f.Mandatory {
				if _, ok := w.Columns[f.Column]; !ok {
					return nil, NewInputError("%s is required", f.Name)
				}
			}
		}
	}
	return w, nil
}

func (w *Write) setNull(f *Field) {
	w.Fields = append(w.Fields, f.Name)
	w.Columns[f.Column] = nil
	if f.Kind == KindRecordRef {
		w.Columns["related_module"] = nil
	}
}

func (w *Write) set(f *Field, v any) error {
	w.Fields = append(w.Fields, f.Name)
	switch f.Kind {
	case KindRef, KindRecordRef:
		s, ok := v.(string)
		if !ok {
			return NewInputError("%s must be an id", f.InputKey())
		}
		k := decodeRef(f, s)
		w.Refs = append(w.Refs, Ref{Field: f, Key: k})
		w.Columns[f.Column] = k.ID
		if f.Kind == KindRecordRef {
			w.Columns["related_module"] = string(k.Module)
		}
		return nil
	}
	tv, err := typedValue(Operand{Field: f}, v)
	if err != nil {
		return err
	}
	if err := checkValue(f.Name, f.Kind, tv); err != nil {
		return err
	}
	if s, ok := tv.(string); ok && f.Mandatory && strings.TrimSpace(s) == "" {
		return NewInputError("%s must not be empty", f.Name)
	}
	if f.Name == "probability" {
		if n := tv.(int64); n < 0 || n > 100 {
			return NewInputError("probability must be between 0 and 100")
		}
	}
	if f.Name == "email" {
		if s := tv.(string); s != "" {
			if _, err := mail.ParseAddress(s); err != nil {
				return NewInputError("email %q is not a valid address", s)
			}
		}
	}
	if d, ok := tv.(Date); ok {
		tv = d.String()
	}
	w.Columns[f.Column] = tv
	return nil
}

func checkValue(name string, k Kind, v any) error {
	switch x := v.(type) {
	case string:
		if len(x) > maxTextLen {
			return NewInputError("%s is longer than %d bytes", name, maxTextLen)
		}
	case float64:
		if math.Abs(x) >= 1e16 {
			return NewInputError("%s is out of range", name)
		}
	}
	return nil
}

var (
	phonePattern = regexp.MustCompile(`^[+0-9 ().\-]{3,32}$`)
	apiNameRE    = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]{0,62}$`)
)

// ValidAPIName reports whether s may name a custom field.
func ValidAPIName(s string) bool { return apiNameRE.MatchString(s) }

// parseCustom checks custom field values against their definitions and
// returns them in their stored (JSON) form.
func parseCustom(defs []*CustomField, in map[string]any) (JSONMap, []string, error) {
	byName := map[string]*CustomField{}
	for _, d := range defs {
		byName[d.APIName] = d
	}
	out := JSONMap{}
	var names []string
	for name, v := range in {
		d := byName[name]
		if d == nil {
			return nil, nil, NewInputError("unknown custom field %q", name)
		}
		names = append(names, name)
		if v == nil {
			out[name] = nil
			continue
		}
		tv, err := typedValue(Operand{Custom: d}, v)
		if err != nil {
			return nil, nil, err
		}
		if err := checkValue(name, d.Kind(), tv); err != nil {
			return nil, nil, err
		}
		switch d.Type {
		case "EMAIL":
			if _, err := mail.ParseAddress(tv.(string)); err != nil {
				return nil, nil, NewInputError("%s: %q is not a valid email address", name, tv)
			}
		case "PHONE":
			if !phonePattern.MatchString(tv.(string)) {
				return nil, nil, NewInputError("%s: %q is not a valid phone number", name, tv)
			}
		case "URL":
			u, err := url.Parse(tv.(string))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, nil, NewInputError("%s: %q is not an http(s) URL", name, tv)
			}
		case "PICKLIST":
			found := false
			for _, p := range d.Picklist {
				found = found || p == tv
			}
			if !found {
				return nil, nil, NewInputError("%s: %q is not one of its picklist values", name, tv)
			}
		}
		switch x := tv.(type) {
		case Date:
			out[name] = x.String()
		case time.Time:
			out[name] = x.UTC().Format(time.RFC3339Nano)
		default:
			out[name] = x
		}
	}
	return out, names, nil
}

// FieldValues are a record's field values by API name, standard and custom,
// in the forms the access engine's criteria compare: strings, numbers,
// "YYYY-MM-DD" dates and times.
func FieldValues(r Record) map[string]any {
	h := r.Base()
	out := map[string]any{}
	for k, v := range h.Custom {
		out[k] = v
	}
	str := func(name string, s *string) {
		if s != nil {
			out[name] = *s
		}
	}
	num := func(name string, f *float64) {
		if f != nil {
			out[name] = *f
		}
	}
	switch v := r.(type) {
	case *Lead:
		str("firstName", v.FirstName)
		out["lastName"] = v.LastName
		str("company", v.Company)
		str("email", v.Email)
		str("phone", v.Phone)
		str("status", v.Status)
		str("source", v.Source)
		num("annualRevenue", v.AnnualRevenue)
	case *Contact:
		str("firstName", v.FirstName)
		out["lastName"] = v.LastName
		str("email", v.Email)
		str("phone", v.Phone)
		str("mailingCity", v.MailingCity)
		str("bankAccountNumber", v.BankAccountNumber)
	case *Account:
		out["name"] = v.Name
		str("industry", v.Industry)
		str("website", v.Website)
		str("phone", v.Phone)
		num("annualRevenue", v.AnnualRevenue)
	case *Deal:
		out["name"] = v.Name
		num("amount", v.Amount)
		str("stage", v.Stage)
		if v.ClosingDate != nil {
			out["closingDate"] = v.ClosingDate.String()
		}
		if v.Probability != nil {
			out["probability"] = float64(*v.Probability)
		}
	case *Task:
		out["subject"] = v.Subject
		if v.DueAt != nil {
			out["dueAt"] = *v.DueAt
		}
		str("status", v.Status)
		str("priority", v.Priority)
	}
	return out
}

// Describe names a record for error messages: its module and public id.
func Describe(r Record) string {
	return fmt.Sprintf("%s %s", ModuleOf(r), PublicID(r))
}

// NormalizeCriteriaValues puts record field values in the one form the
// access engine's criteria compare, whatever path they came by (a row read
// from Postgres, or a change-log payload decoded from JSON): dates as
// "YYYY-MM-DD" strings, times as time.Time, numbers as float64.
func NormalizeCriteriaValues(kinds map[string]Kind, values map[string]any) {
	for name, v := range values {
		switch kinds[name] {
		case KindDate:
			switch x := v.(type) {
			case Date:
				values[name] = x.String()
			case *Date:
				if x != nil {
					values[name] = x.String()
				}
			case time.Time:
				values[name] = x.Format(time.DateOnly)
			}
		case KindTime:
			if s, ok := v.(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					values[name] = t
				}
			}
		case KindFloat, KindInt:
			if f, ok := toFloat(v); ok {
				values[name] = f
			}
		}
	}
}
