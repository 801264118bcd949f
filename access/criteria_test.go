package access

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMatchCondition(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	fields := map[string]any{
		"stage":       "Closed Won",
		"amount":      75000.0,
		"amountInt":   int64(75000),
		"amountJSON":  json.Number("75000"),
		"probability": 40,
		"closing":     "2024-05-01",
		"closingTime": day("2024-05-01"),
		"empty":       "",
		"null":        nil,
		"vip":         true,
		"city":        "São Paulo",
	}
	tests := []struct {
		field string
		op    ConditionOp
		value any
		want  bool
	}{
		// EQ / NEQ compare exactly.
		{"stage", OpEq, "Closed Won", true},
		{"stage", OpEq, "closed won", false},
		{"stage", OpNeq, "closed won", true},
		{"stage", OpNeq, "Closed Won", false},
		{"amount", OpEq, 75000.0, true},
		{"amount", OpEq, 75000, true},
		{"amountInt", OpEq, 75000.0, true},
		{"amountJSON", OpEq, 75000.0, true},
		{"amount", OpEq, "75000", false}, // a string is not a number
		{"amount", OpNeq, "75000", true},
		{"vip", OpEq, true, true},
		{"vip", OpEq, "true", false},
		{"vip", OpNeq, false, true},
		{"closingTime", OpEq, "2024-05-01", true},
		// IN
		{"stage", OpIn, []any{"Proposal", "Closed Won"}, true},
		{"stage", OpIn, []any{"Proposal", "closed won"}, false},
		{"stage", OpIn, []string{"Closed Won"}, true},
		{"amount", OpIn, []any{1.0, 75000.0}, true},
		{"probability", OpIn, []int{10, 40}, true},
		{"stage", OpIn, "Closed Won", false}, // IN needs a list
		{"stage", OpIn, []any{}, false},
		// Ordering: numbers numerically, whatever their type.
		{"amount", OpGt, 10000.0, true},
		{"amount", OpGt, 75000.0, false},
		{"amount", OpGte, 75000, true},
		{"amountInt", OpLt, 100000.5, true},
		{"amountJSON", OpLte, json.Number("75000"), true},
		{"probability", OpLt, 40.5, true},
		{"probability", OpGt, 39, true},
		// Strings lexicographically; dates chronologically.
		{"stage", OpGt, "Closed", true},
		{"stage", OpLt, "Alpha", false},
		{"closing", OpLt, "2024-06-01", true},
		{"closing", OpGte, "2024-05-01", true},
		{"closingTime", OpLt, "2024-05-02", true},
		{"closingTime", OpGt, "2024-04-30", true},
		{"closingTime", OpLte, day("2024-05-01"), true},
		{"closingTime", OpGt, day("2024-05-01"), false},
		// Type mismatches in ordering are false.
		{"amount", OpGt, "10", false},
		{"stage", OpLt, 5, false},
		{"vip", OpGt, false, false},
		{"closingTime", OpLt, "soon", false},
		{"closingTime", OpGt, 5, false},
		// CONTAINS ignores case, Unicode included.
		{"stage", OpContains, "won", true},
		{"stage", OpContains, "CLOSED", true},
		{"stage", OpContains, "lost", false},
		{"city", OpContains, "SÃO", true},
		{"stage", OpContains, "", true},
		{"amount", OpContains, "75", false},
		// IS_EMPTY on a filled field.
		{"stage", OpIsEmpty, nil, false},
		{"amount", OpIsEmpty, nil, false},
		{"vip", OpIsEmpty, nil, false},
	}
	// On an empty field (nil, absent or "") only IS_EMPTY and NEQ hold.
	for _, f := range []string{"empty", "null", "absent"} {
		for _, op := range []ConditionOp{OpEq, OpNeq, OpIn, OpLt, OpLte, OpGt, OpGte, OpContains, OpIsEmpty} {
			for _, v := range []any{"", nil, "x", 0.0, []any{"", nil}} {
				tests = append(tests, struct {
					field string
					op    ConditionOp
					value any
					want  bool
				}{f, op, v, op == OpIsEmpty || op == OpNeq})
			}
		}
	}
	for _, tc := range tests {
		c := &Criteria{Op: And, Conditions: []Condition{{Field: tc.field, Op: tc.op, Value: tc.value}}}
		if got := MatchCriteria(c, fields); got != tc.want {
			t.Errorf("%s %s %#v: got %v, want %v", tc.field, tc.op, tc.value, got, tc.want)
		}
	}
}

func TestMatchCriteriaLogic(t *testing.T) {
	fields := map[string]any{"stage": "Proposal", "amount": 500.0}
	yes := Condition{Field: "stage", Op: OpEq, Value: "Proposal"}
	no := Condition{Field: "amount", Op: OpGt, Value: 1000.0}
	tests := []struct {
		name string
		c    *Criteria
		want bool
	}{
		{"and all", &Criteria{Op: And, Conditions: []Condition{yes, yes}}, true},
		{"and one fails", &Criteria{Op: And, Conditions: []Condition{yes, no}}, false},
		{"or one holds", &Criteria{Op: Or, Conditions: []Condition{no, yes}}, true},
		{"or none holds", &Criteria{Op: Or, Conditions: []Condition{no, no}}, false},
		{"nil matches nothing", nil, false},
		{"no conditions matches nothing", &Criteria{Op: And}, false},
		{"unknown op matches nothing", &Criteria{Op: "XOR", Conditions: []Condition{yes}}, false},
		{"unknown condition op is false", &Criteria{Op: And, Conditions: []Condition{{Field: "stage", Op: "LIKE", Value: "P%"}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchCriteria(tc.c, fields); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidateCriteria(t *testing.T) {
	kinds := map[string]FieldKind{"stage": FieldKindString, "amount": FieldKindNumber,
		"closingDate": FieldKindDate, "vip": FieldKindBool}
	cond := func(f string, op ConditionOp, v any) *Criteria {
		return &Criteria{Op: And, Conditions: []Condition{{Field: f, Op: op, Value: v}}}
	}
	many := &Criteria{Op: Or}
	for i := 0; i < MaxCriteriaConditions+1; i++ {
		many.Conditions = append(many.Conditions, Condition{Field: "stage", Op: OpEq, Value: "x"})
	}
	tests := []struct {
		name string
		c    *Criteria
		code string // "" valid
	}{
		{"valid eq", cond("stage", OpEq, "Won"), ""},
		{"valid gt number", cond("amount", OpGt, 10.0), ""},
		{"valid date", cond("closingDate", OpLt, "2024-01-31"), ""},
		{"valid in", cond("stage", OpIn, []any{"a", "b"}), ""},
		{"valid is empty", cond("amount", OpIsEmpty, nil), ""},
		{"valid contains", cond("stage", OpContains, "wo"), ""},
		{"nil", nil, CodeBadUserInput},
		{"bad logical op", &Criteria{Op: "XOR", Conditions: []Condition{{Field: "stage", Op: OpEq, Value: "x"}}}, CodeBadUserInput},
		{"no conditions", &Criteria{Op: And}, CodeBadUserInput},
		{"too many", many, CodeLimitExceeded},
		{"unknown field", cond("colour", OpEq, "red"), CodeBadUserInput},
		{"contains on number", cond("amount", OpContains, "1"), CodeBadUserInput},
		{"gt on bool", cond("vip", OpGt, true), CodeBadUserInput},
		{"unknown op", cond("stage", "LIKE", "x"), CodeBadUserInput},
		{"in needs a list", cond("stage", OpIn, "a"), CodeBadUserInput},
		{"in empty list", cond("stage", OpIn, []any{}), CodeBadUserInput},
		{"in wrong kind", cond("amount", OpIn, []any{1.0, "two"}), CodeBadUserInput},
		{"number needs number", cond("amount", OpEq, "10"), CodeBadUserInput},
		{"bad date", cond("closingDate", OpEq, "31/01/2024"), CodeBadUserInput},
		{"eq needs a value", cond("stage", OpEq, nil), CodeBadUserInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateCriteria(tc.c, kinds)
			if got := ErrorCode(err); got != tc.code || (tc.code == "" && err != nil) {
				t.Errorf("got %v (code %q), want code %q", err, got, tc.code)
			}
		})
	}
}

func TestReferencedFields(t *testing.T) {
	c := &Criteria{Op: Or, Conditions: []Condition{{Field: "stage"}, {Field: "amount"}, {Field: "stage"}}}
	got := ReferencedFields(c)
	if len(got) != 2 || got[0] != "amount" || got[1] != "stage" {
		t.Errorf("got %v", got)
	}
	if ReferencedFields(nil) != nil {
		t.Error("nil criteria references fields")
	}
}
