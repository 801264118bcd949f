package shifts

import (
	"fmt"
	"time"
)

// Weekday is an alias so callers need not import time just to name a day.
type Weekday = time.Weekday

const minutesPerDay = 24 * 60

// ValidationError reports an input that cannot form a calendar. Field names
// the offending input (for example "zone", "days[1]", "breaks[0]") so API
// layers can map it to a user-facing field without parsing the message.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("shifts: invalid %s: %s", e.Field, e.Reason)
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// LocalTime is a wall-clock time of day (minute precision) in some calendar's
// time zone. The zero value is midnight.
//
// 24:00 is accepted, but only as an END (of a day or a break), meaning the
// midnight that ends the day; it lets "00:00–24:00" express a full day,
// because 00:00–00:00 would be a zero-length day, which is rejected.
type LocalTime struct{ Hour, Minute int }

// ParseLocalTime parses strictly "HH:MM" (two digits each, 00:00–23:59, or
// 24:00). Strictness keeps String a perfect round trip of stored values.
func ParseLocalTime(s string) (LocalTime, error) {
	if len(s) != 5 || s[2] != ':' || !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[3]) || !isDigit(s[4]) {
		return LocalTime{}, invalid("localTime", "%q is not in HH:MM form", s)
	}
	lt := LocalTime{Hour: int(s[0]-'0')*10 + int(s[1]-'0'), Minute: int(s[3]-'0')*10 + int(s[4]-'0')}
	if !lt.valid() {
		return LocalTime{}, invalid("localTime", "%q is out of range (00:00–23:59, or 24:00 as an end)", s)
	}
	return lt, nil
}

// MustParseLocalTime is ParseLocalTime for constants in code and tests; it
// panics on bad input.
func MustParseLocalTime(s string) LocalTime {
	lt, err := ParseLocalTime(s)
	if err != nil {
		panic(err)
	}
	return lt
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func (t LocalTime) String() string { return fmt.Sprintf("%02d:%02d", t.Hour, t.Minute) }

// valid accepts 00:00–23:59 and 24:00; whether 24:00 is allowed in a given
// position (only as an end) is checked by the caller.
func (t LocalTime) valid() bool {
	if t.Hour == 24 {
		return t.Minute == 0
	}
	return t.Hour >= 0 && t.Hour < 24 && t.Minute >= 0 && t.Minute < 60
}

// minutes returns minutes since midnight (0..1440).
func (t LocalTime) minutes() int { return t.Hour*60 + t.Minute }

// DayRange is a set of days that share the same hours, e.g. Monday–Friday
// 09:00–17:00. End <= Start means the hours cross midnight.
type DayRange struct {
	Days       []time.Weekday
	Start, End LocalTime
}

// DayHours expands the range into one DayHours per listed day, the form the
// constructors take.
func (r DayRange) DayHours() []DayHours {
	out := make([]DayHours, 0, len(r.Days))
	for _, d := range r.Days {
		out = append(out, DayHours{Day: d, Start: r.Start, End: r.End})
	}
	return out
}

// DayHours are the hours of one working day. The period starts on Day at
// Start; when End <= Start (in wall-clock terms) it ends at End on the next
// day, i.e. it crosses midnight. End == Start is rejected as zero-length; use
// 00:00–24:00 for a full day.
type DayHours struct {
	Day        time.Weekday
	Start, End LocalTime
}

// Break is an unpaid pause, in the calendar's local time, that applies to
// every working day. It must lie inside every working day's hours. A break
// with End < Start crosses midnight and is only valid inside a shift that
// also crosses midnight; a break whose times are earlier than the shift start
// is read as falling after midnight (e.g. 02:00–02:30 in a 22:00–06:00 shift).
type Break struct{ Start, End LocalTime }

// Date is a civil (calendar) date with no time zone; holidays are dates in
// the zone of the calendar they belong to.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses "YYYY-MM-DD" and rejects impossible dates (2026-02-30).
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, invalid("date", "%q is not a valid YYYY-MM-DD date", s)
	}
	return DateOf(t), nil
}

// MustParseDate is ParseDate for constants in code and tests; it panics on
// bad input.
func MustParseDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// DateOf returns the civil date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// noon is used for date arithmetic: in UTC there is no DST, so adding days
// is exact and normalises out-of-range days.
func (d Date) noon() time.Time { return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC) }

// AddDays returns the date n days later (n may be negative).
func (d Date) AddDays(n int) Date { return DateOf(d.noon().AddDate(0, 0, n)) }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.noon().Weekday() }

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int {
	switch {
	case d.Year != o.Year:
		return cmpInt(d.Year, o.Year)
	case d.Month != o.Month:
		return cmpInt(int(d.Month), int(o.Month))
	default:
		return cmpInt(d.Day, o.Day)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// valid reports whether d names a real day (struct literals can say 2026-13-40).
func (d Date) valid() bool { return d.Month >= 1 && d.Month <= 12 && DateOf(d.noon()) == d }

// Holiday is a named day off, a civil date in the owning calendar's zone.
// A holiday switches off the working periods that START on that date; for a
// midnight-crossing shift the night that starts the evening before the
// holiday is still worked, and the night that starts on the holiday is off.
type Holiday struct {
	Date Date
	Name string
}

// HolidayDates extracts the dates the constructors take.
func HolidayDates(hs []Holiday) []Date {
	out := make([]Date, len(hs))
	for i, h := range hs {
		out[i] = h.Date
	}
	return out
}

// Interval is a real-time half-open span [Start, End).
type Interval struct{ Start, End time.Time }

// Duration is the real elapsed time of the interval.
func (iv Interval) Duration() time.Duration { return iv.End.Sub(iv.Start) }

// Contains reports whether t lies in [Start, End).
func (iv Interval) Contains(t time.Time) bool { return !t.Before(iv.Start) && t.Before(iv.End) }
