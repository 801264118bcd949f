package ids

import "testing"

// FuzzParse: any string either fails to parse or is the one canonical
// spelling of its kind and key, so two strings never name the same row
// (caches and audit entries key by the string).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"deal_1", "deal_01", "deal_-1", "deal_+1", "deal_9223372036854775807",
		"deal_9223372036854775808", "_1", "deal_", "deal__1", "member_1_2", "", "org_0", "ROLE_5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, n, err := Parse(s)
		if err != nil {
			if _, derr := Decode(Deal, s); derr == nil {
				t.Fatalf("Decode accepted %q that Parse refused", s)
			}
			return
		}
		if n <= 0 {
			t.Fatalf("Parse(%q) gave key %d", s, n)
		}
		if got := Encode(kind, n); got != s {
			t.Fatalf("Parse(%q) is not canonical: it encodes back as %q", s, got)
		}
		if got, err := Decode(kind, s); err != nil || got != n {
			t.Fatalf("Decode(%q, %q) = %d, %v; Parse gave %d", kind, s, got, err, n)
		}
	})
}
