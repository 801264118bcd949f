package csvio

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzRead feeds arbitrary uploads to the importer's reader: whatever comes
// in, it must answer rows, row errors or ErrTooLarge, every row as wide as
// the header and numbered in order, and never accept more than the limits.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"lastName,email\nLovelace,ada@example.com\n",
		"\ufefflastName , email\r\n\"Love\"\"lace\",\"a,b\"\n,,\n",
		"a,b\n1\n1,2,3\n\"unterminated\n",
		"",
		"\n\n\n",
		"name\n=cmd|' /C calc'!A0\n",
	} {
		f.Add(s)
	}
	lim := Limits{MaxBytes: 4096, MaxRows: 20}
	f.Fuzz(func(t *testing.T, data string) {
		header, rows, errs, err := Read(data, lim)
		if err != nil {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("an error other than ErrTooLarge: %v", err)
			}
			return
		}
		if len(data) > lim.MaxBytes {
			t.Fatalf("accepted %d bytes over the %d limit", len(data), lim.MaxBytes)
		}
		if len(rows) > lim.MaxRows {
			t.Fatalf("accepted %d rows over the %d limit", len(rows), lim.MaxRows)
		}
		if header == nil && len(errs) == 0 {
			t.Fatalf("no header and no error")
		}
		last := 1
		for _, r := range rows {
			if len(r.Cells) != len(header) {
				t.Fatalf("row %d has %d cells, the header %d", r.Number, len(r.Cells), len(header))
			}
			if r.Number <= last {
				t.Fatalf("row numbers out of order: %d after %d", r.Number, last)
			}
			last = r.Number
		}
	})
}

// FuzzExportRoundTrip: what the exporter writes the importer reads back
// cell for cell, and no text cell can start a spreadsheet formula.
func FuzzExportRoundTrip(f *testing.F) {
	f.Add("Lovelace", "=HYPERLINK(\"http://x\")", "a,\"b\"\nc")
	f.Add("", "+1", "@SUM(A1)")
	f.Add("-2", "\tTab", "\rCR")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		for _, s := range []string{a, b, c} {
			if strings.ContainsRune(s, '\x00') || !validUTF8(s) {
				return
			}
		}
		cells := []string{SafeText(a), SafeText(b), SafeText(c)}
		for _, cell := range cells {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Fatalf("cell %q can start a formula", cell)
			}
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if err := w.Write([]string{"x", "y", "z"}); err != nil {
			t.Fatal(err)
		}
		if err := w.Write(cells); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		_, rows, errs, err := Read(buf.String(), Limits{})
		if err != nil || len(errs) > 0 {
			t.Fatalf("the importer refused the exporter's output: %v %v\n%q", err, errs, buf.String())
		}
		if blank(cells) {
			if len(rows) != 0 {
				t.Fatalf("a blank row came back")
			}
			return
		}
		if len(rows) != 1 {
			t.Fatalf("%d rows came back, want 1", len(rows))
		}
		for i, cell := range cells {
			// encoding/csv reads \r\n inside a quoted cell as \n.
			if want := strings.ReplaceAll(cell, "\r\n", "\n"); rows[0].Cells[i] != want {
				t.Fatalf("cell %d: wrote %q, read %q", i, cell, rows[0].Cells[i])
			}
		}
	})
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
