package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"warden/api/apitest"
)

// Field-level security through HTTP GraphQL (access-model.md, Field-level
// security): for every kind of field, standard and custom, and every access
// value, reading, filtering, ordering and writing as a restricted profile
// and as an administrator.

// fkCase is one field of a kind, on one record, with a value v1 it holds.
type fkCase struct {
	name   string
	list   string // "deals"
	single string // "deal"
	typ    string // "Deal"
	field  string
	custom bool
	sel    string // selection reading a standard field
	filter aoObj  // a filter the record matches
	order  aoObj  // an orderBy item; nil when the field is not orderable
	write  aoObj  // an update input writing another value
	same   aoObj  // an update input writing v1 again
	want   string // v1 as read (fmt of the decoded JSON); "" only checks it is there
}

func fkCustom(field string, v1, v2 any, want string) fkCase {
	return fkCase{name: "custom " + field, list: "deals", single: "deal", typ: "Deal", field: field, custom: true,
		filter: aoObj{"custom": []aoObj{{"apiName": field, "eq": v1}}}, order: aoObj{"customField": field},
		write: aoObj{"customFields": aoObj{field: v2}}, same: aoObj{"customFields": aoObj{field: v1}}, want: want}
}

func TestFieldPermissionsEveryKindAndAccess(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "fk-admin@example.com", "Field Kinds")
	sam, samID := o.pfMember("fk-sam@example.com", "Sam Standard", o.stdPrf)
	customs := []struct{ name, typ string }{{"cText", "TEXT"}, {"cNumber", "NUMBER"}, {"cDecimal", "DECIMAL"}, {"cDate", "DATE"},
		{"cDatetime", "DATETIME"}, {"cBoolean", "BOOLEAN"}, {"cPicklist", "PICKLIST"}, {"cEmail", "EMAIL"}, {"cPhone", "PHONE"}, {"cUrl", "URL"}}
	for _, c := range customs {
		if c.typ == "PICKLIST" {
			o.pfCustomField("DEALS", c.name, c.typ, "Gold", "Silver")
		} else {
			o.pfCustomField("DEALS", c.name, c.typ)
		}
	}
	mk := func(typ string, in aoObj) string {
		in["ownerId"] = samID
		return aoStr(o.must(o.admin, fmt.Sprintf(`mutation($in: Create%sInput!) { create%s(input: $in) { id } }`, typ, typ), aoObj{"in": in}), "create"+typ, "id")
	}
	acc1, acc2 := mk("Account", aoObj{"name": "One"}), mk("Account", aoObj{"name": "Two"})
	deal := mk("Deal", aoObj{"name": "Everything", "stage": "Won", "amount": 1234.5, "probability": 50, "closingDate": "2026-12-01", "accountId": acc1,
		"customFields": aoObj{"cText": "alpha", "cNumber": 7, "cDecimal": 1.5, "cDate": "2026-01-02", "cDatetime": "2026-01-02T03:04:05Z",
			"cBoolean": true, "cPicklist": "Gold", "cEmail": "a@example.com", "cPhone": "+1 555 0100", "cUrl": "https://example.com/a"}})
	task := mk("Task", aoObj{"subject": "Call", "dueAt": "2026-03-04T05:06:07Z"})
	ids := map[string]string{"deal": deal, "task": task}

	cases := []fkCase{
		{name: "text", list: "deals", single: "deal", typ: "Deal", field: "stage", sel: "stage", filter: aoObj{"stage": aoObj{"eq": "Won"}},
			order: aoObj{"field": "STAGE"}, write: aoObj{"stage": "Lost"}, same: aoObj{"stage": "Won"}, want: "Won"},
		{name: "decimal", list: "deals", single: "deal", typ: "Deal", field: "amount", sel: "amount", filter: aoObj{"amount": aoObj{"gt": 1000}},
			order: aoObj{"field": "AMOUNT"}, write: aoObj{"amount": 1}, same: aoObj{"amount": 1234.5}, want: "1234.5"},
		{name: "integer", list: "deals", single: "deal", typ: "Deal", field: "probability", sel: "probability", filter: aoObj{"probability": aoObj{"eq": 50}},
			order: aoObj{"field": "PROBABILITY"}, write: aoObj{"probability": 60}, same: aoObj{"probability": 50}, want: "50"},
		{name: "date", list: "deals", single: "deal", typ: "Deal", field: "closingDate", sel: "closingDate", filter: aoObj{"closingDate": aoObj{"eq": "2026-12-01"}},
			order: aoObj{"field": "CLOSING_DATE"}, write: aoObj{"closingDate": "2027-01-01"}, same: aoObj{"closingDate": "2026-12-01"}, want: "2026-12-01"},
		{name: "reference", list: "deals", single: "deal", typ: "Deal", field: "account", sel: "account { id }", filter: aoObj{"account": aoObj{"eq": acc1}},
			write: aoObj{"accountId": acc2}, same: aoObj{"accountId": acc1}, want: fmt.Sprint(map[string]any{"id": acc1})},
		{name: "time", list: "tasks", single: "task", typ: "Task", field: "dueAt", sel: "dueAt", filter: aoObj{"dueAt": aoObj{"eq": "2026-03-04T05:06:07Z"}},
			order: aoObj{"field": "DUE_AT"}, write: aoObj{"dueAt": "2027-01-01T00:00:00Z"}, same: aoObj{"dueAt": "2026-03-04T05:06:07Z"}},
		fkCustom("cText", "alpha", "beta", "alpha"),
		fkCustom("cNumber", 7, 8, "7"),
		fkCustom("cDecimal", 1.5, 2.5, "1.5"),
		fkCustom("cDate", "2026-01-02", "2026-02-03", "2026-01-02"),
		fkCustom("cDatetime", "2026-01-02T03:04:05Z", "2026-02-03T04:05:06Z", "2026-01-02T03:04:05Z"),
		fkCustom("cBoolean", true, false, "true"),
		fkCustom("cPicklist", "Gold", "Silver", "Gold"),
		fkCustom("cEmail", "a@example.com", "b@example.com", "a@example.com"),
		fkCustom("cPhone", "+1 555 0100", "+1 555 0199", "+1 555 0100"),
		fkCustom("cUrl", "https://example.com/a", "https://example.com/b", "https://example.com/a"),
	}

	// read returns the field's value as the caller reads it, and the error
	// codes at the field's path.
	read := func(e *apitest.Env, c apitest.Caller, tc fkCase) (value any, present bool, codes []string) {
		sel := tc.sel
		if tc.custom {
			sel = "customFields { apiName value }"
		}
		r := e.Do(c, fmt.Sprintf(`query($id: ID!) { %s(id: $id) { id %s } }`, tc.single, sel), aoObj{"id": ids[tc.single]})
		for _, er := range r.Errors {
			if fmt.Sprint(er.Path) == fmt.Sprint([]any{tc.single, tc.field}) {
				codes = append(codes, er.Code())
			} else {
				e.T.Errorf("unexpected error %+v", er)
			}
		}
		var d aoObj
		_ = json.Unmarshal(r.Data, &d)
		rec, _ := d[tc.single].(aoObj)
		if rec == nil || rec["id"] != ids[tc.single] {
			e.T.Fatalf("%s not readable: %s", tc.single, r.Data)
		}
		if !tc.custom {
			return rec[tc.field], rec[tc.field] != nil, codes
		}
		for _, cf := range rec["customFields"].([]any) {
			if aoStr(cf, "apiName") == tc.field {
				return cf.(aoObj)["value"], true, codes
			}
		}
		return nil, false, codes
	}
	fields := map[string]map[string]string{"DEALS": {}, "TASKS": {}}
	for _, tc := range cases {
		fields[strings.ToUpper(tc.list)][tc.field] = ""
	}
	for _, acc := range []string{"HIDDEN", "READ_ONLY", "READ_WRITE"} {
		for m, fs := range fields {
			for f := range fs {
				fs[f] = acc
			}
			o.pfSetFieldAccess(o.stdPrf, m, fs)
		}
		for _, tc := range cases {
			for _, who := range []string{"Standard", "Administrator"} {
				t.Run(fmt.Sprintf("%s/%s/%s", acc, tc.name, who), func(t *testing.T) {
					e := *env
					e.T = t
					c, restricted := sam, acc
					if who == "Administrator" {
						c, restricted = o.admin, "READ_WRITE"
					}
					// Read.
					v, present, codes := read(&e, c, tc)
					if restricted == "HIDDEN" {
						if present || (!tc.custom && fmt.Sprint(codes) != "[FIELD_FORBIDDEN]") || (tc.custom && len(codes) > 0) {
							t.Errorf("read of a hidden field: value %v, codes %v", v, codes)
						}
					} else if !present || len(codes) > 0 || (tc.want != "" && fmt.Sprint(v) != tc.want) {
						t.Errorf("read: value %v (present %v), codes %v, want %s", v, present, codes, tc.want)
					}
					// Filter and order: refused on a hidden field before any data is read.
					filterQ := fmt.Sprintf(`query($f: %sFilter) { %s(first: 5, filter: $f) { totalCount edges { node { id } } } }`, tc.typ, tc.list)
					orderQ := fmt.Sprintf(`query($o: [%sOrder!]) { %s(first: 5, orderBy: $o) { totalCount edges { node { id } } } }`, tc.typ, tc.list)
					if restricted == "HIDDEN" {
						r := e.Do(c, filterQ, aoObj{"f": tc.filter})
						if fmt.Sprint(r.Codes()) != "[FIELD_FORBIDDEN]" || string(r.Data) != "null" {
							t.Errorf("filter on a hidden field: %v %s", r.Errors, r.Data)
						}
						if tc.order != nil {
							r := e.Do(c, orderQ, aoObj{"o": []aoObj{tc.order}})
							if fmt.Sprint(r.Codes()) != "[FIELD_FORBIDDEN]" || string(r.Data) != "null" {
								t.Errorf("order by a hidden field: %v %s", r.Errors, r.Data)
							}
						}
					} else {
						var out aoObj
						e.Must(c, filterQ, aoObj{"f": tc.filter}, &out)
						if n := aoPath(out, tc.list, "totalCount"); fmt.Sprint(n) != "1" {
							t.Errorf("filter matched %v records, want 1", n)
						}
						if tc.order != nil {
							e.Must(c, orderQ, aoObj{"o": []aoObj{tc.order}}, nil)
						}
					}
					// Write: only READ_WRITE, and a refused write changes nothing.
					updateQ := fmt.Sprintf(`mutation($id: ID!, $in: Update%sInput!) { update%s(id: $id, input: $in) { id } }`, tc.typ, tc.typ)
					if restricted == "READ_WRITE" {
						e.Must(c, updateQ, aoObj{"id": ids[tc.single], "in": tc.write}, nil)
						e.Must(o.admin, updateQ, aoObj{"id": ids[tc.single], "in": tc.same}, nil)
					} else {
						r := e.Fails(c, "FIELD_FORBIDDEN", updateQ, aoObj{"id": ids[tc.single], "in": tc.write})
						if !strings.Contains(r.Errors[0].Message, tc.field) {
							t.Errorf("refusal does not name the field: %q", r.Errors[0].Message)
						}
					}
					if v, _, _ := read(&e, o.admin, tc); tc.want != "" && fmt.Sprint(v) != tc.want {
						t.Errorf("after the write, the administrator reads %v, want %s", v, tc.want)
					}
				})
			}
		}
	}
}

// TestFieldPermissionsRules: what setFieldPermissions refuses, and what
// fieldPermissions shows a client.
func TestFieldPermissionsRules(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "fr-admin@example.com", "Field Rules")
	sam, _ := o.pfMember("fr-sam@example.com", "Sam Standard", o.stdPrf)
	o.pfCustomField("CONTACTS", "bankAccount", "TEXT")
	o.pfCustomField("DEALS", "dealOnly", "TEXT")
	set := func(m, f, a string) aoObj {
		return aoObj{"p": o.stdPrf, "m": m, "f": []aoObj{{"field": f, "access": a}}}
	}
	var cases []aoCase
	for _, mf := range []struct{ m, f string }{{"LEADS", "lastName"}, {"CONTACTS", "lastName"}, {"ACCOUNTS", "name"}, {"DEALS", "name"}, {"TASKS", "subject"}} {
		for _, a := range []string{"HIDDEN", "READ_ONLY"} {
			cases = append(cases, aoCase{name: fmt.Sprintf("mandatory %s.%s %s", mf.m, mf.f, a), as: o.admin, query: pfSetFields,
				vars: set(mf.m, mf.f, a), code: "BAD_USER_INPUT", msg: mf.f})
		}
	}
	for _, f := range []string{"id", "owner", "createdBy", "createdAt", "updatedAt"} {
		cases = append(cases, aoCase{name: "system " + f, as: o.admin, query: pfSetFields, vars: set("CONTACTS", f, "HIDDEN"), code: "BAD_USER_INPUT", msg: f})
	}
	cases = append(cases,
		aoCase{name: "unknown field", as: o.admin, query: pfSetFields, vars: set("CONTACTS", "salary", "HIDDEN"), code: "BAD_USER_INPUT", msg: "salary"},
		aoCase{name: "another module's custom field", as: o.admin, query: pfSetFields, vars: set("CONTACTS", "dealOnly", "HIDDEN"), code: "BAD_USER_INPUT", msg: "dealOnly"},
		aoCase{name: "a field of another type", as: o.admin, query: pfSetFields, vars: set("CONTACTS", "amount", "HIDDEN"), code: "BAD_USER_INPUT", msg: "amount"},
		aoCase{name: "a field named twice", as: o.admin, query: pfSetFields, code: "BAD_USER_INPUT", msg: "email",
			vars: aoObj{"p": o.stdPrf, "m": "CONTACTS", "f": []aoObj{{"field": "email", "access": "HIDDEN"}, {"field": "email", "access": "READ_ONLY"}}}},
		aoCase{name: "one bad field refuses all", as: o.admin, query: pfSetFields, code: "BAD_USER_INPUT", msg: "lastName",
			vars: aoObj{"p": o.stdPrf, "m": "CONTACTS", "f": []aoObj{{"field": "email", "access": "HIDDEN"}, {"field": "lastName", "access": "HIDDEN"}}}},
		aoCase{name: "unknown profile", as: o.admin, query: pfSetFields, code: "NOT_FOUND",
			vars: aoObj{"p": "profile_999999", "m": "CONTACTS", "f": []aoObj{{"field": "email", "access": "HIDDEN"}}}},
	)
	pfReject(t, env, o.key, cases)

	t.Run("set, audited, shown to the client", func(t *testing.T) {
		v := o.version()
		got := o.must(o.admin, pfSetFields, aoObj{"p": o.stdPrf, "m": "CONTACTS", "f": []aoObj{
			{"field": "bankAccount", "access": "HIDDEN"}, {"field": "phone", "access": "READ_ONLY"}, {"field": "lastName", "access": "READ_WRITE"}}})
		if o.version() <= v {
			t.Error("setFieldPermissions did not bump the security version")
		}
		o.wantAudit("profile.setFieldPermissions", o.stdPrf, aoObj{"module": "CONTACTS", "fields": aoObj{"bankAccount": "READ_WRITE", "phone": "READ_WRITE"}},
			aoObj{"module": "CONTACTS", "fields": aoObj{"bankAccount": "HIDDEN", "phone": "READ_ONLY"}})
		list := func(v any) map[string]string {
			out := map[string]string{}
			for _, f := range v.([]any) {
				out[aoStr(f, "field")] = aoStr(f, "access") + fmt.Sprintf(" custom=%v restrictable=%v", aoPath(f, "custom"), aoPath(f, "restrictable"))
			}
			return out
		}
		want := map[string]string{
			"id": "READ_WRITE custom=false restrictable=false", "owner": "READ_WRITE custom=false restrictable=false",
			"createdBy": "READ_WRITE custom=false restrictable=false", "createdAt": "READ_WRITE custom=false restrictable=false",
			"updatedAt": "READ_WRITE custom=false restrictable=false", "firstName": "READ_WRITE custom=false restrictable=true",
			"lastName": "READ_WRITE custom=false restrictable=false", "email": "READ_WRITE custom=false restrictable=true",
			"phone": "READ_ONLY custom=false restrictable=true", "account": "READ_WRITE custom=false restrictable=true",
			"mailingCity": "READ_WRITE custom=false restrictable=true", "bankAccountNumber": "READ_WRITE custom=false restrictable=true",
			"bankAccount": "HIDDEN custom=true restrictable=true",
		}
		if g := list(got["setFieldPermissions"]); fmt.Sprint(g) != fmt.Sprint(want) {
			t.Errorf("setFieldPermissions returned\n%v\nwant\n%v", g, want)
		}
		if g := list(o.must(sam, `{ fieldPermissions(module: CONTACTS) { field access custom restrictable } }`, nil)["fieldPermissions"]); fmt.Sprint(g) != fmt.Sprint(want) {
			t.Errorf("Standard's fieldPermissions\n%v\nwant\n%v", g, want)
		}
		admin := list(o.must(o.admin, `{ fieldPermissions(module: CONTACTS) { field access custom restrictable } }`, nil)["fieldPermissions"])
		if !strings.HasPrefix(admin["bankAccount"], "READ_WRITE") || !strings.HasPrefix(admin["phone"], "READ_WRITE") {
			t.Errorf("the administrator's fieldPermissions %v", admin)
		}
		// Setting what is already set writes nothing.
		v = o.version()
		o.must(o.admin, pfSetFields, set("CONTACTS", "phone", "READ_ONLY"))
		if o.version() != v {
			t.Error("a setFieldPermissions that changes nothing bumped the version")
		}
	})
}

// The bank account number: hidden from Standard, it must not leave the
// server for a Standard member (or any profile hiding it) by any path.
const (
	bankSecretStd    = "DE44-STANDARD-SECRET-5001"
	bankSecretCustom = "GB29-CUSTOM-SECRET-7002"
)

// bkDo sends a request and fails the test if a secret appears anywhere in
// the response.
func bkDo(t *testing.T, env *apitest.Env, c apitest.Caller, query string, vars aoObj) *apitest.Response {
	t.Helper()
	e := *env
	e.T = t
	r := e.Do(c, query, vars)
	body, _ := json.Marshal(r)
	for _, s := range []string{bankSecretStd, bankSecretCustom, "DE44", "GB29"} {
		if strings.Contains(string(body), s) {
			t.Errorf("the response carries the hidden value %q: %s", s, body)
		}
	}
	return r
}

func TestFieldPermissionsBankAccount(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "bk-admin@example.com", "Bank Accounts")
	o.pfCustomField("CONTACTS", "bankAccount", "TEXT")
	o.pfCustomField("CONTACTS", "nickname", "TEXT")
	sam, samID := o.pfMember("bk-sam@example.com", "Sam Standard", o.stdPrf)
	// Profiles hiding the fields, with the powers to ask other paths.
	o.pfSetFieldAccess(o.stdPrf, "CONTACTS", map[string]string{"bankAccount": "HIDDEN", "bankAccountNumber": "HIDDEN"})
	auditor := o.pfProfile(aoObj{"name": "Auditor", "cloneFromId": o.stdPrf, "setupPermissions": []string{"viewAuditLog"}})
	sharer := o.pfProfile(aoObj{"name": "Sharing Admin", "cloneFromId": o.stdPrf, "setupPermissions": []string{"manageSharing", "viewAuditLog"}})
	aud, _ := o.pfMember("bk-aud@example.com", "Ann Auditor", aoStr(auditor, "id"))
	shr, shrID := o.pfMember("bk-shr@example.com", "Sid Sharer", aoStr(sharer, "id"))

	contact := aoStr(o.must(o.admin, `mutation($in: CreateContactInput!) { createContact(input: $in) { id } }`, aoObj{"in": aoObj{
		"lastName": "Holder", "ownerId": samID, "bankAccountNumber": bankSecretStd,
		"customFields": aoObj{"bankAccount": bankSecretCustom, "nickname": "Hol"}}}), "createContact", "id")
	// A criteria rule reading the hidden custom field shares it with Sid.
	o.must(o.admin, `mutation($in: CreateSharingRuleInput!) { createSharingRule(input: $in) { id } }`, aoObj{"in": aoObj{
		"module": "CONTACTS", "name": "Bank rule", "target": aoObj{"type": "USER", "id": shrID}, "access": "READ_ONLY",
		"criteria": aoObj{"op": "AND", "conditions": []aoObj{{"field": "bankAccount", "op": "EQ", "value": bankSecretCustom}}}}})
	// Everyone may read and write every contact: only field-level security stands between them and the values.
	o.must(o.admin, `mutation { setModuleSharing(module: CONTACTS, defaultAccess: PUBLIC_READ_WRITE) { hierarchyMode } }`, nil)
	// The administrator changes both values: audited with before and after.
	o.must(o.admin, `mutation($id: ID!) { updateContact(id: $id, input: {bankAccountNumber: "DE44-STANDARD-SECRET-5001-B", mailingCity: "Kiel"}) { id } }`, aoObj{"id": contact})

	readers := []struct {
		name string
		c    apitest.Caller
	}{{"Standard owner", sam}, {"auditor", aud}, {"sharing admin", shr}}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			paths := []struct {
				name, query string
				vars        aoObj
				code        string // "" when the request succeeds
			}{
				{"read the standard field", `query($id: ID!) { contact(id: $id) { lastName bankAccountNumber } }`, aoObj{"id": contact}, "FIELD_FORBIDDEN"},
				{"read custom fields", `query($id: ID!) { contact(id: $id) { lastName customFields { apiName value } } }`, aoObj{"id": contact}, ""},
				{"list", `{ contacts(first: 5) { edges { node { lastName bankAccountNumber customFields { apiName value } } } } }`, nil, "FIELD_FORBIDDEN"},
				{"filter standard", `{ contacts(first: 5, filter: {bankAccountNumber: {eq: "DE44-STANDARD-SECRET-5001-B"}}) { totalCount } }`, nil, "FIELD_FORBIDDEN"},
				{"filter standard, nested", `{ contacts(first: 5, filter: {or: [{lastName: {eq: "x"}}, {and: [{bankAccountNumber: {contains: "DE"}}]}]}) { totalCount } }`, nil, "FIELD_FORBIDDEN"},
				{"filter custom", `{ contacts(first: 5, filter: {custom: [{apiName: "bankAccount", isEmpty: false}]}) { totalCount } }`, nil, "FIELD_FORBIDDEN"},
				{"order standard", `{ contacts(first: 5, orderBy: [{field: BANK_ACCOUNT_NUMBER}]) { edges { cursor } } }`, nil, "FIELD_FORBIDDEN"},
				{"order custom", `{ contacts(first: 5, orderBy: [{customField: "bankAccount", direction: DESC}]) { edges { cursor } } }`, nil, "FIELD_FORBIDDEN"},
				{"write standard", `mutation($id: ID!) { updateContact(id: $id, input: {bankAccountNumber: "x"}) { id } }`, aoObj{"id": contact}, "FIELD_FORBIDDEN"},
				{"write custom", `mutation($id: ID!) { updateContact(id: $id, input: {customFields: {bankAccount: "x"}}) { id } }`, aoObj{"id": contact}, "FIELD_FORBIDDEN"},
				{"create with it", `mutation { createContact(input: {lastName: "New", customFields: {bankAccount: "x"}}) { id } }`, nil, "FIELD_FORBIDDEN"},
				{"fieldPermissions", `{ fieldPermissions(module: CONTACTS) { field access } }`, nil, ""},
			}
			for _, p := range paths {
				t.Run(p.name, func(t *testing.T) {
					r := bkDo(t, env, rd.c, p.query, p.vars)
					switch {
					case p.code == "" && len(r.Errors) > 0:
						t.Errorf("errors %+v", r.Errors)
					case p.code != "" && !strings.Contains(fmt.Sprint(r.Codes()), p.code):
						t.Errorf("codes %v, want %s", r.Codes(), p.code)
					}
					var d aoObj
					_ = json.Unmarshal(r.Data, &d)
					switch p.name {
					case "fieldPermissions":
						got := map[string]string{}
						for _, f := range d["fieldPermissions"].([]any) {
							got[aoStr(f, "field")] = aoStr(f, "access")
						}
						if got["bankAccount"] != "HIDDEN" || got["bankAccountNumber"] != "HIDDEN" || got["nickname"] != "READ_WRITE" {
							t.Errorf("fieldPermissions %v", got)
						}
					case "read custom fields":
						cfs := fmt.Sprint(aoPath(d, "contact", "customFields"))
						if strings.Contains(cfs, "bankAccount") || !strings.Contains(cfs, "nickname") {
							t.Errorf("custom fields read %s", cfs)
						}
					}
				})
			}
		})
	}
	t.Run("explanation of a grant by a rule reading the hidden field", func(t *testing.T) {
		r := bkDo(t, env, shr, `query($id: ID!, $m: ID!) { accessExplanation(module: CONTACTS, recordId: $id, memberId: $m) {
			level grants { source via rule { name criteria { op conditions { field op value } } } } } }`, aoObj{"id": contact, "m": shrID})
		var d aoObj
		_ = json.Unmarshal(r.Data, &d)
		grants, _ := aoPath(d, "accessExplanation", "grants").([]any)
		ruleGrants := 0
		for _, g := range grants {
			if aoStr(g, "source") == "SHARING_RULE" {
				ruleGrants++
				if aoStr(g, "rule", "name") != "Bank rule" || aoPath(g, "rule", "criteria") != nil {
					t.Errorf("rule grant %v", g)
				}
			}
		}
		if len(r.Errors) > 0 || ruleGrants != 1 {
			t.Errorf("explanation %s %+v", r.Data, r.Errors)
		}
		bkDo(t, env, shr, `query($id: ID!) { whoCanAccess(module: CONTACTS, recordId: $id, first: 10) { edges { node { member { name } level } } } }`, aoObj{"id": contact})
		r = bkDo(t, env, shr, `{ sharingRules(module: CONTACTS) { name criteria { conditions { field op value } } } }`, nil)
		if !strings.Contains(string(r.Data), `"field":"bankAccount"`) || len(r.Errors) > 0 {
			t.Errorf("sharingRules %s %+v", r.Data, r.Errors)
		}
	})
	t.Run("audit log hides the fields from its reader", func(t *testing.T) {
		for _, c := range []apitest.Caller{aud, shr} {
			r := bkDo(t, env, c, `{ auditLog(first: 50) { edges { node { action targetType before after } } } }`, nil)
			if len(r.Errors) > 0 {
				t.Fatalf("auditLog: %+v", r.Errors)
			}
			var d aoObj
			_ = json.Unmarshal(r.Data, &d)
			seen := map[string]bool{}
			for _, e := range aoPath(d, "auditLog", "edges").([]any) {
				n := e.(aoObj)["node"].(aoObj)
				seen[aoStr(n, "action")] = true
				if aoStr(n, "action") == "record.update" {
					if aoPath(n, "after", "mailingCity") != "Kiel" {
						t.Errorf("a visible field is missing from the entry: %v", n)
					}
					if _, has := aoPath(n, "after").(aoObj)["bankAccountNumber"]; has {
						t.Errorf("the entry names the hidden field: %v", n)
					}
				}
				if aoStr(n, "action") == "sharingRule.create" {
					conds := aoPath(n, "after", "criteria", "conditions").([]any)
					if aoStr(conds[0], "field") != "bankAccount" || conds[0].(aoObj)["value"] != nil {
						t.Errorf("the rule's condition on a hidden field keeps its value: %v", conds)
					}
				}
			}
			for _, a := range []string{"record.create", "record.update", "sharingRule.create"} {
				if !seen[a] {
					t.Errorf("audit log lacks %s", a)
				}
			}
		}
		// The administrator reads the values as written.
		var d aoObj
		o.env.Must(o.admin, `{ auditLog(first: 50, filter: {action: "record.update"}) { edges { node { before after } } } }`, nil, &d)
		n := aoPath(d, "auditLog", "edges").([]any)[0].(aoObj)["node"]
		if aoPath(n, "before", "bankAccountNumber") != bankSecretStd || aoPath(n, "after", "bankAccountNumber") != bankSecretStd+"-B" {
			t.Errorf("the administrator's audit entry %v", n)
		}
	})
	t.Run("an auditor who may not view the module reads none of its fields", func(t *testing.T) {
		blind := o.pfProfile(aoObj{"name": "Blind Auditor", "setupPermissions": []string{"viewAuditLog"},
			"modulePermissions": []aoObj{{"module": "DEALS", "view": true}}})
		bob, _ := o.pfMember("bk-bob@example.com", "Bob Blind", aoStr(blind, "id"))
		r := bkDo(t, env, bob, `{ auditLog(first: 50, filter: {targetType: "contacts"}) { edges { node { action before after } } } }`, nil)
		var d aoObj
		_ = json.Unmarshal(r.Data, &d)
		edges, _ := aoPath(d, "auditLog", "edges").([]any)
		if len(r.Errors) > 0 || len(edges) < 2 {
			t.Fatalf("auditLog %s %+v", r.Data, r.Errors)
		}
		for _, e := range edges {
			n := e.(aoObj)["node"].(aoObj)
			for _, k := range []string{"before", "after"} {
				if v, ok := n[k].(aoObj); ok && len(v) > 0 {
					t.Errorf("%s of %s shows %v", k, n["action"], v)
				}
			}
		}
	})
	t.Run("writing other custom fields keeps the hidden one", func(t *testing.T) {
		bkDo(t, env, sam, `mutation($id: ID!) { updateContact(id: $id, input: {customFields: {nickname: "H."}}) { id } }`, aoObj{"id": contact})
		var d aoObj
		o.env.Must(o.admin, `query($id: ID!) { contact(id: $id) { customFields { apiName value } } }`, aoObj{"id": contact}, &d)
		got := map[string]any{}
		for _, cf := range aoPath(d, "contact", "customFields").([]any) {
			got[aoStr(cf, "apiName")] = cf.(aoObj)["value"]
		}
		if got["bankAccount"] != bankSecretCustom || got["nickname"] != "H." {
			t.Errorf("custom fields after Standard's update: %v", got)
		}
	})
	t.Run("the administrator reads and filters everything", func(t *testing.T) {
		var d aoObj
		o.env.Must(o.admin, `{ contacts(first: 5, filter: {custom: [{apiName: "bankAccount", eq: "GB29-CUSTOM-SECRET-7002"}]}, orderBy: [{field: BANK_ACCOUNT_NUMBER}]) {
			totalCount edges { node { bankAccountNumber } } } }`, nil, &d)
		if fmt.Sprint(aoPath(d, "contacts", "totalCount")) != "1" {
			t.Errorf("administrator's filter on the custom field: %v", d)
		}
	})
}
