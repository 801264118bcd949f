package api_test

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"warden/api/apitest"
)

const bkExportQ = `query($m: Module!, $f: RecordFilter) { exportRecords(module: $m, filter: $f) }`

// bkExport runs an export that must succeed and parses its CSV.
func bkExport(t *testing.T, env *apitest.Env, c apitest.Caller, module string, filter obj) (header []string, rows []map[string]string) {
	t.Helper()
	d := recData(env, c, bkExportQ, obj{"m": module, "f": filter})
	text, _ := d["exportRecords"].(string)
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, text)
	}
	if len(recs) == 0 {
		t.Fatal("export has no header")
	}
	header = recs[0]
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range header {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
	return header, rows
}

// TestExportRecords: an export holds exactly the records the viewer's list
// query would (same filter semantics, same count) and exactly the fields
// the viewer may read; hidden fields, standard or custom, are no column and
// their values appear nowhere; a filter on one is refused.
func TestExportRecords(t *testing.T) {
	w := bkNewWorld(t)
	env := w.env
	account := recStr(recData(env, w.admin, `mutation { createAccount(input: {name: "Hidden Holdings"}) { id } }`, nil), "createAccount", "id")
	newContact := func(in obj) string {
		return recStr(recData(env, w.admin, `mutation($in: CreateContactInput!) { createContact(input: $in) { id } }`, obj{"in": in}), "createContact", "id")
	}
	c1 := newContact(obj{"lastName": "Ames", "mailingCity": "Berlin", "bankAccountNumber": "DE-SECRET-1", "accountId": account,
		"customFields": obj{"iban": "IBAN-SECRET-1", "tier": 2}, "ownerId": w.repID})
	c2 := newContact(obj{"lastName": "Bell", "firstName": `=HYPERLINK("http://evil.example")`, "mailingCity": "Paris",
		"bankAccountNumber": "DE-SECRET-2", "ownerId": w.repID})
	c3 := newContact(obj{"lastName": "Cruz", "mailingCity": "Berlin", "bankAccountNumber": "DE-SECRET-3", "ownerId": w.otherID})

	everyField := []string{"id", "owner", "createdBy", "createdAt", "updatedAt", "firstName", "lastName", "email", "phone",
		"account", "mailingCity", "bankAccountNumber", "iban", "tier"}
	visibleToRep := []string{"id", "owner", "createdBy", "createdAt", "updatedAt", "firstName", "lastName", "email", "phone",
		"account", "mailingCity", "tier"}
	for _, tc := range []struct {
		name    string
		caller  apitest.Caller
		filter  obj // ContactFilter
		header  []string
		present []string // ids that must be exported
		absent  []string // ids that must not
	}{
		{"administrator, every record and field", w.admin, nil, everyField, []string{c1, c2, c3, w.contact}, nil},
		{"restricted profile, its records and readable fields", w.rep, nil, visibleToRep, []string{c1, c2, w.contact}, []string{c3}},
		{"restricted profile, filtered", w.rep, obj{"mailingCity": obj{"eq": "Berlin"}}, visibleToRep, []string{c1}, []string{c2, c3}},
		{"restricted profile, filtered on a readable custom field", w.rep, obj{"custom": []obj{{"apiName": "tier", "gte": 1}}}, visibleToRep, []string{c1}, []string{c2, c3}},
		{"administrator, filtered", w.admin, obj{"mailingCity": obj{"eq": "Berlin"}}, everyField, []string{c1, c3}, []string{c2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := envFor(env, t)
			var f any
			if tc.filter != nil {
				f = obj{"contact": tc.filter}
			}
			var filter obj
			if f != nil {
				filter = f.(obj)
			}
			header, rows := bkExport(t, e, tc.caller, "CONTACTS", filter)
			if !slices.Equal(header, tc.header) {
				t.Errorf("header = %v\nwant     %v", header, tc.header)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r["id"])
			}
			listed, total := bkListIDs(t, e, tc.caller, "contacts", "ContactFilter", tc.filter)
			if len(rows) != total {
				t.Errorf("%d rows exported, the list query counts %d", len(rows), total)
			}
			sortedGot, sortedListed := slices.Clone(got), slices.Clone(listed)
			slices.Sort(sortedGot)
			slices.Sort(sortedListed)
			if !slices.Equal(sortedGot, sortedListed) {
				t.Errorf("exported %v, the list query has %v", got, listed)
			}
			for _, id := range tc.present {
				if !slices.Contains(got, id) {
					t.Errorf("%s missing from the export", id)
				}
			}
			for _, id := range tc.absent {
				if slices.Contains(got, id) {
					t.Errorf("%s exported but not visible or filtered out", id)
				}
			}
			if !slices.Contains(tc.header, "bankAccountNumber") {
				for _, r := range rows {
					for h, v := range r {
						if strings.Contains(v, "SECRET") {
							t.Errorf("a hidden value leaked in column %s: %q", h, v)
						}
					}
				}
			}
			for _, r := range rows {
				switch r["id"] {
				case c1:
					// The account is the admin's, invisible to rep: empty,
					// as the field reads null in the API.
					wantAccount := account
					if tc.caller == w.rep {
						wantAccount = ""
					}
					if r["account"] != wantAccount || r["owner"] != w.repID || r["lastName"] != "Ames" || r["tier"] != "2" {
						t.Errorf("c1 row = %v", r)
					}
					if tc.caller == w.admin && (r["bankAccountNumber"] != "DE-SECRET-1" || r["iban"] != "IBAN-SECRET-1") {
						t.Errorf("the administrator's export lacks c1's values: %v", r)
					}
				case c2:
					if want := `'=HYPERLINK("http://evil.example")`; r["firstName"] != want {
						t.Errorf("formula cell = %q, want %q", r["firstName"], want)
					}
				}
			}
		})
	}

	for _, tc := range []struct {
		name   string
		caller apitest.Caller
		module string
		filter obj
		code   string
	}{
		{"filter on a hidden standard field", w.rep, "CONTACTS", obj{"contact": obj{"bankAccountNumber": obj{"eq": "DE-SECRET-1"}}}, "FIELD_FORBIDDEN"},
		{"filter on a hidden custom field", w.rep, "CONTACTS", obj{"contact": obj{"custom": []obj{{"apiName": "iban", "isEmpty": false}}}}, "FIELD_FORBIDDEN"},
		{"hidden field inside or", w.rep, "CONTACTS", obj{"contact": obj{"or": []obj{{"lastName": obj{"eq": "Ames"}}, {"bankAccountNumber": obj{"contains": "SECRET"}}}}}, "FIELD_FORBIDDEN"},
		{"profile without export", w.mgr, "CONTACTS", nil, "FORBIDDEN"},
		{"profile without the module", w.other, "DEALS", nil, "FORBIDDEN"},
		{"another module's filter", w.rep, "CONTACTS", obj{"deal": obj{"name": obj{"eq": "x"}}}, "BAD_USER_INPUT"},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			r := recFails(envFor(env, t), tc.caller, tc.code, bkExportQ, obj{"m": tc.module, "f": tc.filter})
			for _, e := range r.Errors {
				if strings.Contains(e.Message, "SECRET") {
					t.Errorf("error message leaks a hidden value: %q", e.Message)
				}
			}
		})
	}

	t.Run("custom fields of deals as columns", func(t *testing.T) {
		e := envFor(env, t)
		header, rows := bkExport(t, e, w.admin, "DEALS", obj{"deal": obj{"id": obj{"eq": w.deals["r1"]}}})
		if !slices.Contains(header, "region") || !slices.Contains(header, "secretCode") || len(rows) != 1 || rows[0]["region"] != "US" {
			t.Errorf("admin's deal export: %v %v", header, rows)
		}
		header, _ = bkExport(t, e, w.rep, "DEALS", nil)
		if slices.Contains(header, "secretCode") || slices.Contains(header, "probability") || !slices.Contains(header, "amount") {
			t.Errorf("rep's deal header = %v (READ_ONLY amount stays, HIDDEN probability and secretCode go)", header)
		}
	})
}
