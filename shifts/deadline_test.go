package shifts

import (
	"testing"
	"time"
)

// Long deadlines that cross a holiday and a daylight-saving change at once,
// in two zones: the holiday's day is skipped whole and the clock change
// moves the UTC hour of the working day without changing its length.
func TestBusinessDeadlineAcrossHolidayAndDST(t *testing.T) {
	berlinDays := DayRange{Days: weekdays, Start: lt("09:00"), End: lt("17:00")}.DayHours()
	lunch := []Break{{lt("12:00"), lt("12:30")}}
	nyHours := &DayRange{Days: weekdays, Start: lt("08:00"), End: lt("16:00")}
	tests := []struct {
		name    string
		cal     func(t *testing.T) *Calendar
		from    string
		minutes int
		want    string
	}{
		// Thu 26, Fri 27, (clocks change Sun 29), Mon 30 holiday, Tue 31,
		// Wed 1, Thu 2: five days of 7.5h end Thursday 17:00 CEST.
		{"berlin shift with lunch, five days over a holiday and spring-forward",
			func(t *testing.T) *Calendar {
				return mustShift(t, "Europe/Berlin", berlinDays, lunch, []Date{date("2026-03-30")}, nil)
			}, "2026-03-26T08:00:00Z", 5 * 450, "2026-04-02T15:00:00Z"},
		{"berlin shift: the same five days in autumn end an hour later in UTC",
			func(t *testing.T) *Calendar {
				return mustShift(t, "Europe/Berlin", berlinDays, lunch, nil, []Date{date("2026-10-26")})
			}, "2026-10-22T07:00:00Z", 5 * 450, "2026-10-29T16:00:00Z"},
		// Thu 5 (EST), Fri 6 org holiday, (clocks change Sun 8), Mon 9,
		// Tue 10 (EDT): three days end Tuesday 16:00 EDT.
		{"new york business hours, three days over a holiday and spring-forward",
			func(t *testing.T) *Calendar {
				return mustBusiness(t, Custom, "America/New_York", time.Sunday, nyHours, nil, []Date{date("2026-03-06")})
			}, "2026-03-05T13:00:00Z", 3 * 480, "2026-03-10T20:00:00Z"},
		{"new york: deadline starting on the holiday starts Monday",
			func(t *testing.T) *Calendar {
				return mustBusiness(t, Custom, "America/New_York", time.Sunday, nyHours, nil, []Date{date("2026-03-06")})
			}, "2026-03-06T14:00:00Z", 60, "2026-03-09T13:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cal(t)
			from := utc(t, tc.from)
			got := mustAdd(t, c, from, tc.minutes)
			sameInstant(t, "AddWorkingMinutes", got, utc(t, tc.want))
			if back := c.WorkingMinutesBetween(from, got); back != tc.minutes {
				t.Errorf("WorkingMinutesBetween = %d, want %d", back, tc.minutes)
			}
		})
	}
}
