package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/api/apitest"
)

const bkImportQ = `mutation($m: Module!, $csv: String!) { importRecords(module: $m, csv: $csv) { ok created ids errorCount errors { row column message code } } }`

type bkImportResult struct {
	OK         bool
	Created    int
	IDs        []string
	ErrorCount int
	Errors     []struct {
		Row     int
		Column  *string
		Message string
		Code    string
	}
}

func bkImport(t testing.TB, env *apitest.Env, c apitest.Caller, module, text string) bkImportResult {
	t.Helper()
	var out struct{ ImportRecords bkImportResult }
	env.Must(c, bkImportQ, obj{"m": module, "csv": text}, &out)
	return out.ImportRecords
}

// bkRowError is an expected row-level error: row, column ("" for none), code
// and a fragment of the message.
type bkRowError struct {
	row    int
	column string
	code   string
	msg    string
}

// TestImportRefusals: an import with any bad row writes nothing and reports
// every problem by row and column: malformed CSV, wrong types, unknown,
// system, READ_ONLY and HIDDEN columns, an owner column without
// changeOwner, missing mandatory values, references to invisible records.
func TestImportRefusals(t *testing.T) {
	w := bkNewWorld(t)
	account := recStr(recData(w.env, w.admin, `mutation { createAccount(input: {name: "Hidden Holdings"}) { id } }`, nil), "createAccount", "id")
	good := "Good,good@example.com,3\n"
	for _, tc := range []struct {
		name   string
		caller apitest.Caller
		module string
		csv    string
		want   []bkRowError
	}{
		{"malformed rows", w.rep, "CONTACTS", "lastName,email,tier\n" + good + "Bad,\"x\"y,1\nShort,a@b.io\n" + good + "Long,a@b.io,1,extra\n",
			[]bkRowError{{3, "", "BAD_USER_INPUT", "malformed CSV on line 3"}, {4, "", "BAD_USER_INPUT", "has 2 cells, the header has 3"}, {6, "", "BAD_USER_INPUT", "has 4 cells"}}},
		{"wrong types", w.rep, "CONTACTS", "lastName,email,tier\n" + good + "Ames,not-an-email,1\nBell,b@example.com,many\nCruz,c@example.com,1.5\n",
			[]bkRowError{{3, "email", "BAD_USER_INPUT", "not a valid address"}, {4, "tier", "BAD_USER_INPUT", "expected a number"}, {5, "tier", "BAD_USER_INPUT", "integer"}}},
		{"wrong types of deals", w.rep, "DEALS", "name,closingDate,stage\nOne,2026-13-01,Open\nTwo,tomorrow,Open\nThree,2026-01-31,Open\n",
			[]bkRowError{{2, "closingDate", "BAD_USER_INPUT", "date"}, {3, "closingDate", "BAD_USER_INPUT", "date"}}},
		{"unknown column", w.rep, "CONTACTS", "lastName,favouriteColour\nAmes,blue\n",
			[]bkRowError{{1, "favouriteColour", "BAD_USER_INPUT", "unknown column"}}},
		{"hidden standard column", w.rep, "CONTACTS", "lastName,bankAccountNumber\nAmes,DE123\n",
			[]bkRowError{{1, "bankAccountNumber", "FIELD_FORBIDDEN", "HIDDEN"}}},
		{"hidden custom column", w.rep, "CONTACTS", "lastName,iban\nAmes,DE123\n",
			[]bkRowError{{1, "iban", "FIELD_FORBIDDEN", "HIDDEN"}}},
		{"read-only column", w.rep, "DEALS", "name,amount\nBig,1000\n",
			[]bkRowError{{1, "amount", "FIELD_FORBIDDEN", "READ_ONLY"}}},
		{"system column", w.rep, "CONTACTS", "id,lastName\ncontact_1,Ames\n",
			[]bkRowError{{1, "id", "BAD_USER_INPUT", "set by the server"}}},
		{"repeated column", w.rep, "CONTACTS", "lastName,email,email\nAmes,a@b.io,c@d.io\n",
			[]bkRowError{{1, "email", "BAD_USER_INPUT", "twice"}}},
		{"owner column without changeOwner", w.other, "CONTACTS", "lastName,ownerId\nAmes," + w.otherID + "\n",
			[]bkRowError{{1, "ownerId", "FORBIDDEN", "changeOwner"}}},
		{"owner who is not a member", w.rep, "CONTACTS", "lastName,owner\nAmes,member_999999\nBell," + w.repID + "\n",
			[]bkRowError{{2, "owner", "BAD_USER_INPUT", "active member"}}},
		{"mandatory column missing", w.rep, "CONTACTS", "firstName,email\nAnn,a@b.io\n",
			[]bkRowError{{1, "lastName", "BAD_USER_INPUT", "required"}}},
		{"mandatory value empty", w.rep, "CONTACTS", "lastName,email\n" + "Ames,a@b.io\n" + " ,b@b.io\n",
			[]bkRowError{{3, "lastName", "BAD_USER_INPUT", "required"}}},
		{"reference to an invisible record", w.rep, "CONTACTS", "lastName,accountId\nAmes," + account + "\n",
			[]bkRowError{{2, "accountId", "BAD_USER_INPUT", "does not name a record you can see"}}},
		{"no data rows", w.rep, "CONTACTS", "lastName,email\n",
			[]bkRowError{{2, "", "BAD_USER_INPUT", "no data rows"}}},
		{"empty file", w.rep, "CONTACTS", "",
			[]bkRowError{{1, "", "BAD_USER_INPUT", "empty"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.state(t)
			res := bkImport(t, w.as(t), tc.caller, tc.module, tc.csv)
			if res.OK || res.Created != 0 || len(res.IDs) != 0 {
				t.Errorf("ok %v, created %d, ids %v: want nothing created", res.OK, res.Created, res.IDs)
			}
			var got []bkRowError
			for _, e := range res.Errors {
				col := ""
				if e.Column != nil {
					col = *e.Column
				}
				got = append(got, bkRowError{e.Row, col, e.Code, e.Message})
			}
			ok := len(got) == len(tc.want) && res.ErrorCount == len(tc.want)
			for i := 0; ok && i < len(got); i++ {
				g, w := got[i], tc.want[i]
				ok = g.row == w.row && g.column == w.column && g.code == w.code && strings.Contains(g.msg, w.msg)
			}
			if !ok {
				t.Errorf("errors (%d in all):\n got %v\nwant %v", res.ErrorCount, got, tc.want)
			}
			for _, e := range got {
				if strings.Contains(e.msg, "SECRET") || strings.Contains(strings.ToLower(e.msg), "sql") {
					t.Errorf("error message leaks: %q", e.msg)
				}
			}
			if after := w.state(t); after != before {
				t.Errorf("a refused import changed the database:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		caller apitest.Caller
		module string
		csv    string
		code   string
	}{
		{"profile without import", w.mgr, "CONTACTS", "lastName\nAmes\n", "FORBIDDEN"},
		{"profile without the module", w.other, "DEALS", "name\nBig\n", "FORBIDDEN"},
		{"too many rows", w.rep, "CONTACTS", "lastName\n" + strings.Repeat("Ames\n", 10001), "LIMIT_EXCEEDED"},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			before := w.state(t)
			recFails(w.as(t), tc.caller, tc.code, bkImportQ, obj{"m": tc.module, "csv": tc.csv})
			if after := w.state(t); after != before {
				t.Error("a refused import changed the database")
			}
		})
	}
}

// TestImportRecords: a valid file creates every row, owned by the importer
// unless an owner column (with changeOwner) says otherwise, in the access
// index at once; an administrator may write every field.
func TestImportRecords(t *testing.T) {
	w := bkNewWorld(t)
	for _, tc := range []struct {
		name   string
		caller apitest.Caller
		module string
		csv    string
		check  func(t *testing.T, res bkImportResult)
	}{
		{"restricted profile, custom and reference columns", w.rep, "CONTACTS",
			"lastName,firstName,email,tier,accountId,mailingCity\n" +
				"Ames,Ann,ann@example.com,3,,Berlin\n" +
				"\"Bell, Jr.\",\"=cmd\",bell@example.com,,,\"Paris\"\n",
			func(t *testing.T, res bkImportResult) {
				var rows []struct {
					LastName  string  `db:"last_name"`
					FirstName *string `db:"first_name"`
					Owner     int64   `db:"owner_id"`
					CreatedBy int64   `db:"created_by"`
					Custom    string  `db:"custom"`
				}
				keys := []int64{bkKey(res.IDs[0]), bkKey(res.IDs[1])}
				if err := w.env.DB.Select(&rows, `SELECT last_name, first_name, owner_id, created_by, custom::text AS custom FROM contacts WHERE id = ANY($1) ORDER BY id`, pqInt64s(keys)); err != nil {
					t.Fatal(err)
				}
				rep := fmt.Sprintf("member_%d", rows[0].Owner)
				if len(rows) != 2 || rows[0].LastName != "Ames" || rows[1].LastName != "Bell, Jr." || rep != w.repID ||
					rows[0].CreatedBy != rows[0].Owner || !strings.Contains(rows[0].Custom, `"tier": 3`) || *rows[1].FirstName != "=cmd" {
					t.Errorf("stored rows = %+v", rows)
				}
				ids, _ := bkListIDs(t, w.as(t), w.rep, "contacts", "ContactFilter", nil)
				for _, id := range res.IDs {
					if !slices.Contains(ids, id) {
						t.Errorf("imported %s is not in rep's list", id)
					}
				}
			}},
		{"owner column with changeOwner", w.rep, "DEALS", "name,owner,stage\nFor my manager," + w.mgrID + ",Open\nMine,,Open\n",
			func(t *testing.T, res bkImportResult) {
				if got := w.bkOwner(t, res.IDs[0]); got != w.mgrID {
					t.Errorf("first deal's owner = %s, want %s", got, w.mgrID)
				}
				if got := w.bkOwner(t, res.IDs[1]); got != w.repID {
					t.Errorf("second deal's owner = %s, want %s", got, w.repID)
				}
				ids, _ := bkListIDs(t, w.as(t), w.mgr, "deals", "DealFilter", nil)
				if !slices.Contains(ids, res.IDs[0]) {
					t.Error("the manager does not see the deal imported for them")
				}
				if n := bkCount(t, w.env, `SELECT count(*) FROM audit_log WHERE action = 'record.create' AND target_type = 'deals' AND target_id = ANY($1)`,
					pqInt64s([]int64{bkKey(res.IDs[0]), bkKey(res.IDs[1])})); n != 2 {
					t.Errorf("%d audit entries, want 2", n)
				}
			}},
		{"administrator, hidden-from-others columns", w.admin, "CONTACTS", "lastName,bankAccountNumber,iban\nVault,DE-1,IBAN-1\n",
			func(t *testing.T, res bkImportResult) {
				var bank, custom string
				if err := w.env.DB.QueryRow(`SELECT bank_account_number, custom::text FROM contacts WHERE id = $1`, bkKey(res.IDs[0])).Scan(&bank, &custom); err != nil {
					t.Fatal(err)
				}
				if bank != "DE-1" || !strings.Contains(custom, "IBAN-1") {
					t.Errorf("stored %q %s", bank, custom)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := bkImport(t, w.as(t), tc.caller, tc.module, tc.csv)
			if !res.OK || len(res.Errors) != 0 || res.Created != len(res.IDs) || res.Created != strings.Count(strings.TrimSpace(tc.csv), "\n") {
				t.Fatalf("import = %+v", res)
			}
			tc.check(t, res)
		})
	}
}

// TestImportTenThousandRows imports a 10,000-row file in one call and logs
// the time it took (measured, not asserted).
func TestImportTenThousandRows(t *testing.T) {
	w := bkNewWorld(t)
	const n = 10000
	var b strings.Builder
	b.WriteString("lastName,firstName,email,mailingCity,tier\n")
	for i := range n {
		fmt.Fprintf(&b, "Last%05d,First,f%05d@example.com,City %d,%d\n", i, i, i%50, i%7)
	}
	before, _ := bkListIDs(t, w.as(t), w.rep, "contacts", "ContactFilter", obj{"lastName": obj{"eq": "Cole"}})
	start := time.Now()
	res := bkImport(t, w.as(t), w.rep, "CONTACTS", b.String())
	elapsed := time.Since(start)
	t.Logf("imported %d rows (%d bytes of CSV) in %v", res.Created, b.Len(), elapsed)
	if !res.OK || res.Created != n || len(res.IDs) != n {
		t.Fatalf("import: ok %v, created %d, %d errors (first %+v)", res.OK, res.Created, res.ErrorCount, res.Errors[:min(3, len(res.Errors))])
	}
	if got := bkCount(t, w.env, `SELECT count(*) FROM contacts WHERE last_name LIKE 'Last%'`); got != n {
		t.Errorf("%d rows stored, want %d", got, n)
	}
	// The list query counts them from the access index, which learned every
	// one of them before the mutation returned.
	var out struct{ Contacts struct{ TotalCount int } }
	start = time.Now()
	w.env.Must(w.rep, `{ contacts(first: 1) { totalCount } }`, nil, &out)
	t.Logf("the next request, which replays the 10,000 index changes, took %v", time.Since(start))
	if want := n + len(before); out.Contacts.TotalCount != want {
		t.Errorf("rep's contacts totalCount = %d, want %d", out.Contacts.TotalCount, want)
	}
	start = time.Now()
	d := recData(w.as(t), w.rep, bkExportQ, obj{"m": "CONTACTS"})
	t.Logf("exported them back in %v (%d bytes)", time.Since(start), len(d["exportRecords"].(string)))
	// Ten pages of 1,000, all created at the same instant: the id breaks
	// the ties, so no row is exported twice or skipped.
	lines := strings.Split(strings.TrimSpace(d["exportRecords"].(string)), "\n")
	distinct := map[string]bool{}
	for _, l := range lines[1:] {
		distinct[strings.SplitN(l, ",", 2)[0]] = true
	}
	if len(lines) != n+len(before)+1 || len(distinct) != n+len(before) {
		t.Errorf("export has %d lines and %d distinct ids, want %d rows", len(lines), len(distinct), n+len(before))
	}
}
