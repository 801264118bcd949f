package shifts

import (
	"testing"
	"time"
)

func TestLocalInstantResolution(t *testing.T) {
	tests := []struct {
		name   string
		zone   string
		date   string
		minute int
		want   string
	}{
		{"new york plain time", "America/New_York", "2026-03-08", 1 * 60, "2026-03-08T06:00:00Z"},
		{"new york gap maps forward", "America/New_York", "2026-03-08", 2*60 + 30, "2026-03-08T07:30:00Z"},
		{"new york gap start maps to transition", "America/New_York", "2026-03-08", 2 * 60, "2026-03-08T07:00:00Z"},
		{"new york ambiguous takes first", "America/New_York", "2026-11-01", 1*60 + 30, "2026-11-01T05:30:00Z"},
		{"berlin gap maps forward", "Europe/Berlin", "2026-03-29", 2*60 + 30, "2026-03-29T01:30:00Z"},
		{"berlin ambiguous takes first", "Europe/Berlin", "2026-10-25", 2*60 + 30, "2026-10-25T00:30:00Z"},
		{"minute past 1440 is next day", "Europe/Berlin", "2026-03-28", 24*60 + 6*60, "2026-03-29T04:00:00Z"},
		{"24:00 is next midnight", "UTC", "2026-12-31", 24 * 60, "2027-01-01T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := localInstant(loc(t, tc.zone), date(tc.date), tc.minute)
			sameInstant(t, "localInstant", got, utc(t, tc.want))
		})
	}
}

// A 01:00–05:00 shift on the nights the clocks change: real working time is
// 3h when an hour is skipped and 5h when one is repeated.
func TestDSTRealWorkingTime(t *testing.T) {
	tests := []struct {
		name        string
		zone        string
		day         string
		wantStart   string
		wantEnd     string
		wantMinutes int
	}{
		{"new york spring forward", "America/New_York", "2026-03-08", "2026-03-08T06:00:00Z", "2026-03-08T09:00:00Z", 180},
		{"new york fall back", "America/New_York", "2026-11-01", "2026-11-01T05:00:00Z", "2026-11-01T10:00:00Z", 300},
		{"new york ordinary day", "America/New_York", "2026-03-09", "2026-03-09T05:00:00Z", "2026-03-09T09:00:00Z", 240},
		{"berlin spring forward", "Europe/Berlin", "2026-03-29", "2026-03-29T00:00:00Z", "2026-03-29T03:00:00Z", 180},
		{"berlin fall back", "Europe/Berlin", "2026-10-25", "2026-10-24T23:00:00Z", "2026-10-25T04:00:00Z", 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustShift(t, tc.zone, everyDay("01:00", "05:00"), nil, nil, nil)
			d := date(tc.day)
			l := loc(t, tc.zone)
			from := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, l)
			to := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, l)
			ivs := c.WorkingIntervals(from, to)
			if len(ivs) != 1 {
				t.Fatalf("got %d intervals %v, want 1", len(ivs), ivs)
			}
			sameInstant(t, "start", ivs[0].Start, utc(t, tc.wantStart))
			sameInstant(t, "end", ivs[0].End, utc(t, tc.wantEnd))
			if got := c.WorkingMinutesBetween(from, to); got != tc.wantMinutes {
				t.Errorf("WorkingMinutesBetween = %d, want %d", got, tc.wantMinutes)
			}
		})
	}
}

func TestAddWorkingMinutesAcrossDST(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		start   string
		end     string
		from    string
		minutes int
		want    string
	}{
		{"new york spring: one hour in lands after the gap", "America/New_York", "01:00", "05:00", "2026-03-08T06:00:00Z", 60, "2026-03-08T07:00:00Z"},
		{"new york spring: whole night is 180 minutes", "America/New_York", "01:00", "05:00", "2026-03-08T06:00:00Z", 180, "2026-03-08T09:00:00Z"},
		{"new york spring: minute 181 is the next night", "America/New_York", "01:00", "05:00", "2026-03-08T06:00:00Z", 181, "2026-03-09T05:01:00Z"},
		{"new york spring: from the previous night", "America/New_York", "01:00", "05:00", "2026-03-07T09:00:00Z", 120, "2026-03-08T07:00:00Z"},
		{"new york fall: one hour in is the repeated 01:00", "America/New_York", "01:00", "05:00", "2026-11-01T05:00:00Z", 60, "2026-11-01T06:00:00Z"},
		{"new york fall: whole night is 300 minutes", "America/New_York", "01:00", "05:00", "2026-11-01T05:00:00Z", 300, "2026-11-01T10:00:00Z"},
		{"new york fall: minute 301 is the next night", "America/New_York", "01:00", "05:00", "2026-11-01T05:00:00Z", 301, "2026-11-02T06:01:00Z"},
		{"berlin spring: whole night is 180 minutes", "Europe/Berlin", "01:00", "05:00", "2026-03-29T00:00:00Z", 180, "2026-03-29T03:00:00Z"},
		{"berlin spring: minute 181 is the next night", "Europe/Berlin", "01:00", "05:00", "2026-03-29T00:00:00Z", 181, "2026-03-29T23:01:00Z"},
		{"berlin fall: 02:00 twice", "Europe/Berlin", "01:00", "05:00", "2026-10-24T23:00:00Z", 120, "2026-10-25T01:00:00Z"},
		{"berlin fall: whole night is 300 minutes", "Europe/Berlin", "01:00", "05:00", "2026-10-24T23:00:00Z", 300, "2026-10-25T04:00:00Z"},
		{"new york 24x7 day across spring is 24 real hours", "America/New_York", "00:00", "24:00", "2026-03-07T17:00:00Z", 1440, "2026-03-08T17:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustShift(t, tc.zone, everyDay(tc.start, tc.end), nil, nil, nil)
			from := utc(t, tc.from)
			got := mustAdd(t, c, from, tc.minutes)
			sameInstant(t, "AddWorkingMinutes", got, utc(t, tc.want))
			if back := c.WorkingMinutesBetween(from, got); back != tc.minutes {
				t.Errorf("WorkingMinutesBetween = %d, want %d", back, tc.minutes)
			}
		})
	}
}

// A 22:00–06:00 night shift on DST nights: 7 real hours in spring, 9 in
// autumn, and breaks after midnight resolved with the same gap/overlap rule.
func TestMidnightCrossingShiftOnDSTNight(t *testing.T) {
	tests := []struct {
		name        string
		zone        string
		breaks      []Break
		evening     string // the local date the shift starts
		wantMinutes int
		lastWork    int // minute offset (from the evening's midnight) where the night's work ends; 0 = 06:00
		nextWork    int // minute offset where the next night's work starts; 0 = 22:00
	}{
		{"new york spring", "America/New_York", nil, "2026-03-07", 7 * 60, 0, 0},
		{"new york fall", "America/New_York", nil, "2026-10-31", 9 * 60, 0, 0},
		{"berlin spring", "Europe/Berlin", nil, "2026-03-28", 7 * 60, 0, 0},
		{"berlin fall", "Europe/Berlin", nil, "2026-10-24", 9 * 60, 0, 0},
		// 02:00–02:30 lies in the gap and maps forward to 03:00–03:30 EDT.
		{"new york spring, break inside the gap", "America/New_York", []Break{{lt("02:00"), lt("02:30")}}, "2026-03-07", 7*60 - 30, 0, 0},
		// 01:00–01:30 is ambiguous; the first occurrence is the break.
		{"new york fall, break in the repeated hour", "America/New_York", []Break{{lt("01:00"), lt("01:30")}}, "2026-10-31", 9*60 - 30, 0, 0},
		{"berlin spring, break crossing midnight", "Europe/Berlin", []Break{{lt("23:30"), lt("00:30")}}, "2026-03-28", 7*60 - 60, 0, 0},
		{"berlin fall, breaks at both edges", "Europe/Berlin", []Break{{lt("22:00"), lt("22:30")}, {lt("05:30"), lt("06:00")}}, "2026-10-24", 9*60 - 60, 24*60 + 5*60 + 30, 22*60 + 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustShift(t, tc.zone, everyDay("22:00", "06:00"), tc.breaks, nil, nil)
			l := loc(t, tc.zone)
			d := date(tc.evening)
			from := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, l)
			next := d.AddDays(1)
			to := time.Date(next.Year, next.Month, next.Day, 12, 0, 0, 0, l)
			if got := c.WorkingMinutesBetween(from, to); got != tc.wantMinutes {
				t.Errorf("WorkingMinutesBetween = %d, want %d", got, tc.wantMinutes)
			}
			if tc.lastWork == 0 {
				tc.lastWork = 24*60 + 6*60
			}
			if tc.nextWork == 0 {
				tc.nextWork = 22 * 60
			}
			end := mustAdd(t, c, from, tc.wantMinutes)
			sameInstant(t, "end of night", end, localInstant(l, d, tc.lastWork))
			over := mustAdd(t, c, from, tc.wantMinutes+1)
			sameInstant(t, "first minute of next night", over, localInstant(l, next, tc.nextWork+1))
		})
	}
}
