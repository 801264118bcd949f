package resolvers

import (
	"context"
	"database/sql"
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"warden/access"
	"warden/apperr"
	"warden/auth"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
)

// Members: add, update, deactivate, reactivate (manageUsers).
//
// Who may change whose membership (manageUsers never leads to more power
// than it gives) is access.Snapshot.ValidateMembershipChange.

// memberState is a membership as the audit log keeps it.
type memberState struct {
	ID          string  `json:"id"`
	UserID      string  `json:"userId"`
	Email       string  `json:"email"`
	Name        string  `json:"name"`
	Status      string  `json:"status"`
	RoleID      string  `json:"roleId"`
	ProfileID   string  `json:"profileId"`
	ReportsToID *string `json:"reportsToId"`
	ShiftID     *string `json:"shiftId"`
	TimeZone    *string `json:"timeZone"`
}

func memberStateOf(m *db.Member) memberState {
	out := memberState{ID: m.ID(), UserID: ids.Encode(ids.User, m.UserID), Email: m.Email, Name: m.Name, Status: m.Status,
		RoleID: ids.Encode(ids.Role, m.RoleID), ProfileID: ids.Encode(ids.Profile, m.ProfileID)}
	if m.ReportsToID.Valid {
		s := ids.Encode(ids.Member, m.ReportsToID.Int64)
		out.ReportsToID = &s
	}
	if m.ShiftID.Valid {
		s := ids.Encode(ids.Shift, m.ShiftID.Int64)
		out.ShiftID = &s
	}
	if m.TimeZoneCol.Valid {
		s := m.TimeZoneCol.String
		out.TimeZone = &s
	}
	return out
}

// memberZone checks a member's time zone: an IANA zone name.
func memberZone(s string) (sql.NullString, error) {
	if s == "" || s == "Local" || len(s) > 64 {
		return sql.NullString{}, apperr.NewBadInput("timeZone %q is not an IANA time zone", s)
	}
	if _, err := time.LoadLocation(s); err != nil {
		return sql.NullString{}, apperr.NewBadInput("timeZone %q is not an IANA time zone", s)
	}
	return sql.NullString{String: s, Valid: true}, nil
}

// manager resolves a reporting manager id: a member of the org, ACTIVE.
func (c *orgChange) manager(id string) (access.Member, error) {
	m, err := c.member(id, "reportsToId")
	if err != nil {
		return m, err
	}
	if !m.Active {
		return m, apperr.NewBadInput("reportsToId: %s is INACTIVE and cannot be a reporting manager", m.Name)
	}
	return m, nil
}

func (r *Resolver) addMember(ctx context.Context, input model.AddMemberInput) (*db.Member, error) {
	// The permission first, then the password's hashing, which is slow:
	// outside the transaction and its org lock.
	if _, err := adminScope(ctx, access.SetupManageUsers); err != nil {
		return nil, err
	}
	email := strings.TrimSpace(input.Email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return nil, apperr.NewBadInput("email %q is not a valid address", input.Email)
	}
	var hash string
	if input.Password != nil {
		if err := auth.ValidatePassword(*input.Password); err != nil {
			return nil, apperr.NewBadInput("password: %s", err.Error())
		}
		var err error
		if hash, err = auth.HashPassword(*input.Password); err != nil {
			return nil, err
		}
	}
	var zone sql.NullString
	if input.TimeZone != nil {
		var err error
		if zone, err = memberZone(*input.TimeZone); err != nil {
			return nil, err
		}
	}
	a := admission{email: email, name: strings.TrimSpace(input.Name), passwordHash: hash, passwordGiven: input.Password != nil,
		roleID: input.RoleID, profileID: input.ProfileID, shiftID: input.ShiftID, reportsToID: input.ReportsToID, zone: zone}
	var out *db.Member
	err := r.changeOrg(ctx, access.SetupManageUsers, input.ReportsToID != nil, func(c *orgChange) error {
		p, err := c.checkAdmission(ctx, a)
		if err != nil {
			return err
		}
		out, err = c.admit(ctx, p, "member.add", nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// admission is a membership to add: by addMember, or by an invitation
// (checked when it is made and again when it is accepted).
type admission struct {
	email, name   string // name: for a new identity
	passwordHash  string // for a new identity; "" for none
	passwordGiven bool
	roleID        string
	profileID     string
	shiftID       *string
	reportsToID   *string
	zone          sql.NullString
	// invitee is the identity that joins, when already known (the
	// signed-in user accepting an invitation).
	invitee *db.User
	// forInvitation: no identity is created; an unknown email is fine.
	forInvitation bool
}

// admissionPlan is an admission checked against the org's state as locked.
type admissionPlan struct {
	a    admission
	row  db.MemberRow
	user *db.User // nil: a new identity
	name string
}

// checkAdmission checks an admission by the rules addMember applies: role,
// profile, shift and manager of the org; who may give which profile
// (access.Snapshot.ValidateMembershipChange); the reporting line on the
// state the change produces; the identity not already a member.
func (c *orgChange) checkAdmission(ctx context.Context, a admission) (*admissionPlan, error) {
	org := c.sc.org.Key
	role, err := c.role(a.roleID, "roleId")
	if err != nil {
		return nil, err
	}
	prof, err := c.profile(ctx, a.profileID, "profileId")
	if err != nil {
		return nil, err
	}
	if err := c.snap.ValidateMembershipChange(c.sc.member.Key, access.MembershipChange{ProfileChanges: true, NewProfileAdmin: prof.IsAdmin}); err != nil {
		return nil, err
	}
	p := &admissionPlan{a: a, row: db.MemberRow{RoleID: role.ID, ProfileID: prof.Key, TimeZone: a.zone}}
	if a.shiftID != nil {
		key, err := ids.Decode(ids.Shift, *a.shiftID)
		if err == nil {
			_, err = db.ShiftName(ctx, c.tx, org, key)
		}
		if errors.Is(err, ids.ErrMalformed) || errors.Is(err, db.ErrNotFound) {
			return nil, apperr.NewNotFound("shiftId: no shift with id %s in this org", *a.shiftID)
		}
		if err != nil {
			return nil, err
		}
		p.row.ShiftID = sql.NullInt64{Int64: key, Valid: true}
	}
	var mgr access.Member
	if a.reportsToID != nil {
		if mgr, err = c.manager(*a.reportsToID); err != nil {
			return nil, err
		}
		p.row.ReportsToID = sql.NullInt64{Int64: mgr.ID, Valid: true}
	}

	// The identity: an existing one joins, a new one is created.
	user := a.invitee
	if user == nil {
		user, err = db.UserByEmail(ctx, c.tx, a.email)
	}
	p.name = a.name
	switch {
	case err == nil:
		if a.passwordGiven {
			return nil, apperr.NewBadInput("%s already has an account, which keeps its own password: omit password", a.email)
		}
		m, err := db.MemberOfUser(ctx, c.tx, org, user.Key)
		if err == nil {
			if !m.Active() {
				return nil, apperr.NewConflict("%s is already a member of this org (INACTIVE): reactivate them instead", a.email)
			}
			return nil, apperr.NewConflict("%s is already a member of this org", a.email)
		}
		if !errors.Is(err, db.ErrNotFound) {
			return nil, err
		}
		p.user, p.name = user, user.Name
	case errors.Is(err, db.ErrNotFound) && a.forInvitation:
		p.name = a.email // the invitee signs up later; the name only labels the check below
	case errors.Is(err, db.ErrNotFound):
		if n := utf8.RuneCountInString(p.name); n < 1 || n > 200 {
			return nil, apperr.NewBadInput("name must be 1 to 200 characters")
		}
	default:
		return nil, err
	}

	// The reporting line, checked by the access rules on the state the
	// change produces (the new member is not in the current one).
	if mgr.ID != 0 {
		snap, err := c.hypothetical(func(d *access.OrgData) {
			d.Members = append(d.Members, access.Member{ID: pendingMember, RoleID: role.ID, ProfileID: prof.Key, Active: true, Name: p.name})
		})
		if err != nil {
			return nil, err
		}
		if err := snap.ValidateReportsTo(pendingMember, mgr.ID); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// admit writes a checked admission: the identity (created when new), the
// membership, the default org of a user without one, and the audit entry
// with its security change (extra is merged into the entry's after).
func (c *orgChange) admit(ctx context.Context, p *admissionPlan, action string, extra map[string]any) (*db.Member, error) {
	org := c.sc.org.Key
	user := p.user
	if user == nil {
		var err error
		if user, err = db.CreateUser(ctx, c.tx, p.a.email, p.name, p.a.passwordHash); errors.Is(err, db.ErrEmailTaken) {
			return nil, apperr.NewConflict("an account with email %s was created meanwhile: retry", p.a.email)
		} else if err != nil {
			return nil, err
		}
	}
	row := p.row
	row.UserID = user.Key
	out, err := db.InsertMember(ctx, c.tx, org, row)
	if errors.Is(err, db.ErrMemberExists) {
		return nil, apperr.NewConflict("%s is already a member of this org", p.a.email)
	} else if err != nil {
		return nil, err
	}
	if err := db.SetDefaultOrgIfNone(ctx, c.tx, user.Key, org); err != nil {
		return nil, err
	}
	var after any = memberStateOf(out)
	if len(extra) > 0 {
		m := map[string]any{"member": after}
		for k, v := range extra {
			m[k] = v
		}
		after = m
	}
	return out, c.record(ctx, action, "member", out.Key, nil, after)
}

// updateMember changes a member's role, profile, reporting manager and time
// zone. Omitted fields stay; an explicit null clears reportsToId (and
// timeZone). gqlgen gives both as a nil pointer, so whether the field was
// sent at all is read from the request's raw argument (inputHas).
func (r *Resolver) updateMember(ctx context.Context, id string, input model.UpdateMemberInput) (*db.Member, error) {
	reportsGiven := input.ReportsToID != nil || inputHas(ctx, "input", "reportsToId")
	zoneGiven := input.TimeZone != nil || inputHas(ctx, "input", "timeZone")
	// Both a role and a manager: checked on the state the change produces.
	withData := input.RoleID != nil && reportsGiven
	var out *db.Member
	err := r.changeOrg(ctx, access.SetupManageUsers, withData, func(c *orgChange) error {
		org := c.sc.org.Key
		target, err := c.member(id, "id")
		if err != nil {
			return err
		}
		if input.RoleID == nil && input.ProfileID == nil && !reportsGiven && !zoneGiven {
			return apperr.NewBadInput("nothing to update: give roleId, profileId, reportsToId or timeZone")
		}
		cur, err := db.MemberByID(ctx, c.tx, org, target.ID)
		if err != nil {
			return err
		}
		next := db.MemberRow{RoleID: cur.RoleID, ProfileID: cur.ProfileID, ReportsToID: cur.ReportsToID, TimeZone: cur.TimeZoneCol}
		if input.RoleID != nil {
			role, err := c.role(*input.RoleID, "roleId")
			if err != nil {
				return err
			}
			next.RoleID = role.ID
		}
		var newProf *db.Profile
		if input.ProfileID != nil {
			if newProf, err = c.profile(ctx, *input.ProfileID, "profileId"); err != nil {
				return err
			}
			next.ProfileID = newProf.Key
		}
		if reportsGiven {
			next.ReportsToID = sql.NullInt64{}
			if input.ReportsToID != nil {
				mgr, err := c.manager(*input.ReportsToID)
				if err != nil {
					return err
				}
				next.ReportsToID = sql.NullInt64{Int64: mgr.ID, Valid: true}
			}
		}
		if zoneGiven {
			next.TimeZone = sql.NullString{}
			if input.TimeZone != nil {
				if next.TimeZone, err = memberZone(*input.TimeZone); err != nil {
					return err
				}
			}
		}
		roleChanged := next.RoleID != cur.RoleID
		profChanged := next.ProfileID != cur.ProfileID
		mgrChanged := next.ReportsToID != cur.ReportsToID

		// manageUsers never leads to more power than it gives (access/).
		change := access.MembershipChange{Target: target.ID, RoleChanges: roleChanged, ProfileChanges: profChanged}
		if profChanged {
			change.NewProfileAdmin = newProf.IsAdmin
		}
		if err := c.snap.ValidateMembershipChange(c.sc.member.Key, change); err != nil {
			return err
		}

		// Reporting lines, by the access rules.
		switch {
		case roleChanged && mgrChanged:
			// Both change: check the new role against the member's reports
			// on a state without its old manager, then the new manager.
			snap, err := c.hypothetical(func(d *access.OrgData) {
				for i := range d.Members {
					if d.Members[i].ID == target.ID {
						d.Members[i].RoleID, d.Members[i].ReportsToID = next.RoleID, 0
					}
				}
			})
			if err != nil {
				return err
			}
			if err := snap.ValidateMemberRole(target.ID, next.RoleID); err != nil {
				return err
			}
			if next.ReportsToID.Valid {
				if err := snap.ValidateReportsTo(target.ID, next.ReportsToID.Int64); err != nil {
					return err
				}
			}
		case roleChanged:
			if err := c.snap.ValidateMemberRole(target.ID, next.RoleID); err != nil {
				return err
			}
		case mgrChanged && next.ReportsToID.Valid:
			if err := c.snap.ValidateReportsTo(target.ID, next.ReportsToID.Int64); err != nil {
				return err
			}
		}

		if !roleChanged && !profChanged && !mgrChanged && next.TimeZone == cur.TimeZoneCol {
			out = cur // nothing changes: nothing written
			return nil
		}
		if out, err = db.UpdateMemberRow(ctx, c.tx, org, target.ID, next); err != nil {
			return err
		}
		return c.record(ctx, "member.update", "member", target.ID, memberStateOf(cur), memberStateOf(out))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// deactivateMember makes a member INACTIVE: it can no longer act in the
// org; its records, reporting lines, group memberships and shares stay.
func (r *Resolver) deactivateMember(ctx context.Context, id string) (*db.Member, error) {
	var out *db.Member
	err := r.changeOrg(ctx, access.SetupManageUsers, false, func(c *orgChange) error {
		org := c.sc.org.Key
		target, err := c.member(id, "id")
		if err != nil {
			return err
		}
		if err := c.snap.ValidateMembershipChange(c.sc.member.Key, access.MembershipChange{Target: target.ID, Deactivate: true}); err != nil {
			return err
		}
		cur, err := db.MemberByID(ctx, c.tx, org, target.ID)
		if err != nil {
			return err
		}
		if !target.Active {
			out = cur // already INACTIVE: nothing written
			return nil
		}
		if out, err = db.SetMemberStatus(ctx, c.tx, org, target.ID, "INACTIVE"); err != nil {
			return err
		}
		// Requests without X-Org-ID act in the default org: move it away.
		if err := db.MoveDefaultOrgAway(ctx, c.tx, cur.UserID, org); err != nil {
			return err
		}
		return c.record(ctx, "member.deactivate", "member", target.ID, memberStateOf(cur), memberStateOf(out))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Resolver) reactivateMember(ctx context.Context, id string) (*db.Member, error) {
	var out *db.Member
	err := r.changeOrg(ctx, access.SetupManageUsers, false, func(c *orgChange) error {
		org := c.sc.org.Key
		target, err := c.member(id, "id")
		if err != nil {
			return err
		}
		cur, err := db.MemberByID(ctx, c.tx, org, target.ID)
		if err != nil {
			return err
		}
		if target.Active {
			out = cur // already ACTIVE: nothing written
			return nil
		}
		if err := c.snap.ValidateMembershipChange(c.sc.member.Key, access.MembershipChange{Target: target.ID, Reactivate: true}); err != nil {
			return err
		}
		if out, err = db.SetMemberStatus(ctx, c.tx, org, target.ID, "ACTIVE"); err != nil {
			return err
		}
		if err := db.SetDefaultOrgIfNone(ctx, c.tx, cur.UserID, org); err != nil {
			return err
		}
		return c.record(ctx, "member.reactivate", "member", target.ID, memberStateOf(cur), memberStateOf(out))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
