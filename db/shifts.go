package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/ids"
	"warden/records"
)

// Business hours, shifts, holidays, shift assignments and the round-robin
// state of record assignment. Every function takes the org and filters on
// it. The calendar arithmetic lives in package shifts; this file only stores
// what it is built from. Callers validate through shifts before writing.

// DayHoursJSON is one working day as stored in shifts.days and
// business_hours.days: {"day":"MONDAY","start":"09:00","end":"17:00"}.
type DayHoursJSON struct {
	Day   string `json:"day"`
	Start string `json:"start"`
	End   string `json:"end"`
}

// BreakJSON is one break as stored in shifts.breaks.
type BreakJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// DayList is a jsonb list of working days.
type DayList []DayHoursJSON

// Scan reads a jsonb list.
func (d *DayList) Scan(src any) error { return scanJSONList(src, d) }

// Value writes a jsonb list (never null).
func (d DayList) Value() (driver.Value, error) { return jsonList(d) }

// BreakList is a jsonb list of breaks.
type BreakList []BreakJSON

// Scan reads a jsonb list.
func (b *BreakList) Scan(src any) error { return scanJSONList(src, b) }

// Value writes a jsonb list (never null).
func (b BreakList) Value() (driver.Value, error) { return jsonList(b) }

func scanJSONList(src, dst any) error {
	var raw []byte
	switch v := src.(type) {
	case nil:
		return nil
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		return fmt.Errorf("jsonb list: unexpected %T", src)
	}
	return json.Unmarshal(raw, dst)
}

func jsonList[T any](l []T) (driver.Value, error) {
	if l == nil {
		l = []T{}
	}
	b, err := json.Marshal(l)
	return string(b), err
}

// BusinessHoursRow is an org's business hours.
type BusinessHoursRow struct {
	Kind      string  `db:"kind"`
	WeekStart string  `db:"week_start"`
	TimeZone  string  `db:"time_zone"`
	Days      DayList `db:"days"`
}

// BusinessHoursOf loads the org's business hours. An org without a row (none
// is missing in practice: CreateOrg inserts it) works the table's defaults,
// 24x5 from Monday, in the org's time zone.
func BusinessHoursOf(ctx context.Context, q sqlx.QueryerContext, orgID int64) (*BusinessHoursRow, error) {
	var b BusinessHoursRow
	err := sqlx.GetContext(ctx, q, &b, `SELECT coalesce(h.kind, 'TWENTY_FOUR_FIVE') AS kind, coalesce(h.week_start, 'MONDAY') AS week_start,
			coalesce(h.time_zone, o.time_zone) AS time_zone, coalesce(h.days, '[]') AS days
		FROM orgs o LEFT JOIN business_hours h ON h.org_id = o.id WHERE o.id = $1`, orgID)
	return &b, notFound(err, "business hours")
}

// SetBusinessHours stores the org's business hours; their time zone is the
// org's time zone too.
func SetBusinessHours(ctx context.Context, tx *sqlx.Tx, orgID int64, b BusinessHoursRow) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO business_hours (org_id, kind, week_start, time_zone, days) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (org_id) DO UPDATE SET kind = EXCLUDED.kind, week_start = EXCLUDED.week_start,
			time_zone = EXCLUDED.time_zone, days = EXCLUDED.days`,
		orgID, b.Kind, b.WeekStart, b.TimeZone, b.Days); err != nil {
		return wrap(err, "set business hours")
	}
	_, err := tx.ExecContext(ctx, `UPDATE orgs SET time_zone = $2 WHERE id = $1`, orgID, b.TimeZone)
	return wrap(err, "set org time zone")
}

// Shift is a shift of an org.
type Shift struct {
	OrgID     int64     `db:"org_id"`
	Key       int64     `db:"id"`
	Name      string    `db:"name"`
	TimeZone  string    `db:"time_zone"`
	Hours     DayList   `db:"days"`
	BreakList BreakList `db:"breaks"`
}

// ID is the shift's public id.
func (s *Shift) ID() string { return ids.Encode(ids.Shift, s.Key) }

const shiftColumns = `org_id, id, name, time_zone, days, breaks`

// ShiftsOfOrg lists the org's shifts by name.
func ShiftsOfOrg(ctx context.Context, q sqlx.QueryerContext, orgID int64) ([]*Shift, error) {
	var out []*Shift
	err := sqlx.SelectContext(ctx, q, &out, `SELECT `+shiftColumns+` FROM shifts WHERE org_id = $1 ORDER BY lower(name), id`, orgID)
	return out, wrap(err, "shifts")
}

// ShiftByID loads a shift of the org; ErrNotFound when none.
func ShiftByID(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) (*Shift, error) {
	var s Shift
	err := sqlx.GetContext(ctx, q, &s, `SELECT `+shiftColumns+` FROM shifts WHERE org_id = $1 AND id = $2`, orgID, id)
	return &s, notFound(err, "shift")
}

// CountShifts is the number of shifts of the org.
func CountShifts(ctx context.Context, q sqlx.QueryerContext, orgID int64) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM shifts WHERE org_id = $1`, orgID)
	return n, wrap(err, "count shifts")
}

// ShiftNameTaken reports whether another shift of the org (not exceptID) has
// the name, case-insensitively.
func ShiftNameTaken(ctx context.Context, q sqlx.QueryerContext, orgID int64, name string, exceptID int64) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM shifts WHERE org_id = $1 AND lower(name) = lower($2) AND id <> $3`, orgID, name, exceptID)
	return n > 0, wrap(err, "shift by name")
}

// InsertShift creates a shift; ErrNameTaken when the org has one so named.
func InsertShift(ctx context.Context, tx *sqlx.Tx, orgID int64, s Shift) (*Shift, error) {
	var out Shift
	err := sqlx.GetContext(ctx, tx, &out, `INSERT INTO shifts (org_id, name, time_zone, days, breaks) VALUES ($1, $2, $3, $4, $5)
		RETURNING `+shiftColumns, orgID, s.Name, s.TimeZone, s.Hours, s.BreakList)
	if isUniqueViolation(err) {
		return nil, ErrNameTaken
	}
	return &out, wrap(err, "insert shift")
}

// UpdateShift replaces a shift's name, zone, days and breaks.
func UpdateShift(ctx context.Context, tx *sqlx.Tx, orgID int64, s Shift) (*Shift, error) {
	var out Shift
	err := sqlx.GetContext(ctx, tx, &out, `UPDATE shifts SET name = $3, time_zone = $4, days = $5, breaks = $6
		WHERE org_id = $1 AND id = $2 RETURNING `+shiftColumns, orgID, s.Key, s.Name, s.TimeZone, s.Hours, s.BreakList)
	if isUniqueViolation(err) {
		return nil, ErrNameTaken
	}
	return &out, notFound(err, "update shift")
}

// ShiftUsers lists the members that work the shift on day (a date in the
// org's zone) or are scheduled to from a later date, by id.
func ShiftUsers(ctx context.Context, q sqlx.QueryerContext, orgID, shiftID int64, day records.Date) ([]int64, error) {
	var out []int64
	err := sqlx.SelectContext(ctx, q, &out, `SELECT m.id FROM members m`+effectiveJoinSQL+`
		WHERE m.org_id = $1 AND (`+effectiveShiftSQL+` = $2
			OR EXISTS (SELECT 1 FROM shift_assignments f WHERE f.org_id = m.org_id AND f.member_id = m.id
				AND f.effective_from > $3::date AND f.shift_id = $2))
		ORDER BY m.id`, orgID, shiftID, day)
	return out, wrap(err, "shift users")
}

// DeleteShift deletes a shift. Members whose base shift or any assignment
// (current, scheduled or superseded) names it move to replacement; with
// replacement 0 the caller has checked with ShiftUsers that none works it
// now or later, so the references left are superseded history and are
// dropped. The shift's holidays go with it.
func DeleteShift(ctx context.Context, tx *sqlx.Tx, orgID, id, replacement int64) error {
	to := sql.NullInt64{Int64: replacement, Valid: replacement != 0}
	if _, err := tx.ExecContext(ctx, `UPDATE members SET shift_id = $3 WHERE org_id = $1 AND shift_id = $2`, orgID, id, to); err != nil {
		return wrap(err, "move members off shift")
	}
	var err error
	if replacement != 0 {
		_, err = tx.ExecContext(ctx, `UPDATE shift_assignments SET shift_id = $3 WHERE org_id = $1 AND shift_id = $2`, orgID, id, replacement)
	} else {
		_, err = tx.ExecContext(ctx, `DELETE FROM shift_assignments WHERE org_id = $1 AND shift_id = $2`, orgID, id)
	}
	if err != nil {
		return wrap(err, "move assignments off shift")
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM shifts WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return wrap(err, "delete shift")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Holiday is an org holiday (no shift) or a shift's holiday.
type Holiday struct {
	OrgID   int64         `db:"org_id"`
	Key     int64         `db:"id"`
	ShiftID sql.NullInt64 `db:"shift_id"`
	Date    records.Date  `db:"date"`
	Name    string        `db:"name"`
}

// ID is the holiday's public id.
func (h *Holiday) ID() string { return ids.Encode(ids.Holiday, h.Key) }

// HolidayFilter selects holidays: Year (0: any) and, with Shift set, that
// shift's and the org's only.
type HolidayFilter struct {
	Year  int
	Shift int64
}

// HolidaysOf lists holidays of the org by date.
func HolidaysOf(ctx context.Context, q sqlx.QueryerContext, orgID int64, f HolidayFilter) ([]*Holiday, error) {
	var out []*Holiday
	err := sqlx.SelectContext(ctx, q, &out, `SELECT org_id, id, shift_id, date, name FROM holidays
		WHERE org_id = $1 AND ($2 = 0 OR extract(year FROM date) = $2) AND ($3 = 0 OR shift_id IS NULL OR shift_id = $3)
		ORDER BY date, shift_id NULLS FIRST, id`, orgID, f.Year, f.Shift)
	return out, wrap(err, "holidays")
}

// HolidayByID loads a holiday of the org; ErrNotFound when none.
func HolidayByID(ctx context.Context, q sqlx.QueryerContext, orgID, id int64) (*Holiday, error) {
	var h Holiday
	err := sqlx.GetContext(ctx, q, &h, `SELECT org_id, id, shift_id, date, name FROM holidays WHERE org_id = $1 AND id = $2`, orgID, id)
	return &h, notFound(err, "holiday")
}

// HolidayOn returns the name of the holiday of the same calendar (the shift,
// or the org when shiftID is 0) on date; "" when there is none.
func HolidayOn(ctx context.Context, q sqlx.QueryerContext, orgID, shiftID int64, date records.Date) (string, error) {
	var out []string
	err := sqlx.SelectContext(ctx, q, &out, `SELECT name FROM holidays WHERE org_id = $1 AND coalesce(shift_id, 0) = $2 AND date = $3 LIMIT 1`,
		orgID, shiftID, date)
	if err != nil || len(out) == 0 {
		return "", wrap(err, "holiday on date")
	}
	return out[0], nil
}

// InsertHoliday adds a holiday (shiftID 0: an org holiday).
func InsertHoliday(ctx context.Context, tx *sqlx.Tx, orgID, shiftID int64, date records.Date, name string) (*Holiday, error) {
	var h Holiday
	err := sqlx.GetContext(ctx, tx, &h, `INSERT INTO holidays (org_id, shift_id, date, name) VALUES ($1, NULLIF($2, 0), $3, $4)
		RETURNING org_id, id, shift_id, date, name`, orgID, shiftID, date, name)
	return &h, wrap(err, "insert holiday")
}

// DeleteHoliday deletes a holiday of the org.
func DeleteHoliday(ctx context.Context, tx *sqlx.Tx, orgID, id int64) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM holidays WHERE org_id = $1 AND id = $2`, orgID, id)
	if err != nil {
		return wrap(err, "delete holiday")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteShiftHolidays deletes every holiday of a shift (before replacing them).
func DeleteShiftHolidays(ctx context.Context, tx *sqlx.Tx, orgID, shiftID int64) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM holidays WHERE org_id = $1 AND shift_id = $2`, orgID, shiftID)
	return wrap(err, "delete shift holidays")
}

// effectiveShiftSQL is member m's shift on date $3: its latest assignment
// effective on or before that date, else the shift it was added with.
// A future assignment thus takes effect on its date with nobody acting.
const effectiveShiftSQL = `(CASE WHEN a.member_id IS NOT NULL THEN a.shift_id ELSE m.shift_id END)`

const effectiveJoinSQL = ` LEFT JOIN LATERAL (SELECT member_id, shift_id FROM shift_assignments sa
		WHERE sa.org_id = m.org_id AND sa.member_id = m.id AND sa.effective_from <= $3::date
		ORDER BY sa.effective_from DESC LIMIT 1) a ON true`

// MemberShift is a member's shift on a date (Shift invalid: business hours)
// and whether the member is ACTIVE.
type MemberShift struct {
	Member int64         `db:"id"`
	Shift  sql.NullInt64 `db:"shift_id"`
	Active bool          `db:"active"`
}

// EffectiveShifts returns the shift of each member on day (a date in the
// org's zone); members nil means every member of the org.
func EffectiveShifts(ctx context.Context, q sqlx.QueryerContext, orgID int64, members []int64, day records.Date) (map[int64]MemberShift, error) {
	var rows []MemberShift
	var filter any
	if members != nil {
		filter = pq.Int64Array(members)
	}
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT m.id, `+effectiveShiftSQL+` AS shift_id, m.status = 'ACTIVE' AS active
		FROM members m`+effectiveJoinSQL+`
		WHERE m.org_id = $1 AND ($2::bigint[] IS NULL OR m.id = ANY($2))`, orgID, filter, day)
	if err != nil {
		return nil, wrap(err, "effective shifts")
	}
	out := make(map[int64]MemberShift, len(rows))
	for _, r := range rows {
		out[r.Member] = r
	}
	return out, nil
}

// ShiftAssignment is a member's shift from a date on.
type ShiftAssignment struct {
	Member        int64         `db:"member_id"`
	Shift         sql.NullInt64 `db:"shift_id"`
	EffectiveFrom records.Date  `db:"effective_from"`
}

// ScheduledShifts lists a member's assignments effective after day.
func ScheduledShifts(ctx context.Context, q sqlx.QueryerContext, orgID, member int64, day records.Date) ([]ShiftAssignment, error) {
	var out []ShiftAssignment
	err := sqlx.SelectContext(ctx, q, &out, `SELECT member_id, shift_id, effective_from FROM shift_assignments
		WHERE org_id = $1 AND member_id = $2 AND effective_from > $3 ORDER BY effective_from`, orgID, member, day)
	return out, wrap(err, "scheduled shifts")
}

// SetShiftAssignment makes shift (invalid: business hours) the member's from
// day on, replacing an assignment of the same day.
func SetShiftAssignment(ctx context.Context, tx *sqlx.Tx, orgID, member int64, shift sql.NullInt64, day records.Date) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO shift_assignments (org_id, member_id, shift_id, effective_from) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, member_id, effective_from) DO UPDATE SET shift_id = EXCLUDED.shift_id`, orgID, member, shift, day)
	return wrap(err, "assign shift")
}

// RotationTurn locks the round-robin state of a principal for the rest of
// the transaction and returns the member picked last (0: none yet). Two
// concurrent assignments to one principal queue on this lock, so each turn
// is taken by exactly one of them; the state is a row, so it survives
// restarts.
func RotationTurn(ctx context.Context, tx *sqlx.Tx, orgID int64, principalType string, principalID int64) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO assignment_state (org_id, principal_type, principal_id) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, orgID, principalType, principalID); err != nil {
		return 0, wrap(err, "assignment state")
	}
	var last sql.NullInt64
	err := sqlx.GetContext(ctx, tx, &last, `SELECT last_member_id FROM assignment_state
		WHERE org_id = $1 AND principal_type = $2 AND principal_id = $3 FOR UPDATE`, orgID, principalType, principalID)
	if err != nil {
		return 0, wrap(err, "lock assignment state")
	}
	return last.Int64, nil
}

// SetRotationTurn records the member picked last for a principal, in the
// transaction that holds RotationTurn's lock.
func SetRotationTurn(ctx context.Context, tx *sqlx.Tx, orgID int64, principalType string, principalID, member int64, turns int) error {
	_, err := tx.ExecContext(ctx, `UPDATE assignment_state SET last_member_id = $4, turn = turn + $5
		WHERE org_id = $1 AND principal_type = $2 AND principal_id = $3`, orgID, principalType, principalID, member, turns)
	return wrap(err, "set assignment state")
}

// OpenTaskCounts counts each member's open tasks: tasks whose status is
// none of ClosedTaskStatuses (no status is open).
func OpenTaskCounts(ctx context.Context, q sqlx.QueryerContext, orgID int64, members []int64) (map[int64]int, error) {
	var rows []struct {
		Owner int64 `db:"owner_id"`
		N     int   `db:"n"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT owner_id, count(*) AS n FROM tasks
		WHERE org_id = $1 AND owner_id = ANY($2) AND `+OpenTaskSQL+` GROUP BY owner_id`, orgID, pq.Int64Array(members))
	if err != nil {
		return nil, wrap(err, "open task counts")
	}
	out := make(map[int64]int, len(rows))
	for _, r := range rows {
		out[r.Owner] = r.N
	}
	return out, nil
}

// ClosedTaskStatuses are the task statuses (compared case-insensitively,
// trimmed) that mean the work is over: Completed and Closed, and Done, which
// the demo data and many imports use.
var ClosedTaskStatuses = []string{"completed", "closed", "done"}

// OpenTaskSQL is the condition on the tasks table for an open task.
const OpenTaskSQL = `(status IS NULL OR lower(btrim(status)) NOT IN ('completed', 'closed', 'done'))`
