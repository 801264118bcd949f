package shifts

import (
	"testing"
	"time"
)

// The costs availability and assignment pay per member: one IsWorking per
// candidate, one AddWorkingMinutes per task due time.

func benchCalendar(b *testing.B) *Calendar {
	b.Helper()
	days := DayRange{Days: weekdays, Start: lt("22:00"), End: lt("06:00")}.DayHours()
	c, err := NewShiftCalendar("America/New_York", days, []Break{{lt("02:00"), lt("02:30")}},
		[]Date{date("2026-03-06"), date("2026-07-03")}, []Date{date("2026-12-25")})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkIsWorking(b *testing.B) {
	c := benchCalendar(b)
	at := time.Date(2026, 3, 9, 7, 0, 0, 0, time.UTC)
	for b.Loop() {
		c.IsWorking(at)
	}
}

func BenchmarkAddWorkingMinutesOneWeek(b *testing.B) {
	c := benchCalendar(b)
	from := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	for b.Loop() {
		if _, err := c.AddWorkingMinutes(from, 5*450); err != nil {
			b.Fatal(err)
		}
	}
}
