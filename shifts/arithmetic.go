package shifts

import (
	"math"
	"slices"
	"time"
)

// searchLimit bounds how far AddWorkingMinutes looks for the next working
// time. A calendar with no working time for this long is treated as empty
// (e.g. every period removed by breaks) rather than looping forever.
const searchLimit = 3 * 366 * 24 * time.Hour

// chunk is how much real time AddWorkingMinutes expands per step.
const chunk = 7 * 24 * time.Hour

// localInstant converts a wall-clock time on a civil date to an instant.
//
// Go's time.Date leaves the choice at DST transitions unspecified (in
// practice it maps New York's 02:30 spring-forward gap back to 01:30 EST),
// so this resolves explicitly:
//   - a time that exists once maps to that instant;
//   - an ambiguous time (fall-back overlap) takes its FIRST occurrence;
//   - a time in a gap (spring-forward) maps FORWARD by the gap length,
//     using the offset in force before the gap (02:30 in New York on
//     2026-03-08 becomes 03:30 EDT), so a shift starting in the gap simply
//     starts at the end of the gap.
//
// The mapping is monotone non-decreasing in wall time, so a period's start
// never resolves after its end.
func localInstant(loc *time.Location, d Date, minute int) time.Time {
	d = d.AddDays(minute / minutesPerDay)
	minute %= minutesPerDay
	hh, mm := minute/60, minute%60
	wall := time.Date(d.Year, d.Month, d.Day, hh, mm, 0, 0, time.UTC).Unix()
	guess := time.Date(d.Year, d.Month, d.Day, hh, mm, 0, 0, loc)

	// Candidate offsets: the zone Go chose and its neighbours, which cover
	// both sides of any transition near the wall time.
	var offs [3]int
	n := 0
	_, offs[n] = guess.Zone()
	n++
	start, end := guess.ZoneBounds()
	if !start.IsZero() {
		_, offs[n] = start.Add(-time.Second).Zone()
		n++
	}
	if !end.IsZero() {
		_, offs[n] = end.Zone()
		n++
	}
	offsetAt := func(u int64) int {
		_, o := time.Unix(u, 0).In(loc).Zone()
		return o
	}

	best, found := int64(0), false
	for _, o := range offs[:n] {
		if u := wall - int64(o); offsetAt(u) == o && (!found || u < best) {
			best, found = u, true
		}
	}
	if !found {
		// Gap: the forward reading uses the pre-gap (smaller) offset and
		// lands after the transition, where the offset is larger.
		for _, o := range offs[:n] {
			if u := wall - int64(o); offsetAt(u) > o && (!found || u < best) {
				best, found = u, true
			}
		}
	}
	if !found {
		return guess
	}
	return time.Unix(best, 0).In(loc)
}

// periods returns the working intervals of the periods that start on the
// local dates first..last, breaks removed, holidays skipped, unsorted and
// unmerged.
func (c *Calendar) periods(first, last Date, out []Interval) []Interval {
	for d := first; d.Compare(last) <= 0; d = d.AddDays(1) {
		s := c.sched[d.Weekday()]
		if s == nil || c.isHoliday[d] {
			continue
		}
		cur := localInstant(c.loc, d, s.start)
		end := localInstant(c.loc, d, s.end)
		for _, b := range s.breaks {
			bs, be := localInstant(c.loc, d, b[0]), localInstant(c.loc, d, b[1])
			if bs.After(cur) {
				out = append(out, Interval{cur, bs})
			}
			if be.After(cur) {
				cur = be
			}
		}
		if end.After(cur) {
			out = append(out, Interval{cur, end})
		}
	}
	return out
}

// WorkingIntervals returns the calendar's working time within [from, to) as
// real-time [Start, End) intervals: breaks and holidays removed, clipped to
// the range, sorted, and with touching or overlapping intervals merged (so
// 24x7 is one interval). Instants are in the calendar's Location; compare
// them with Equal. Returns nil when to <= from.
func (c *Calendar) WorkingIntervals(from, to time.Time) []Interval {
	from, to = from.Round(0), to.Round(0) // drop monotonic readings
	if !to.After(from) {
		return nil
	}
	// A period can start up to a day before from's local date (midnight
	// crossing) and must start no later than to's local date; one extra
	// day each side absorbs DST and odd-offset edge cases.
	first := DateOf(from.In(c.loc)).AddDays(-2)
	last := DateOf(to.In(c.loc)).AddDays(1)
	raw := c.periods(first, last, nil)
	slices.SortFunc(raw, func(a, b Interval) int { return a.Start.Compare(b.Start) })

	var out []Interval
	for _, iv := range raw {
		if iv.Start.Before(from) {
			iv.Start = from
		}
		if iv.End.After(to) {
			iv.End = to
		}
		if !iv.End.After(iv.Start) {
			continue
		}
		iv.Start, iv.End = iv.Start.In(c.loc), iv.End.In(c.loc)
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// IsWorking reports whether t is working time: inside the calendar's hours
// in its zone, outside breaks and holidays. Whether the member is active is
// the caller's concern.
func (c *Calendar) IsWorking(t time.Time) bool {
	return len(c.WorkingIntervals(t, t.Add(time.Nanosecond))) > 0
}

// workingDuration is the real working time in [from, to).
func (c *Calendar) workingDuration(from, to time.Time) time.Duration {
	var total time.Duration
	for _, iv := range c.WorkingIntervals(from, to) {
		total += iv.Duration()
	}
	return total
}

// WorkingMinutesBetween returns the whole minutes of real working time in
// [from, to), rounded down; 0 when to <= from. It is the inverse of
// AddWorkingMinutes: WorkingMinutesBetween(t, AddWorkingMinutes(t, n)) == n.
func (c *Calendar) WorkingMinutesBetween(from, to time.Time) int {
	return int(c.workingDuration(from, to) / time.Minute)
}

// AddWorkingMinutes returns the instant at which n minutes of real working
// time have elapsed since from, skipping off-hours, breaks and holidays.
// Minutes are real elapsed time, so a DST change inside working hours
// lengthens or shortens the working day accordingly.
//
// When the n-th minute completes exactly at the end of a working interval
// the result is that end (not the next interval's start). For n == 0 the
// result is from if it is working time, otherwise the start of the next
// working interval: the moment a working-time clock would start ticking.
// The result is in the calendar's Location.
//
// It fails with a ValidationError for negative n, and with an error when the
// calendar has no working time for three years (an empty calendar).
func (c *Calendar) AddWorkingMinutes(from time.Time, n int) (time.Time, error) {
	if n < 0 {
		return time.Time{}, invalid("minutes", "must not be negative, got %d", n)
	}
	if int64(n) > math.MaxInt64/int64(time.Minute) {
		return time.Time{}, invalid("minutes", "%d is too large", n)
	}
	remaining := time.Duration(n) * time.Minute
	cursor := from.Round(0)
	lastWork := cursor
	for {
		next := cursor.Add(chunk)
		for _, iv := range c.WorkingIntervals(cursor, next) {
			d := iv.Duration()
			if d >= remaining {
				return iv.Start.Add(remaining), nil
			}
			remaining -= d
			lastWork = iv.End
		}
		cursor = next
		if cursor.Sub(lastWork) > searchLimit {
			return time.Time{}, &NoWorkingTimeError{After: lastWork.In(c.loc)}
		}
	}
}

// NoWorkingTimeError means the calendar has no working time for years after
// After, so a deadline cannot be computed.
type NoWorkingTimeError struct{ After time.Time }

func (e *NoWorkingTimeError) Error() string {
	return "shifts: calendar has no working time within 3 years after " + e.After.Format(time.RFC3339)
}

// WeekIntervals returns the working intervals of the calendar week that
// contains t, in the calendar's zone: from local midnight of the most recent
// week-start day (on or before t's local date) to the same midnight seven
// days later. Night shifts crossing a week boundary are clipped to it.
func (c *Calendar) WeekIntervals(t time.Time) []Interval {
	day := DateOf(t.In(c.loc))
	back := (int(day.Weekday()) - int(c.weekStart) + 7) % 7
	first := day.AddDays(-back)
	return c.WorkingIntervals(localInstant(c.loc, first, 0), localInstant(c.loc, first.AddDays(7), 0))
}
