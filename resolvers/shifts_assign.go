package resolvers

import (
	"context"
	"errors"
	"slices"
	"strings"
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

// Availability, record assignment and business-time deadlines.
//
// A member is available at t when it is ACTIVE and t is working time of the
// calendar it works on t's date (in the org's zone): its shift's, with the
// shift's and the org's holidays, in the shift's zone; or, without a
// shift, the org's business hours.
//
// assignRecords changes owners through the same checks as any owner change
// (transferOwnership, createX with ownerId): changeOwner on the module and,
// per record, a level whose capped permissions allow the owner change
// (writableRecord). It then writes each record, logs it to the change log
// (the engine's index moves the record to its new owner), audits it, and
// tells every instance, all in one transaction: all records or none.

// maxAssignRecords bounds one assignRecords call.
const maxAssignRecords = 500

// maxDueMinutes bounds dueInWorkingMinutes: a year of round-the-clock work.
const maxDueMinutes = 366 * 24 * 60

// memberCalendar is the calendar member works on t's date.
func (r *Resolver) memberCalendar(ctx context.Context, sc *scope, member int64, t time.Time) (*calendarBook, db.MemberShift, error) {
	book, err := orgBook(ctx, sc)
	if err != nil {
		return nil, db.MemberShift{}, err
	}
	eff, err := db.EffectiveShifts(ctx, sc.conn, sc.org.Key, []int64{member}, book.orgDate(t))
	if err != nil {
		return nil, db.MemberShift{}, err
	}
	ms, ok := eff[member]
	if !ok {
		return nil, db.MemberShift{}, db.ErrNotFound
	}
	return book, ms, nil
}

func (r *Resolver) memberShift(ctx context.Context, m *db.Member) (*db.Shift, error) {
	sc, err := scopeOf(ctx, m.OrgID)
	if err != nil {
		return nil, err
	}
	book, ms, err := r.memberCalendar(ctx, sc, m.Key, r.now())
	if err != nil {
		return nil, err
	}
	if !ms.Shift.Valid {
		return nil, nil
	}
	return book.shifts[ms.Shift.Int64], nil
}

func (r *Resolver) memberWorkingZone(ctx context.Context, m *db.Member) (string, error) {
	sc, err := scopeOf(ctx, m.OrgID)
	if err != nil {
		return "", err
	}
	book, ms, err := r.memberCalendar(ctx, sc, m.Key, r.now())
	if err != nil {
		return "", err
	}
	return book.calendarOf(ms.Shift).Location().String(), nil
}

func (r *Resolver) memberAvailableNow(ctx context.Context, m *db.Member) (bool, error) {
	sc, err := scopeOf(ctx, m.OrgID)
	if err != nil {
		return false, err
	}
	now := r.now()
	book, ms, err := r.memberCalendar(ctx, sc, m.Key, now)
	if err != nil {
		return false, err
	}
	return ms.Active && book.calendarOf(ms.Shift).IsWorking(now), nil
}

func (r *Resolver) memberScheduledShifts(ctx context.Context, m *db.Member) ([]*model.ShiftAssignment, error) {
	sc, err := scopeOf(ctx, m.OrgID)
	if err != nil {
		return nil, err
	}
	today, _, err := r.orgToday(ctx, sc.conn, sc.org.Key)
	if err != nil {
		return nil, err
	}
	rows, err := db.ScheduledShifts(ctx, sc.conn, sc.org.Key, m.Key, today)
	if err != nil {
		return nil, err
	}
	out := make([]*model.ShiftAssignment, 0, len(rows))
	for _, a := range rows {
		sa := &model.ShiftAssignment{Member: m, EffectiveFrom: a.EffectiveFrom}
		if a.Shift.Valid {
			if sa.Shift, err = db.ShiftByID(ctx, sc.conn, sc.org.Key, a.Shift.Int64); err != nil && !errors.Is(err, db.ErrNotFound) {
				return nil, err
			}
		}
		out = append(out, sa)
	}
	return out, nil
}

// availability is who of a set of members is available at an instant.
type availability struct {
	book      *calendarBook
	shifts    map[int64]db.MemberShift
	available []int64 // sorted by id
}

// availableAt computes which of candidates (member keys) are available at t.
func availableAt(ctx context.Context, q sqlx.QueryerContext, org int64, candidates []int64, t time.Time) (*availability, error) {
	book, err := loadBook(ctx, q, org)
	if err != nil {
		return nil, err
	}
	a := &availability{book: book, shifts: map[int64]db.MemberShift{}}
	if len(candidates) == 0 {
		return a, nil
	}
	if a.shifts, err = db.EffectiveShifts(ctx, q, org, candidates, book.orgDate(t)); err != nil {
		return nil, err
	}
	for _, m := range candidates {
		ms, ok := a.shifts[m]
		if ok && ms.Active && book.calendarOf(ms.Shift).IsWorking(t) {
			a.available = append(a.available, m)
		}
	}
	slices.Sort(a.available)
	return a, nil
}

// principalMembers are the active members of p by the access engine's own
// expansion (groups nested, roles with their subordinates), or every
// active member of the org when p is nil.
func principalMembers(sc *scope, p *access.Principal) []int64 {
	var all []int64
	if p != nil {
		all = sc.snap.MembersOf(*p)
	} else {
		for _, m := range sc.snap.Members() {
			all = append(all, m.ID)
		}
	}
	out := make([]int64, 0, len(all))
	for _, id := range all {
		if m, ok := sc.snap.Member(id); ok && m.Active {
			out = append(out, id)
		}
	}
	return out
}

func (r *Resolver) availableMembers(ctx context.Context, at time.Time, principal *model.PrincipalInput) ([]*db.Member, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	var p *access.Principal
	if principal != nil {
		pp, err := sc.parsePrincipal(principal)
		if err != nil {
			return nil, err
		}
		p = &pp
	}
	a, err := availableAt(ctx, sc.conn, sc.org.Key, principalMembers(sc, p), at)
	if err != nil {
		return nil, err
	}
	byID, err := db.MembersByIDs(ctx, sc.conn, sc.org.Key, a.available)
	if err != nil {
		return nil, err
	}
	out := make([]*db.Member, 0, len(byID))
	for _, id := range a.available {
		if m, ok := byID[id]; ok {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(x, y *db.Member) int { return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)) })
	return out, nil
}

func (r *Resolver) businessDeadline(ctx context.Context, from time.Time, minutes int, memberID, shiftID *string) (*time.Time, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	if minutes < 0 || minutes > maxDueMinutes {
		return nil, apperr.NewBadInput("workingMinutes must be between 0 and %d", maxDueMinutes)
	}
	if memberID != nil && shiftID != nil {
		return nil, apperr.NewBadInput("give memberId or shiftId, not both")
	}
	book, err := orgBook(ctx, sc)
	if err != nil {
		return nil, err
	}
	cal := book.business
	switch {
	case memberID != nil:
		key, err := ids.Decode(ids.Member, *memberID)
		if _, ok := sc.snap.Member(key); err != nil || !ok {
			return nil, apperr.NewNotFound("memberId: no member with id %s in this org", *memberID)
		}
		eff, err := db.EffectiveShifts(ctx, sc.conn, sc.org.Key, []int64{key}, book.orgDate(from))
		if err != nil {
			return nil, err
		}
		cal = book.calendarOf(eff[key].Shift)
	case shiftID != nil:
		key, err := ids.Decode(ids.Shift, *shiftID)
		c, ok := book.cals[key]
		if err != nil || !ok {
			return nil, apperr.NewNotFound("shiftId: no shift with id %s in this org", *shiftID)
		}
		cal = c
	}
	due, err := cal.AddWorkingMinutes(from, minutes)
	var none *shifts.NoWorkingTimeError
	if errors.As(err, &none) {
		return nil, apperr.NewConflict("the calendar has no working time within 3 years of %s", from.Format(time.RFC3339))
	}
	if err != nil {
		return nil, calendarInputErr("", err)
	}
	return &due, nil
}

// assignRecords gives each record to an available member of to.
func (r *Resolver) assignRecords(ctx context.Context, module model.Module, in []string, to model.PrincipalInput, strategy model.AssignmentStrategy, dueIn *int) ([]records.Record, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	m, err := moduleIn(module)
	if err != nil {
		return nil, err
	}
	if strategy != model.AssignmentStrategyRoundRobin && strategy != model.AssignmentStrategyLeastLoaded {
		return nil, apperr.NewBadInput("unknown strategy %q", strategy)
	}
	if len(in) == 0 {
		return nil, apperr.NewBadInput("ids must name at least one record")
	}
	if len(in) > maxAssignRecords {
		return nil, apperr.NewBadInput("at most %d ids per call; got %d", maxAssignRecords, len(in))
	}
	if dueIn != nil {
		if m != records.Tasks {
			return nil, apperr.NewBadInput("dueInWorkingMinutes applies to TASKS only")
		}
		if *dueIn < 0 || *dueIn > maxDueMinutes {
			return nil, apperr.NewBadInput("dueInWorkingMinutes must be between 0 and %d", maxDueMinutes)
		}
	}
	p, err := sc.parsePrincipal(&to)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermChangeOwner); err != nil {
		return nil, err
	}
	if dueIn != nil {
		if err := sc.requireModule(m, access.PermEdit); err != nil {
			return nil, err
		}
		if fa := sc.fieldAccess(m, "dueAt"); fa != access.FieldReadWrite {
			return nil, apperr.NewFieldForbidden("field dueAt of %s is %s for your profile", m, fa)
		}
	}
	keys := make([]int64, len(in))
	seen := map[int64]bool{}
	for i, id := range in {
		perm := access.PermChangeOwner
		key, err := r.writableRecord(sc, m, id, perm)
		if err != nil {
			return nil, err
		}
		if dueIn != nil {
			if key, err = r.writableRecord(sc, m, id, access.PermEdit); err != nil {
				return nil, err
			}
		}
		if seen[key] {
			return nil, apperr.NewBadInput("ids[%d]: %s is listed more than once", i, id)
		}
		seen[key] = true
		keys[i] = key
	}
	now := r.now()
	meta := records.MetaOf(m)
	var out []records.Record
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		// The principal's state row is the turn: held until commit, so
		// concurrent assignments to one principal take turns one by one and
		// each sees the loads the previous one left.
		last, err := db.RotationTurn(ctx, tx, sc.org.Key, p.Type.String(), p.ID)
		if err != nil {
			return err
		}
		a, err := availableAt(ctx, tx, sc.org.Key, principalMembers(sc, &p), now)
		if err != nil {
			return err
		}
		if len(a.available) == 0 {
			return apperr.NewConflict("no member of %s is available now (%s): nothing was assigned", sc.principalOut(p).Name, now.UTC().Format(time.RFC3339))
		}
		var load map[int64]int
		if strategy == model.AssignmentStrategyLeastLoaded {
			if load, err = db.OpenTaskCounts(ctx, tx, sc.org.Key, a.available); err != nil {
				return err
			}
		}
		out = make([]records.Record, 0, len(keys))
		for i, key := range keys {
			cur, err := db.GetRecordForUpdate(ctx, tx, sc.org.Key, meta, key)
			if errors.Is(err, db.ErrNotFound) {
				return apperr.NewNotFound("no %s with id %s", m, in[i])
			}
			if err != nil {
				return err
			}
			var owner int64
			if strategy == model.AssignmentStrategyRoundRobin {
				owner = shifts.NextInRotation(a.available, last)
				last = owner
			} else {
				// Each record given in this call counts for its new owner,
				// so a batch spreads out; an open task also stops counting
				// for the candidate it leaves.
				owner = shifts.LeastLoaded(a.available, load)
				load[owner]++
				if t, ok := cur.(*records.Task); ok && isOpenTask(t) && load[t.OwnerID] > 0 && slices.Contains(a.available, t.OwnerID) {
					load[t.OwnerID]--
				}
			}
			cols := map[string]any{"owner_id": owner}
			before := map[string]any{"ownerId": ids.Encode(ids.Member, cur.Base().OwnerID)}
			after := map[string]any{"ownerId": ids.Encode(ids.Member, owner), "strategy": string(strategy), "to": sc.principalOut(p)}
			if dueIn != nil {
				due, err := a.book.calendarOf(a.shifts[owner].Shift).AddWorkingMinutes(now, *dueIn)
				if err != nil {
					return apperr.NewConflict("no due time: the new owner's calendar has no working time ahead")
				}
				cols["due_at"] = due
				before["dueAt"] = cur.(*records.Task).DueAt
				after["dueAt"] = due
			}
			rec, err := db.UpdateRecord(ctx, tx, sc.org.Key, meta, key, cols)
			if err != nil {
				return err
			}
			if err := logRecord(ctx, tx, rec); err != nil {
				return err
			}
			if err := audit(ctx, tx, sc, "record.assign", strings.ToLower(string(m)), key, before, after); err != nil {
				return err
			}
			out = append(out, rec)
		}
		if strategy == model.AssignmentStrategyRoundRobin {
			return db.SetRotationTurn(ctx, tx, sc.org.Key, p.Type.String(), p.ID, last, len(keys))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sessionFrom(ctx).changed(sc.org.Key)
	return out, nil
}

// isOpenTask matches db.OpenTaskSQL: a task is open unless its status is
// one of db.ClosedTaskStatuses.
func isOpenTask(t *records.Task) bool {
	return t.Status == nil || !slices.Contains(db.ClosedTaskStatuses, strings.ToLower(strings.TrimSpace(*t.Status)))
}
