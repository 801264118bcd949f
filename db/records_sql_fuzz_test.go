package db

import (
	"encoding/json"
	"strings"
	"testing"

	"warden/records"
)

// FuzzFilterSQL compiles fuzzed filters to SQL and checks that no value of
// the client's reaches the SQL text: every value, custom field names
// included, must travel as a bind parameter. A filter the parser accepts
// must also compile.
func FuzzFilterSQL(f *testing.F) {
	for i, s := range []string{
		`{"name":{"eq":"x' OR '1'='1"}}`,
		`{"customFields":{"cftext":{"contains":"'; DROP TABLE deals; --"}}}`,
		`{"and":[{"stage":{"in":["Won","$1) OR (TRUE"]}},{"amount":{"gt":1}}]}`,
		`{"or":[{"closingDate":{"isEmpty":true}},{"customFields":{"cfdate":{"lt":"2026-02-30"}}}]}`,
		`{"email":{"contains":"%\\_"},"account":{"eq":"account_12"}}`,
		`{"customFields":{"cfbool":{"eq":true},"cfdatetime":{"gte":"2026-01-01T00:00:00Z"}}}`,
	} {
		f.Add(byte(i), []byte(s))
	}
	custom := fuzzCustomFields()
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		var raw map[string]any
		if json.Unmarshal(data, &raw) != nil {
			return
		}
		meta := records.MetaOf(records.AllModules[int(sel)%len(records.AllModules)])
		expr, err := records.ParseFilter(meta, custom, raw)
		if err != nil {
			return
		}
		model, err := recordModelFor(meta)
		if err != nil {
			t.Fatal(err)
		}
		b := newRecordSQL(meta, model, 1)
		sql, err := b.expr(expr, 1)
		if err != nil {
			t.Fatalf("a filter the parser accepted did not compile: %v", err)
		}
		for _, v := range stringLeaves(raw) {
			if suspicious(v) && strings.Contains(sql, v) {
				t.Fatalf("client value %q reached the SQL text: %s", v, sql)
			}
		}
	})
}

// fuzzCustomFields defines one custom field of every type.
func fuzzCustomFields() []*records.CustomField {
	var out []*records.CustomField
	for i, typ := range []string{"TEXT", "NUMBER", "DECIMAL", "DATE", "DATETIME", "BOOLEAN", "PICKLIST", "EMAIL", "PHONE", "URL"} {
		out = append(out, &records.CustomField{ID: int64(i + 1), APIName: "cf" + strings.ToLower(typ), Type: typ,
			Picklist: []string{"Gold", "Silver"}})
	}
	return out
}

// stringLeaves lists the string values (not keys) of decoded JSON.
func stringLeaves(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringLeaves(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, stringLeaves(e)...)
		}
		return out
	}
	return nil
}

// suspicious reports a value that could not be a column name or a fixed
// part of the generated SQL, so finding it in the text means it was spliced.
func suspicious(v string) bool {
	if len(v) < 4 {
		return false
	}
	return strings.ContainsAny(v, "'\";()$ -") || strings.ContainsAny(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") && !strings.ContainsAny(v, "_")
}
