package shifts

import (
	"testing"
	"time"
)

func lt(s string) LocalTime { return MustParseLocalTime(s) }

func date(s string) Date { return MustParseDate(s) }

// utc parses an RFC 3339 instant; expectations are written as instants so
// they do not depend on the code under test's own wall-time resolution.
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad instant %q: %v", s, err)
	}
	return v
}

func loc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var allDays = []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

func everyDay(start, end string) []DayHours {
	return DayRange{Days: allDays, Start: lt(start), End: lt(end)}.DayHours()
}

func mustShift(t *testing.T, zone string, days []DayHours, breaks []Break, shiftHol, orgHol []Date) *Calendar {
	t.Helper()
	c, err := NewShiftCalendar(zone, days, breaks, shiftHol, orgHol)
	if err != nil {
		t.Fatalf("NewShiftCalendar: %v", err)
	}
	return c
}

func mustBusiness(t *testing.T, kind BusinessHoursKind, zone string, ws time.Weekday, same *DayRange, per []DayHours, hol []Date) *Calendar {
	t.Helper()
	c, err := NewBusinessHours(kind, zone, ws, same, per, hol)
	if err != nil {
		t.Fatalf("NewBusinessHours: %v", err)
	}
	return c
}

func mustAdd(t *testing.T, c *Calendar, from time.Time, n int) time.Time {
	t.Helper()
	got, err := c.AddWorkingMinutes(from, n)
	if err != nil {
		t.Fatalf("AddWorkingMinutes(%s, %d): %v", from, n, err)
	}
	return got
}

func sameInstant(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s (%s), want %s (%s)", what, got.UTC().Format(time.RFC3339), got.Format(time.RFC3339), want.UTC().Format(time.RFC3339), want.Format(time.RFC3339))
	}
}

func sumMinutes(ivs []Interval) int {
	var d time.Duration
	for _, iv := range ivs {
		d += iv.Duration()
	}
	return int(d / time.Minute)
}
