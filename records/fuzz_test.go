package records

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The fuzz targets below feed client input (filters, orderings, writes and
// cursors arrive as decoded JSON) to the parsers. Whatever the input, a
// parser must return a value or an *InputError: never panic, never accept
// a field the module does not have. `go test` runs the seed corpus; `make
// fuzz` runs each target for longer.

// fuzzCustomFields is one custom field of every type, so the parsers meet
// custom operands of every kind.
func fuzzCustomFields() []*CustomField {
	types := []string{"TEXT", "NUMBER", "DECIMAL", "DATE", "DATETIME", "BOOLEAN", "PICKLIST", "EMAIL", "PHONE", "URL"}
	out := make([]*CustomField, 0, len(types))
	for i, t := range types {
		cf := &CustomField{ID: int64(i + 1), APIName: "cf" + strings.ToLower(t), Type: t}
		if t == "PICKLIST" {
			cf.Picklist = []string{"Gold", "Silver"}
		}
		out = append(out, cf)
	}
	return out
}

// fuzzMeta picks a module from the first input byte.
func fuzzMeta(sel byte) *Meta { return MetaOf(AllModules[int(sel)%len(AllModules)]) }

// checkOperand fails unless the operand is a field of the meta or one of the
// custom fields.
func checkOperand(t *testing.T, meta *Meta, custom []*CustomField, op Operand) {
	t.Helper()
	if op.Custom != nil {
		for _, c := range custom {
			if c == op.Custom {
				return
			}
		}
		t.Fatalf("operand names a custom field that was not defined: %q", op.Custom.APIName)
	}
	if op.Field == nil {
		t.Fatalf("operand without a field")
	}
	if meta.Field(op.Field.Name) != op.Field {
		t.Fatalf("operand %q is not a field of %s", op.Field.Name, meta.Module)
	}
}

func addFilterSeeds(f *testing.F) {
	seeds := []string{
		`{}`,
		`{"name":{"eq":"Big deal"}}`,
		`{"amount":{"gte":100,"lt":1e308}}`,
		`{"and":[{"stage":{"in":["Won","Lost"]}},{"or":[{"closingDate":{"lte":"2026-01-31"}},{"closingDate":{"isEmpty":true}}]}]}`,
		`{"customFields":{"cfnumber":{"gt":"12"},"cfdate":{"eq":"2026-02-30"}}}`,
		`{"owner":{"eq":"member_1"},"account":{"in":["account_1","deal_2","account_0"]}}`,
		`{"updatedAt":{"gt":"2026-01-01T00:00:00Z"},"createdAt":{"lt":"not a time"}}`,
		`{"or":[{"or":[{"or":[{"or":[{"or":[{"or":[{"name":{"eq":"deep"}}]}]}]}]}]}]}`,
		`{"name":{"contains":"%_\\"}}`,
		`{"probability":{"eq":9223372036854775808}}`,
		`{"lastName":{"eq":null},"email":{"neq":["a"]}}`,
	}
	for i, s := range seeds {
		f.Add(byte(i), []byte(s))
	}
}

func FuzzParseFilter(f *testing.F) {
	addFilterSeeds(f)
	custom := fuzzCustomFields()
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		var raw map[string]any
		if json.Unmarshal(data, &raw) != nil {
			return
		}
		meta := fuzzMeta(sel)
		expr, err := ParseFilter(meta, custom, raw)
		if err != nil {
			if ie := (*InputError)(nil); !errors.As(err, &ie) {
				t.Fatalf("filter error is not an input error: %T %v", err, err)
			}
			return
		}
		ops := expr.Operands()
		if len(ops) > maxConditions {
			t.Fatalf("accepted %d conditions, the limit is %d", len(ops), maxConditions)
		}
		for _, op := range ops {
			checkOperand(t, meta, custom, op)
		}
	})
}

func FuzzParseOrder(f *testing.F) {
	for i, s := range []string{
		`[]`,
		`[{"field":"UPDATED_AT","direction":"DESC"}]`,
		`[{"field":"AMOUNT"},{"field":"NAME","direction":"DESC"}]`,
		`[{"customField":"cfdecimal","direction":"DESC"}]`,
		`[{"field":"NOPE"}]`,
		`[{"field":"AMOUNT","direction":"SIDEWAYS"}]`,
		`[{"field":"AMOUNT","customField":"cfdate"}]`,
	} {
		f.Add(byte(i), []byte(s))
	}
	custom := fuzzCustomFields()
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		var raw []map[string]any
		if json.Unmarshal(data, &raw) != nil {
			return
		}
		meta := fuzzMeta(sel)
		order, err := ParseOrder(meta, custom, raw)
		if err != nil {
			if ie := (*InputError)(nil); !errors.As(err, &ie) {
				t.Fatalf("order error is not an input error: %T %v", err, err)
			}
			return
		}
		for _, k := range order {
			checkOperand(t, meta, custom, k.Operand)
		}
	})
}

func FuzzParseWrite(f *testing.F) {
	for i, s := range []string{
		`{"name":"Deal","amount":12.5,"stage":"Won","closingDate":"2026-03-01","probability":40}`,
		`{"lastName":"Lovelace","email":"ada@example.com","customFields":{"cfemail":"x","cfnumber":"1e400"}}`,
		`{"subject":"Call","dueAt":"2026-01-01T10:00:00+01:00","relatedToId":"deal_1"}`,
		`{"name":null,"ownerId":"member_0"}`,
		`{"customFields":"not an object"}`,
		`{"id":"deal_9","createdAt":"2020-01-01T00:00:00Z"}`,
	} {
		f.Add(byte(i), []byte(s), i%2 == 0)
	}
	custom := fuzzCustomFields()
	f.Fuzz(func(t *testing.T, sel byte, data []byte, create bool) {
		var raw map[string]any
		if json.Unmarshal(data, &raw) != nil {
			return
		}
		meta := fuzzMeta(sel)
		w, err := ParseWrite(meta, custom, raw, create)
		if err != nil {
			if ie := (*InputError)(nil); !errors.As(err, &ie) {
				t.Fatalf("write error is not an input error: %T %v", err, err)
			}
			return
		}
		customNames := map[string]bool{}
		for _, c := range custom {
			customNames[c.APIName] = true
		}
		for _, name := range w.Fields {
			if customNames[name] {
				continue
			}
			fd := meta.Field(name)
			if fd == nil {
				t.Fatalf("write accepted %q, not a field of %s", name, meta.Module)
			}
			if fd.System && name != "owner" {
				t.Fatalf("write accepted the system field %q", name)
			}
		}
		if w.Owner != nil && !create {
			t.Fatalf("an update accepted ownerId")
		}
	})
}

// FuzzCursorDecode feeds arbitrary strings as cursors: none may decode
// unless signed with the server's key for the same org, module and order.
// Signed bodies are fuzzed too, so a cursor the server itself made with
// odd values cannot crash the decoder.
func FuzzCursorDecode(f *testing.F) {
	codec := CursorCodec{Secret: []byte("fuzz-secret")}
	meta := MetaOf(Deals)
	order, err := ParseOrder(meta, nil, []map[string]any{{"field": "AMOUNT", "direction": "DESC"}})
	if err != nil {
		f.Fatal(err)
	}
	good := codec.Encode(Cursor{Org: 7, Module: string(Deals), Sig: order.Signature(), Values: []any{12.5}, ID: 3})
	f.Add(good, []byte(`{"o":7,"m":"DEALS","s":"amount-,","v":[12.5],"i":3}`))
	f.Add("", []byte(`{"o":7,"m":"DEALS","s":"amount-,","v":["x"],"i":3}`))
	f.Add("AAAA", []byte(`{"o":7,"m":"DEALS","s":"amount-,","v":[null],"i":-1}`))
	f.Fuzz(func(t *testing.T, s string, body []byte) {
		if s != good {
			if _, err := codec.Decode(s, 7, string(Deals), order); err == nil {
				t.Fatalf("an unsigned cursor decoded: %q", s)
			}
		}
		var cur Cursor
		if json.Unmarshal(body, &cur) != nil {
			return
		}
		signed := codec.Encode(cur)
		got, err := codec.Decode(signed, 7, string(Deals), order)
		if err != nil {
			return
		}
		if got.Org != 7 || got.Module != string(Deals) || len(got.Values) != 1 {
			t.Fatalf("decoded a cursor of another org, module or ordering: %+v", got)
		}
		if _, err := codec.Decode(signed, 8, string(Deals), order); err == nil {
			t.Fatalf("a cursor of org 7 decoded in org 8")
		}
	})
}
