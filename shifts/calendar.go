package shifts

import (
	"slices"
	"strconv"
	"time"

	// Embedded zone data makes results identical on every host, including
	// minimal containers without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// BusinessHoursKind is how an org describes its business hours.
type BusinessHoursKind string

// The business-hours kinds of the access model.
const (
	TwentyFourSeven BusinessHoursKind = "TWENTY_FOUR_SEVEN" // every day, all day
	TwentyFourFive  BusinessHoursKind = "TWENTY_FOUR_FIVE"  // Monday to Friday, all day
	Custom          BusinessHoursKind = "CUSTOM"            // explicit hours
)

// MaxBreaks is the most breaks a shift may have.
const MaxBreaks = 2

// Calendar is the working time of one org's business hours or one shift, in
// one time zone. It is immutable after construction (fields are unexported
// and accessors return copies), so one value can be shared by any number of
// goroutines without locking.
type Calendar struct {
	loc       *time.Location
	weekStart time.Weekday
	days      []DayHours // sorted by weekday, at most one per weekday
	breaks    []Break
	holidays  []Date // sorted, deduplicated

	sched     [7]*daySchedule // indexed by weekday; nil = not a working day
	isHoliday map[Date]bool
}

// daySchedule is one weekday's hours as minute offsets from that day's local
// midnight; end and break offsets may exceed 1440 (next day) for crossings.
type daySchedule struct {
	start, end int
	breaks     [][2]int // sorted by start
}

// NewBusinessHours builds an org's business-hours calendar.
//
// For TWENTY_FOUR_SEVEN and TWENTY_FOUR_FIVE the kind fully determines the
// hours, so sameHours and perDay are ignored. For CUSTOM exactly one of
// sameHours (the same hours on each of its Days) or perDay (own hours per
// day) must be given. Business hours have no breaks. holidays are org
// holidays, civil dates in zone.
func NewBusinessHours(kind BusinessHoursKind, zone string, weekStart time.Weekday, sameHours *DayRange, perDay []DayHours, holidays []Date) (*Calendar, error) {
	var days []DayHours
	switch kind {
	case TwentyFourSeven:
		days = fullDays(time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday)
	case TwentyFourFive:
		days = fullDays(time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday)
	case Custom:
		switch {
		case sameHours != nil && len(perDay) > 0:
			return nil, invalid("sameHours", "give either the same hours for all days or per-day hours, not both")
		case sameHours != nil:
			days = sameHours.DayHours()
		default:
			days = perDay
		}
	default:
		return nil, invalid("kind", "unknown business hours kind %q", string(kind))
	}
	return newCalendar(zone, weekStart, days, nil, holidays)
}

func fullDays(ds ...time.Weekday) []DayHours {
	return DayRange{Days: ds, Start: LocalTime{0, 0}, End: LocalTime{24, 0}}.DayHours()
}

// NewShiftCalendar builds a shift's calendar. shiftHolidays and orgHolidays
// are both civil dates in the shift's zone and are merged, because org
// holidays apply to every member whatever their shift. The week starts on
// Monday; use WithWeekStart to apply the org's week start for week views.
func NewShiftCalendar(zone string, days []DayHours, breaks []Break, shiftHolidays, orgHolidays []Date) (*Calendar, error) {
	hol := make([]Date, 0, len(shiftHolidays)+len(orgHolidays))
	hol = append(hol, shiftHolidays...)
	hol = append(hol, orgHolidays...)
	return newCalendar(zone, time.Monday, days, breaks, hol)
}

// ForMember picks the calendar a member works: its shift's, or the org's
// business hours when the member has no shift (shift == nil).
func ForMember(businessHours, shift *Calendar) *Calendar {
	if shift != nil {
		return shift
	}
	return businessHours
}

// WithWeekStart returns a copy of c whose week views start on day.
func (c *Calendar) WithWeekStart(day time.Weekday) (*Calendar, error) {
	if !validWeekday(day) {
		return nil, invalid("weekStart", "%d is not a weekday", int(day))
	}
	cp := *c
	cp.weekStart = day
	return &cp, nil
}

func validWeekday(d time.Weekday) bool { return d >= time.Sunday && d <= time.Saturday }

func loadZone(zone string) (*time.Location, error) {
	switch zone {
	case "":
		return nil, invalid("zone", "a time zone is required")
	case "Local":
		// "Local" is the host's zone, not an IANA name: results would
		// depend on where the process runs.
		return nil, invalid("zone", "unknown time zone %q", zone)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, invalid("zone", "unknown time zone %q", zone)
	}
	return loc, nil
}

func newCalendar(zone string, weekStart time.Weekday, days []DayHours, breaks []Break, holidays []Date) (*Calendar, error) {
	loc, err := loadZone(zone)
	if err != nil {
		return nil, err
	}
	if !validWeekday(weekStart) {
		return nil, invalid("weekStart", "%d is not a weekday", int(weekStart))
	}
	c := &Calendar{loc: loc, weekStart: weekStart, isHoliday: make(map[Date]bool, len(holidays))}

	if len(days) == 0 {
		return nil, invalid("days", "at least one working day is required")
	}
	for i, d := range days {
		field := fieldIndex("days", i)
		switch {
		case !validWeekday(d.Day):
			return nil, invalid(field, "%d is not a weekday", int(d.Day))
		case !d.Start.valid() || d.Start.Hour == 24:
			return nil, invalid(field, "start %s is not a time of day (00:00–23:59)", d.Start)
		case !d.End.valid():
			return nil, invalid(field, "end %s is not a time of day (00:00–24:00)", d.End)
		case d.End.minutes() == d.Start.minutes():
			return nil, invalid(field, "%s hours %s–%s are zero-length (use 00:00–24:00 for a full day)", d.Day, d.Start, d.End)
		case c.sched[d.Day] != nil:
			return nil, invalid(field, "%s is listed more than once", d.Day)
		}
		s := &daySchedule{start: d.Start.minutes(), end: d.End.minutes()}
		if s.end <= s.start {
			s.end += minutesPerDay // crosses midnight
		}
		c.sched[d.Day] = s
		c.days = append(c.days, d)
	}
	slices.SortFunc(c.days, func(a, b DayHours) int { return cmpInt(int(a.Day), int(b.Day)) })

	if len(breaks) > MaxBreaks {
		return nil, invalid("breaks", "at most %d breaks are allowed, got %d", MaxBreaks, len(breaks))
	}
	for i, b := range breaks {
		field := fieldIndex("breaks", i)
		switch {
		case !b.Start.valid() || b.Start.Hour == 24:
			return nil, invalid(field, "start %s is not a time of day (00:00–23:59)", b.Start)
		case !b.End.valid():
			return nil, invalid(field, "end %s is not a time of day (00:00–24:00)", b.End)
		case b.End.minutes() == b.Start.minutes():
			return nil, invalid(field, "break %s–%s is zero-length", b.Start, b.End)
		}
		for _, d := range c.days {
			s := c.sched[d.Day]
			bs, be, ok := placeBreak(s, b)
			if !ok {
				if b.End.minutes() < b.Start.minutes() && s.end <= minutesPerDay {
					return nil, invalid(field, "break %s–%s ends before it starts; breaks may cross midnight only inside a shift that does (%s %s–%s)", b.Start, b.End, d.Day, d.Start, d.End)
				}
				return nil, invalid(field, "break %s–%s is outside the %s hours %s–%s", b.Start, b.End, d.Day, d.Start, d.End)
			}
			s.breaks = append(s.breaks, [2]int{bs, be})
		}
		c.breaks = append(c.breaks, b)
	}
	for _, s := range c.sched {
		if s != nil {
			slices.SortFunc(s.breaks, func(a, b [2]int) int { return cmpInt(a[0], b[0]) })
		}
	}

	for i, h := range holidays {
		if !h.valid() {
			return nil, invalid(fieldIndex("holidays", i), "%s is not a real date", h)
		}
		if !c.isHoliday[h] {
			c.isHoliday[h] = true
			c.holidays = append(c.holidays, h)
		}
	}
	slices.SortFunc(c.holidays, Date.Compare)
	return c, nil
}

// placeBreak maps a break onto a day's minute timeline (offsets from the
// day's local midnight). Break times before the day's start are read as
// after midnight; it reports false when the break does not fit the hours.
func placeBreak(s *daySchedule, b Break) (start, end int, ok bool) {
	start, end = b.Start.minutes(), b.End.minutes()
	if start < s.start {
		start += minutesPerDay
		end += minutesPerDay
	}
	if end < start {
		end += minutesPerDay // break crosses midnight
	}
	return start, end, start >= s.start && end <= s.end && end > start
}

func fieldIndex(name string, i int) string {
	return name + "[" + strconv.Itoa(i) + "]"
}

// Location is the calendar's time zone; working hours and holiday dates are
// read in it.
func (c *Calendar) Location() *time.Location { return c.loc }

// WeekStart is the first day of the week used by WeekIntervals.
func (c *Calendar) WeekStart() time.Weekday { return c.weekStart }

// Days returns the working days, sorted Sunday first.
func (c *Calendar) Days() []DayHours { return slices.Clone(c.days) }

// Breaks returns the breaks applied to every working day.
func (c *Calendar) Breaks() []Break { return slices.Clone(c.breaks) }

// Holidays returns the merged holiday dates, sorted and deduplicated.
func (c *Calendar) Holidays() []Date { return slices.Clone(c.holidays) }
