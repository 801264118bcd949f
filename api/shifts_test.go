package api_test

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"warden/api/apitest"
	"warden/resolvers"
	"warden/shifts"
)

// Business hours, shifts, availability, assignment and deadlines through
// HTTP GraphQL, with the server's clock injected (Resolver.Now). Helpers are
// prefixed "sh" to keep clear of the package's other test files.

// shClock is a settable clock shared by the test and the server.
type shClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *shClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *shClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// shWorld is an org whose Administrator holds manageShifts.
type shWorld struct {
	env    *apitest.Env
	clock  *shClock
	admin  apitest.Caller
	org    string
	orgKey int64
}

// shMonday is Monday 2026-01-05 10:00 UTC, the default "now".
var shMonday = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

func shNew(t *testing.T) *shWorld {
	t.Helper()
	clock := &shClock{t: shMonday}
	env := apitest.NewWith(t, func(r *resolvers.Resolver) { r.Now = clock.Now })
	admin := env.CreateOrg(env.Signup("admin@shifts.test", "Ada Admin"), "Shifts Org")
	return &shWorld{env: env, clock: clock, admin: admin, org: admin.Org, orgKey: apitest.OrgKey(admin.Org)}
}

// member adds a Standard member in role (created under parent if new).
func (w *shWorld) member(t *testing.T, name, role, parent string) (apitest.Caller, string) {
	t.Helper()
	e := envFor(w.env, t)
	c := e.Signup(name+"@shifts.test", name)
	key := e.AddMember(w.org, c, role, parent, false)
	return c.In(w.org), fmt.Sprintf("member_%d", key)
}

func (w *shWorld) roleID(t *testing.T, name string) string {
	t.Helper()
	var id int64
	if err := w.env.DB.Get(&id, `SELECT id FROM roles WHERE org_id = $1 AND name = $2`, w.orgKey, name); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("role_%d", id)
}

func (w *shWorld) must(t *testing.T, c apitest.Caller, q string, vars obj) obj {
	t.Helper()
	return recData(envFor(w.env, t), c, q, vars)
}

func (w *shWorld) fails(t *testing.T, c apitest.Caller, code, q string, vars obj) {
	t.Helper()
	envFor(w.env, t).Fails(c, code, q, vars)
}

// state is everything of the org that shifts and assignment write, so a
// refused call can be shown to have written nothing.
func (w *shWorld) state(t *testing.T) string {
	t.Helper()
	var s string
	err := w.env.DB.Get(&s, `SELECT concat_ws(' | ',
		(SELECT json_agg(x ORDER BY id)::text FROM (SELECT id, name, time_zone, days, breaks FROM shifts WHERE org_id = $1) x),
		(SELECT json_agg(x ORDER BY id)::text FROM (SELECT id, shift_id, date, name FROM holidays WHERE org_id = $1) x),
		(SELECT json_agg(x ORDER BY member_id, effective_from)::text FROM (SELECT member_id, shift_id, effective_from FROM shift_assignments WHERE org_id = $1) x),
		(SELECT row_to_json(x)::text FROM (SELECT kind, week_start, time_zone, days FROM business_hours WHERE org_id = $1) x),
		(SELECT json_agg(x ORDER BY id)::text FROM (SELECT id, shift_id FROM members WHERE org_id = $1) x),
		(SELECT json_agg(x ORDER BY id)::text FROM (SELECT id, owner_id, due_at FROM tasks WHERE org_id = $1) x),
		(SELECT json_agg(x)::text FROM (SELECT principal_type, principal_id, last_member_id, turn FROM assignment_state WHERE org_id = $1) x),
		(SELECT count(*)::text FROM audit_log WHERE org_id = $1),
		(SELECT time_zone FROM orgs WHERE id = $1))`, w.orgKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	shShiftSel       = `id name timeZone days { day start end crossesMidnight } breaks { start end } holidays { id date name } memberCount`
	shCreateShiftQ   = `mutation($in: CreateShiftInput!) { createShift(input: $in) { ` + shShiftSel + ` } }`
	shUpdateShiftQ   = `mutation($id: ID!, $in: UpdateShiftInput!) { updateShift(id: $id, input: $in) { ` + shShiftSel + ` } }`
	shDeleteShiftQ   = `mutation($id: ID!, $to: ID) { deleteShift(id: $id, replacementShiftId: $to) }`
	shSetHoursQ      = `mutation($in: SetBusinessHoursInput!) { setBusinessHours(input: $in) { type timeZone weekStart days { day start end crossesMidnight } } }`
	shCreateHolidayQ = `mutation($in: CreateHolidayInput!) { createHoliday(input: $in) { id date name shift { id } } }`
	shAssignShiftQ   = `mutation($ms: [ID!]!, $s: ID, $from: Date) { assignShift(memberIds: $ms, shiftId: $s, effectiveFrom: $from) { member { id } shift { id } effectiveFrom } }`
	shMemberQ        = `query($id: ID!) { member(id: $id) { id shift { id name } timeZone workingTimeZone availableNow scheduledShifts { shift { id } effectiveFrom } } }`
	shAvailableQ     = `query($at: Time!, $p: PrincipalInput) { availableMembers(at: $at, principal: $p) { id name } }`
	shAssignQ        = `mutation($m: Module!, $ids: [ID!]!, $to: PrincipalInput!, $s: AssignmentStrategy!, $due: Int) {
		assignRecords(module: $m, ids: $ids, to: $to, strategy: $s, dueInWorkingMinutes: $due) { id owner { id } ... on Task { dueAt } } }`
	shDeadlineQ = `query($from: Time!, $n: Int!, $m: ID, $s: ID) { businessDeadline(from: $from, workingMinutes: $n, memberId: $m, shiftId: $s) }`
)

func shDay(day, start, end string) obj { return obj{"day": day, "start": start, "end": end} }

func shWeekdays(start, end string) []obj {
	var out []obj
	for _, d := range []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"} {
		out = append(out, shDay(d, start, end))
	}
	return out
}

func (w *shWorld) createShift(t *testing.T, in obj) string {
	t.Helper()
	return recStr(w.must(t, w.admin, shCreateShiftQ, obj{"in": in}), "createShift", "id")
}

func (w *shWorld) setBerlinNineToFive(t *testing.T) {
	t.Helper()
	w.must(t, w.admin, shSetHoursQ, obj{"in": obj{"type": "CUSTOM", "timeZone": "Europe/Berlin",
		"sameHours": obj{"days": []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"}, "start": "09:00", "end": "17:00"}}})
}

func TestShiftsValidation(t *testing.T) {
	w := shNew(t)
	std, _ := w.member(t, "sam", "Rep", "CEO")
	nine := shWeekdays("09:00", "17:00")
	valid := func(mod func(in obj)) obj {
		in := obj{"name": "Day", "timeZone": "Europe/Berlin", "days": nine}
		mod(in)
		return obj{"in": in}
	}
	existing := w.createShift(t, obj{"name": "Existing", "timeZone": "UTC", "days": nine,
		"breaks": []obj{{"start": "12:00", "end": "12:30"}}})

	tests := []struct {
		name   string
		caller apitest.Caller
		query  string
		vars   obj
		code   string
	}{
		{"break outside the shift", w.admin, shCreateShiftQ, valid(func(in obj) { in["breaks"] = []obj{{"start": "08:00", "end": "09:30"}} }), "BAD_USER_INPUT"},
		{"break past the shift end", w.admin, shCreateShiftQ, valid(func(in obj) { in["breaks"] = []obj{{"start": "16:30", "end": "17:30"}} }), "BAD_USER_INPUT"},
		{"three breaks", w.admin, shCreateShiftQ, valid(func(in obj) {
			in["breaks"] = []obj{{"start": "10:00", "end": "10:15"}, {"start": "12:00", "end": "12:30"}, {"start": "15:00", "end": "15:15"}}
		}), "BAD_USER_INPUT"},
		{"end before start without midnight crossing", w.admin, shCreateShiftQ, valid(func(in obj) {
			in["days"] = []obj{{"day": "MONDAY", "start": "17:00", "end": "09:00", "crossesMidnight": false}}
		}), "BAD_USER_INPUT"},
		{"crossesMidnight true on a day shift", w.admin, shCreateShiftQ, valid(func(in obj) {
			in["days"] = []obj{{"day": "MONDAY", "start": "09:00", "end": "17:00", "crossesMidnight": true}}
		}), "BAD_USER_INPUT"},
		{"zero-length hours", w.admin, shCreateShiftQ, valid(func(in obj) { in["days"] = []obj{shDay("MONDAY", "09:00", "09:00")} }), "BAD_USER_INPUT"},
		{"unknown zone", w.admin, shCreateShiftQ, valid(func(in obj) { in["timeZone"] = "Mars/Olympus_Mons" }), "BAD_USER_INPUT"},
		{"host-dependent Local zone", w.admin, shCreateShiftQ, valid(func(in obj) { in["timeZone"] = "Local" }), "BAD_USER_INPUT"},
		{"bad HH:MM", w.admin, shCreateShiftQ, valid(func(in obj) { in["days"] = []obj{shDay("MONDAY", "9:00", "17:00")} }), "BAD_USER_INPUT"},
		{"hour 25", w.admin, shCreateShiftQ, valid(func(in obj) { in["days"] = []obj{shDay("MONDAY", "09:00", "25:00")} }), "BAD_USER_INPUT"},
		{"24:00 as a start", w.admin, shCreateShiftQ, valid(func(in obj) { in["days"] = []obj{shDay("MONDAY", "24:00", "06:00")} }), "BAD_USER_INPUT"},
		{"duplicate day", w.admin, shCreateShiftQ, valid(func(in obj) {
			in["days"] = []obj{shDay("MONDAY", "09:00", "12:00"), shDay("MONDAY", "13:00", "17:00")}
		}), "BAD_USER_INPUT"},
		{"no days", w.admin, shCreateShiftQ, valid(func(in obj) { in["days"] = []obj{} }), "BAD_USER_INPUT"},
		{"empty name", w.admin, shCreateShiftQ, valid(func(in obj) { in["name"] = "  " }), "BAD_USER_INPUT"},
		{"duplicate holiday date", w.admin, shCreateShiftQ, valid(func(in obj) {
			in["holidays"] = []obj{{"date": "2026-12-25", "name": "Xmas"}, {"date": "2026-12-25", "name": "Again"}}
		}), "BAD_USER_INPUT"},
		{"name taken", w.admin, shCreateShiftQ, valid(func(in obj) { in["name"] = "existing" }), "CONFLICT"},
		{"standard member lacks manageShifts", std, shCreateShiftQ, valid(func(obj) {}), "FORBIDDEN"},
		{"update: break outside the new hours", w.admin, shUpdateShiftQ, obj{"id": existing, "in": obj{"days": shWeekdays("13:00", "17:00")}}, "BAD_USER_INPUT"},
		{"update: unknown zone", w.admin, shUpdateShiftQ, obj{"id": existing, "in": obj{"timeZone": "Nowhere/City"}}, "BAD_USER_INPUT"},
		{"update: nothing given", w.admin, shUpdateShiftQ, obj{"id": existing, "in": obj{}}, "BAD_USER_INPUT"},
		{"update: unknown shift", w.admin, shUpdateShiftQ, obj{"id": "shift_999999", "in": obj{"name": "X"}}, "NOT_FOUND"},
		{"update: standard member", std, shUpdateShiftQ, obj{"id": existing, "in": obj{"name": "Mine"}}, "FORBIDDEN"},
		{"business hours: custom without hours", w.admin, shSetHoursQ, obj{"in": obj{"type": "CUSTOM"}}, "BAD_USER_INPUT"},
		{"business hours: 24x7 with hours", w.admin, shSetHoursQ, obj{"in": obj{"type": "TWENTY_FOUR_SEVEN", "days": nine}}, "BAD_USER_INPUT"},
		{"business hours: both forms", w.admin, shSetHoursQ, obj{"in": obj{"type": "CUSTOM", "days": nine,
			"sameHours": obj{"days": []string{"MONDAY"}, "start": "09:00", "end": "17:00"}}}, "BAD_USER_INPUT"},
		{"business hours: unknown zone", w.admin, shSetHoursQ, obj{"in": obj{"type": "TWENTY_FOUR_FIVE", "timeZone": "Atlantis/Capital"}}, "BAD_USER_INPUT"},
		{"business hours: duplicate day", w.admin, shSetHoursQ, obj{"in": obj{"type": "CUSTOM", "days": []obj{shDay("MONDAY", "09:00", "12:00"), shDay("MONDAY", "13:00", "17:00")}}}, "BAD_USER_INPUT"},
		{"business hours: standard member", std, shSetHoursQ, obj{"in": obj{"type": "TWENTY_FOUR_SEVEN"}}, "FORBIDDEN"},
		{"holiday: unknown shift", w.admin, shCreateHolidayQ, obj{"in": obj{"date": "2026-05-01", "name": "May Day", "shiftId": "shift_999999"}}, "NOT_FOUND"},
		{"holiday: impossible date", w.admin, shCreateHolidayQ, obj{"in": obj{"date": "2026-02-30", "name": "Never"}}, "BAD_USER_INPUT"},
		{"holiday: standard member", std, shCreateHolidayQ, obj{"in": obj{"date": "2026-05-01", "name": "May Day"}}, "FORBIDDEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.state(t)
			w.fails(t, tc.caller, tc.code, tc.query, tc.vars)
			if after := w.state(t); after != before {
				t.Errorf("a refused call wrote:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	t.Run("night shift crossing midnight is accepted with or without the flag", func(t *testing.T) {
		d := w.must(t, w.admin, shCreateShiftQ, obj{"in": obj{"name": "Night", "timeZone": "America/New_York",
			"days":   []obj{shDay("MONDAY", "22:00", "06:00"), {"day": "TUESDAY", "start": "22:00", "end": "06:00", "crossesMidnight": true}},
			"breaks": []obj{{"start": "02:00", "end": "02:30"}}}})
		days := recPath(d, "createShift", "days").([]any)
		if len(days) != 2 || recPath(days[0], "crossesMidnight") != true || recPath(days[1], "crossesMidnight") != true {
			t.Errorf("days = %v, want two midnight-crossing days", days)
		}
	})
	t.Run("a duplicate holiday of one calendar is a conflict", func(t *testing.T) {
		w.must(t, w.admin, shCreateHolidayQ, obj{"in": obj{"date": "2026-05-01", "name": "May Day"}})
		before := w.state(t)
		w.fails(t, w.admin, "CONFLICT", shCreateHolidayQ, obj{"in": obj{"date": "2026-05-01", "name": "Labour Day"}})
		if w.state(t) != before {
			t.Error("the refused holiday was written")
		}
		// The same date as a shift's own holiday is another calendar's.
		w.must(t, w.admin, shCreateHolidayQ, obj{"in": obj{"date": "2026-05-01", "name": "May Day", "shiftId": existing}})
	})
	t.Run("setting the same business hours again writes nothing", func(t *testing.T) {
		w.setBerlinNineToFive(t)
		before := w.state(t)
		w.setBerlinNineToFive(t)
		if w.state(t) != before {
			t.Error("an unchanged setBusinessHours wrote")
		}
		d := w.must(t, std, `{ businessHours { type timeZone weekStart days { day start end } } }`, nil) // any member may read them
		if recStr(d, "businessHours", "timeZone") != "Europe/Berlin" || len(recPath(d, "businessHours", "days").([]any)) != 5 {
			t.Errorf("businessHours = %v", d)
		}
	})
	t.Run("writes are audited with before and after", func(t *testing.T) {
		var n int
		if err := w.env.DB.Get(&n, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'shift.create' AND before IS NULL AND after->>'name' = 'Existing'`, w.orgKey); err != nil || n != 1 {
			t.Errorf("shift.create audit entries = %d (%v), want 1", n, err)
		}
		w.must(t, w.admin, shUpdateShiftQ, obj{"id": existing, "in": obj{"name": "Renamed"}})
		if err := w.env.DB.Get(&n, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'shift.update'
			AND before->>'name' = 'Existing' AND after->>'name' = 'Renamed'`, w.orgKey); err != nil || n != 1 {
			t.Errorf("shift.update audit entries = %d (%v), want 1", n, err)
		}
	})
}

func TestShiftsLimit(t *testing.T) {
	w := shNew(t)
	for i := range resolvers.MaxShifts {
		w.createShift(t, obj{"name": fmt.Sprintf("Shift %02d", i+1), "timeZone": "UTC", "days": shWeekdays("09:00", "17:00")})
	}
	before := w.state(t)
	w.fails(t, w.admin, "LIMIT_EXCEEDED", shCreateShiftQ, obj{"in": obj{"name": "Shift 31", "timeZone": "UTC", "days": shWeekdays("09:00", "17:00")}})
	if w.state(t) != before {
		t.Error("the 31st shift wrote something")
	}
	d := w.must(t, w.admin, `{ shifts { id } }`, nil)
	list := recPath(d, "shifts").([]any)
	if len(list) != resolvers.MaxShifts {
		t.Fatalf("shifts = %d, want %d", len(list), resolvers.MaxShifts)
	}
	w.must(t, w.admin, shDeleteShiftQ, obj{"id": recStr(list[0], "id")})
	w.createShift(t, obj{"name": "Shift 31", "timeZone": "UTC", "days": shWeekdays("09:00", "17:00")})
}

func TestShiftsAssignmentEffectiveInFuture(t *testing.T) {
	w := shNew(t)
	w.setBerlinNineToFive(t) // the org's zone: assignments take effect at Berlin midnight
	_, bert := w.member(t, "bert", "Rep", "CEO")
	tokyo := w.createShift(t, obj{"name": "Tokyo", "timeZone": "Asia/Tokyo", "days": shWeekdays("09:00", "18:00")})

	refused := []struct {
		name, from string
		code       string
	}{
		{"yesterday", "2026-01-04", "BAD_USER_INPUT"},
		{"a day past six months", "2026-07-06", "BAD_USER_INPUT"},
		{"seven months", "2026-08-05", "BAD_USER_INPUT"},
	}
	for _, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			before := w.state(t)
			w.fails(t, w.admin, tc.code, shAssignShiftQ, obj{"ms": []string{bert}, "s": tokyo, "from": tc.from})
			if w.state(t) != before {
				t.Error("a refused assignment wrote")
			}
		})
	}
	t.Run("refused/unknown member", func(t *testing.T) {
		w.fails(t, w.admin, "NOT_FOUND", shAssignShiftQ, obj{"ms": []string{bert, "member_999999"}, "s": tokyo})
	})

	w.must(t, w.admin, shAssignShiftQ, obj{"ms": []string{bert}, "s": tokyo, "from": "2026-02-02"})
	w.must(t, w.admin, shAssignShiftQ, obj{"ms": []string{bert}, "s": nil, "from": "2026-07-05"}) // exactly six months: allowed

	steps := []struct {
		name      string
		now       time.Time
		wantShift string
		wantZone  string
		scheduled int
	}{
		{"before the date: business hours", shMonday, "", "Europe/Berlin", 2},
		{"last minute of Feb 1 in Berlin", time.Date(2026, 2, 1, 22, 59, 0, 0, time.UTC), "", "Europe/Berlin", 2},
		{"Berlin midnight of Feb 2: the shift, nobody acting", time.Date(2026, 2, 1, 23, 0, 0, 0, time.UTC), tokyo, "Asia/Tokyo", 1},
		{"back to business hours on Jul 5", time.Date(2026, 7, 5, 12, 0, 0, 0, time.UTC), "", "Europe/Berlin", 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			w.clock.Set(st.now)
			d := w.must(t, w.admin, shMemberQ, obj{"id": bert})
			if got := recStr(d, "member", "shift", "id"); got != st.wantShift {
				t.Errorf("shift = %q, want %q", got, st.wantShift)
			}
			if got := recStr(d, "member", "workingTimeZone"); got != st.wantZone {
				t.Errorf("workingTimeZone = %q, want %q", got, st.wantZone)
			}
			if got := len(recPath(d, "member", "scheduledShifts").([]any)); got != st.scheduled {
				t.Errorf("scheduledShifts = %d, want %d", got, st.scheduled)
			}
		})
	}
}

func TestShiftsDeleteInUse(t *testing.T) {
	w := shNew(t)
	_, ken := w.member(t, "ken", "Rep", "CEO")
	_, bert := w.member(t, "bert", "Rep", "CEO")
	a := w.createShift(t, obj{"name": "A", "timeZone": "UTC", "days": shWeekdays("09:00", "17:00"), "holidays": []obj{{"date": "2026-03-03", "name": "A day"}}})
	b := w.createShift(t, obj{"name": "B", "timeZone": "UTC", "days": shWeekdays("10:00", "18:00")})
	c := w.createShift(t, obj{"name": "C", "timeZone": "UTC", "days": shWeekdays("10:00", "18:00")})
	w.must(t, w.admin, shAssignShiftQ, obj{"ms": []string{ken}, "s": a})
	w.must(t, w.admin, shAssignShiftQ, obj{"ms": []string{bert}, "s": c, "from": "2026-03-01"})

	cases := []struct {
		name, id string
		to       any
		code     string
	}{
		{"worked now, no replacement", a, nil, "CONFLICT"},
		{"scheduled later, no replacement", c, nil, "CONFLICT"},
		{"replacement is itself", a, a, "BAD_USER_INPUT"},
		{"unknown replacement", a, "shift_999999", "NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := w.state(t)
			w.fails(t, w.admin, tc.code, shDeleteShiftQ, obj{"id": tc.id, "to": tc.to})
			if w.state(t) != before {
				t.Error("a refused delete wrote")
			}
		})
	}
	w.must(t, w.admin, shDeleteShiftQ, obj{"id": a, "to": b})
	d := w.must(t, w.admin, shMemberQ, obj{"id": ken})
	if got := recStr(d, "member", "shift", "id"); got != b {
		t.Errorf("ken's shift after delete = %q, want the replacement %q", got, b)
	}
	w.must(t, w.admin, shDeleteShiftQ, obj{"id": c, "to": b})
	d = w.must(t, w.admin, shMemberQ, obj{"id": bert})
	sched := recPath(d, "member", "scheduledShifts").([]any)
	if len(sched) != 1 || recStr(sched[0], "shift", "id") != b {
		t.Errorf("bert's scheduled shifts = %v, want one to %s", sched, b)
	}
	var hol int
	_ = w.env.DB.Get(&hol, `SELECT count(*) FROM holidays WHERE org_id = $1`, w.orgKey)
	if hol != 0 {
		t.Errorf("the deleted shift's holidays remain: %d", hol)
	}
	var audited int
	_ = w.env.DB.Get(&audited, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'shift.delete' AND before->>'name' = 'A'
		AND after->>'replacementShiftId' = $2`, w.orgKey, b)
	if audited != 1 {
		t.Errorf("shift.delete audit entries = %d, want 1", audited)
	}
}

// shZones is an org with members in three zones:
//   - business hours: Berlin, Monday to Friday 09:00–17:00 (bert, ina, Ada);
//   - ken: Tokyo, Monday to Friday 09:00–18:00, lunch 12:00–13:00, its own
//     holiday on Wednesday 2026-01-07;
//   - nora: New York nights, Monday to Friday 22:00–06:00;
//   - an org holiday on Thursday 2026-01-08, for everyone;
//   - ina is INACTIVE.
type shZones struct {
	*shWorld
	ken, nora, bert, ina string
	tokyo, night         string
}

func shNewZones(t *testing.T) *shZones {
	w := &shZones{shWorld: shNew(t)}
	w.setBerlinNineToFive(t)
	_, w.ken = w.member(t, "ken", "Agents", "CEO")
	_, w.nora = w.member(t, "nora", "Agents", "CEO")
	_, w.bert = w.member(t, "bert", "Berlin", "Agents")
	_, w.ina = w.member(t, "ina", "Berlin", "Agents")
	w.tokyo = w.createShift(t, obj{"name": "Tokyo", "timeZone": "Asia/Tokyo", "days": shWeekdays("09:00", "18:00"),
		"breaks": []obj{{"start": "12:00", "end": "13:00"}}, "holidays": []obj{{"date": "2026-01-07", "name": "Tokyo day"}}})
	w.night = w.createShift(t, obj{"name": "NY Night", "timeZone": "America/New_York", "days": shWeekdays("22:00", "06:00")})
	w.must(t, w.admin, shCreateHolidayQ, obj{"in": obj{"date": "2026-01-08", "name": "Org day"}})
	w.must(t, w.admin, shAssignShiftQ, obj{"ms": []string{w.ken}, "s": w.tokyo})
	w.must(t, w.admin, shAssignShiftQ, obj{"ms": []string{w.nora}, "s": w.night})
	w.must(t, w.admin, `mutation($id: ID!) { deactivateMember(id: $id) { id } }`, obj{"id": w.ina})
	return w
}

func TestAvailabilityAcrossZones(t *testing.T) {
	w := shNewZones(t)
	group := recStr(w.must(t, w.admin, `mutation($in: CreateGroupInput!) { createGroup(input: $in) { id } }`,
		obj{"in": obj{"name": "Bert and Ina", "members": []obj{{"type": "USER", "id": w.bert}, {"type": "USER", "id": w.ina}}}}), "createGroup", "id")
	agents, berlin := w.roleID(t, "Agents"), w.roleID(t, "Berlin")
	sub := obj{"type": "ROLE_AND_SUBORDINATES", "id": agents}
	names := map[string]string{w.ken: "ken", w.nora: "nora", w.bert: "bert", w.ina: "ina"}

	tests := []struct {
		name      string
		at        string
		principal obj
		want      []string
	}{
		{"Tokyo morning: only ken", "2026-01-06T01:00:00Z", sub, []string{"ken"}},
		{"Tokyo lunch break, New York evening shift", "2026-01-06T03:30:00Z", sub, []string{"nora"}},
		{"Tokyo shift end, Berlin morning, New York night before 06:00", "2026-01-06T09:00:00Z", sub, []string{"bert", "nora"}},
		{"every member when no principal (Ada works business hours; ina inactive)", "2026-01-06T09:00:00Z", nil, []string{"Ada Admin", "bert", "nora"}},
		{"ROLE is the role only", "2026-01-06T09:00:00Z", obj{"type": "ROLE", "id": agents}, []string{"nora"}},
		{"ROLE of the subordinate role", "2026-01-06T09:00:00Z", obj{"type": "ROLE", "id": berlin}, []string{"bert"}},
		{"GROUP expands to its users, inactive dropped", "2026-01-06T09:00:00Z", obj{"type": "GROUP", "id": group}, []string{"bert"}},
		{"USER principal", "2026-01-06T09:00:00Z", obj{"type": "USER", "id": w.bert}, []string{"bert"}},
		{"ken's own holiday", "2026-01-07T01:00:00Z", sub, nil},
		{"org holiday: Berlin off, night begun the evening before still worked", "2026-01-08T10:00:00Z", sub, []string{"nora"}},
		{"night starting on the org holiday is off; Tokyo Friday works", "2026-01-09T04:00:00Z", sub, []string{"ken"}},
		{"Friday night ends Saturday 06:00 in New York", "2026-01-10T10:00:00Z", sub, []string{"nora"}},
		{"Saturday: nobody", "2026-01-10T12:00:00Z", sub, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vars := obj{"at": tc.at}
			if tc.principal != nil {
				vars["p"] = tc.principal
			}
			d := w.must(t, w.admin, shAvailableQ, vars)
			var got []string
			for _, m := range recPath(d, "availableMembers").([]any) {
				n := names[recStr(m, "id")]
				if n == "" {
					n = recStr(m, "name")
				}
				got = append(got, n)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("available at %s = %v, want %v", tc.at, got, tc.want)
			}
		})
	}

	t.Run("member fields follow the clock", func(t *testing.T) {
		w.clock.Set(time.Date(2026, 1, 6, 1, 0, 0, 0, time.UTC))
		rep, _ := w.member(t, "rita", "Rep", "CEO")
		want := []struct {
			id, zone, shift string
			now             bool
		}{{w.ken, "Asia/Tokyo", w.tokyo, true}, {w.nora, "America/New_York", w.night, false}, {w.bert, "Europe/Berlin", "", false}}
		for _, m := range want {
			d := w.must(t, rep, shMemberQ, obj{"id": m.id}) // any member may read these
			if recStr(d, "member", "workingTimeZone") != m.zone || recStr(d, "member", "shift", "id") != m.shift ||
				recPath(d, "member", "availableNow") != m.now {
				t.Errorf("member %s = %v, want zone %s shift %q availableNow %v", m.id, recPath(d, "member"), m.zone, m.shift, m.now)
			}
		}
	})
	t.Run("a list's members agree with availableNow", func(t *testing.T) {
		w.clock.Set(time.Date(2026, 1, 6, 9, 0, 0, 0, time.UTC))
		d := w.must(t, w.admin, `query($at: Time!, $p: PrincipalInput) { availableMembers(at: $at, principal: $p) { id availableNow workingTimeZone shift { id } } }`,
			obj{"at": "2026-01-06T09:00:00Z", "p": sub})
		list := recPath(d, "availableMembers").([]any)
		if len(list) != 2 {
			t.Fatalf("available = %v, want bert and nora", list)
		}
		for _, m := range list {
			if recPath(m, "availableNow") != true {
				t.Errorf("%v is listed as available now but availableNow is false", m)
			}
			if recStr(m, "id") == w.nora && (recStr(m, "workingTimeZone") != "America/New_York" || recStr(m, "shift", "id") != w.night) {
				t.Errorf("nora = %v, want the New York night shift", m)
			}
		}
	})
	t.Run("unknown principal", func(t *testing.T) {
		w.fails(t, w.admin, "NOT_FOUND", shAvailableQ, obj{"at": "2026-01-06T09:00:00Z", "p": obj{"type": "ROLE", "id": "role_999999"}})
	})
}

func TestBusinessDeadline(t *testing.T) {
	w := shNewZones(t)
	tests := []struct {
		name          string
		from          string
		minutes       int
		member, shift string
		want          string
	}{
		{"org hours: Friday 16:00 Berlin plus 2h is Monday 10:00", "2026-01-09T15:00:00Z", 120, "", "", "2026-01-12T09:00:00Z"},
		{"org hours across Berlin's spring-forward weekend", "2026-03-27T15:00:00Z", 120, "", "", "2026-03-30T08:00:00Z"},
		{"org hours: org holiday skipped", "2026-01-07T15:00:00Z", 120, "", "", "2026-01-09T09:00:00Z"},
		{"Tokyo shift skips the lunch break", "2026-01-06T02:00:00Z", 120, "", w.tokyo, "2026-01-06T05:00:00Z"},
		{"Tokyo shift: own and org holidays inside", "2026-01-06T08:00:00Z", 120, "", w.tokyo, "2026-01-09T01:00:00Z"},
		{"member ken works Tokyo", "2026-01-06T02:00:00Z", 120, w.ken, "", "2026-01-06T05:00:00Z"},
		{"member bert works business hours", "2026-01-09T15:00:00Z", 120, w.bert, "", "2026-01-12T09:00:00Z"},
		// Thursday and Friday nights (EST), then Monday night in EDT: 22:00 is 02:00Z, no longer 03:00Z.
		{"New York nights across spring-forward", "2026-03-06T03:00:00Z", 24 * 60, "", w.night, "2026-03-10T10:00:00Z"},
		{"zero minutes outside hours is the next start", "2026-01-10T12:00:00Z", 0, "", "", "2026-01-12T08:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vars := obj{"from": tc.from, "n": tc.minutes}
			if tc.member != "" {
				vars["m"] = tc.member
			}
			if tc.shift != "" {
				vars["s"] = tc.shift
			}
			d := w.must(t, w.admin, shDeadlineQ, vars)
			got, err := time.Parse(time.RFC3339, recStr(d, "businessDeadline"))
			want, _ := time.Parse(time.RFC3339, tc.want)
			if err != nil || !got.Equal(want) {
				t.Errorf("businessDeadline = %v (%v), want %s", recStr(d, "businessDeadline"), err, tc.want)
			}
		})
	}
	refused := []struct {
		name string
		vars obj
		code string
	}{
		{"both memberId and shiftId", obj{"from": "2026-01-06T00:00:00Z", "n": 1, "m": w.ken, "s": w.tokyo}, "BAD_USER_INPUT"},
		{"negative minutes", obj{"from": "2026-01-06T00:00:00Z", "n": -1}, "BAD_USER_INPUT"},
		{"unknown shift", obj{"from": "2026-01-06T00:00:00Z", "n": 1, "s": "shift_999999"}, "NOT_FOUND"},
		{"unknown member", obj{"from": "2026-01-06T00:00:00Z", "n": 1, "m": "member_999999"}, "NOT_FOUND"},
	}
	for _, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) { w.fails(t, w.admin, tc.code, shDeadlineQ, tc.vars) })
	}
}

// shTasks creates n tasks owned by owner (the admin when ""), with status.
func (w *shWorld) tasks(t *testing.T, n int, owner, status string) []string {
	t.Helper()
	var out []string
	for i := range n {
		in := obj{"subject": fmt.Sprintf("task %d for %s %s", i, owner, status)}
		if owner != "" {
			in["ownerId"] = owner
		}
		if status != "" {
			in["status"] = status
		}
		d := w.must(t, w.admin, `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`, obj{"in": in})
		out = append(out, recStr(d, "createTask", "id"))
	}
	return out
}

func (w *shWorld) ownerCounts(t *testing.T, taskIDs []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, id := range taskIDs {
		d := w.must(t, w.admin, `query($id: ID!) { task(id: $id) { owner { id } } }`, obj{"id": id})
		out[recStr(d, "task", "owner", "id")]++
	}
	return out
}

func TestAssignRoundRobinFairnessUnderConcurrency(t *testing.T) {
	w := shNew(t)
	var support []string
	for i := range 5 {
		_, id := w.member(t, fmt.Sprintf("s%d", i), "Support", "CEO")
		support = append(support, id)
	}
	role := obj{"type": "ROLE", "id": w.roleID(t, "Support")}
	const calls = 16
	tasks := w.tasks(t, calls, "", "")

	// Half the calls go to a second instance: turns are the database's, not
	// an instance's.
	second := w.env.Instance(func(r *resolvers.Resolver) { r.Now = w.clock.Now })
	var wg sync.WaitGroup
	errs := make([][]apitest.Error, calls)
	for i := range calls {
		srv := w.env
		if i%2 == 1 {
			srv = second
		}
		wg.Go(func() {
			r := srv.Do(w.admin, shAssignQ, obj{"m": "TASKS", "ids": []string{tasks[i]}, "to": role, "s": "ROUND_ROBIN"})
			errs[i] = r.Errors
		})
	}
	wg.Wait()
	for i, e := range errs {
		if len(e) > 0 {
			t.Fatalf("call %d failed: %+v", i, e)
		}
	}
	counts := w.ownerCounts(t, tasks)
	for _, m := range support {
		if c := counts[m]; c < calls/len(support) || c > calls/len(support)+1 {
			t.Errorf("member %s picked %d times, want %d or %d (%v)", m, c, calls/len(support), calls/len(support)+1, counts)
		}
	}
	// The turns, in commit order, follow the rotation exactly: no turn was
	// taken twice and none skipped.
	var picks []string
	if err := w.env.DB.Select(&picks, `SELECT after->>'ownerId' FROM audit_log WHERE org_id = $1 AND action = 'record.assign' ORDER BY id`, w.orgKey); err != nil {
		t.Fatal(err)
	}
	keys := shKeys(t, support)
	last := int64(0)
	for i, p := range picks {
		want := shifts.NextInRotation(keys, last)
		if got := shKey(t, p); got != want {
			t.Fatalf("turn %d went to %s, want member_%d (turns %v)", i, p, want, picks)
		}
		last = want
	}
	if len(picks) != calls {
		t.Fatalf("%d turns logged, want %d", len(picks), calls)
	}

	t.Run("the rotation survives a restart", func(t *testing.T) {
		other := w.env.Instance(func(r *resolvers.Resolver) { r.Now = w.clock.Now })
		more := w.tasks(t, 1, "", "")
		var out struct {
			AssignRecords []struct{ Owner struct{ ID string } }
		}
		envFor(other, t).Must(w.admin, shAssignQ, obj{"m": "TASKS", "ids": more, "to": role, "s": "ROUND_ROBIN"}, &out)
		if want := fmt.Sprintf("member_%d", shifts.NextInRotation(keys, last)); out.AssignRecords[0].Owner.ID != want {
			t.Errorf("after restart the turn went to %s, want %s", out.AssignRecords[0].Owner.ID, want)
		}
	})
}

func shKey(t *testing.T, id string) int64 {
	t.Helper()
	var k int64
	if _, err := fmt.Sscanf(id, "member_%d", &k); err != nil {
		t.Fatalf("bad member id %q", id)
	}
	return k
}

func shKeys(t *testing.T, ids []string) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = shKey(t, id)
	}
	return out
}

func TestAssignLeastLoaded(t *testing.T) {
	w := shNew(t)
	_, x := w.member(t, "xena", "Desk", "CEO")
	_, y := w.member(t, "yuri", "Desk", "CEO")
	_, z := w.member(t, "zoe", "Desk", "CEO")
	w.tasks(t, 3, x, "Open")
	w.tasks(t, 2, x, "Completed")
	w.tasks(t, 1, y, "")
	w.tasks(t, 3, y, "closed")
	w.tasks(t, 2, z, "In Progress")
	w.tasks(t, 4, z, " DONE ")
	fresh := w.tasks(t, 3, "", "Open")
	var out struct {
		AssignRecords []struct {
			ID    string
			Owner struct{ ID string }
		}
	}
	envFor(w.env, t).Must(w.admin, shAssignQ, obj{"m": "TASKS", "ids": fresh, "to": obj{"type": "ROLE", "id": w.roleID(t, "Desk")}, "s": "LEAST_LOADED"}, &out)
	// Open loads 3, 1, 2: yuri (1), then yuri and zoe tie at 2 (lower id
	// first), then zoe: everyone ends with 3 open tasks.
	want := []string{y, y, z}
	for i, r := range out.AssignRecords {
		if r.ID != fresh[i] || r.Owner.ID != want[i] {
			t.Errorf("record %d = %s to %s, want %s to %s", i, r.ID, r.Owner.ID, fresh[i], want[i])
		}
	}
}

func TestAssignRefusals(t *testing.T) {
	w := shNew(t)
	w.setBerlinNineToFive(t)
	std, stdID := w.member(t, "sam", "Desk", "CEO")
	olga, other := w.member(t, "olga", "Desk", "CEO")
	desk := obj{"type": "ROLE", "id": w.roleID(t, "Desk")}
	tasks := w.tasks(t, 2, stdID, "")
	deals := recStr(w.must(t, w.admin, `mutation { createDeal(input: {name: "D"}) { id } }`, nil), "createDeal", "id")
	monday := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC) // 10:00 in Berlin

	tests := []struct {
		name   string
		now    time.Time
		caller apitest.Caller
		vars   obj
		code   string
	}{
		{"nobody available at 03:00 Berlin", time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC), w.admin, obj{"m": "TASKS", "ids": tasks, "to": desk, "s": "ROUND_ROBIN"}, "CONFLICT"},
		{"nobody available on Saturday, least loaded", time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC), w.admin, obj{"m": "TASKS", "ids": tasks, "to": desk, "s": "LEAST_LOADED"}, "CONFLICT"},
		{"caller without changeOwner", monday, std, obj{"m": "TASKS", "ids": tasks, "to": desk, "s": "ROUND_ROBIN"}, "FORBIDDEN"},
		{"one unknown record: none assigned", monday, w.admin, obj{"m": "TASKS", "ids": []string{tasks[0], "task_999999"}, "to": desk, "s": "ROUND_ROBIN"}, "NOT_FOUND"},
		{"record of another module", monday, w.admin, obj{"m": "TASKS", "ids": []string{deals}, "to": desk, "s": "ROUND_ROBIN"}, "NOT_FOUND"},
		{"duplicate ids", monday, w.admin, obj{"m": "TASKS", "ids": []string{tasks[0], tasks[0]}, "to": desk, "s": "ROUND_ROBIN"}, "BAD_USER_INPUT"},
		{"due time on deals", monday, w.admin, obj{"m": "DEALS", "ids": []string{deals}, "to": desk, "s": "ROUND_ROBIN", "due": 60}, "BAD_USER_INPUT"},
		{"unknown principal", monday, w.admin, obj{"m": "TASKS", "ids": tasks, "to": obj{"type": "GROUP", "id": "group_999999"}, "s": "ROUND_ROBIN"}, "NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w.clock.Set(tc.now)
			before := w.state(t)
			w.fails(t, tc.caller, tc.code, shAssignQ, tc.vars)
			if after := w.state(t); after != before {
				t.Errorf("a refused assignment wrote:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	t.Run("due time in business time", func(t *testing.T) {
		w.clock.Set(time.Date(2026, 1, 9, 15, 0, 0, 0, time.UTC)) // Friday 16:00 Berlin
		var out struct {
			AssignRecords []struct {
				Owner struct{ ID string }
				DueAt string
			}
		}
		envFor(w.env, t).Must(w.admin, shAssignQ, obj{"m": "TASKS", "ids": tasks[:1], "to": obj{"type": "USER", "id": other}, "s": "ROUND_ROBIN", "due": 120}, &out)
		due, _ := time.Parse(time.RFC3339, out.AssignRecords[0].DueAt)
		if out.AssignRecords[0].Owner.ID != other || !due.Equal(time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("got %+v, want owner %s due Monday 10:00 Berlin", out.AssignRecords[0], other)
		}
		// The owner change went through the record path: audited, and the
		// new owner sees the task at once.
		if d := w.must(t, olga, `query($id: ID!) { task(id: $id) { owner { id } } }`, obj{"id": tasks[0]}); recStr(d, "task", "owner", "id") != other {
			t.Errorf("the new owner does not see the task as its own: %v", d)
		}
		var n int
		_ = w.env.DB.Get(&n, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'record.assign' AND after->>'ownerId' = $2`, w.orgKey, other)
		if n != 1 {
			t.Errorf("record.assign audit entries = %d, want 1", n)
		}
	})
}
