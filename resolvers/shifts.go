package resolvers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
	"warden/shifts"
)

// Business hours, shifts, holidays and shift assignments
// (access-model.md, Business hours and shifts).
//
// Who may do what: every read (businessHours, shifts, holidays, a member's
// shift and availability, availableMembers, businessDeadline) is open to any
// ACTIVE member of the org, like the member list: people need to know when
// colleagues work, and nothing here widens access to records. Every write
// needs the manageShifts setup permission, locks the org's row (one
// administration write of an org at a time, so the 30-shift limit and name
// checks hold under concurrency), runs in one transaction with its audit
// entry (before and after), and writes nothing when any input is invalid.
// Shifts do not change who may see what, so these writes log no security
// change and do not bump the org's version.
//
// Calendars are built by package shifts from what db stores; an input is
// valid exactly when shifts can build a calendar from it. Invalid: a time
// that is not "HH:MM" (00:00–23:59; 24:00 only as an end), an unknown IANA
// zone, a day listed twice, zero-length hours (end == start; 00:00–24:00 is
// a full day), a break that is not inside every working day's hours, more
// than two breaks, and hours whose end is before their start when the
// client says crossesMidnight: false. end <= start without that flag means
// the hours cross midnight (api.md).

// MaxShifts is the most shifts an org may have (access-model.md).
const MaxShifts = 30

// maxAssignAhead is how far ahead a shift change may be scheduled.
const maxAssignAheadMonths = 6

// maxShiftMembers bounds one assignShift call.
const maxShiftMembers = 500

// now is the resolver's clock.
func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

var weekdays = map[model.Weekday]time.Weekday{
	model.WeekdayMonday: time.Monday, model.WeekdayTuesday: time.Tuesday, model.WeekdayWednesday: time.Wednesday,
	model.WeekdayThursday: time.Thursday, model.WeekdayFriday: time.Friday, model.WeekdaySaturday: time.Saturday,
	model.WeekdaySunday: time.Sunday,
}

func weekdayIn(field string, d model.Weekday) (time.Weekday, error) {
	w, ok := weekdays[d]
	if !ok {
		return 0, apperr.NewBadInput("%s: %q is not a weekday", field, d)
	}
	return w, nil
}

func weekdayOut(d time.Weekday) model.Weekday { return model.Weekday(strings.ToUpper(d.String())) }

// calendarInputErr turns a calendar the shifts package refused into a
// client error naming the input field.
func calendarInputErr(prefix string, err error) error {
	var ve *shifts.ValidationError
	if errors.As(err, &ve) {
		field := ve.Field
		if prefix != "" {
			field = prefix + "." + field
		}
		return apperr.NewBadInput("%s: %s", field, ve.Reason)
	}
	return err
}

func localTimeIn(field, s string) (shifts.LocalTime, error) {
	t, err := shifts.ParseLocalTime(s)
	if err != nil {
		return t, apperr.NewBadInput("%s: %q is not a time of day HH:MM (00:00 to 23:59, or 24:00 as an end)", field, s)
	}
	return t, nil
}

func minuteOfDay(t shifts.LocalTime) int { return t.Hour*60 + t.Minute }

// crossesMidnight: hours whose end is not after their start end next day.
func crossesMidnight(start, end shifts.LocalTime) bool { return minuteOfDay(end) <= minuteOfDay(start) }

// daysIn parses working days; field names the input list in errors.
func daysIn(field string, in []*model.ShiftDayInput) ([]shifts.DayHours, db.DayList, error) {
	days := make([]shifts.DayHours, 0, len(in))
	stored := make(db.DayList, 0, len(in))
	for i, d := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		w, err := weekdayIn(f+".day", d.Day)
		if err != nil {
			return nil, nil, err
		}
		start, err := localTimeIn(f+".start", d.Start)
		if err != nil {
			return nil, nil, err
		}
		end, err := localTimeIn(f+".end", d.End)
		if err != nil {
			return nil, nil, err
		}
		if d.CrossesMidnight != nil {
			crosses := crossesMidnight(start, end) && minuteOfDay(end) != minuteOfDay(start)
			switch {
			case !*d.CrossesMidnight && crosses:
				return nil, nil, apperr.NewBadInput("%s: %s hours %s–%s end before they start; hours that cross midnight need crossesMidnight true", f, d.Day, start, end)
			case *d.CrossesMidnight && !crosses:
				return nil, nil, apperr.NewBadInput("%s: crossesMidnight is true but %s hours %s–%s end the same day", f, d.Day, start, end)
			}
		}
		days = append(days, shifts.DayHours{Day: w, Start: start, End: end})
		stored = append(stored, db.DayHoursJSON{Day: string(d.Day), Start: start.String(), End: end.String()})
	}
	return days, stored, nil
}

func breaksIn(field string, in []*model.BreakInput) ([]shifts.Break, db.BreakList, error) {
	breaks := make([]shifts.Break, 0, len(in))
	stored := make(db.BreakList, 0, len(in))
	for i, b := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		start, err := localTimeIn(f+".start", b.Start)
		if err != nil {
			return nil, nil, err
		}
		end, err := localTimeIn(f+".end", b.End)
		if err != nil {
			return nil, nil, err
		}
		breaks = append(breaks, shifts.Break{Start: start, End: end})
		stored = append(stored, db.BreakJSON{Start: start.String(), End: end.String()})
	}
	return breaks, stored, nil
}

// holidayIn is one holiday of an input, checked.
type holidayIn struct {
	date records.Date
	name string
}

func holidaysIn(field string, in []*model.HolidayInput) ([]holidayIn, []shifts.Date, error) {
	out := make([]holidayIn, 0, len(in))
	var dates []shifts.Date
	seen := map[string]bool{}
	for i, h := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		name, err := cleanName(f, h.Name)
		if err != nil {
			return nil, nil, err
		}
		if seen[h.Date.String()] {
			return nil, nil, apperr.NewBadInput("%s: %s is listed more than once", f, h.Date)
		}
		seen[h.Date.String()] = true
		out = append(out, holidayIn{date: h.Date, name: name})
		dates = append(dates, shifts.DateOf(h.Date.Time))
	}
	return out, dates, nil
}

// storedDays reads working days as db stores them.
func storedDays(l db.DayList) ([]shifts.DayHours, error) {
	out := make([]shifts.DayHours, 0, len(l))
	for _, d := range l {
		w, ok := weekdays[model.Weekday(d.Day)]
		start, err1 := shifts.ParseLocalTime(d.Start)
		end, err2 := shifts.ParseLocalTime(d.End)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("stored working day %+v is invalid", d)
		}
		out = append(out, shifts.DayHours{Day: w, Start: start, End: end})
	}
	return out, nil
}

func storedBreaks(l db.BreakList) ([]shifts.Break, error) {
	out := make([]shifts.Break, 0, len(l))
	for _, b := range l {
		start, err1 := shifts.ParseLocalTime(b.Start)
		end, err2 := shifts.ParseLocalTime(b.End)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("stored break %+v is invalid", b)
		}
		out = append(out, shifts.Break{Start: start, End: end})
	}
	return out, nil
}

func businessCalendar(h *db.BusinessHoursRow, orgHolidays []shifts.Date) (*shifts.Calendar, error) {
	days, err := storedDays(h.Days)
	if err != nil {
		return nil, err
	}
	ws, ok := weekdays[model.Weekday(h.WeekStart)]
	if !ok {
		return nil, fmt.Errorf("stored week start %q is invalid", h.WeekStart)
	}
	return shifts.NewBusinessHours(shifts.BusinessHoursKind(h.Kind), h.TimeZone, ws, nil, days, orgHolidays)
}

func shiftCalendar(s *db.Shift, shiftHolidays, orgHolidays []shifts.Date) (*shifts.Calendar, error) {
	days, err := storedDays(s.Hours)
	if err != nil {
		return nil, err
	}
	breaks, err := storedBreaks(s.BreakList)
	if err != nil {
		return nil, err
	}
	return shifts.NewShiftCalendar(s.TimeZone, days, breaks, shiftHolidays, orgHolidays)
}

// calendarBook is an org's calendars at one moment: business hours and
// every shift (at most 30), each with its holidays and the org's.
type calendarBook struct {
	hours    *db.BusinessHoursRow
	business *shifts.Calendar
	shifts   map[int64]*db.Shift
	cals     map[int64]*shifts.Calendar
}

func loadBook(ctx context.Context, q sqlx.QueryerContext, org int64) (*calendarBook, error) {
	hours, err := db.BusinessHoursOf(ctx, q, org)
	if err != nil {
		return nil, err
	}
	list, err := db.ShiftsOfOrg(ctx, q, org)
	if err != nil {
		return nil, err
	}
	hols, err := db.HolidaysOf(ctx, q, org, db.HolidayFilter{})
	if err != nil {
		return nil, err
	}
	var orgHol []shifts.Date
	shiftHol := map[int64][]shifts.Date{}
	for _, h := range hols {
		d := shifts.DateOf(h.Date.Time)
		if h.ShiftID.Valid {
			shiftHol[h.ShiftID.Int64] = append(shiftHol[h.ShiftID.Int64], d)
		} else {
			orgHol = append(orgHol, d)
		}
	}
	b := &calendarBook{hours: hours, shifts: map[int64]*db.Shift{}, cals: map[int64]*shifts.Calendar{}}
	if b.business, err = businessCalendar(hours, orgHol); err != nil {
		return nil, fmt.Errorf("org %d business hours: %w", org, err)
	}
	for _, s := range list {
		c, err := shiftCalendar(s, shiftHol[s.Key], orgHol)
		if err != nil {
			return nil, fmt.Errorf("org %d shift %d: %w", org, s.Key, err)
		}
		b.shifts[s.Key], b.cals[s.Key] = s, c
	}
	return b, nil
}

// books memoises an org's calendarBook for the rest of a request, so a
// list of members asking each for its shift and availability builds the
// calendars once. Entries are dropped when the request ends and when the
// request itself changes the calendars (shiftWrite).
var books sync.Map // bookKey -> *calendarBook

type bookKey struct {
	s   *session
	org int64
}

// orgBook is the org's calendarBook for this request.
func orgBook(ctx context.Context, sc *scope) (*calendarBook, error) {
	s := sessionFrom(ctx)
	if s == nil {
		return loadBook(ctx, sc.conn, sc.org.Key)
	}
	key := bookKey{s, sc.org.Key}
	if b, ok := books.Load(key); ok {
		return b.(*calendarBook), nil
	}
	b, err := loadBook(ctx, sc.conn, sc.org.Key)
	if err != nil {
		return nil, err
	}
	if _, loaded := books.LoadOrStore(key, b); !loaded {
		context.AfterFunc(ctx, func() { books.Delete(key) })
	}
	return b, nil
}

// forgetBook drops the request's memoised book of an org after a write.
func forgetBook(ctx context.Context, org int64) {
	if s := sessionFrom(ctx); s != nil {
		books.Delete(bookKey{s, org})
	}
}

// calendarOf is the calendar of a member's shift; no shift (or a shift that
// no longer exists) is the business hours.
func (b *calendarBook) calendarOf(shift sql.NullInt64) *shifts.Calendar {
	if shift.Valid {
		if c, ok := b.cals[shift.Int64]; ok {
			return c
		}
	}
	return b.business
}

// orgDate is the date of t in the org's time zone: the calendar in which
// shift assignments take effect.
func (b *calendarBook) orgDate(t time.Time) records.Date {
	return orgDateIn(b.business.Location(), t)
}

func orgDateIn(loc *time.Location, t time.Time) records.Date {
	y, m, d := t.In(loc).Date()
	return records.Date{Time: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// orgToday is today's date in the org's time zone.
func (r *Resolver) orgToday(ctx context.Context, q sqlx.QueryerContext, org int64) (records.Date, *time.Location, error) {
	h, err := db.BusinessHoursOf(ctx, q, org)
	if err != nil {
		return records.Date{}, nil, err
	}
	loc, err := time.LoadLocation(h.TimeZone)
	if err != nil {
		return records.Date{}, nil, fmt.Errorf("org %d time zone %q: %w", org, h.TimeZone, err)
	}
	return orgDateIn(loc, r.now()), loc, nil
}

// ---- outputs ----

func workingDaysOut(days []shifts.DayHours, weekStart time.Weekday) []*model.WorkingDay {
	sorted := slices.Clone(days)
	slices.SortFunc(sorted, func(a, b shifts.DayHours) int {
		return (int(a.Day)-int(weekStart)+7)%7 - (int(b.Day)-int(weekStart)+7)%7
	})
	out := make([]*model.WorkingDay, 0, len(sorted))
	for _, d := range sorted {
		out = append(out, &model.WorkingDay{Day: weekdayOut(d.Day), Start: d.Start.String(), End: d.End.String(),
			CrossesMidnight: crossesMidnight(d.Start, d.End)})
	}
	return out
}

func businessHoursOut(h *db.BusinessHoursRow) (*model.BusinessHours, error) {
	cal, err := businessCalendar(h, nil)
	if err != nil {
		return nil, err
	}
	return &model.BusinessHours{Type: model.BusinessHoursType(h.Kind), TimeZone: h.TimeZone,
		WeekStart: weekdayOut(cal.WeekStart()), Days: workingDaysOut(cal.Days(), cal.WeekStart())}, nil
}

// shiftAudit is a shift as the audit log records it.
func shiftAudit(s *db.Shift, hols []holidayIn) map[string]any {
	out := map[string]any{"id": s.ID(), "name": s.Name, "timeZone": s.TimeZone, "days": s.Hours, "breaks": s.BreakList}
	if hols != nil {
		list := make([]map[string]string, 0, len(hols))
		for _, h := range hols {
			list = append(list, map[string]string{"date": h.date.String(), "name": h.name})
		}
		out["holidays"] = list
	}
	return out
}

func holidayAudit(h *db.Holiday) map[string]any {
	out := map[string]any{"id": h.ID(), "date": h.Date.String(), "name": h.Name, "shiftId": nil}
	if h.ShiftID.Valid {
		out["shiftId"] = ids.Encode(ids.Shift, h.ShiftID.Int64)
	}
	return out
}

func shiftHolidaysAudit(hs []*db.Holiday) []holidayIn {
	out := []holidayIn{}
	for _, h := range hs {
		out = append(out, holidayIn{date: h.Date, name: h.Name})
	}
	return out
}

// ---- reads ----

func (r *Resolver) businessHours(ctx context.Context) (*model.BusinessHours, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	h, err := db.BusinessHoursOf(ctx, sc.conn, sc.org.Key)
	if err != nil {
		return nil, err
	}
	return businessHoursOut(h)
}

func (r *Resolver) shiftList(ctx context.Context) ([]*db.Shift, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	return db.ShiftsOfOrg(ctx, sc.conn, sc.org.Key)
}

func (r *Resolver) shiftByID(ctx context.Context, id string) (*db.Shift, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	key, err := ids.Decode(ids.Shift, id)
	if err != nil {
		return nil, nil
	}
	s, err := db.ShiftByID(ctx, sc.conn, sc.org.Key, key)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	return s, err
}

func (r *Resolver) holidayList(ctx context.Context, year *int, shiftID *string) ([]*db.Holiday, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	var f db.HolidayFilter
	if year != nil {
		if *year < 1000 || *year > 9999 {
			return nil, apperr.NewBadInput("year must be between 1000 and 9999")
		}
		f.Year = *year
	}
	if shiftID != nil {
		if f.Shift, err = shiftKeyIn(ctx, sc.conn, sc.org.Key, "shiftId", *shiftID); err != nil {
			return nil, err
		}
	}
	return db.HolidaysOf(ctx, sc.conn, sc.org.Key, f)
}

// shiftKeyIn resolves a shift id of the org; NOT_FOUND otherwise.
func shiftKeyIn(ctx context.Context, q sqlx.QueryerContext, org int64, field, id string) (int64, error) {
	key, err := ids.Decode(ids.Shift, id)
	if err == nil {
		_, err = db.ShiftByID(ctx, q, org, key)
	}
	if errors.Is(err, ids.ErrMalformed) || errors.Is(err, db.ErrNotFound) {
		return 0, apperr.NewNotFound("%s: no shift with id %s in this org", field, id)
	}
	return key, err
}

func shiftDaysOut(s *db.Shift) ([]*model.WorkingDay, error) {
	days, err := storedDays(s.Hours)
	if err != nil {
		return nil, err
	}
	return workingDaysOut(days, time.Monday), nil
}

func shiftBreaksOut(s *db.Shift) []*model.ShiftBreak {
	out := make([]*model.ShiftBreak, 0, len(s.BreakList))
	for _, b := range s.BreakList {
		out = append(out, &model.ShiftBreak{Start: b.Start, End: b.End})
	}
	return out
}

func (r *Resolver) shiftHolidays(ctx context.Context, s *db.Shift) ([]*db.Holiday, error) {
	sc, err := scopeOf(ctx, s.OrgID)
	if err != nil {
		return nil, err
	}
	all, err := db.HolidaysOf(ctx, sc.conn, sc.org.Key, db.HolidayFilter{Shift: s.Key})
	if err != nil {
		return nil, err
	}
	out := []*db.Holiday{}
	for _, h := range all {
		if h.ShiftID.Valid {
			out = append(out, h)
		}
	}
	return out, nil
}

func (r *Resolver) shiftMemberCount(ctx context.Context, s *db.Shift) (int, error) {
	sc, err := scopeOf(ctx, s.OrgID)
	if err != nil {
		return 0, err
	}
	today, _, err := r.orgToday(ctx, sc.conn, sc.org.Key)
	if err != nil {
		return 0, err
	}
	eff, err := db.EffectiveShifts(ctx, sc.conn, sc.org.Key, nil, today)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range eff {
		if e.Shift.Valid && e.Shift.Int64 == s.Key {
			n++
		}
	}
	return n, nil
}

func (r *Resolver) holidayShift(ctx context.Context, h *db.Holiday) (*db.Shift, error) {
	if !h.ShiftID.Valid {
		return nil, nil
	}
	sc, err := scopeOf(ctx, h.OrgID)
	if err != nil {
		return nil, err
	}
	s, err := db.ShiftByID(ctx, sc.conn, sc.org.Key, h.ShiftID.Int64)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	return s, err
}

// ---- writes (manageShifts) ----

// shiftWrite runs fn in one transaction holding the org's lock, for a
// caller who holds manageShifts at the locked version.
func (r *Resolver) shiftWrite(ctx context.Context, fn func(tx *sqlx.Tx, sc *scope) error) error {
	sc, err := adminScope(ctx, access.SetupManageShifts)
	if err != nil {
		return err
	}
	defer forgetBook(ctx, sc.org.Key)
	return r.inTx(ctx, func(tx *sqlx.Tx) error {
		lsc, err := r.lockedAdminScope(ctx, tx, sc, access.SetupManageShifts)
		if err != nil {
			return err
		}
		return fn(tx, lsc)
	})
}

func (r *Resolver) setBusinessHours(ctx context.Context, in model.SetBusinessHoursInput) (*model.BusinessHours, error) {
	var out *model.BusinessHours
	err := r.shiftWrite(ctx, func(tx *sqlx.Tx, sc *scope) error {
		cur, err := db.BusinessHoursOf(ctx, tx, sc.org.Key)
		if err != nil {
			return err
		}
		next := db.BusinessHoursRow{Kind: string(in.Type), WeekStart: cur.WeekStart, TimeZone: cur.TimeZone, Days: db.DayList{}}
		if in.TimeZone != nil {
			next.TimeZone = *in.TimeZone
		}
		if in.WeekStart != nil {
			if _, err := weekdayIn("input.weekStart", *in.WeekStart); err != nil {
				return err
			}
			next.WeekStart = string(*in.WeekStart)
		}
		hasHours := in.SameHours != nil || in.Days != nil
		switch {
		case in.Type != model.BusinessHoursTypeCustom && hasHours:
			return apperr.NewBadInput("input: type %s has fixed hours; give sameHours or days only with type CUSTOM", in.Type)
		case in.Type == model.BusinessHoursTypeCustom && in.SameHours != nil && in.Days != nil:
			return apperr.NewBadInput("input: give either sameHours or days, not both")
		case in.Type == model.BusinessHoursTypeCustom && !hasHours:
			return apperr.NewBadInput("input: type CUSTOM needs sameHours or days")
		case in.SameHours != nil:
			if len(in.SameHours.Days) == 0 {
				return apperr.NewBadInput("input.sameHours.days: name at least one working day")
			}
			per := make([]*model.ShiftDayInput, 0, len(in.SameHours.Days))
			for _, d := range in.SameHours.Days {
				per = append(per, &model.ShiftDayInput{Day: d, Start: in.SameHours.Start, End: in.SameHours.End})
			}
			if _, next.Days, err = daysIn("input.sameHours", per); err != nil {
				return err
			}
		case in.Days != nil:
			if _, next.Days, err = daysIn("input.days", in.Days); err != nil {
				return err
			}
		}
		if _, err := businessCalendar(&next, nil); err != nil {
			return calendarInputErr("input", err)
		}
		before, err := businessHoursOut(cur)
		if err != nil {
			return err
		}
		if out, err = businessHoursOut(&next); err != nil {
			return err
		}
		if reflect.DeepEqual(before, out) {
			return nil // nothing changes: nothing written
		}
		if err := db.SetBusinessHours(ctx, tx, sc.org.Key, next); err != nil {
			return err
		}
		return audit(ctx, tx, sc, "businessHours.set", "org", sc.org.Key, before, out)
	})
	return out, err
}

func shiftNameConflict(name string) error {
	return apperr.NewConflict("a shift named %q already exists in this org", name)
}

func (r *Resolver) createShift(ctx context.Context, in model.CreateShiftInput) (*db.Shift, error) {
	name, err := cleanName("shift", in.Name)
	if err != nil {
		return nil, err
	}
	days, storedD, err := daysIn("input.days", in.Days)
	if err != nil {
		return nil, err
	}
	breaks, storedB, err := breaksIn("input.breaks", in.Breaks)
	if err != nil {
		return nil, err
	}
	hols, holDates, err := holidaysIn("input.holidays", in.Holidays)
	if err != nil {
		return nil, err
	}
	if _, err := shifts.NewShiftCalendar(in.TimeZone, days, breaks, holDates, nil); err != nil {
		return nil, calendarInputErr("input", err)
	}
	var out *db.Shift
	err = r.shiftWrite(ctx, func(tx *sqlx.Tx, sc *scope) error {
		n, err := db.CountShifts(ctx, tx, sc.org.Key)
		if err != nil {
			return err
		}
		if n >= MaxShifts {
			return apperr.NewLimitExceeded("an org may have at most %d shifts; delete one first", MaxShifts)
		}
		if taken, err := db.ShiftNameTaken(ctx, tx, sc.org.Key, name, 0); err != nil {
			return err
		} else if taken {
			return shiftNameConflict(name)
		}
		out, err = db.InsertShift(ctx, tx, sc.org.Key, db.Shift{Name: name, TimeZone: in.TimeZone, Hours: storedD, BreakList: storedB})
		if errors.Is(err, db.ErrNameTaken) {
			return shiftNameConflict(name)
		}
		if err != nil {
			return err
		}
		for _, h := range hols {
			if _, err := db.InsertHoliday(ctx, tx, sc.org.Key, out.Key, h.date, h.name); err != nil {
				return err
			}
		}
		return audit(ctx, tx, sc, "shift.create", "shift", out.Key, nil, shiftAudit(out, hols))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Resolver) updateShift(ctx context.Context, id string, in model.UpdateShiftInput) (*db.Shift, error) {
	key, err := ids.Decode(ids.Shift, id)
	if err != nil {
		return nil, apperr.NewNotFound("no shift with id %s in this org", id)
	}
	breaksGiven := in.Breaks != nil || inputHas(ctx, "input", "breaks")
	holidaysGiven := in.Holidays != nil || inputHas(ctx, "input", "holidays")
	if in.Name == nil && in.TimeZone == nil && in.Days == nil && !breaksGiven && !holidaysGiven {
		return nil, apperr.NewBadInput("nothing to update: give name, timeZone, days, breaks or holidays")
	}
	var out *db.Shift
	err = r.shiftWrite(ctx, func(tx *sqlx.Tx, sc *scope) error {
		cur, err := db.ShiftByID(ctx, tx, sc.org.Key, key)
		if errors.Is(err, db.ErrNotFound) {
			return apperr.NewNotFound("no shift with id %s in this org", id)
		}
		if err != nil {
			return err
		}
		curHols, err := r.shiftHolidaysTx(ctx, tx, sc.org.Key, key)
		if err != nil {
			return err
		}
		next := *cur
		if in.Name != nil {
			if next.Name, err = cleanName("shift", *in.Name); err != nil {
				return err
			}
		}
		if in.TimeZone != nil {
			next.TimeZone = *in.TimeZone
		}
		days, err := storedDays(cur.Hours)
		if err != nil {
			return err
		}
		if in.Days != nil {
			if days, next.Hours, err = daysIn("input.days", in.Days); err != nil {
				return err
			}
		}
		breaks, err := storedBreaks(cur.BreakList)
		if err != nil {
			return err
		}
		if breaksGiven {
			if breaks, next.BreakList, err = breaksIn("input.breaks", in.Breaks); err != nil {
				return err
			}
		}
		hols := shiftHolidaysAudit(curHols)
		var holDates []shifts.Date
		if holidaysGiven {
			if hols, holDates, err = holidaysIn("input.holidays", in.Holidays); err != nil {
				return err
			}
		}
		if _, err := shifts.NewShiftCalendar(next.TimeZone, days, breaks, holDates, nil); err != nil {
			return calendarInputErr("input", err)
		}
		if next.Name != cur.Name {
			if taken, err := db.ShiftNameTaken(ctx, tx, sc.org.Key, next.Name, key); err != nil {
				return err
			} else if taken {
				return shiftNameConflict(next.Name)
			}
		}
		out, err = db.UpdateShift(ctx, tx, sc.org.Key, next)
		if errors.Is(err, db.ErrNameTaken) {
			return shiftNameConflict(next.Name)
		}
		if err != nil {
			return err
		}
		if holidaysGiven {
			if err := db.DeleteShiftHolidays(ctx, tx, sc.org.Key, key); err != nil {
				return err
			}
			for _, h := range hols {
				if _, err := db.InsertHoliday(ctx, tx, sc.org.Key, key, h.date, h.name); err != nil {
					return err
				}
			}
		}
		return audit(ctx, tx, sc, "shift.update", "shift", key, shiftAudit(cur, shiftHolidaysAudit(curHols)), shiftAudit(out, hols))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Resolver) shiftHolidaysTx(ctx context.Context, q sqlx.QueryerContext, org, shift int64) ([]*db.Holiday, error) {
	all, err := db.HolidaysOf(ctx, q, org, db.HolidayFilter{Shift: shift})
	if err != nil {
		return nil, err
	}
	var out []*db.Holiday
	for _, h := range all {
		if h.ShiftID.Valid {
			out = append(out, h)
		}
	}
	return out, nil
}

func (r *Resolver) deleteShift(ctx context.Context, id string, replacementID *string) (string, error) {
	key, err := ids.Decode(ids.Shift, id)
	if err != nil {
		return "", apperr.NewNotFound("no shift with id %s in this org", id)
	}
	err = r.shiftWrite(ctx, func(tx *sqlx.Tx, sc *scope) error {
		cur, err := db.ShiftByID(ctx, tx, sc.org.Key, key)
		if errors.Is(err, db.ErrNotFound) {
			return apperr.NewNotFound("no shift with id %s in this org", id)
		}
		if err != nil {
			return err
		}
		var replacement int64
		if replacementID != nil {
			if replacement, err = shiftKeyIn(ctx, tx, sc.org.Key, "replacementShiftId", *replacementID); err != nil {
				return err
			}
			if replacement == key {
				return apperr.NewBadInput("replacementShiftId must name another shift than the one deleted")
			}
		}
		today, _, err := r.orgToday(ctx, tx, sc.org.Key)
		if err != nil {
			return err
		}
		users, err := db.ShiftUsers(ctx, tx, sc.org.Key, key, today)
		if err != nil {
			return err
		}
		if len(users) > 0 && replacement == 0 {
			return apperr.NewConflict("shift %q is worked by %d member(s), now or from a scheduled date: give replacementShiftId to move them", cur.Name, len(users))
		}
		hols, err := r.shiftHolidaysTx(ctx, tx, sc.org.Key, key)
		if err != nil {
			return err
		}
		if err := db.DeleteShift(ctx, tx, sc.org.Key, key, replacement); err != nil {
			return err
		}
		moved := make([]string, 0, len(users))
		for _, m := range users {
			moved = append(moved, ids.Encode(ids.Member, m))
		}
		after := map[string]any{"deleted": true, "movedMembers": moved, "replacementShiftId": nil}
		if replacement != 0 {
			after["replacementShiftId"] = ids.Encode(ids.Shift, replacement)
		}
		return audit(ctx, tx, sc, "shift.delete", "shift", key, shiftAudit(cur, shiftHolidaysAudit(hols)), after)
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

func (r *Resolver) createHoliday(ctx context.Context, in model.CreateHolidayInput) (*db.Holiday, error) {
	name, err := cleanName("holiday", in.Name)
	if err != nil {
		return nil, err
	}
	var out *db.Holiday
	err = r.shiftWrite(ctx, func(tx *sqlx.Tx, sc *scope) error {
		var shift int64
		if in.ShiftID != nil {
			if shift, err = shiftKeyIn(ctx, tx, sc.org.Key, "input.shiftId", *in.ShiftID); err != nil {
				return err
			}
		}
		if taken, err := db.HolidayOn(ctx, tx, sc.org.Key, shift, in.Date); err != nil {
			return err
		} else if taken != "" {
			return apperr.NewConflict("%s is already a holiday (%q) of this calendar", in.Date, taken)
		}
		if out, err = db.InsertHoliday(ctx, tx, sc.org.Key, shift, in.Date, name); err != nil {
			return err
		}
		return audit(ctx, tx, sc, "holiday.create", "holiday", out.Key, nil, holidayAudit(out))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Resolver) deleteHoliday(ctx context.Context, id string) (string, error) {
	key, err := ids.Decode(ids.Holiday, id)
	if err != nil {
		return "", apperr.NewNotFound("no holiday with id %s in this org", id)
	}
	err = r.shiftWrite(ctx, func(tx *sqlx.Tx, sc *scope) error {
		cur, err := db.HolidayByID(ctx, tx, sc.org.Key, key)
		if errors.Is(err, db.ErrNotFound) {
			return apperr.NewNotFound("no holiday with id %s in this org", id)
		}
		if err != nil {
			return err
		}
		if err := db.DeleteHoliday(ctx, tx, sc.org.Key, key); err != nil {
			return err
		}
		return audit(ctx, tx, sc, "holiday.delete", "holiday", key, holidayAudit(cur), nil)
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// assignShift gives members a shift (or business hours) from a date in the
// org's time zone, today by default and at most six months ahead. Nothing
// runs on that date: every read resolves a member's shift on the date it
// asks about from the assignments (db.EffectiveShifts).
func (r *Resolver) assignShift(ctx context.Context, memberIDs []string, shiftID *string, effectiveFrom *records.Date) ([]*model.ShiftAssignment, error) {
	if len(memberIDs) == 0 {
		return nil, apperr.NewBadInput("memberIds must name at least one member")
	}
	if len(memberIDs) > maxShiftMembers {
		return nil, apperr.NewBadInput("at most %d members per call; got %d", maxShiftMembers, len(memberIDs))
	}
	var out []*model.ShiftAssignment
	err := r.shiftWrite(ctx, func(tx *sqlx.Tx, sc *scope) error {
		keys := make([]int64, 0, len(memberIDs))
		seen := map[int64]bool{}
		for i, id := range memberIDs {
			key, err := ids.Decode(ids.Member, id)
			if _, ok := sc.snap.Member(key); err != nil || !ok {
				return apperr.NewNotFound("memberIds[%d]: no member with id %s in this org", i, id)
			}
			if seen[key] {
				return apperr.NewBadInput("memberIds[%d]: %s is listed more than once", i, id)
			}
			seen[key] = true
			keys = append(keys, key)
		}
		var shift sql.NullInt64
		var shiftRow *db.Shift
		if shiftID != nil {
			k, err := shiftKeyIn(ctx, tx, sc.org.Key, "shiftId", *shiftID)
			if err != nil {
				return err
			}
			if shiftRow, err = db.ShiftByID(ctx, tx, sc.org.Key, k); err != nil {
				return err
			}
			shift = sql.NullInt64{Int64: k, Valid: true}
		}
		today, loc, err := r.orgToday(ctx, tx, sc.org.Key)
		if err != nil {
			return err
		}
		from := today
		if effectiveFrom != nil {
			from = *effectiveFrom
		}
		latest := records.Date{Time: today.AddDate(0, maxAssignAheadMonths, 0)}
		switch {
		case from.Before(today.Time):
			return apperr.NewBadInput("effectiveFrom %s is in the past (today is %s in the org's time zone %s)", from, today, loc)
		case from.After(latest.Time):
			return apperr.NewBadInput("effectiveFrom %s is more than %d months ahead (latest %s)", from, maxAssignAheadMonths, latest)
		}
		before, err := db.EffectiveShifts(ctx, tx, sc.org.Key, keys, from)
		if err != nil {
			return err
		}
		members, err := db.MembersByIDs(ctx, tx, sc.org.Key, keys)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := db.SetShiftAssignment(ctx, tx, sc.org.Key, k, shift, from); err != nil {
				return err
			}
			if err := audit(ctx, tx, sc, "shift.assign", "member", k,
				map[string]any{"shiftId": shiftIDOut(before[k].Shift), "effectiveFrom": from.String()},
				map[string]any{"shiftId": shiftIDOut(shift), "effectiveFrom": from.String()}); err != nil {
				return err
			}
			out = append(out, &model.ShiftAssignment{Member: members[k], Shift: shiftRow, EffectiveFrom: from})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func shiftIDOut(s sql.NullInt64) any {
	if !s.Valid {
		return nil
	}
	return ids.Encode(ids.Shift, s.Int64)
}
