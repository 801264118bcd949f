package csvio_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"warden/csvio"
)

func TestExportSafeText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"Acme", "Acme"},
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1 555", "'+1 555"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=1", "a=1"},
		{"'quoted", "'quoted"},
	} {
		if got := csvio.SafeText(tc.in); got != tc.want {
			t.Errorf("SafeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestImportRead(t *testing.T) {
	type row = csvio.Row
	type rerr = csvio.RowError
	for _, tc := range []struct {
		name     string
		in       string
		lim      csvio.Limits
		header   []string
		rows     []row
		errs     []rerr
		tooLarge bool
	}{
		{name: "header and rows", in: "\ufeff lastName ,email\nDoe,d@x.io\r\nRoe,\n",
			header: []string{"lastName", "email"}, rows: []row{{2, []string{"Doe", "d@x.io"}}, {3, []string{"Roe", ""}}}},
		{name: "quoted newline and comma", in: "a,b\n\"x,\ny\",2\n",
			header: []string{"a", "b"}, rows: []row{{2, []string{"x,\ny", "2"}}}},
		{name: "blank rows skipped", in: "a,b\n1,2\n\n,\n3,4\n",
			header: []string{"a", "b"}, rows: []row{{2, []string{"1", "2"}}, {4, []string{"3", "4"}}}},
		{name: "short and long rows", in: "a,b\n1\n1,2,3\n5,6\n",
			header: []string{"a", "b"}, rows: []row{{4, []string{"5", "6"}}},
			errs: []rerr{{Row: 2, Message: "the row has 1 cells, the header has 2"}, {Row: 3, Message: "the row has 3 cells, the header has 2"}}},
		{name: "stray quote", in: "a,b\n1,x\"y\"\n3,4\n",
			header: []string{"a", "b"}, rows: []row{{3, []string{"3", "4"}}},
			errs: []rerr{{Row: 2, Message: "malformed CSV on line 2, column 4: bare \" in non-quoted-field"}}},
		{name: "empty", in: "", errs: []rerr{{Row: 1, Message: "the CSV is empty: a header row naming the fields is required"}}},
		{name: "too many bytes", in: "a\n1\n", lim: csvio.Limits{MaxBytes: 3}, tooLarge: true},
		{name: "too many rows", in: "a\n1\n2\n3\n", lim: csvio.Limits{MaxRows: 2}, tooLarge: true},
		{name: "rows at the limit", in: "a\n1\n2\n", lim: csvio.Limits{MaxRows: 2},
			header: []string{"a"}, rows: []row{{2, []string{"1"}}, {3, []string{"2"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, rows, errs, err := csvio.Read(tc.in, tc.lim)
			if tc.tooLarge {
				if !errors.Is(err, csvio.ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, tc.header) || !reflect.DeepEqual(rows, tc.rows) || !reflect.DeepEqual(errs, tc.errs) {
				t.Errorf("got\n header %q\n rows %v\n errs %v\nwant\n header %q\n rows %v\n errs %v", h, rows, errs, tc.header, tc.rows, tc.errs)
			}
		})
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	var b strings.Builder
	w := csvio.NewWriter(&b)
	_ = w.Write([]string{"id", "name"})
	_ = w.Write([]string{"deal_1", csvio.SafeText("=1+1, \"quoted\"\nline")})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	h, rows, errs, err := csvio.Read(b.String(), csvio.Limits{})
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	if !reflect.DeepEqual(h, []string{"id", "name"}) || len(rows) != 1 || rows[0].Cells[1] != "'=1+1, \"quoted\"\nline" {
		t.Errorf("round trip: %q %v", h, rows)
	}
}
