package api_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"warden/api/apitest"
	"warden/db"
	"warden/resolvers"
)

// Invitations end to end, with a clock the test moves.

type invClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *invClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *invClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const (
	invInviteQ = `mutation($in: InviteMemberInput!) { inviteMember(input: $in) { id email status token expiresAt
		role { name } profile { name } invitedBy { name } } }`
	invAcceptQ = `mutation($t: String!) { acceptInvitation(token: $t) { activeOrg { id }
		member { role { name } profile { name } status } orgs { id name member { role { name } profile { name } } } } }`
	invListQ   = `query($s: InvitationStatus) { invitations(status: $s) { id email status token acceptedBy { name } } }`
	invRevokeQ = `mutation($id: ID!) { revokeInvitation(id: $id) { id status } }`
)

// invite invites email as Rep with the Standard profile; it returns the
// invitation's id and token.
func invite(t *testing.T, o *aoOrg, clock *invClock, role, email string) (string, string) {
	t.Helper()
	d := o.must(o.admin, invInviteQ, obj{"in": obj{"email": email, "roleId": role, "profileId": o.stdPrf}})
	inv := recPath(d, "inviteMember")
	if recStr(inv, "status") != "PENDING" || recStr(inv, "token") == "" || recStr(inv, "role", "name") != "Rep" ||
		recStr(inv, "profile", "name") != "Standard" || recStr(inv, "email") != email {
		t.Fatalf("inviteMember answered %v", inv)
	}
	exp, err := time.Parse(time.RFC3339Nano, recStr(inv, "expiresAt"))
	if err != nil || exp.Sub(clock.Now()) < 7*24*time.Hour-time.Minute || exp.Sub(clock.Now()) > 7*24*time.Hour+time.Minute {
		t.Errorf("expiresAt %v, want in 7 days", recStr(inv, "expiresAt"))
	}
	return recStr(inv, "id"), recStr(inv, "token")
}

func invMembers(t *testing.T, o *aoOrg) int {
	t.Helper()
	var n int
	if err := o.env.DB.Get(&n, `SELECT count(*) FROM members WHERE org_id = $1`, o.key); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInvitationFlow(t *testing.T) {
	t.Parallel()
	clock := &invClock{now: time.Now()}
	env := apitest.NewWith(t, func(r *resolvers.Resolver) { r.Now = clock.Now })
	o := aoNewOrg(env, "inv-admin@example.com", "Invite Org")
	rep := o.createRole("Rep", o.topRole)

	t.Run("invite, sign up, accept", func(t *testing.T) {
		env := envFor(env, t)
		o := *o
		o.env = env
		id, token := invite(t, &o, clock, rep, "newbie@example.com")
		o.wantAudit("invitation.create", id, nil, obj{"email": "newbie@example.com", "status": "PENDING"})
		list := recPath(o.must(o.admin, invListQ, obj{"s": "PENDING"}), "invitations").([]any)
		if len(list) != 1 || recStr(list[0], "id") != id || recPath(list[0], "token") != nil {
			t.Fatalf("pending invitations: %v (the token must not be shown again)", list)
		}
		var stored int
		if err := env.DB.Get(&stored, `SELECT count(*) FROM invitations WHERE token_hash = convert_to($1, 'UTF8')`, token); err != nil || stored != 0 {
			t.Errorf("the token is stored in clear (%d, %v)", stored, err)
		}

		// Someone else holding the token is refused, and nothing changes.
		members := invMembers(t, &o)
		other := env.Signup("not-newbie@example.com", "Other")
		r := recFails(env, other, "FORBIDDEN", invAcceptQ, obj{"t": token})
		if containsAny(r, "newbie@example.com", "Invite Org", "Rep") {
			t.Errorf("refusal reveals the invitation: %+v", r.Errors)
		}
		recFails(env, apitest.Caller{}, "UNAUTHENTICATED", invAcceptQ, obj{"t": token})
		recFails(env, other, "NOT_FOUND", invAcceptQ, obj{"t": token + "x"})
		if invMembers(t, &o) != members {
			t.Fatal("a refused acceptance added a member")
		}

		newbie := env.Signup("Newbie@example.com", "Nell Newbie")
		d := recData(env, newbie, invAcceptQ, obj{"t": token})
		v := recPath(d, "acceptInvitation")
		if recStr(v, "activeOrg", "id") != o.id || recStr(v, "member", "role", "name") != "Rep" ||
			recStr(v, "member", "profile", "name") != "Standard" || recStr(v, "member", "status") != "ACTIVE" {
			t.Fatalf("acceptInvitation answered %v", v)
		}
		orgs, _ := recPath(v, "orgs").([]any)
		if len(orgs) != 1 || recStr(orgs[0], "id") != o.id || recStr(orgs[0], "member", "role", "name") != "Rep" {
			t.Errorf("viewer.orgs after accepting: %v", orgs)
		}
		if invMembers(t, &o) != members+1 {
			t.Error("no member added")
		}
		e := o.lastAudit()
		if e["action"] != "invitation.accept" || recStr(e, "after", "invitationId") != id {
			t.Errorf("audit entry %v", e)
		}
		// The new member acts in the org (it is their default org now).
		recData(env, newbie, `{ deals(first: 1) { totalCount } }`, nil)
		list = recPath(o.must(o.admin, invListQ, obj{"s": "ACCEPTED"}), "invitations").([]any)
		if len(list) != 1 || recStr(list[0], "acceptedBy", "name") != "Nell Newbie" {
			t.Errorf("accepted invitations: %v", list)
		}
		// Single use.
		recFails(env, newbie, "CONFLICT", invAcceptQ, obj{"t": token})
		if invMembers(t, &o) != members+1 {
			t.Error("reuse changed the members")
		}
		// And an invitation of an existing member is refused.
		recFails(env, o.admin, "CONFLICT", invInviteQ, obj{"in": obj{"email": "newbie@example.com", "roleId": rep, "profileId": o.stdPrf}})
	})

	t.Run("expires after 7 days", func(t *testing.T) {
		env := envFor(env, t)
		o := *o
		o.env = env
		late := env.Signup("late@example.com", "Lou Late")
		_, token := invite(t, &o, clock, rep, "late@example.com")
		clock.Add(7*24*time.Hour + time.Minute)
		defer clock.Add(-(7*24*time.Hour + time.Minute))
		recFails(env, late, "CONFLICT", invAcceptQ, obj{"t": token})
		list := recPath(o.must(o.admin, invListQ, obj{"s": "EXPIRED"}), "invitations").([]any)
		if len(list) != 1 || recStr(list[0], "email") != "late@example.com" {
			t.Errorf("expired invitations: %v", list)
		}
		// An expired invitation does not block a new one.
		invite(t, &o, clock, rep, "late@example.com")
	})

	t.Run("revoked", func(t *testing.T) {
		env := envFor(env, t)
		o := *o
		o.env = env
		rev := env.Signup("revoked@example.com", "Rae Revoked")
		id, token := invite(t, &o, clock, rep, "revoked@example.com")
		recFails(env, o.admin, "CONFLICT", invInviteQ, obj{"in": obj{"email": "revoked@example.com", "roleId": rep, "profileId": o.stdPrf}})
		if d := o.must(o.admin, invRevokeQ, obj{"id": id}); recStr(d, "revokeInvitation", "status") != "REVOKED" {
			t.Fatalf("revokeInvitation answered %v", d)
		}
		o.wantAudit("invitation.revoke", id, obj{"status": "PENDING"}, obj{"status": "REVOKED"})
		recFails(env, rev, "CONFLICT", invAcceptQ, obj{"t": token})
		recFails(env, o.admin, "CONFLICT", invRevokeQ, obj{"id": id})
		recFails(env, o.admin, "NOT_FOUND", invRevokeQ, obj{"id": "invitation_999999"})
	})

	t.Run("needs manageUsers and the power to give the profile", func(t *testing.T) {
		env := envFor(env, t)
		o := *o
		o.env = env
		std, _ := o.addMember("inv-std@example.com", "Stan Standard", rep, nil)
		recFails(env, std, "FORBIDDEN", invInviteQ, obj{"in": obj{"email": "x@example.com", "roleId": rep, "profileId": o.stdPrf}})
		recFails(env, std, "FORBIDDEN", invListQ, nil)
		// A user manager who is no Administrator cannot invite Administrators.
		invSetStandardSetup(env, o.key, "{manageUsers}")
		recFails(env, std, "FORBIDDEN", invInviteQ, obj{"in": obj{"email": "y@example.com", "roleId": rep, "profileId": o.adminPrf}})
		for _, bad := range []obj{
			{"email": "not an email", "roleId": rep, "profileId": o.stdPrf},
			{"email": "z@example.com", "roleId": "role_999999", "profileId": o.stdPrf},
			{"email": "z@example.com", "roleId": rep, "profileId": "profile_999999"},
			{"email": "z@example.com", "roleId": rep, "profileId": o.stdPrf, "timeZone": "Mars/Base"},
		} {
			r := env.Do(std, invInviteQ, obj{"in": bad})
			if len(r.Errors) == 0 {
				t.Errorf("inviteMember(%v) succeeded", bad)
			}
		}
		// An invitation whose sender lost manageUsers can no longer be accepted.
		_, token := invite(t, &o, clock, rep, "via-std@example.com")
		d := o.must(std, invInviteQ, obj{"in": obj{"email": "by-std@example.com", "roleId": rep, "profileId": o.stdPrf}})
		byStd := recStr(d, "inviteMember", "token")
		invSetStandardSetup(env, o.key, "{}")
		recFails(env, env.Signup("by-std@example.com", "By Std"), "CONFLICT", invAcceptQ, obj{"t": byStd})
		recData(env, env.Signup("via-std@example.com", "Via Admin"), invAcceptQ, obj{"t": token})
	})
}

// containsAny reports whether an error message of r contains one of words.
func containsAny(r *apitest.Response, words ...string) bool {
	for _, e := range r.Errors {
		for _, w := range words {
			if w != "" && strings.Contains(e.Message, w) {
				return true
			}
		}
	}
	return false
}

// invSetStandardSetup sets the Standard profile's setup permissions with SQL
// (bumping the org's security version as the API would).
func invSetStandardSetup(env *apitest.Env, org int64, perms string) {
	env.T.Helper()
	aoWrite(env, org, db.ChangeOrg, obj{"t": "profile"}, `WITH u AS (UPDATE profiles SET setup_permissions = $2
		WHERE org_id = $1 AND is_standard RETURNING id) SELECT count(*) FROM u`, org, perms)
}
