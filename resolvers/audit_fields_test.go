package resolvers

import (
	"encoding/json"
	"fmt"
	"testing"
)

// The audit log filters each entry for its reader; a page holds up to 100.
func BenchmarkFieldPermissionsAuditRedaction(b *testing.B) {
	entry := map[string]any{"id": "contact_1", "owner": "member_2", "firstName": "Ada", "lastName": "Lovelace",
		"email": "ada@example.com", "phone": "+44 20 1234", "mailingCity": "London", "bankAccountNumber": "GB29 0000",
		"account": "account_3", "bankAccount": "DE44 0000", "nickname": "A."}
	raw, _ := json.Marshal(entry)
	hidden := map[string]bool{"bankAccountNumber": true, "bankAccount": true}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			b.Fatal(err)
		}
		out := redactHidden(v, hidden).(map[string]any)
		if _, leaked := out["bankAccount"]; leaked {
			b.Fatal(fmt.Sprint(out))
		}
	}
}

func TestFieldPermissionsAuditRedaction(t *testing.T) {
	hidden := map[string]bool{"bankAccount": true}
	in := map[string]any{"lastName": "L", "bankAccount": "secret",
		"criteria": map[string]any{"conditions": []any{map[string]any{"field": "bankAccount", "op": "EQ", "value": "secret"},
			map[string]any{"field": "lastName", "op": "EQ", "value": "L"}}},
		"records": []any{map[string]any{"bankAccount": "secret", "id": "x"}}}
	out, _ := json.Marshal(redactHidden(in, hidden))
	want := `{"criteria":{"conditions":[{"field":"bankAccount","op":"EQ","value":null},{"field":"lastName","op":"EQ","value":"L"}]},"lastName":"L","records":[{"id":"x"}]}`
	if string(out) != want {
		t.Errorf("redacted\n%s\nwant\n%s", out, want)
	}
}
