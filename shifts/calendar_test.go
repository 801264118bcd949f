package shifts

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestBreaksAtShiftEdges(t *testing.T) {
	days := DayRange{Days: weekdays, Start: lt("09:00"), End: lt("17:00")}.DayHours()
	edges := []Break{{lt("09:00"), lt("09:30")}, {lt("16:30"), lt("17:00")}}
	c := mustShift(t, "UTC", days, edges, nil, nil)
	mon := func(s string) time.Time { return utc(t, "2026-01-05T"+s+":00Z") } // a Monday

	working := []struct {
		name string
		at   string
		want bool
	}{
		{"shift start is inside the first break", "09:00", false},
		{"first break end is working", "09:30", true},
		{"last minute before second break", "16:29", true},
		{"second break start", "16:30", false},
		{"shift end", "17:00", false},
	}
	for _, tc := range working {
		t.Run("IsWorking/"+tc.name, func(t *testing.T) {
			if got := c.IsWorking(mon(tc.at)); got != tc.want {
				t.Errorf("IsWorking(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}

	add := []struct {
		name    string
		from    string
		minutes int
		want    string
	}{
		{"zero minutes rolls forward past the break", "2026-01-05T09:00:00Z", 0, "2026-01-05T09:30:00Z"},
		{"whole day ends at the second break", "2026-01-05T09:00:00Z", 420, "2026-01-05T16:30:00Z"},
		{"one more minute is Tuesday after the break", "2026-01-05T09:00:00Z", 421, "2026-01-06T09:31:00Z"},
		{"from inside the second break", "2026-01-05T16:45:00Z", 1, "2026-01-06T09:31:00Z"},
	}
	for _, tc := range add {
		t.Run("Add/"+tc.name, func(t *testing.T) {
			sameInstant(t, "AddWorkingMinutes", mustAdd(t, c, utc(t, tc.from), tc.minutes), utc(t, tc.want))
		})
	}

	t.Run("break covering the whole shift leaves an empty calendar", func(t *testing.T) {
		empty := mustShift(t, "UTC", days, []Break{{lt("09:00"), lt("17:00")}}, nil, nil)
		if ivs := empty.WorkingIntervals(mon("00:00"), mon("00:00").AddDate(0, 1, 0)); len(ivs) != 0 {
			t.Errorf("got intervals %v, want none", ivs)
		}
		_, err := empty.AddWorkingMinutes(mon("00:00"), 1)
		var nw *NoWorkingTimeError
		if !errors.As(err, &nw) {
			t.Errorf("err = %v, want NoWorkingTimeError", err)
		}
	})
}

func TestHolidays(t *testing.T) {
	berlin := "Europe/Berlin"
	nineToFive := &DayRange{Days: weekdays, Start: lt("09:00"), End: lt("17:00")}
	thuMorning := utc(t, "2026-12-24T08:00:00Z") // Thu 09:00 CET

	tests := []struct {
		name    string
		cal     func(t *testing.T) *Calendar
		from    time.Time
		minutes int
		want    string
	}{
		{"no holiday: two days end Friday",
			func(t *testing.T) *Calendar {
				return mustBusiness(t, Custom, berlin, time.Monday, nineToFive, nil, nil)
			},
			thuMorning, 960, "2026-12-25T16:00:00Z"},
		{"org holiday on Friday moves the deadline to Monday",
			func(t *testing.T) *Calendar {
				return mustBusiness(t, Custom, berlin, time.Monday, nineToFive, nil, []Date{date("2026-12-25")})
			},
			thuMorning, 960, "2026-12-28T16:00:00Z"},
		{"shift and org holidays are merged",
			func(t *testing.T) *Calendar {
				return mustShift(t, berlin, nineToFive.DayHours(), nil, []Date{date("2026-12-28")}, []Date{date("2026-12-25")})
			},
			thuMorning, 960, "2026-12-29T16:00:00Z"},
		{"24x5 ten days over Christmas and New Year ends at midnight",
			func(t *testing.T) *Calendar {
				return mustBusiness(t, TwentyFourFive, "UTC", time.Monday, nil, nil, []Date{date("2026-12-25"), date("2027-01-01")})
			},
			utc(t, "2026-12-21T00:00:00Z"), 10 * 1440, "2027-01-06T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cal(t)
			got := mustAdd(t, c, tc.from, tc.minutes)
			sameInstant(t, "AddWorkingMinutes", got, utc(t, tc.want))
			if back := c.WorkingMinutesBetween(tc.from, got); back != tc.minutes {
				t.Errorf("WorkingMinutesBetween = %d, want %d", back, tc.minutes)
			}
		})
	}

	// A holiday switches off the periods that START on that date.
	night := DayRange{Days: weekdays, Start: lt("22:00"), End: lt("06:00")}.DayHours()
	nights := []struct {
		name    string
		holiday string
		at      string
		want    bool
	}{
		{"Thursday night runs into a Friday holiday", "2026-01-09", "2026-01-09T02:00:00Z", true},
		{"Friday night is off on a Friday holiday", "2026-01-09", "2026-01-09T23:00:00Z", false},
		{"Friday night after midnight is off too", "2026-01-09", "2026-01-10T02:00:00Z", false},
		{"a Thursday holiday switches off Thursday night", "2026-01-08", "2026-01-09T02:00:00Z", false},
		{"a Thursday holiday leaves Friday night", "2026-01-08", "2026-01-09T23:00:00Z", true},
	}
	for _, tc := range nights {
		t.Run(tc.name, func(t *testing.T) {
			c := mustShift(t, "UTC", night, nil, []Date{date(tc.holiday)}, nil)
			if got := c.IsWorking(utc(t, tc.at)); got != tc.want {
				t.Errorf("IsWorking(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

func TestWeekIntervals(t *testing.T) {
	ny := "America/New_York"
	tests := []struct {
		name        string
		kind        BusinessHoursKind
		weekStart   time.Weekday
		at          string
		wantStart   string
		wantEnd     string
		wantCount   int
		wantMinutes int
	}{
		// The week of 2026-03-08 contains New York's spring-forward: 167h.
		{"24x7 sunday start", TwentyFourSeven, time.Sunday, "2026-03-11T16:00:00Z", "2026-03-08T05:00:00Z", "2026-03-15T04:00:00Z", 1, 167 * 60},
		{"24x7 monday start", TwentyFourSeven, time.Monday, "2026-03-11T16:00:00Z", "2026-03-09T04:00:00Z", "2026-03-16T04:00:00Z", 1, 168 * 60},
		{"24x7 monday start on a sunday is the previous week", TwentyFourSeven, time.Monday, "2026-03-08T15:00:00Z", "2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z", 1, 167 * 60},
		{"24x7 saturday start", TwentyFourSeven, time.Saturday, "2026-03-11T16:00:00Z", "2026-03-07T05:00:00Z", "2026-03-14T04:00:00Z", 1, 167 * 60},
		{"24x5 sunday start", TwentyFourFive, time.Sunday, "2026-03-11T16:00:00Z", "2026-03-09T04:00:00Z", "2026-03-14T04:00:00Z", 1, 5 * 1440},
		{"24x5 wednesday start splits the working week", TwentyFourFive, time.Wednesday, "2026-03-11T16:00:00Z", "2026-03-11T04:00:00Z", "2026-03-18T04:00:00Z", 2, 5 * 1440},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustBusiness(t, tc.kind, ny, tc.weekStart, nil, nil, nil)
			ivs := c.WeekIntervals(utc(t, tc.at))
			if len(ivs) != tc.wantCount {
				t.Fatalf("got %d intervals %v, want %d", len(ivs), ivs, tc.wantCount)
			}
			sameInstant(t, "week's first working instant", ivs[0].Start, utc(t, tc.wantStart))
			sameInstant(t, "week's last working instant", ivs[len(ivs)-1].End, utc(t, tc.wantEnd))
			if got := sumMinutes(ivs); got != tc.wantMinutes {
				t.Errorf("minutes = %d, want %d", got, tc.wantMinutes)
			}
		})
	}

	t.Run("shift calendar with the org's sunday week start", func(t *testing.T) {
		shift := mustShift(t, "UTC", everyDay("09:00", "10:00"), nil, nil, nil)
		if shift.WeekStart() != time.Monday {
			t.Fatalf("default week start = %s, want Monday", shift.WeekStart())
		}
		sun, err := shift.WithWeekStart(time.Sunday)
		if err != nil {
			t.Fatal(err)
		}
		at := utc(t, "2026-01-07T12:00:00Z") // Wednesday
		sameInstant(t, "monday week", shift.WeekIntervals(at)[0].Start, utc(t, "2026-01-05T09:00:00Z"))
		sameInstant(t, "sunday week", sun.WeekIntervals(at)[0].Start, utc(t, "2026-01-04T09:00:00Z"))
		if _, err := shift.WithWeekStart(7); err == nil {
			t.Error("WithWeekStart(7) succeeded, want error")
		}
	})
}

func TestBusinessHoursKinds(t *testing.T) {
	perDay := []DayHours{
		{time.Monday, lt("09:00"), lt("17:00")},
		{time.Tuesday, lt("09:00"), lt("17:00")},
		{time.Wednesday, lt("09:00"), lt("17:00")},
		{time.Thursday, lt("09:00"), lt("17:00")},
		{time.Friday, lt("09:00"), lt("13:00")},
		{time.Saturday, lt("10:00"), lt("14:00")},
	}
	monWedFri := &DayRange{Days: []time.Weekday{time.Monday, time.Wednesday, time.Friday}, Start: lt("08:00"), End: lt("12:00")}
	type calFn func(t *testing.T) *Calendar
	tests := []struct {
		name    string
		cal     calFn
		from    string
		minutes int
		want    string
	}{
		{"24x7 three days is 72 hours", func(t *testing.T) *Calendar {
			return mustBusiness(t, TwentyFourSeven, "UTC", time.Monday, nil, nil, nil)
		}, "2026-01-09T23:59:00Z", 3 * 1440, "2026-01-12T23:59:00Z"},
		{"24x5 friday 23:59 plus 2 minutes is monday 00:01", func(t *testing.T) *Calendar {
			return mustBusiness(t, TwentyFourFive, "UTC", time.Monday, nil, nil, nil)
		}, "2026-01-09T23:59:00Z", 2, "2026-01-12T00:01:00Z"},
		{"24x5 new york weekend with the clock change", func(t *testing.T) *Calendar {
			return mustBusiness(t, TwentyFourFive, "America/New_York", time.Monday, nil, nil, nil)
		}, "2026-03-07T04:59:00Z", 2, "2026-03-09T04:01:00Z"},
		{"24x5 ignores hour arguments", func(t *testing.T) *Calendar {
			return mustBusiness(t, TwentyFourFive, "UTC", time.Monday, monWedFri, perDay, nil)
		}, "2026-01-09T23:59:00Z", 2, "2026-01-12T00:01:00Z"},
		{"custom per day: short friday then saturday", func(t *testing.T) *Calendar {
			return mustBusiness(t, Custom, "Europe/Berlin", time.Monday, nil, perDay, nil)
		}, "2026-01-09T11:00:00Z", 120, "2026-01-10T10:00:00Z"},
		{"custom same hours on mon wed fri", func(t *testing.T) *Calendar {
			return mustBusiness(t, Custom, "UTC", time.Monday, monWedFri, nil, nil)
		}, "2026-01-05T11:00:00Z", 120, "2026-01-07T09:00:00Z"},
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

	t.Run("custom per day week totals 40 hours", func(t *testing.T) {
		c := mustBusiness(t, Custom, "Europe/Berlin", time.Monday, nil, perDay, nil)
		ivs := c.WeekIntervals(utc(t, "2026-01-07T12:00:00Z"))
		if len(ivs) != 6 || sumMinutes(ivs) != 40*60 {
			t.Errorf("got %d intervals, %d minutes; want 6, 2400", len(ivs), sumMinutes(ivs))
		}
	})
	t.Run("24x7 is one merged interval", func(t *testing.T) {
		c := mustBusiness(t, TwentyFourSeven, "Europe/Berlin", time.Monday, nil, nil, nil)
		from, to := utc(t, "2026-03-01T00:00:00Z"), utc(t, "2026-04-01T00:00:00Z")
		ivs := c.WorkingIntervals(from, to)
		if len(ivs) != 1 || !ivs[0].Start.Equal(from) || !ivs[0].End.Equal(to) {
			t.Errorf("got %v, want the whole range", ivs)
		}
	})
	t.Run("member without a shift works business hours", func(t *testing.T) {
		org := mustBusiness(t, TwentyFourFive, "UTC", time.Monday, nil, nil, nil)
		shift := mustShift(t, "UTC", everyDay("22:00", "06:00"), nil, nil, nil)
		if ForMember(org, nil) != org || ForMember(org, shift) != shift {
			t.Error("ForMember picked the wrong calendar")
		}
	})
}

func TestCalendarIsSafeForConcurrentUse(t *testing.T) {
	c := mustShift(t, "Europe/Berlin", everyDay("22:00", "06:00"), []Break{{lt("02:00"), lt("02:30")}}, []Date{date("2026-03-29")}, nil)
	from := utc(t, "2026-03-25T00:00:00Z")
	want := mustAdd(t, c, from, 2000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := c.AddWorkingMinutes(from, 2000)
			if err != nil || !got.Equal(want) {
				t.Errorf("concurrent AddWorkingMinutes = %v, %v; want %v", got, err, want)
			}
			_ = c.WeekIntervals(from)
			_ = c.IsWorking(from)
		})
	}
	wg.Wait()
}
