package access

import (
	"encoding/json"
	"testing"
)

// FuzzCriteria feeds criteria of sharing rules, as an admin would type them,
// and record field values to the validator and the matcher. Nothing may
// panic, and a valid criteria must match exactly as its conditions say: an
// AND holds when every condition holds alone, an OR when any does. The
// index and the explanation both rely on MatchCriteria, so an inconsistency
// here would grant or hide records.
func FuzzCriteria(f *testing.F) {
	kinds := map[string]FieldKind{
		"stage": FieldKindString, "amount": FieldKindNumber, "closingDate": FieldKindDate,
		"dueAt": FieldKindDateTime, "won": FieldKindBool,
	}
	f.Add([]byte(`{"Op":"AND","Conditions":[{"Field":"amount","Op":"GT","Value":1000},{"Field":"stage","Op":"IN","Value":["Won","Lost"]}]}`),
		[]byte(`{"amount":1500.5,"stage":"won"}`))
	f.Add([]byte(`{"Op":"OR","Conditions":[{"Field":"closingDate","Op":"LT","Value":"2026-02-01"},{"Field":"dueAt","Op":"IS_EMPTY","Value":true}]}`),
		[]byte(`{"closingDate":"2026-01-31","dueAt":null}`))
	f.Add([]byte(`{"Op":"AND","Conditions":[{"Field":"stage","Op":"CONTAINS","Value":"ó"},{"Field":"won","Op":"EQ","Value":true}]}`),
		[]byte(`{"stage":"CLÓSED","won":"true"}`))
	f.Add([]byte(`{"Op":"AND","Conditions":[{"Field":"amount","Op":"EQ","Value":1e308},{"Field":"amount","Op":"NEQ","Value":-0}]}`),
		[]byte(`{"amount":"1e308"}`))
	f.Fuzz(func(t *testing.T, criteria, record []byte) {
		var c Criteria
		if json.Unmarshal(criteria, &c) != nil {
			return
		}
		var fields map[string]any
		if json.Unmarshal(record, &fields) != nil {
			fields = nil
		}
		if err := ValidateCriteria(&c, kinds); err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("criteria error without a code: %v", err)
			}
			return
		}
		got := MatchCriteria(&c, fields)
		if again := MatchCriteria(&c, fields); again != got {
			t.Fatalf("MatchCriteria is not deterministic")
		}
		all, anyOf := true, false
		for _, cond := range c.Conditions {
			one := MatchCriteria(&Criteria{Op: And, Conditions: []Condition{cond}}, fields)
			all = all && one
			anyOf = anyOf || one
		}
		want := all
		if c.Op == Or {
			want = anyOf
		}
		if got != want {
			t.Fatalf("%s criteria matched %v, its conditions say %v", c.Op, got, want)
		}
	})
}
