package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// Groups and sharing rules (manageGroups, manageSharing). Each write:
//
//   - locks the org's security row first (db.LockOrg) and validates
//     against the engine's state at exactly that version, so two concurrent
//     changes cannot together make a cycle, exceed a limit or refer to
//     something the other deleted;
//   - writes, logs its security change (db.ChangeOrg for groups, db.ChangeRules
//     for rules) and its audit entry in the same transaction.
//
// Deleting a group that anything still refers to (another group, a sharing
// rule as source or target, a record share) is refused with CONFLICT naming
// those uses, rather than cascading: a cascade would silently revoke access
// that an admin granted elsewhere.

const (
	maxNameLen        = 100
	maxDescriptionLen = 1000
	maxGroupMembers   = 1000
)

// lockedScope is the caller's scope re-read under the org's security lock:
// the snapshot and index at the version the lock guarantees stays current
// until the transaction ends.
func (r *Resolver) lockedScope(ctx context.Context, tx *sqlx.Tx, sc *scope) (*scope, error) {
	v, err := db.LockOrg(ctx, tx, sc.org.Key)
	if err != nil {
		return nil, err
	}
	snap, ix, err := r.Engine.StateAt(ctx, sc.org.Key, v)
	if err != nil {
		return nil, err
	}
	return sc.at(snap, ix), nil
}

// at is sc acting on another state of its org: the same member, loaders and
// connection, and visible sets of its own.
func (sc *scope) at(snap *access.Snapshot, ix *access.Index) *scope {
	return &scope{org: sc.org, member: sc.member, snap: snap, index: ix, loaders: sc.loaders, conn: sc.conn,
		visible: map[access.Module]access.VisibleSet{}}
}

// lockedAdminScope is lockedScope for a setup permission the caller must
// still hold at the locked version.
func (r *Resolver) lockedAdminScope(ctx context.Context, tx *sqlx.Tx, sc *scope, perm access.SetupPermission) (*scope, error) {
	lsc, err := r.lockedScope(ctx, tx, sc)
	if err != nil {
		return nil, err
	}
	if !lsc.snap.HasSetup(lsc.member.Key, perm) {
		return nil, apperr.NewForbidden("your profile lacks the %s permission", perm)
	}
	return lsc, nil
}

// cleanName trims a name and checks it is present and not too long.
func cleanName(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apperr.NewBadInput("%s name must not be empty", what)
	}
	if utf8.RuneCountInString(s) > maxNameLen {
		return "", apperr.NewBadInput("%s name is longer than %d characters", what, maxNameLen)
	}
	return s, nil
}

func moduleIn(m model.Module) (access.Module, error) {
	am, err := access.ParseModule(string(m))
	if err != nil {
		return "", apperr.NewBadInput("unknown module %q", string(m))
	}
	return am, nil
}

// parsePrincipalSet decodes principals that must exist, each once: naming a
// principal twice is the same as naming it once.
func (sc *scope) parsePrincipalSet(in []*model.PrincipalInput) ([]access.Principal, error) {
	seen := make(map[access.Principal]bool, len(in))
	out := make([]access.Principal, 0, len(in))
	for _, pi := range in {
		p, err := sc.parsePrincipal(pi)
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	db.SortPrincipals(out)
	return out, nil
}

// ---- groups ----

func (sc *scope) groupOut(g *db.GroupRow) *model.Group {
	out := &model.Group{ID: ids.Encode(ids.Group, g.Key), Name: g.Name, Description: g.Description, Members: []*model.Principal{}}
	for _, p := range g.Members {
		out.Members = append(out.Members, sc.principalOut(p))
	}
	return out
}

func (r *Resolver) groups(ctx context.Context) ([]*model.Group, error) {
	sc, err := activeScope(ctx) // any member may list the org's groups
	if err != nil {
		return nil, err
	}
	rows, err := db.GroupsOfOrg(ctx, r.DB, sc.org.Key)
	if err != nil {
		return nil, err
	}
	out := make([]*model.Group, 0, len(rows))
	for _, g := range rows {
		out = append(out, sc.groupOut(g))
	}
	return out, nil
}

// groupMembersIn checks a member list's size and decodes it against the
// locked state, then checks nesting (cycles, depth) for group groupID (0: new).
func (sc *scope) groupMembersIn(groupID int64, in []*model.PrincipalInput) ([]access.Principal, error) {
	if len(in) > maxGroupMembers {
		return nil, apperr.NewLimitExceeded("a group has at most %d direct members", maxGroupMembers)
	}
	members, err := sc.parsePrincipalSet(in)
	if err != nil {
		return nil, err
	}
	if err := sc.snap.ValidateGroup(groupID, members); err != nil {
		return nil, err
	}
	return members, nil
}

func groupNameConflict(name string) error {
	return apperr.NewConflict("a group named %q already exists in this org", name)
}

func (r *Resolver) createGroup(ctx context.Context, input model.CreateGroupInput) (*model.Group, error) {
	sc, err := adminScope(ctx, access.SetupManageGroups)
	if err != nil {
		return nil, err
	}
	name, err := cleanName("group", input.Name)
	if err != nil {
		return nil, err
	}
	desc := ""
	if input.Description != nil {
		desc = strings.TrimSpace(*input.Description)
	}
	if utf8.RuneCountInString(desc) > maxDescriptionLen {
		return nil, apperr.NewBadInput("description is longer than %d characters", maxDescriptionLen)
	}
	var g *db.GroupRow
	var lsc *scope
	err = r.adminWrite(ctx, func(tx *sqlx.Tx) error {
		s, err := r.lockedAdminScope(ctx, tx, sc, access.SetupManageGroups)
		if err != nil {
			return err
		}
		lsc = s
		members, err := lsc.groupMembersIn(0, input.Members)
		if err != nil {
			return err
		}
		if taken, err := db.GroupNameTaken(ctx, tx, sc.org.Key, name, 0); err != nil {
			return err
		} else if taken {
			return groupNameConflict(name)
		}
		id, err := db.InsertGroup(ctx, tx, sc.org.Key, name, desc, members)
		if errors.Is(err, db.ErrNameTaken) {
			return groupNameConflict(name)
		}
		if err != nil {
			return err
		}
		g = &db.GroupRow{Key: id, Name: name, Description: desc, Members: members}
		if err := db.LogSecurityChange(ctx, tx, sc.org.Key, db.ChangeOrg, map[string]any{"group": id}); err != nil {
			return err
		}
		return audit(ctx, tx, sc, "group.create", "group", id, nil, lsc.groupOut(g))
	})
	if err != nil {
		return nil, err
	}
	return lsc.groupOut(g), nil
}

func decodeGroupID(id string) (int64, error) {
	key, err := ids.Decode(ids.Group, id)
	if err != nil {
		return 0, apperr.NewNotFound("no group with id %s in this org", id)
	}
	return key, nil
}

func (r *Resolver) updateGroup(ctx context.Context, id string, input model.UpdateGroupInput) (*model.Group, error) {
	sc, err := adminScope(ctx, access.SetupManageGroups)
	if err != nil {
		return nil, err
	}
	key, err := decodeGroupID(id)
	if err != nil {
		return nil, err
	}
	var name, desc *string
	if input.Name != nil {
		n, err := cleanName("group", *input.Name)
		if err != nil {
			return nil, err
		}
		name = &n
	}
	if input.Description != nil {
		d := strings.TrimSpace(*input.Description)
		if utf8.RuneCountInString(d) > maxDescriptionLen {
			return nil, apperr.NewBadInput("description is longer than %d characters", maxDescriptionLen)
		}
		desc = &d
	}
	var after *db.GroupRow
	var lsc *scope
	err = r.adminWrite(ctx, func(tx *sqlx.Tx) error {
		s, err := r.lockedAdminScope(ctx, tx, sc, access.SetupManageGroups)
		if err != nil {
			return err
		}
		lsc = s
		before, err := db.GroupByID(ctx, tx, sc.org.Key, key)
		if errors.Is(err, db.ErrNotFound) {
			return apperr.NewNotFound("no group with id %s in this org", id)
		}
		if err != nil {
			return err
		}
		g := *before
		if name != nil {
			g.Name = *name
		}
		if desc != nil {
			g.Description = *desc
		}
		var newMembers []access.Principal // nil: keep
		if input.Members != nil {
			if newMembers, err = lsc.groupMembersIn(key, input.Members); err != nil {
				return err
			}
			g.Members = newMembers
		}
		if g.Name == before.Name && g.Description == before.Description && slices.Equal(g.Members, before.Members) {
			after = before // nothing to change: no write, no new version
			return nil
		}
		if name != nil && !strings.EqualFold(*name, before.Name) {
			if taken, err := db.GroupNameTaken(ctx, tx, sc.org.Key, g.Name, key); err != nil {
				return err
			} else if taken {
				return groupNameConflict(g.Name)
			}
		}
		err = db.UpdateGroup(ctx, tx, sc.org.Key, key, g.Name, g.Description, newMembers)
		if errors.Is(err, db.ErrNameTaken) {
			return groupNameConflict(g.Name)
		}
		if err != nil {
			return err
		}
		after = &g
		if err := db.LogSecurityChange(ctx, tx, sc.org.Key, db.ChangeOrg, map[string]any{"group": key}); err != nil {
			return err
		}
		return audit(ctx, tx, sc, "group.update", "group", key, lsc.groupOut(before), lsc.groupOut(after))
	})
	if err != nil {
		return nil, err
	}
	return lsc.groupOut(after), nil
}

func (r *Resolver) deleteGroup(ctx context.Context, id string) (string, error) {
	sc, err := adminScope(ctx, access.SetupManageGroups)
	if err != nil {
		return "", err
	}
	key, err := decodeGroupID(id)
	if err != nil {
		return "", err
	}
	err = r.adminWrite(ctx, func(tx *sqlx.Tx) error {
		lsc, err := r.lockedAdminScope(ctx, tx, sc, access.SetupManageGroups)
		if err != nil {
			return err
		}
		before, err := db.GroupByID(ctx, tx, sc.org.Key, key)
		if errors.Is(err, db.ErrNotFound) {
			return apperr.NewNotFound("no group with id %s in this org", id)
		}
		if err != nil {
			return err
		}
		use, err := db.GroupUsageOf(ctx, tx, sc.org.Key, key)
		if err != nil {
			return err
		}
		if use.InUse() {
			var uses []string
			if len(use.ParentGroups) > 0 {
				uses = append(uses, "it is a member of group "+strings.Join(use.ParentGroups, ", "))
			}
			if len(use.Rules) > 0 {
				uses = append(uses, "sharing rule "+strings.Join(use.Rules, ", ")+" names it")
			}
			if use.Shares > 0 {
				uses = append(uses, fmt.Sprintf("%d record share(s) grant access to it", use.Shares))
			}
			return apperr.NewConflict("group %q is in use and cannot be deleted: %s; remove these first",
				before.Name, strings.Join(uses, "; "))
		}
		if err := db.DeleteGroup(ctx, tx, sc.org.Key, key); err != nil {
			return err
		}
		if err := db.LogSecurityChange(ctx, tx, sc.org.Key, db.ChangeOrg, map[string]any{"group": key}); err != nil {
			return err
		}
		return audit(ctx, tx, sc, "group.delete", "group", key, lsc.groupOut(before), nil)
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// ---- sharing rules ----

func (sc *scope) ruleOut(r *access.SharingRule) *model.SharingRule {
	out := &model.SharingRule{ID: ids.Encode(ids.Rule, r.ID), Module: model.Module(r.Module), Name: r.Name,
		Target: sc.principalOut(r.Target), Access: model.RuleAccess(r.Level.String()), SuperiorsAllowed: r.SuperiorsAllowed}
	if r.Source != nil {
		out.Source = sc.principalOut(*r.Source)
	}
	if r.Criteria != nil {
		c := &model.Criteria{Op: model.LogicalOp(r.Criteria.Op), Conditions: []*model.Condition{}}
		for _, cond := range r.Criteria.Conditions {
			c.Conditions = append(c.Conditions, &model.Condition{Field: cond.Field, Op: model.ConditionOp(cond.Op), Value: cond.Value})
		}
		out.Criteria = c
	}
	return out
}

func (r *Resolver) sharingRules(ctx context.Context, module model.Module) ([]*model.SharingRule, error) {
	sc, err := adminScope(ctx, access.SetupManageSharing)
	if err != nil {
		return nil, err
	}
	m, err := moduleIn(module)
	if err != nil {
		return nil, err
	}
	out := []*model.SharingRule{}
	for _, rule := range sc.snap.Rules(m) {
		out = append(out, sc.ruleOutForReader(rule))
	}
	return out, nil
}

// criteriaIn converts criteria input to the engine's form, with values as
// the stored JSON reads back (numbers float64, lists []any): what is
// validated is exactly what the engine will evaluate after a reload.
// IS_EMPTY ignores its value, which is dropped.
func criteriaIn(in *model.CriteriaInput) (*access.Criteria, error) {
	c := access.Criteria{Op: access.LogicalOp(in.Op), Conditions: make([]access.Condition, 0, len(in.Conditions))}
	for _, cond := range in.Conditions {
		if cond == nil {
			continue
		}
		ac := access.Condition{Field: cond.Field, Op: access.ConditionOp(cond.Op), Value: cond.Value}
		if ac.Op == access.OpIsEmpty {
			ac.Value = nil
		}
		c.Conditions = append(c.Conditions, ac)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, apperr.NewBadInput("criteria values must be JSON values")
	}
	var out access.Criteria
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, apperr.NewBadInput("criteria values must be JSON values")
	}
	return &out, nil
}

// criteriaFieldKinds lists the fields of a module that criteria may test:
// the standard fields that the engine sees on every record write
// (records.FieldValues: neither system fields nor references) and the
// org's custom fields of the module.
func criteriaFieldKinds(ctx context.Context, q sqlx.QueryerContext, orgID int64, m access.Module) (map[string]access.FieldKind, error) {
	out := map[string]access.FieldKind{}
	for _, f := range records.MetaOf(m).Fields {
		if f.System {
			continue
		}
		if k, ok := criteriaKind(f.Kind); ok {
			out[f.Name] = k
		}
	}
	custom, err := db.CustomFieldsOf(ctx, q, orgID, m)
	if err != nil {
		return nil, err
	}
	for _, cf := range custom {
		if k, ok := criteriaKind(cf.Kind()); ok {
			out[cf.APIName] = k
		}
	}
	return out, nil
}

func criteriaKind(k records.Kind) (access.FieldKind, bool) {
	switch k {
	case records.KindString:
		return access.FieldKindString, true
	case records.KindFloat, records.KindInt:
		return access.FieldKindNumber, true
	case records.KindBool:
		return access.FieldKindBool, true
	case records.KindDate:
		return access.FieldKindDate, true
	case records.KindTime:
		return access.FieldKindDateTime, true
	}
	return 0, false // references: not criteria material
}

func ruleLevelIn(a model.RuleAccess) (access.Level, error) {
	l, err := access.ParseLevel(string(a))
	if err != nil || !access.ValidRuleLevel(l) {
		return 0, apperr.NewBadInput("a sharing rule grants READ_ONLY, READ_WRITE or READ_WRITE_DELETE, not %q", string(a))
	}
	return l, nil
}

func (r *Resolver) createSharingRule(ctx context.Context, input model.CreateSharingRuleInput) (*model.SharingRule, error) {
	sc, err := adminScope(ctx, access.SetupManageSharing)
	if err != nil {
		return nil, err
	}
	m, err := moduleIn(input.Module)
	if err != nil {
		return nil, err
	}
	rule := access.SharingRule{Module: m, SuperiorsAllowed: input.SuperiorsAllowed != nil && *input.SuperiorsAllowed}
	if rule.Name, err = cleanName("sharing rule", input.Name); err != nil {
		return nil, err
	}
	if (input.Source == nil) == (input.Criteria == nil) {
		return nil, apperr.NewBadInput("a sharing rule has either a source (owner based) or criteria (criteria based), not both or neither")
	}
	if rule.Level, err = ruleLevelIn(input.Access); err != nil {
		return nil, err
	}
	if input.Criteria != nil {
		if rule.Criteria, err = criteriaIn(input.Criteria); err != nil {
			return nil, err
		}
	}
	var lsc *scope
	err = r.adminWrite(ctx, func(tx *sqlx.Tx) error {
		s, err := r.lockedAdminScope(ctx, tx, sc, access.SetupManageSharing)
		if err != nil {
			return err
		}
		lsc = s
		if err := lsc.ruleParties(&rule, input.Source, input.Target); err != nil {
			return err
		}
		kinds, err := criteriaFieldKinds(ctx, tx, sc.org.Key, m)
		if err != nil {
			return err
		}
		if err := lsc.snap.ValidateRule(rule, kinds); err != nil {
			return err
		}
		if rule.ID, err = db.InsertSharingRule(ctx, tx, sc.org.Key, rule); err != nil {
			return err
		}
		if err := db.LogSecurityChange(ctx, tx, sc.org.Key, db.ChangeRules, map[string]any{"module": m}); err != nil {
			return err
		}
		return audit(ctx, tx, sc, "sharingRule.create", "sharingRule", rule.ID, nil, lsc.ruleOut(&rule))
	})
	if err != nil {
		return nil, err
	}
	return lsc.ruleOut(&rule), nil
}

// ruleParties sets a rule's source (when given) and target (when given).
func (sc *scope) ruleParties(rule *access.SharingRule, source, target *model.PrincipalInput) error {
	if source != nil {
		p, err := sc.parsePrincipal(source)
		if err != nil {
			return err
		}
		rule.Source = &p
	}
	if target != nil {
		p, err := sc.parsePrincipal(target)
		if err != nil {
			return err
		}
		rule.Target = p
	}
	return nil
}

func decodeRuleID(id string) (int64, error) {
	key, err := ids.Decode(ids.Rule, id)
	if err != nil {
		return 0, apperr.NewNotFound("no sharing rule with id %s in this org", id)
	}
	return key, nil
}

func (r *Resolver) updateSharingRule(ctx context.Context, id string, input model.UpdateSharingRuleInput) (*model.SharingRule, error) {
	sc, err := adminScope(ctx, access.SetupManageSharing)
	if err != nil {
		return nil, err
	}
	key, err := decodeRuleID(id)
	if err != nil {
		return nil, err
	}
	if input.Source != nil && input.Criteria != nil {
		return nil, apperr.NewBadInput("a sharing rule has either a source (owner based) or criteria (criteria based), not both")
	}
	var name string
	if input.Name != nil {
		if name, err = cleanName("sharing rule", *input.Name); err != nil {
			return nil, err
		}
	}
	var level access.Level
	if input.Access != nil {
		if level, err = ruleLevelIn(*input.Access); err != nil {
			return nil, err
		}
	}
	var criteria *access.Criteria
	if input.Criteria != nil {
		if criteria, err = criteriaIn(input.Criteria); err != nil {
			return nil, err
		}
	}
	var lsc *scope
	var rule access.SharingRule
	err = r.adminWrite(ctx, func(tx *sqlx.Tx) error {
		s, err := r.lockedAdminScope(ctx, tx, sc, access.SetupManageSharing)
		if err != nil {
			return err
		}
		lsc = s
		old, ok := lsc.snap.Rule(key)
		if !ok {
			return apperr.NewNotFound("no sharing rule with id %s in this org", id)
		}
		rule = *old // Source and Criteria are replaced, never written through
		if input.Name != nil {
			rule.Name = name
		}
		if input.Access != nil {
			rule.Level = level
		}
		if input.SuperiorsAllowed != nil {
			rule.SuperiorsAllowed = *input.SuperiorsAllowed
		}
		if criteria != nil { // becomes (or stays) criteria based
			rule.Source, rule.Criteria = nil, criteria
		}
		if input.Source != nil { // becomes (or stays) owner based
			rule.Criteria = nil
		}
		if err := lsc.ruleParties(&rule, input.Source, input.Target); err != nil {
			return err
		}
		kinds, err := criteriaFieldKinds(ctx, tx, sc.org.Key, rule.Module)
		if err != nil {
			return err
		}
		if err := lsc.snap.ValidateRule(rule, kinds); err != nil {
			return err
		}
		if reflect.DeepEqual(rule, *old) {
			return nil // nothing to change: no write, no new version
		}
		if err := db.UpdateSharingRule(ctx, tx, sc.org.Key, rule); err != nil {
			return err
		}
		if err := db.LogSecurityChange(ctx, tx, sc.org.Key, db.ChangeRules, map[string]any{"module": rule.Module}); err != nil {
			return err
		}
		return audit(ctx, tx, sc, "sharingRule.update", "sharingRule", key, lsc.ruleOut(old), lsc.ruleOut(&rule))
	})
	if err != nil {
		return nil, err
	}
	return lsc.ruleOut(&rule), nil
}

func (r *Resolver) deleteSharingRule(ctx context.Context, id string) (string, error) {
	sc, err := adminScope(ctx, access.SetupManageSharing)
	if err != nil {
		return "", err
	}
	key, err := decodeRuleID(id)
	if err != nil {
		return "", err
	}
	err = r.adminWrite(ctx, func(tx *sqlx.Tx) error {
		lsc, err := r.lockedAdminScope(ctx, tx, sc, access.SetupManageSharing)
		if err != nil {
			return err
		}
		old, ok := lsc.snap.Rule(key)
		if !ok {
			return apperr.NewNotFound("no sharing rule with id %s in this org", id)
		}
		if err := db.DeleteSharingRule(ctx, tx, sc.org.Key, key); err != nil {
			return err
		}
		if err := db.LogSecurityChange(ctx, tx, sc.org.Key, db.ChangeRules, map[string]any{"module": old.Module}); err != nil {
			return err
		}
		return audit(ctx, tx, sc, "sharingRule.delete", "sharingRule", key, lsc.ruleOut(old), nil)
	})
	if err != nil {
		return "", err
	}
	return id, nil
}
