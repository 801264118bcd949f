package resolvers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/mail"
	"strings"
	"time"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
)

// Invitations: an administrator with manageUsers invites an email with a
// role and profile; the invitee, signed in with that email, accepts with
// the invitation's secret token and joins through the same checks as
// addMember (checkAdmission, admit), made again on acceptance against the
// org as it then stands and on behalf of the inviter, whose permissions
// must still allow it.

// invitationTTL is how long an invitation may be accepted.
const invitationTTL = 7 * 24 * time.Hour

// identityNow is the clock of invitations' expiry (Resolver.Now in tests).
func (r *Resolver) identityNow() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// newInvitationToken returns a random secret and the hash that is stored.
func newInvitationToken() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, hashInvitationToken(tok), nil
}

func hashInvitationToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// invitationState is an invitation as the audit log keeps it.
func invitationState(inv *db.Invitation, now time.Time) map[string]any {
	out := map[string]any{"id": inv.ID(), "email": inv.Email, "roleId": ids.Encode(ids.Role, inv.RoleID),
		"profileId": ids.Encode(ids.Profile, inv.ProfileID), "status": inv.Status(now), "expiresAt": inv.ExpiresAt}
	if inv.ReportsToID.Valid {
		out["reportsToId"] = ids.Encode(ids.Member, inv.ReportsToID.Int64)
	}
	if inv.ShiftID.Valid {
		out["shiftId"] = ids.Encode(ids.Shift, inv.ShiftID.Int64)
	}
	return out
}

func (r *Resolver) inviteMember(ctx context.Context, in model.InviteMemberInput) (*model.Invitation, error) {
	if _, err := adminScope(ctx, access.SetupManageUsers); err != nil {
		return nil, err
	}
	var err error
	email := strings.TrimSpace(in.Email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return nil, apperr.NewBadInput("email %q is not a valid address", in.Email)
	}
	a := admission{email: email, roleID: in.RoleID, profileID: in.ProfileID, shiftID: in.ShiftID, reportsToID: in.ReportsToID, forInvitation: true}
	if in.TimeZone != nil {
		if a.zone, err = memberZone(*in.TimeZone); err != nil {
			return nil, err
		}
	}
	token, hash, err := newInvitationToken()
	if err != nil {
		return nil, err
	}
	now := r.identityNow()
	var inv *db.Invitation
	err = r.changeOrg(ctx, access.SetupManageUsers, in.ReportsToID != nil, func(c *orgChange) error {
		p, err := c.checkAdmission(ctx, a)
		if err != nil {
			return err
		}
		if pending, err := db.PendingInvitationFor(ctx, c.tx, c.sc.org.Key, email, now); err != nil {
			return err
		} else if pending {
			return apperr.NewConflict("%s already has a pending invitation to this org: revoke it first", email)
		}
		row := db.Invitation{OrgID: c.sc.org.Key, Email: email, RoleID: p.row.RoleID, ProfileID: p.row.ProfileID,
			ReportsToID: p.row.ReportsToID, ShiftID: p.row.ShiftID, TimeZone: p.row.TimeZone,
			InvitedBy: c.sc.member.Key, CreatedAt: now, ExpiresAt: now.Add(invitationTTL)}
		if inv, err = db.InsertInvitation(ctx, c.tx, row, hash); err != nil {
			return err
		}
		// No access changes until it is accepted: an audit entry, no security change.
		return audit(ctx, c.tx, c.sc, "invitation.create", "invitation", inv.Key, nil, invitationState(inv, now))
	})
	if err != nil {
		return nil, err
	}
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	return r.invitationOut(ctx, sc, inv, &token)
}

func (r *Resolver) invitations(ctx context.Context, status *model.InvitationStatus) ([]*model.Invitation, error) {
	sc, err := adminScope(ctx, access.SetupManageUsers)
	if err != nil {
		return nil, err
	}
	rows, err := db.InvitationsOfOrg(ctx, r.DB, sc.org.Key)
	if err != nil {
		return nil, err
	}
	now := r.identityNow()
	out := []*model.Invitation{}
	for _, inv := range rows {
		if status != nil && inv.Status(now) != string(*status) {
			continue
		}
		m, err := r.invitationOut(ctx, sc, inv, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (r *Resolver) revokeInvitation(ctx context.Context, id string) (*model.Invitation, error) {
	now := r.identityNow()
	var inv *db.Invitation
	err := r.changeOrg(ctx, access.SetupManageUsers, false, func(c *orgChange) error {
		notFound := apperr.NewNotFound("no invitation with id %s in this org", id)
		key, err := ids.Decode(ids.Invitation, id)
		if err != nil {
			return notFound
		}
		cur, err := db.InvitationByID(ctx, c.tx, c.sc.org.Key, key, true)
		if errors.Is(err, db.ErrNotFound) {
			return notFound
		} else if err != nil {
			return err
		}
		if st := cur.Status(now); st != "PENDING" {
			return apperr.NewConflict("the invitation is %s: only a pending invitation can be revoked", st)
		}
		if inv, err = db.RevokeInvitation(ctx, c.tx, c.sc.org.Key, key, now); err != nil {
			return err
		}
		return audit(ctx, c.tx, c.sc, "invitation.revoke", "invitation", key, invitationState(cur, now), invitationState(inv, now))
	})
	if err != nil {
		return nil, err
	}
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	return r.invitationOut(ctx, sc, inv, nil)
}

// acceptInvitation makes the signed-in user a member of the invitation's
// org. The token is the secret; the user's email must be the invited one.
func (r *Resolver) acceptInvitation(ctx context.Context, token string) (*model.Viewer, error) {
	s, err := requireUser(ctx)
	if err != nil {
		return nil, err
	}
	u, err := db.UserByID(ctx, r.DB, s.userID)
	if err != nil {
		return nil, err
	}
	inv, err := db.InvitationByTokenHash(ctx, r.DB, hashInvitationToken(token))
	if errors.Is(err, db.ErrNotFound) {
		return nil, apperr.NewNotFound("no invitation with this token")
	} else if err != nil {
		return nil, err
	}
	// The email first: someone else holding the token learns nothing more.
	if !strings.EqualFold(inv.Email, u.Email) {
		return nil, apperr.NewForbidden("this invitation is for another email address: sign in with the invited one")
	}
	now := r.identityNow()
	if st := inv.Status(now); st != "PENDING" {
		return nil, apperr.NewConflict("the invitation is %s: ask for a new one", st)
	}
	// The change is the inviter's: their permissions as they stand now.
	org, err := db.OrgByID(ctx, r.DB, inv.OrgID)
	if err != nil {
		return nil, err
	}
	inviter, err := db.MemberByID(ctx, r.DB, inv.OrgID, inv.InvitedBy)
	if err != nil {
		return nil, err
	}
	snap, _, err := r.Engine.State(ctx, inv.OrgID)
	if err != nil {
		return nil, err
	}
	if !snap.HasSetup(inviter.Key, access.SetupManageUsers) {
		return nil, apperr.NewConflict("the invitation is no longer valid: its sender may no longer add members; ask for a new one")
	}
	a := admission{email: u.Email, roleID: ids.Encode(ids.Role, inv.RoleID), profileID: ids.Encode(ids.Profile, inv.ProfileID),
		zone: inv.TimeZone, invitee: u}
	if inv.ShiftID.Valid {
		v := ids.Encode(ids.Shift, inv.ShiftID.Int64)
		a.shiftID = &v
	}
	if inv.ReportsToID.Valid {
		v := ids.Encode(ids.Member, inv.ReportsToID.Int64)
		a.reportsToID = &v
	}
	as := &scope{org: org, member: inviter, conn: r.DB}
	err = r.changeOrgAs(ctx, as, access.SetupManageUsers, inv.ReportsToID.Valid, func(c *orgChange) error {
		// Single use: the row is locked, so of two acceptances one sees it taken.
		cur, err := db.InvitationByID(ctx, c.tx, inv.OrgID, inv.Key, true)
		if err != nil {
			return err
		}
		if st := cur.Status(now); st != "PENDING" {
			return apperr.NewConflict("the invitation is %s: ask for a new one", st)
		}
		p, err := c.checkAdmission(ctx, a)
		if err != nil {
			return err
		}
		m, err := c.admit(ctx, p, "invitation.accept", map[string]any{"invitationId": inv.ID()})
		if err != nil {
			return err
		}
		_, err = db.MarkInvitationAccepted(ctx, c.tx, inv.OrgID, inv.Key, m.Key, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if u, err = db.UserByID(ctx, r.DB, s.userID); err != nil {
		return nil, err
	}
	return r.viewerOf(ctx, u, inv.OrgID)
}

// invitationOut is an invitation as the API shows it, read in sc's org.
func (r *Resolver) invitationOut(ctx context.Context, sc *scope, inv *db.Invitation, token *string) (*model.Invitation, error) {
	out := &model.Invitation{ID: inv.ID(), Email: inv.Email, Status: model.InvitationStatus(inv.Status(r.identityNow())),
		CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt, Token: token}
	roles, err := sc.orgRoles(ctx)
	if err != nil {
		return nil, err
	}
	for _, ro := range roles {
		if ro.Key == inv.RoleID {
			out.Role = ro
		}
	}
	profiles, err := sc.orgProfiles(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range profiles {
		if p.Key == inv.ProfileID {
			out.Profile = p
		}
	}
	member := func(key int64) (*db.Member, error) { return sc.loaders.Member(ctx, key) }
	if out.InvitedBy, err = member(inv.InvitedBy); err != nil {
		return nil, err
	}
	if inv.ReportsToID.Valid {
		if out.ReportsTo, err = member(inv.ReportsToID.Int64); err != nil {
			return nil, err
		}
	}
	if inv.AcceptedAt.Valid {
		t := inv.AcceptedAt.Time
		out.AcceptedAt = &t
	}
	if inv.AcceptedBy.Valid {
		if out.AcceptedBy, err = member(inv.AcceptedBy.Int64); err != nil {
			return nil, err
		}
	}
	return out, nil
}
