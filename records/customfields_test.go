package records_test

import (
	"errors"
	"testing"

	"warden/access"
	"warden/records"
)

func TestCustomFieldsSafeRetype(t *testing.T) {
	cases := []struct {
		from, to string
		safe     bool
	}{
		{"NUMBER", "DECIMAL", true}, {"DECIMAL", "NUMBER", false},
		{"EMAIL", "TEXT", true}, {"PHONE", "TEXT", true}, {"URL", "TEXT", true}, {"PICKLIST", "TEXT", true},
		{"TEXT", "EMAIL", false}, {"TEXT", "PICKLIST", false}, {"TEXT", "NUMBER", false},
		{"BOOLEAN", "TEXT", false}, {"NUMBER", "TEXT", false}, {"DATE", "DATETIME", false}, {"DATETIME", "DATE", false},
		{"DATE", "DATE", true},
	}
	for _, tc := range cases {
		if got := records.SafeRetype(tc.from, tc.to); got != tc.safe {
			t.Errorf("%s -> %s: safe %v, want %v", tc.from, tc.to, got, tc.safe)
		}
	}
}

func TestCustomFieldsValidateName(t *testing.T) {
	existing := []*records.CustomField{{APIName: "tier", Module: access.Contacts}}
	cases := []struct {
		name, apiName, code string // code: "" valid, "input" bad input, or an access code
	}{
		{"valid", "bankAccount", ""},
		{"underscore and digits", "iban_2", ""},
		{"upper-case start", "Bank", "input"},
		{"space", "bank account", "input"},
		{"empty", "", "input"},
		{"too long", "a123456789012345678901234567890123456789012345678901234567890123", "input"},
		{"standard field", "bankAccountNumber", "input"},
		{"system field", "createdAt", "input"},
		{"input key", "accountId", "input"},
		{"reserved", "customFields", "input"},
		{"taken", "tier", access.CodeConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := records.ValidateCustomFieldName(records.MetaOf(access.Contacts), existing, tc.apiName)
			got := access.ErrorCode(err)
			if ie := (*records.InputError)(nil); errors.As(err, &ie) {
				got = "input"
			}
			if got != tc.code {
				t.Fatalf("%q: %v (code %q), want %q", tc.apiName, err, got, tc.code)
			}
		})
	}
	many := make([]*records.CustomField, records.MaxCustomFieldsPerModule)
	for i := range many {
		many[i] = &records.CustomField{APIName: "f"}
	}
	if code := access.ErrorCode(records.ValidateCustomFieldName(records.MetaOf(access.Contacts), many, "one_more")); code != access.CodeLimitExceeded {
		t.Errorf("past the limit: code %q", code)
	}
}

func TestCustomFieldsPicklist(t *testing.T) {
	if got, err := records.CleanPicklist("PICKLIST", []string{" Hot ", "Cold"}); err != nil || len(got) != 2 || got[0] != "Hot" {
		t.Errorf("clean picklist: %v %v", got, err)
	}
	for _, bad := range [][]string{nil, {""}, {"A", "A"}, {"A", " A"}} {
		if _, err := records.CleanPicklist("PICKLIST", bad); err == nil {
			t.Errorf("picklist %q accepted", bad)
		}
	}
	if _, err := records.CleanPicklist("TEXT", []string{"A"}); err == nil {
		t.Error("picklist values on TEXT accepted")
	}
}
