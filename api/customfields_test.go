package api_test

import (
	"fmt"
	"strings"
	"testing"

	"warden/api/apitest"
)

// Custom fields through HTTP GraphQL: definitions, validation of values on
// write by type, and their place in filters and ordering.

const (
	cfUpdateField = `mutation($id: ID!, $in: UpdateCustomFieldInput!) { updateCustomField(id: $id, input: $in) { id apiName label type picklistValues } }`
	cfDeleteField = `mutation($id: ID!) { deleteCustomField(id: $id) }`
	cfUpdateLead  = `mutation($id: ID!, $in: UpdateLeadInput!) { updateLead(id: $id, input: $in) { id customFields { apiName value } } }`
	cfCreateLead  = `mutation($in: CreateLeadInput!) { createLead(input: $in) { id customFields { apiName value } } }`
)

func TestCustomFieldsDefinitions(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "cf-admin@example.com", "Custom Fields")
	sam, _ := o.pfMember("cf-sam@example.com", "Sam Standard", o.stdPrf)

	var tier, score string
	t.Run("create, list, audited", func(t *testing.T) {
		v := o.version()
		d := o.must(o.admin, pfCreateField, aoObj{"in": aoObj{"module": "LEADS", "apiName": "tier", "label": " Tier ", "type": "PICKLIST",
			"picklistValues": []string{"Gold", "Silver", "Bronze"}}})["createCustomField"].(aoObj)
		tier = aoStr(d, "id")
		if d["label"] != "Tier" || d["type"] != "PICKLIST" || fmt.Sprint(d["picklistValues"]) != "[Gold Silver Bronze]" || d["module"] != "LEADS" {
			t.Errorf("created %v", d)
		}
		if o.version() <= v {
			t.Error("creating a custom field did not bump the security version")
		}
		o.wantAudit("customField.create", tier, nil, aoObj{"apiName": "tier", "type": "PICKLIST"})
		score = o.pfCustomField("LEADS", "score", "NUMBER")
		for _, c := range []apitest.Caller{o.admin, sam} {
			l := o.must(c, `{ customFieldDefinitions(module: LEADS) { apiName type } }`, nil)
			if got := fmt.Sprint(l["customFieldDefinitions"]); got != "[map[apiName:tier type:PICKLIST] map[apiName:score type:NUMBER]]" {
				t.Errorf("definitions %s", got)
			}
		}
		// A new field starts READ_WRITE for every profile.
		for _, f := range o.must(sam, `{ fieldPermissions(module: LEADS) { field access custom } }`, nil)["fieldPermissions"].([]any) {
			if aoPath(f, "custom") == true && aoStr(f, "access") != "READ_WRITE" {
				t.Errorf("new custom field %v", f)
			}
		}
	})

	lead := aoStr(o.must(sam, cfCreateLead, aoObj{"in": aoObj{"lastName": "Lee", "customFields": aoObj{"tier": "Gold", "score": 3}}}), "createLead", "id")
	t.Run("rename and safe retype", func(t *testing.T) {
		d := o.must(o.admin, cfUpdateField, aoObj{"id": score, "in": aoObj{"label": "Lead score", "type": "DECIMAL"}})["updateCustomField"].(aoObj)
		if d["label"] != "Lead score" || d["type"] != "DECIMAL" || d["apiName"] != "score" {
			t.Errorf("updated %v", d)
		}
		o.wantAudit("customField.update", score, aoObj{"type": "NUMBER", "label": "Label of score"}, aoObj{"type": "DECIMAL", "label": "Lead score"})
		o.must(sam, cfUpdateLead, aoObj{"id": lead, "in": aoObj{"customFields": aoObj{"score": 3.25}}})
		d = o.must(o.admin, cfUpdateField, aoObj{"id": tier, "in": aoObj{"picklistValues": []string{"Gold", "Silver", "Platinum"}}})["updateCustomField"].(aoObj)
		if fmt.Sprint(d["picklistValues"]) != "[Gold Silver Platinum]" {
			t.Errorf("picklist %v", d["picklistValues"])
		}
	})

	rule := o.must(o.admin, `mutation($in: CreateSharingRuleInput!) { createSharingRule(input: $in) { id } }`, aoObj{"in": aoObj{
		"module": "LEADS", "name": "Gold leads", "target": aoObj{"type": "ROLE", "id": o.topRole}, "access": "READ_ONLY",
		"criteria": aoObj{"op": "OR", "conditions": []aoObj{{"field": "tier", "op": "EQ", "value": "Gold"}}}}})
	_ = rule
	email := o.pfCustomField("LEADS", "altEmail", "EMAIL")
	pfReject(t, env, o.key, []aoCase{
		{name: "apiName format", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT", msg: "Bad Name",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "Bad Name", "label": "x", "type": "TEXT"}}},
		{name: "apiName starting with a digit", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "1st", "label": "x", "type": "TEXT"}}},
		{name: "apiName too long", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "a" + strings.Repeat("b", 63), "label": "x", "type": "TEXT"}}},
		{name: "a standard field's name", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT", msg: "email",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "email", "label": "x", "type": "TEXT"}}},
		{name: "a system field's name", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT", msg: "owner",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "owner", "label": "x", "type": "TEXT"}}},
		{name: "an input key", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT", msg: "accountId",
			vars: aoObj{"in": aoObj{"module": "CONTACTS", "apiName": "accountId", "label": "x", "type": "TEXT"}}},
		{name: "a reserved name", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT", msg: "customFields",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "customFields", "label": "x", "type": "TEXT"}}},
		{name: "apiName taken in the module", as: o.admin, query: pfCreateField, code: "CONFLICT", msg: "tier",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "tier", "label": "x", "type": "TEXT"}}},
		{name: "empty label", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "x", "label": " ", "type": "TEXT"}}},
		{name: "picklist without values", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "x", "label": "x", "type": "PICKLIST"}}},
		{name: "picklist value twice", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT", msg: "A",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "x", "label": "x", "type": "PICKLIST", "picklistValues": []string{"A", "A"}}}},
		{name: "picklist values on text", as: o.admin, query: pfCreateField, code: "BAD_USER_INPUT",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "x", "label": "x", "type": "TEXT", "picklistValues": []string{"A"}}}},
		{name: "unsafe retype", as: o.admin, query: cfUpdateField, code: "BAD_USER_INPUT", msg: "DECIMAL to NUMBER",
			vars: aoObj{"id": score, "in": aoObj{"type": "NUMBER"}}},
		{name: "text to email", as: o.admin, query: cfUpdateField, code: "BAD_USER_INPUT",
			vars: aoObj{"id": o.pfCustomField("LEADS", "note", "TEXT"), "in": aoObj{"type": "EMAIL"}}},
		{name: "retype a field a criteria rule reads", as: o.admin, query: cfUpdateField, code: "CONFLICT", msg: "Gold leads",
			vars: aoObj{"id": tier, "in": aoObj{"type": "TEXT"}}},
		{name: "delete a field a criteria rule reads", as: o.admin, query: cfDeleteField, code: "CONFLICT", msg: "Gold leads",
			vars: aoObj{"id": tier}},
		{name: "drop a picklist value in use", as: o.admin, query: cfUpdateField, code: "CONFLICT", msg: "Gold",
			vars: aoObj{"id": tier, "in": aoObj{"picklistValues": []string{"Silver", "Platinum"}}}},
		{name: "nothing to update", as: o.admin, query: cfUpdateField, code: "BAD_USER_INPUT", vars: aoObj{"id": score, "in": aoObj{}}},
		{name: "unknown field", as: o.admin, query: cfDeleteField, code: "NOT_FOUND", vars: aoObj{"id": "field_999999"}},
		{name: "a record id as field id", as: o.admin, query: cfDeleteField, code: "NOT_FOUND", vars: aoObj{"id": lead}},
		{name: "createCustomField needs manageProfiles", as: sam, query: pfCreateField, code: "FORBIDDEN", msg: "manageProfiles",
			vars: aoObj{"in": aoObj{"module": "LEADS", "apiName": "mine", "label": "x", "type": "TEXT"}}},
		{name: "updateCustomField needs manageProfiles", as: sam, query: cfUpdateField, code: "FORBIDDEN", vars: aoObj{"id": score, "in": aoObj{"label": "x"}}},
		{name: "deleteCustomField needs manageProfiles", as: sam, query: cfDeleteField, code: "FORBIDDEN", vars: aoObj{"id": email}},
	})

	t.Run("delete clears values and field permissions", func(t *testing.T) {
		o.must(sam, cfUpdateLead, aoObj{"id": lead, "in": aoObj{"customFields": aoObj{"altEmail": "lee@example.com"}}})
		o.pfSetFieldAccess(o.stdPrf, "LEADS", map[string]string{"altEmail": "HIDDEN"})
		got := o.must(o.admin, cfDeleteField, aoObj{"id": email})
		if got["deleteCustomField"] != email {
			t.Errorf("deleteCustomField returned %v", got)
		}
		o.wantAudit("customField.delete", email, aoObj{"apiName": "altEmail"}, aoObj{"deleted": true, "valuesCleared": 1})
		// A new field of the same name starts empty and READ_WRITE.
		o.pfCustomField("LEADS", "altEmail", "TEXT")
		d := o.must(sam, `query($id: ID!) { lead(id: $id) { customFields { apiName value } } }`, aoObj{"id": lead})
		for _, cf := range aoPath(d, "lead", "customFields").([]any) {
			if aoStr(cf, "apiName") == "altEmail" && cf.(aoObj)["value"] != nil {
				t.Errorf("the new field reads the old value %v", cf)
			}
		}
		if !strings.Contains(fmt.Sprint(d), "altEmail") {
			t.Errorf("the new field is not READ_WRITE for Standard: %v", d)
		}
	})
}

// TestCustomFieldsValues: values are checked by type on write, and custom
// fields filter and order like standard ones.
func TestCustomFieldsValues(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	o := aoNewOrg(env, "cv-admin@example.com", "Custom Values")
	types := map[string]string{"vText": "TEXT", "vNumber": "NUMBER", "vDecimal": "DECIMAL", "vDate": "DATE", "vDatetime": "DATETIME",
		"vBoolean": "BOOLEAN", "vPicklist": "PICKLIST", "vEmail": "EMAIL", "vPhone": "PHONE", "vUrl": "URL"}
	for _, name := range []string{"vText", "vNumber", "vDecimal", "vDate", "vDatetime", "vBoolean", "vPicklist", "vEmail", "vPhone", "vUrl"} {
		if types[name] == "PICKLIST" {
			o.pfCustomField("LEADS", name, "PICKLIST", "Hot", "Cold")
		} else {
			o.pfCustomField("LEADS", name, types[name])
		}
	}
	lead := aoStr(o.must(o.admin, cfCreateLead, aoObj{"in": aoObj{"lastName": "Valid", "customFields": aoObj{
		"vText": "t", "vNumber": 5, "vDecimal": 2.5, "vDate": "2026-05-06", "vDatetime": "2026-05-06T07:08:09+02:00", "vBoolean": false,
		"vPicklist": "Hot", "vEmail": "x@example.com", "vPhone": "+49 30 123456", "vUrl": "https://example.com"}}}), "createLead", "id")

	bad := []struct {
		field string
		value any
	}{
		{"vText", 5}, {"vText", strings.Repeat("x", 10001)},
		{"vNumber", "five"}, {"vNumber", 1.5}, {"vNumber", true},
		{"vDecimal", "2.5"}, {"vDecimal", 1e17},
		{"vDate", "2026-02-30"}, {"vDate", "06/05/2026"}, {"vDate", 20260506},
		{"vDatetime", "2026-05-06"}, {"vDatetime", "yesterday"},
		{"vBoolean", "true"}, {"vBoolean", 1},
		{"vPicklist", "Warm"}, {"vPicklist", "hot"},
		{"vEmail", "not an email"}, {"vEmail", 3},
		{"vPhone", "call me"}, {"vPhone", "12"},
		{"vUrl", "example.com"}, {"vUrl", "javascript:alert(1)"}, {"vUrl", "ftp://example.com"},
		{"unknownField", "x"},
	}
	var cases []aoCase
	for _, b := range bad {
		cases = append(cases,
			aoCase{name: fmt.Sprintf("update %s = %v", b.field, b.value), as: o.admin, query: cfUpdateLead, code: "BAD_USER_INPUT", msg: b.field,
				vars: aoObj{"id": lead, "in": aoObj{"lastName": "Changed", "customFields": aoObj{b.field: b.value}}}},
			aoCase{name: fmt.Sprintf("create %s = %v", b.field, b.value), as: o.admin, query: cfCreateLead, code: "BAD_USER_INPUT", msg: b.field,
				vars: aoObj{"in": aoObj{"lastName": "New", "customFields": aoObj{b.field: b.value}}}})
	}
	pfReject(t, env, o.key, cases)

	other := aoStr(o.must(o.admin, cfCreateLead, aoObj{"in": aoObj{"lastName": "Other", "customFields": aoObj{
		"vText": "u", "vNumber": 9, "vDecimal": 0.5, "vDate": "2025-01-01", "vDatetime": "2025-01-01T00:00:00Z", "vBoolean": true,
		"vPicklist": "Cold", "vEmail": "y@example.com", "vPhone": "+1 555 0100", "vUrl": "https://example.org"}}}), "createLead", "id")
	// Filters on each kind pick the right record; ordering follows the values.
	filters := []struct {
		cond aoObj
		want string
	}{
		{aoObj{"apiName": "vText", "eq": "t"}, lead}, {aoObj{"apiName": "vText", "contains": "U"}, other},
		{aoObj{"apiName": "vNumber", "gt": 6}, other}, {aoObj{"apiName": "vDecimal", "lt": 1}, other},
		{aoObj{"apiName": "vDate", "gte": "2026-01-01"}, lead}, {aoObj{"apiName": "vDatetime", "lt": "2026-01-01T00:00:00Z"}, other},
		{aoObj{"apiName": "vBoolean", "eq": true}, other}, {aoObj{"apiName": "vPicklist", "in": []string{"Hot"}}, lead},
		{aoObj{"apiName": "vEmail", "eq": "x@example.com"}, lead}, {aoObj{"apiName": "vPhone", "neq": "+1 555 0100"}, lead},
		{aoObj{"apiName": "vUrl", "contains": "example.org"}, other},
	}
	for _, f := range filters {
		t.Run(fmt.Sprintf("filter %v", f.cond), func(t *testing.T) {
			d := o.must(o.admin, `query($f: LeadFilter) { leads(first: 5, filter: $f) { totalCount edges { node { id } } } }`,
				aoObj{"f": aoObj{"custom": []aoObj{f.cond}}})
			edges := aoPath(d, "leads", "edges").([]any)
			if len(edges) != 1 || aoStr(edges[0], "node", "id") != f.want {
				t.Errorf("matched %v, want %s", edges, f.want)
			}
		})
	}
	for name := range types {
		t.Run("order by "+name, func(t *testing.T) {
			var ids [2][]string
			for i, dir := range []string{"ASC", "DESC"} {
				d := o.must(o.admin, `query($o: [LeadOrder!]) { leads(first: 5, orderBy: $o) { edges { node { id } } } }`,
					aoObj{"o": []aoObj{{"customField": name, "direction": dir}}})
				for _, e := range aoPath(d, "leads", "edges").([]any) {
					ids[i] = append(ids[i], aoStr(e, "node", "id"))
				}
			}
			if len(ids[0]) != 2 || ids[0][0] != ids[1][1] || ids[0][1] != ids[1][0] {
				t.Errorf("ASC %v, DESC %v", ids[0], ids[1])
			}
		})
	}
}
