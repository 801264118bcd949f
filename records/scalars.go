package records

import (
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// The Time scalar: RFC 3339 with an offset. Its own marshalers (rather than
// gqlgen's) make a malformed or out-of-range time a client error
// (BAD_USER_INPUT) instead of an internal one.

const (
	minYear = 1000
	maxYear = 9999
)

// MarshalTime writes a time as RFC 3339 with nanoseconds.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.Format(time.RFC3339Nano)))
	})
}

// UnmarshalTime reads an RFC 3339 time between the years 1000 and 9999.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, NewInputError("a time must be an RFC 3339 string such as 2026-01-31T09:00:00Z")
	}
	return ParseTime(s)
}

// ParseTime reads an RFC 3339 time between the years 1000 and 9999.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, NewInputError("time %q: want RFC 3339, such as 2026-01-31T09:00:00Z", s)
	}
	if y := t.UTC().Year(); y < minYear || y > maxYear {
		return time.Time{}, NewInputError("time %q is out of range (years %d to %d)", s, minYear, maxYear)
	}
	return t, nil
}
