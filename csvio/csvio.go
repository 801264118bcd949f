package csvio

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Writer writes CSV rows. Text that a spreadsheet would run as a formula is
// neutralised (see SafeText); values the server formats itself (numbers,
// dates, ids) are written as they are.
type Writer struct {
	w *csv.Writer
}

// NewWriter writes to w with "\n" line ends.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w)} }

// Write writes one row; Flush before reading what was written.
func (w *Writer) Write(row []string) error { return w.w.Write(row) }

// Flush writes any buffered data and reports an earlier write's error.
func (w *Writer) Flush() error {
	w.w.Flush()
	return w.w.Error()
}

// SafeText returns s so that a spreadsheet shows it as text: a cell that
// starts with = + - @, a tab or a carriage return is one Excel, LibreOffice
// and Google Sheets may evaluate as a formula (OWASP "CSV injection"), so it
// gets a leading apostrophe, which they hide and treat as "this is text".
func SafeText(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// Limits bound what Read accepts.
type Limits struct {
	MaxBytes int // the whole input
	MaxRows  int // data rows, the header not counted
}

// Row is one data row: its number (the header is row 1, the first data row
// is row 2) and its cells.
type Row struct {
	Number int
	Cells  []string
}

// RowError is a problem of one row (or, with row 1, of the header); Column
// is the header of the cell at fault, "" when the whole row is.
type RowError struct {
	Row     int
	Column  string
	Message string
}

func (e RowError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("row %d, column %s: %s", e.Row, e.Column, e.Message)
	}
	return fmt.Sprintf("row %d: %s", e.Row, e.Message)
}

// ErrTooLarge is returned when the input exceeds a limit; nothing of it is
// worth reporting row by row.
var ErrTooLarge = errors.New("csvio: input too large")

// Read parses a CSV with a header row. Every row is read: rows that cannot
// be parsed (a stray quote, a cell count other than the header's) come back
// as RowErrors, in order, and the well-formed rows as Rows. Blank lines, and
// rows whose cells are all empty, are skipped. The header's cells are
// trimmed of surrounding spaces and a UTF-8 byte order mark. An input over
// the limits fails ErrTooLarge.
func Read(data string, lim Limits) (header []string, rows []Row, errs []RowError, err error) {
	if lim.MaxBytes > 0 && len(data) > lim.MaxBytes {
		return nil, nil, nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), lim.MaxBytes)
	}
	data = strings.TrimPrefix(data, "\ufeff")
	r := csv.NewReader(strings.NewReader(data))
	r.FieldsPerRecord = -1 // counted here, to say which row is short
	r.ReuseRecord = false
	n := 0
	for {
		rec, rerr := r.Read()
		if rerr == io.EOF {
			break
		}
		n++
		if rerr != nil {
			var pe *csv.ParseError
			msg := rerr.Error()
			if errors.As(rerr, &pe) {
				msg = fmt.Sprintf("malformed CSV on line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
			}
			if header == nil {
				return nil, nil, []RowError{{Row: n, Message: "the header row is malformed: " + msg}}, nil
			}
			errs = append(errs, RowError{Row: n, Message: msg})
			continue
		}
		if header == nil {
			header = make([]string, len(rec))
			for i, h := range rec {
				header[i] = strings.TrimSpace(h)
			}
			continue
		}
		if lim.MaxRows > 0 && n-1 > lim.MaxRows {
			return nil, nil, nil, fmt.Errorf("%w: more than %d rows", ErrTooLarge, lim.MaxRows)
		}
		if len(rec) != len(header) {
			errs = append(errs, RowError{Row: n, Message: fmt.Sprintf("the row has %d cells, the header has %d", len(rec), len(header))})
			continue
		}
		if blank(rec) {
			continue // what spreadsheets leave after the last row: ",,,"
		}
		rows = append(rows, Row{Number: n, Cells: rec})
	}
	if header == nil {
		return nil, nil, []RowError{{Row: 1, Message: "the CSV is empty: a header row naming the fields is required"}}, nil
	}
	return header, rows, errs, nil
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}
