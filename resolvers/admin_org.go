package resolvers

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// Org administration: roles (here), members (admin_org_members.go), the
// hierarchy mode, module defaults and the audit log (admin_org_settings.go).
//
// Every change runs through changeOrg: the caller's setup permission; the
// org's access state, read before the transaction; then one transaction
// that locks the org's row, makes sure no access change of the org
// committed since that state was read (else it starts over with the new
// state), validates, writes, appends the audit entry (before and after) and
// logs the security change that bumps the org's version. Any error rolls
// all of it back. A request never holds a connection while it waits for
// another: the state is read before the transaction begins, and concurrent
// changes of one org wait for each other in-process before they read it.

// orgChange is an administration change in progress.
type orgChange struct {
	sc   *scope
	tx   *sqlx.Tx
	snap *access.Snapshot // the org's access state, exactly as locked
	data *access.OrgData  // the same state as data, when asked for (hypothetical)
}

// errStale: the org changed between reading its state and locking it.
var errStale = errors.New("org changed while the change was validated")

const maxChangeAttempts = 5

// untilFresh runs attempt until it does not end in errStale, at most
// maxChangeAttempts times; then the org is too busy for this change.
func untilFresh(attempt func() error) error {
	for n := 1; ; n++ {
		err := attempt()
		if !errors.Is(err, errStale) {
			return err
		}
		if n == maxChangeAttempts {
			return apperr.NewConflict("the org's security settings keep changing concurrently: retry")
		}
	}
}

// orgStripes serialise the administration changes of an org within this
// instance (orgs share stripes), so they rarely find their state stale.
var orgStripes [64]chan struct{}

func init() {
	for i := range orgStripes {
		orgStripes[i] = make(chan struct{}, 1)
	}
}

func lockStripe(ctx context.Context, org int64) (release func(), err error) {
	ch := orgStripes[uint64(org)%uint64(len(orgStripes))]
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// changeOrg checks perm and runs fn in one transaction holding the org's
// lock, against the org's state as locked. withData also loads that state
// as OrgData, for checks on the state a change would produce.
func (r *Resolver) changeOrg(ctx context.Context, perm access.SetupPermission, withData bool, fn func(c *orgChange) error) error {
	sc, err := adminScope(ctx, perm)
	if err != nil {
		return err
	}
	return r.changeOrgAs(ctx, sc, perm, withData, fn)
}

// changeOrgAs is changeOrg on behalf of sc's member, who need not be the
// caller: an accepted invitation is the inviter's change, checked against
// the inviter's permissions as they stand when it is accepted.
func (r *Resolver) changeOrgAs(ctx context.Context, sc *scope, perm access.SetupPermission, withData bool, fn func(c *orgChange) error) error {
	release, err := lockStripe(ctx, sc.org.Key)
	if err != nil {
		return err
	}
	defer release()
	return untilFresh(func() error {
		snap, _, err := r.Engine.State(ctx, sc.org.Key)
		if err != nil {
			return err
		}
		if !snap.HasSetup(sc.member.Key, perm) {
			return apperr.NewForbidden("your profile lacks the %s permission", perm)
		}
		c := &orgChange{sc: sc, snap: snap}
		base := snap.Version()
		if withData {
			data, err := db.LoadOrgData(ctx, r.DB, sc.org.Key)
			if err != nil {
				return err
			}
			c.data = &data
			base = min(base, data.Version)
		}
		return r.adminWriteIn(ctx, sc.org.Key, func(tx *sqlx.Tx) error {
			if stale, err := db.LockOrgUnchangedSince(ctx, tx, sc.org.Key, base); err != nil || stale {
				return cmp.Or(err, errStale)
			}
			c.tx = tx
			return fn(c)
		})
	})
}

// record appends the audit entry and bumps the org's security version:
// every change here alters what the access snapshot is built from.
func (c *orgChange) record(ctx context.Context, action, targetType string, targetID int64, before, after any) error {
	if err := audit(ctx, c.tx, c.sc, action, targetType, targetID, before, after); err != nil {
		return err
	}
	return db.LogSecurityChange(ctx, c.tx, c.sc.org.Key, db.ChangeOrg,
		db.OrgChange{Action: action, TargetType: targetType, TargetID: targetID})
}

// role resolves a role id of the org; field names the argument in errors.
func (c *orgChange) role(id, field string) (access.Role, error) {
	if key, err := ids.Decode(ids.Role, id); err == nil {
		if r, ok := c.snap.Role(key); ok {
			return r, nil
		}
	}
	return access.Role{}, apperr.NewNotFound("%s: no role with id %s in this org", field, id)
}

// member resolves a member id of the org (ACTIVE or not).
func (c *orgChange) member(id, field string) (access.Member, error) {
	if key, err := ids.Decode(ids.Member, id); err == nil {
		if m, ok := c.snap.Member(key); ok {
			return m, nil
		}
	}
	return access.Member{}, apperr.NewNotFound("%s: no member with id %s in this org", field, id)
}

// profile resolves a profile id of the org.
func (c *orgChange) profile(ctx context.Context, id, field string) (*db.Profile, error) {
	if key, err := ids.Decode(ids.Profile, id); err == nil {
		p, err := db.ProfileByID(ctx, c.tx, c.sc.org.Key, key)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return nil, err
		}
	}
	return nil, apperr.NewNotFound("%s: no profile with id %s in this org", field, id)
}

// callerIsAdministrator reports whether the caller holds the Administrator profile.
// pendingMember stands for a member not inserted yet in a hypothetical snapshot.
const pendingMember = math.MaxInt64

// hypothetical is the org's access state as locked with edit applied, for
// checking a change on the state it would produce (changeOrg withData).
func (c *orgChange) hypothetical(edit func(d *access.OrgData)) (*access.Snapshot, error) {
	if c.data == nil {
		return nil, errors.New("hypothetical: changeOrg without data")
	}
	d := *c.data
	d.Members = slices.Clone(d.Members)
	edit(&d)
	return access.NewSnapshot(d)
}

// inputHas reports whether the input object argument arg of the field being
// resolved names field at all, a null included, in the query text or through
// variables. gqlgen decodes an absent optional field and an explicit null to
// the same nil pointer; the request's raw argument tells them apart.
// ArgumentMap resolves variables as the GraphQL spec says: a field bound to
// a variable the request did not provide is absent, one bound to a variable
// given as null is present.
func inputHas(ctx context.Context, arg, field string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return false
	}
	var vars map[string]any
	if graphql.HasOperationContext(ctx) {
		vars = graphql.GetOperationContext(ctx).Variables
	}
	in, _ := fc.Field.ArgumentMap(vars)[arg].(map[string]any)
	_, ok := in[field]
	return ok
}

// ---- roles ----

const maxRoleName = 100

func roleName(s string) (string, error) {
	name := strings.TrimSpace(s)
	if n := utf8.RuneCountInString(name); n < 1 || n > maxRoleName {
		return "", apperr.NewBadInput("a role name is 1 to %d characters", maxRoleName)
	}
	return name, nil
}

// roleState is a role as the audit log keeps it.
type roleState struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	ParentID       *string `json:"parentId"`
	ShareWithPeers bool    `json:"shareWithPeers"`
}

func roleStateOf(r *db.Role) roleState {
	out := roleState{ID: r.ID(), Name: r.Name, ShareWithPeers: r.ShareWithPeers}
	if r.ParentID.Valid {
		p := ids.Encode(ids.Role, r.ParentID.Int64)
		out.ParentID = &p
	}
	return out
}

// uniqueRoleName fails CONFLICT when another role of the org has the name,
// ignoring case.
func (c *orgChange) uniqueRoleName(ctx context.Context, name string, except int64) error {
	taken, err := db.RoleNamed(ctx, c.tx, c.sc.org.Key, name, except)
	if err != nil {
		return err
	}
	if taken != "" {
		return apperr.NewConflict("a role named %q already exists", taken)
	}
	return nil
}

func (r *Resolver) createRole(ctx context.Context, input model.CreateRoleInput) (*db.Role, error) {
	var out *db.Role
	err := r.changeOrg(ctx, access.SetupManageRoles, false, func(c *orgChange) error {
		name, err := roleName(input.Name)
		if err != nil {
			return err
		}
		var parent int64
		if input.ParentID != nil {
			p, err := c.role(*input.ParentID, "parentId")
			if err != nil {
				return err
			}
			parent = p.ID
		} else {
			top, err := db.TopRole(ctx, c.tx, c.sc.org.Key)
			if err != nil {
				return err
			}
			parent = top.Key
		}
		if err := c.uniqueRoleName(ctx, name, 0); err != nil {
			return err
		}
		share := input.ShareWithPeers != nil && *input.ShareWithPeers
		if out, err = db.InsertRole(ctx, c.tx, c.sc.org.Key, name, parent, share); err != nil {
			return err
		}
		return c.record(ctx, "role.create", "role", out.Key, nil, roleStateOf(out))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Resolver) updateRole(ctx context.Context, id string, input model.UpdateRoleInput) (*db.Role, error) {
	var out *db.Role
	err := r.changeOrg(ctx, access.SetupManageRoles, false, func(c *orgChange) error {
		role, err := c.role(id, "id")
		if err != nil {
			return err
		}
		if input.Name == nil && input.ShareWithPeers == nil {
			return apperr.NewBadInput("nothing to update: give name or shareWithPeers")
		}
		cur, err := db.RoleByID(ctx, c.tx, c.sc.org.Key, role.ID)
		if err != nil {
			return err
		}
		name, share := cur.Name, cur.ShareWithPeers
		if input.Name != nil {
			if name, err = roleName(*input.Name); err != nil {
				return err
			}
			if err := c.uniqueRoleName(ctx, name, role.ID); err != nil {
				return err
			}
		}
		if input.ShareWithPeers != nil {
			share = *input.ShareWithPeers
		}
		if name == cur.Name && share == cur.ShareWithPeers {
			out = cur // nothing changes: nothing written
			return nil
		}
		if out, err = db.UpdateRole(ctx, c.tx, c.sc.org.Key, role.ID, name, share); err != nil {
			return err
		}
		return c.record(ctx, "role.update", "role", role.ID, roleStateOf(cur), roleStateOf(out))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Resolver) moveRole(ctx context.Context, id string, parentID string) (*db.Role, error) {
	var out *db.Role
	err := r.changeOrg(ctx, access.SetupManageRoles, false, func(c *orgChange) error {
		role, err := c.role(id, "id")
		if err != nil {
			return err
		}
		parent, err := c.role(parentID, "parentId")
		if err != nil {
			return err
		}
		if role.ParentID == 0 {
			return apperr.NewConflict("%s is the org's top role and cannot be moved", role.Name)
		}
		cur, err := db.RoleByID(ctx, c.tx, c.sc.org.Key, role.ID)
		if err != nil {
			return err
		}
		if role.ParentID == parent.ID {
			out = cur // already there: nothing written
			return nil
		}
		// Cycles (under itself or its subtree) and reporting lines the move
		// would break are the access rules' to decide.
		if err := c.snap.ValidateRoleMove(role.ID, parent.ID); err != nil {
			return err
		}
		if out, err = db.SetRoleParent(ctx, c.tx, c.sc.org.Key, role.ID, parent.ID); err != nil {
			return err
		}
		return c.record(ctx, "role.move", "role", role.ID, roleStateOf(cur), roleStateOf(out))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Resolver) deleteRole(ctx context.Context, id string, transferToRoleID string) (string, error) {
	var deleted string
	err := r.changeOrg(ctx, access.SetupManageRoles, false, func(c *orgChange) error {
		role, err := c.role(id, "id")
		if err != nil {
			return err
		}
		to, err := c.role(transferToRoleID, "transferToRoleId")
		if err != nil {
			return err
		}
		if role.ParentID == 0 {
			return apperr.NewConflict("%s is the org's top role and cannot be deleted", role.Name)
		}
		if to.ID == role.ID {
			return apperr.NewBadInput("transferToRoleId must name another role than the one deleted")
		}
		org := c.sc.org.Key
		children, err := db.ChildRoleNames(ctx, c.tx, org, role.ID)
		if err != nil {
			return err
		}
		if len(children) > 0 {
			return apperr.NewConflict("role %s has child roles (%s): move or delete them first",
				role.Name, strings.Join(children, ", "))
		}
		usage, err := db.RoleUsageOf(ctx, c.tx, org, role.ID)
		if err != nil {
			return err
		}
		if !usage.Empty() {
			return apperr.NewConflict("role %s is still used by %s: remove it there first", role.Name, describeUsage(usage))
		}
		// The role is a leaf, so its members have no reports: each member's
		// move is checked on its own (its manager's role above the new role).
		var moving []string
		for _, m := range c.snap.Members() {
			if m.RoleID != role.ID {
				continue
			}
			if err := c.snap.ValidateMemberRole(m.ID, to.ID); err != nil {
				return err
			}
			moving = append(moving, ids.Encode(ids.Member, m.ID))
		}
		cur, err := db.RoleByID(ctx, c.tx, org, role.ID)
		if err != nil {
			return err
		}
		moved, err := db.DeleteRole(ctx, c.tx, org, role.ID, to.ID)
		if err != nil {
			return err
		}
		movedIDs := make([]string, 0, len(moved))
		for _, m := range moved {
			movedIDs = append(movedIDs, ids.Encode(ids.Member, m))
		}
		before := map[string]any{"role": roleStateOf(cur), "members": moving}
		after := map[string]any{"deleted": true, "transferToRoleId": ids.Encode(ids.Role, to.ID), "movedMembers": movedIDs}
		deleted = cur.ID()
		return c.record(ctx, "role.delete", "role", role.ID, before, after)
	})
	if err != nil {
		return "", err
	}
	return deleted, nil
}

// describeUsage names where a role is still used, in words.
func describeUsage(u db.RoleUsage) string {
	var parts []string
	if len(u.Groups) > 0 {
		parts = append(parts, "group(s) "+strings.Join(u.Groups, ", "))
	}
	if len(u.Rules) > 0 {
		parts = append(parts, "sharing rule(s) "+strings.Join(u.Rules, ", "))
	}
	if len(u.Shares) > 0 {
		var s []string
		for _, m := range records.AllModules {
			if n := u.Shares[string(m)]; n > 0 {
				s = append(s, pluralRecords(n)+" of "+string(m))
			}
		}
		parts = append(parts, "record shares ("+strings.Join(s, ", ")+")")
	}
	return strings.Join(parts, "; ")
}

func pluralRecords(n int64) string {
	if n == 1 {
		return "1 record"
	}
	return strconv.FormatInt(n, 10) + " records"
}
