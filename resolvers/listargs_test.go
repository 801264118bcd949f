package resolvers

import "testing"

// namesCustomField decides whether a list reads the custom field
// definitions: it must say yes wherever a custom field can be named.
func TestNamesCustomField(t *testing.T) {
	cond := map[string]any{"apiName": "region", "eq": "EMEA"}
	cases := []struct {
		name    string
		filter  map[string]any
		orderBy []map[string]any
		want    bool
	}{
		{"nothing", nil, nil, false},
		{"standard fields", map[string]any{"stage": map[string]any{"eq": "Won"}},
			[]map[string]any{{"field": "AMOUNT", "direction": "DESC"}}, false},
		{"custom at the top", map[string]any{"custom": []any{cond}}, nil, true},
		{"custom under and", map[string]any{"and": []any{map[string]any{"custom": []any{cond}}}}, nil, true},
		{"custom under or under and", map[string]any{"and": []any{map[string]any{"or": []any{
			map[string]any{"custom": []any{cond}}}}}}, nil, true},
		{"custom null", map[string]any{"custom": nil}, nil, false},
		{"custom order", nil, []map[string]any{{"customField": "region"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := namesCustomField(tc.filter, tc.orderBy); got != tc.want {
				t.Errorf("namesCustomField = %v, want %v", got, tc.want)
			}
		})
	}
}
