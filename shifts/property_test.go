package shifts

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Zones with 1h DST (both hemispheres), a 30-minute DST (Lord Howe), and
// fixed odd offsets.
var propertyZones = []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata", "Asia/Kathmandu"}

// DST transition days of 2026 in those zones, so starts cluster around them.
var dstDays = []string{"2026-03-08", "2026-11-01", "2026-03-29", "2026-10-25", "2026-04-05", "2026-10-04", "2026-09-06"}

func randLocalTime(r *rand.Rand) LocalTime {
	m := r.IntN(96) * 15 // quarter hours keep breaks likely to fit
	if r.IntN(4) == 0 {
		m = r.IntN(minutesPerDay)
	}
	return LocalTime{m / 60, m % 60}
}

func randDays(r *rand.Rand) []time.Weekday {
	var ds []time.Weekday
	for _, d := range allDays {
		if r.IntN(3) > 0 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		ds = append(ds, allDays[r.IntN(7)])
	}
	return ds
}

func randHours(r *rand.Rand) (LocalTime, LocalTime) {
	for {
		s, e := randLocalTime(r), randLocalTime(r)
		if r.IntN(8) == 0 {
			e = LocalTime{24, 0}
		}
		if s != e && !(s == LocalTime{} && e == LocalTime{24, 0} && r.IntN(2) == 0) {
			return s, e
		}
	}
}

func randCalendar(r *rand.Rand) (*Calendar, string) {
	zone := propertyZones[r.IntN(len(propertyZones))]
	var hol []Date
	for range r.IntN(6) {
		hol = append(hol, Date{2026, time.Month(1 + r.IntN(12)), 1 + r.IntN(28)})
	}
	ws := allDays[r.IntN(7)]
	for {
		var c *Calendar
		var err error
		var desc string
		switch kind := r.IntN(5); kind {
		case 0:
			c, err = NewBusinessHours(TwentyFourSeven, zone, ws, nil, nil, hol)
			desc = "24x7"
		case 1:
			c, err = NewBusinessHours(TwentyFourFive, zone, ws, nil, nil, hol)
			desc = "24x5"
		case 2:
			s, e := randHours(r)
			dr := &DayRange{Days: randDays(r), Start: s, End: e}
			c, err = NewBusinessHours(Custom, zone, ws, dr, nil, hol)
			desc = fmt.Sprintf("custom same %v", *dr)
		default:
			var days []DayHours
			for _, d := range randDays(r) {
				s, e := randHours(r)
				days = append(days, DayHours{d, s, e})
			}
			if kind == 3 {
				// Shifts usually share hours; make that the common case so
				// breaks fit.
				s, e := randHours(r)
				for i := range days {
					days[i].Start, days[i].End = s, e
				}
			}
			var breaks []Break
			for range r.IntN(3) {
				breaks = append(breaks, randBreak(r, days[0]))
			}
			c, err = NewShiftCalendar(zone, days, breaks, hol, nil)
			if err != nil { // random breaks rarely fit: retry without them
				breaks = nil
				c, err = NewShiftCalendar(zone, days, nil, hol, nil)
			}
			desc = fmt.Sprintf("shift %v breaks %v", days, breaks)
		}
		// Breaks may swallow a whole shift; an empty calendar is covered by
		// its own test (it errors), so keep only calendars that work.
		if err == nil && len(c.WorkingIntervals(emptyProbe, emptyProbe.AddDate(0, 2, 0))) > 0 {
			return c, zone + " " + desc + fmt.Sprintf(" holidays %v", hol)
		}
	}
}

// randBreak returns a break inside h's hours (it may cross midnight, start
// at the shift start or end at the shift end).
func randBreak(r *rand.Rand, h DayHours) Break {
	s, e := h.Start.minutes(), h.End.minutes()
	if e <= s {
		e += minutesPerDay
	}
	bs := s + r.IntN(e-s)
	if r.IntN(5) == 0 {
		bs = s
	}
	be := bs + 1 + r.IntN(min(120, e-bs))
	if r.IntN(5) == 0 {
		be = e
	}
	return Break{LocalTime{bs % minutesPerDay / 60, bs % 60}, LocalTime{be % minutesPerDay / 60, be % 60}}
}

var emptyProbe = time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC)

func randStart(r *rand.Rand, l *time.Location) time.Time {
	var d Date
	if r.IntN(3) == 0 {
		d = date(dstDays[r.IntN(len(dstDays))])
	} else {
		d = Date{2026, time.January, 1}.AddDays(r.IntN(365))
	}
	return time.Date(d.Year, d.Month, d.Day, r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000)*int(time.Millisecond), l)
}

// For random calendars, starts and durations: AddWorkingMinutes and
// WorkingMinutesBetween are inverse, the result is the earliest such
// instant, and it is working time or the end of a working interval.
func TestPropertyAddThenMeasure(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 11))
	cases := 2000
	if testing.Short() {
		cases = 300
	}
	for i := range cases {
		c, desc := randCalendar(r)
		from := randStart(r, c.Location())
		n := r.IntN(20001)
		t.Run(fmt.Sprintf("case%04d", i), func(t *testing.T) {
			res, err := c.AddWorkingMinutes(from, n)
			if err != nil {
				t.Fatalf("%s: AddWorkingMinutes(%s, %d): %v", desc, from, n, err)
			}
			if got := c.WorkingMinutesBetween(from, res); got != n {
				t.Fatalf("%s: from %s +%d = %s, but WorkingMinutesBetween = %d", desc, from, n, res, got)
			}
			if res.Before(from) {
				t.Fatalf("%s: result %s before from %s", desc, res, from)
			}
			if n > 0 {
				if got := c.workingDuration(from, res.Add(-time.Nanosecond)); got >= time.Duration(n)*time.Minute {
					t.Fatalf("%s: from %s +%d = %s is not the earliest instant", desc, from, n, res)
				}
				ivs := c.WorkingIntervals(from, res)
				endsInterval := len(ivs) > 0 && ivs[len(ivs)-1].End.Equal(res)
				if !c.IsWorking(res) && !endsInterval {
					t.Fatalf("%s: from %s +%d = %s is neither working nor an interval end", desc, from, n, res)
				}
			} else {
				if !c.IsWorking(res) || c.workingDuration(from, res) != 0 {
					t.Fatalf("%s: from %s +0 = %s is not the next working instant", desc, from, res)
				}
			}
		})
	}
}

// An independent oracle for IsWorking in UTC (no DST, so wall time is
// instant time): t is working when the period starting on t's date or the
// day before covers t's minute, outside that period's breaks, and the
// period's start date is not a holiday.
func TestPropertyIsWorkingMatchesWallClockOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 300 {
		var days []DayHours
		for _, d := range randDays(r) {
			s, e := randHours(r)
			days = append(days, DayHours{d, s, e})
		}
		s, e := randHours(r)
		for j := range days {
			days[j].Start, days[j].End = s, e
		}
		var breaks []Break
		for range r.IntN(3) {
			breaks = append(breaks, randBreak(r, days[0]))
		}
		hol := []Date{Date{2026, time.January, 1}.AddDays(r.IntN(60))}
		c, err := NewShiftCalendar("UTC", days, breaks, hol, nil)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		oracle := func(at time.Time) bool {
			day := DateOf(at)
			mins := at.Hour()*60 + at.Minute()
			for back := 0; back <= 1; back++ {
				d := day.AddDays(-back)
				rel := mins + back*minutesPerDay
				for _, h := range days {
					if h.Day != d.Weekday() || hol[0] == d {
						continue
					}
					hs, he := h.Start.minutes(), h.End.minutes()
					if he <= hs {
						he += minutesPerDay
					}
					if rel < hs || rel >= he {
						continue
					}
					inBreak := false
					for _, b := range breaks {
						bs, be := b.Start.minutes(), b.End.minutes()
						if bs < hs {
							bs, be = bs+minutesPerDay, be+minutesPerDay
						}
						if be < bs {
							be += minutesPerDay
						}
						inBreak = inBreak || (rel >= bs && rel < be)
					}
					if !inBreak {
						return true
					}
				}
			}
			return false
		}
		for range 50 {
			at := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(70*24*60)) * time.Minute)
			if got, want := c.IsWorking(at), oracle(at); got != want {
				t.Fatalf("case %d: days %v breaks %v holiday %v: IsWorking(%s) = %v, oracle %v", i, days, breaks, hol, at, got, want)
			}
		}
	}
}
