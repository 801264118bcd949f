package access

import (
	"errors"
	"fmt"
	"strings"
)

// The validation helpers below are the rules of the admin API: resolvers
// call them before writing and map the *RuleError code to the wire.

// ValidateGroupNesting checks that giving group changedGroupID the members
// newMembers keeps group nesting acyclic (CONFLICT) and at most
// MaxGroupDepth groups on any chain through the changed group
// (LIMIT_EXCEEDED). groups is the org's current groups; changedGroupID 0
// stands for a group being created. A GROUP member not in groups is
// NOT_FOUND.
func ValidateGroupNesting(groups []Group, changedGroupID int64, newMembers []Principal) error {
	names := map[int64]string{}
	sub := map[int64][]int64{} // group -> groups it contains
	for _, g := range groups {
		names[g.ID] = g.Name
		if g.ID == changedGroupID {
			continue
		}
		for _, p := range g.Members {
			if p.Type == PrincipalGroup {
				sub[g.ID] = append(sub[g.ID], p.ID)
			}
		}
	}
	for _, p := range newMembers {
		if p.Type != PrincipalGroup {
			continue
		}
		if _, ok := names[p.ID]; !ok && p.ID != changedGroupID {
			return NewNotFoundErr("group %d does not exist", p.ID)
		}
		sub[changedGroupID] = append(sub[changedGroupID], p.ID)
	}
	name := func(id int64) string {
		if n := names[id]; n != "" {
			return n
		}
		if id == 0 {
			return "the new group"
		}
		return fmt.Sprintf("group %d", id)
	}
	// A cycle through the changed group: it reaches itself.
	var path []int64
	seen := map[int64]bool{}
	var reach func(g int64) bool
	reach = func(g int64) bool {
		for _, h := range sub[g] {
			if h == changedGroupID {
				path = append(path, h)
				return true
			}
			if seen[h] {
				continue
			}
			seen[h] = true
			if reach(h) {
				path = append(path, h)
				return true
			}
		}
		return false
	}
	if reach(changedGroupID) {
		parts := []string{name(changedGroupID)}
		for i := len(path) - 1; i >= 0; i-- {
			parts = append(parts, name(path[i]))
		}
		return NewConflictErr("groups cannot contain themselves: %s", strings.Join(parts, " contains "))
	}
	// Longest chain through the changed group: groups above it plus groups below.
	down := map[int64]int{}
	var depthDown func(g int64, guard int) int
	depthDown = func(g int64, guard int) int {
		if d, ok := down[g]; ok {
			return d
		}
		if guard > len(groups)+1 { // a cycle elsewhere: stop counting
			return 1
		}
		best := 0
		for _, h := range sub[g] {
			if d := depthDown(h, guard+1); d > best {
				best = d
			}
		}
		down[g] = best + 1
		return best + 1
	}
	parents := map[int64][]int64{}
	for g, hs := range sub {
		for _, h := range hs {
			parents[h] = append(parents[h], g)
		}
	}
	up := map[int64]int{}
	var depthUp func(g int64, guard int) int
	depthUp = func(g int64, guard int) int {
		if d, ok := up[g]; ok {
			return d
		}
		if guard > len(groups)+1 {
			return 1
		}
		best := 0
		for _, p := range parents[g] {
			if d := depthUp(p, guard+1); d > best {
				best = d
			}
		}
		up[g] = best + 1
		return best + 1
	}
	if chain := depthUp(changedGroupID, 0) + depthDown(changedGroupID, 0) - 1; chain > MaxGroupDepth {
		return NewLimitErr("groups may nest at most %d deep; this change makes a chain of %d through %s", MaxGroupDepth, chain, name(changedGroupID))
	}
	return nil
}

// ValidateGroup checks a group's new member list: every principal exists
// (NOT_FOUND) and nesting stays acyclic and within MaxGroupDepth.
// groupID 0 stands for a group being created.
func (s *Snapshot) ValidateGroup(groupID int64, members []Principal) error {
	for _, p := range members {
		if p.Type == PrincipalGroup && p.ID == groupID && groupID != 0 {
			return NewConflictErr("a group cannot contain itself")
		}
		if err := s.checkPrincipal(p); err != nil {
			return NewNotFoundErr("group member: %v", err)
		}
	}
	return ValidateGroupNesting(s.groups, groupID, members)
}

// ValidateRoleMove checks moving role roleID under newParentID (0: to the
// top): both exist (NOT_FOUND); the new parent is not the role or below it
// (CONFLICT: a cycle); the org keeps one top role (CONFLICT); and every
// reporting line stays valid, a manager's role a strict ancestor of its
// report's role (CONFLICT).
func (s *Snapshot) ValidateRoleMove(roleID, newParentID int64) error {
	r, ok := s.roleIdx[roleID]
	if !ok {
		return NewNotFoundErr("role %d does not exist", roleID)
	}
	if newParentID == 0 {
		for i := range s.roles {
			if int32(i) != r && s.roleParent[i] < 0 {
				return NewConflictErr("role %s cannot be a top role: the org's top role is %s", s.roles[r].Name, s.roles[i].Name)
			}
		}
		return s.checkLinesAfterMove(r, -1)
	}
	p, ok := s.roleIdx[newParentID]
	if !ok {
		return NewNotFoundErr("role %d does not exist", newParentID)
	}
	if s.roleTin[r] <= s.roleTin[p] && s.roleTin[p] < s.roleTout[r] {
		return NewConflictErr("role %s cannot move under %s, which is itself or below it", s.roles[r].Name, s.roles[p].Name)
	}
	return s.checkLinesAfterMove(r, p)
}

// checkLinesAfterMove: members in r's subtree whose manager is outside it
// need the manager's role to be the new parent p or above it.
func (s *Snapshot) checkLinesAfterMove(r, p int32) error {
	inSub := func(role int32) bool { return s.roleTin[r] <= s.roleTin[role] && s.roleTin[role] < s.roleTout[r] }
	for _, m := range s.roleOrder[s.roleSubStart[r]:s.roleSubEnd[r]] {
		g := s.mgr[m]
		if g < 0 || inSub(s.memberRole[g]) {
			continue
		}
		gr := s.memberRole[g]
		if p < 0 || !(s.roleTin[gr] <= s.roleTin[p] && s.roleTin[p] < s.roleTout[gr]) {
			return NewConflictErr("moving role %s would put %s above their reporting manager %s; change the reporting line first",
				s.roles[r].Name, s.memberName(m), s.memberName(g))
		}
	}
	return nil
}

func (s *Snapshot) roleStrictlyAbove(a, b int32) bool {
	return s.roleTin[a] < s.roleTin[b] && s.roleTin[b] < s.roleTout[a]
}

// ValidateReportsTo checks making managerID the reporting manager of
// memberID (0: none): both exist (NOT_FOUND) and the manager's role is a
// strict ancestor of the member's role (BAD_USER_INPUT), which also rules
// out cycles.
func (s *Snapshot) ValidateReportsTo(memberID, managerID int64) error {
	m, ok := s.memberIdx[memberID]
	if !ok {
		return NewNotFoundErr("member %d does not exist", memberID)
	}
	if managerID == 0 {
		return nil
	}
	g, ok := s.memberIdx[managerID]
	if !ok {
		return NewNotFoundErr("member %d does not exist", managerID)
	}
	if !s.roleStrictlyAbove(s.memberRole[g], s.memberRole[m]) {
		return NewInvalidErr("%s cannot report to %s: a manager's role must be above the member's role (%s is not above %s)",
			s.memberName(m), s.memberName(g), s.roles[s.memberRole[g]].Name, s.roles[s.memberRole[m]].Name)
	}
	return nil
}

// ValidateMemberRole checks giving member memberID the role newRoleID: the
// role exists (NOT_FOUND) and the member's reporting lines stay valid: its
// manager's role above the new role, the new role above each direct
// report's role (CONFLICT).
func (s *Snapshot) ValidateMemberRole(memberID, newRoleID int64) error {
	m, ok := s.memberIdx[memberID]
	if !ok {
		return NewNotFoundErr("member %d does not exist", memberID)
	}
	r, ok := s.roleIdx[newRoleID]
	if !ok {
		return NewNotFoundErr("role %d does not exist", newRoleID)
	}
	if g := s.mgr[m]; g >= 0 && !s.roleStrictlyAbove(s.memberRole[g], r) {
		return NewConflictErr("%s reports to %s, whose role is not above %s; change the reporting line first",
			s.memberName(m), s.memberName(g), s.roles[r].Name)
	}
	for i := range s.members {
		if s.mgr[i] == m && !s.roleStrictlyAbove(r, s.memberRole[i]) {
			return NewConflictErr("%s reports to %s; role %s is not above their role", s.memberName(int32(i)), s.memberName(m), s.roles[r].Name)
		}
	}
	return nil
}

// ValidateRule checks a sharing rule to create or update (an update keeps
// its ID): module, name, exactly one of source and criteria, a rule level,
// existing principals, valid criteria for the module's fields (fieldKinds),
// and the limits of MaxRulesPerModule and MaxCriteriaRulesPerModule.
func (s *Snapshot) ValidateRule(r SharingRule, fieldKinds map[string]FieldKind) error {
	mi := moduleIndex(r.Module)
	if mi < 0 {
		return NewInvalidErr("unknown module %q", string(r.Module))
	}
	if strings.TrimSpace(r.Name) == "" {
		return NewInvalidErr("a sharing rule needs a name")
	}
	if (r.Source == nil) == (r.Criteria == nil) {
		return NewInvalidErr("a sharing rule has either a source or criteria, not both or neither")
	}
	if !ValidRuleLevel(r.Level) {
		return NewInvalidErr("a sharing rule grants READ_ONLY, READ_WRITE or READ_WRITE_DELETE, not %s", r.Level)
	}
	if err := s.checkPrincipal(r.Target); err != nil {
		return NewNotFoundErr("rule target: %v", err)
	}
	if r.Source != nil {
		if err := s.checkPrincipal(*r.Source); err != nil {
			return NewNotFoundErr("rule source: %v", err)
		}
	} else if err := ValidateCriteria(r.Criteria, fieldKinds); err != nil {
		return err
	}
	total, criteria := 0, 0
	for _, ri := range s.rulesByModule[mi] {
		if s.rules[ri].ID == r.ID {
			continue
		}
		total++
		if s.rules[ri].Criteria != nil {
			criteria++
		}
	}
	if total+1 > MaxRulesPerModule {
		return NewLimitErr("%s already has %d sharing rules; at most %d are allowed", r.Module, total, MaxRulesPerModule)
	}
	if r.Criteria != nil && criteria+1 > MaxCriteriaRulesPerModule {
		return NewLimitErr("%s already has %d criteria-based sharing rules; at most %d are allowed", r.Module, criteria, MaxCriteriaRulesPerModule)
	}
	return nil
}

// ValidateShares checks shares to add: known module, a share level
// (READ_ONLY, READ_WRITE, FULL_ACCESS) and an existing principal. Limits are
// CheckShareLimits'; the right to share is Explain's Permissions.Share.
func (s *Snapshot) ValidateShares(shares []Share) error {
	for _, sh := range shares {
		if !sh.Module.Valid() {
			return NewInvalidErr("unknown module %q", string(sh.Module))
		}
		if !ValidShareLevel(sh.Level) {
			return NewInvalidErr("a record share grants READ_ONLY, READ_WRITE or FULL_ACCESS, not %s", sh.Level)
		}
		if err := s.checkPrincipal(sh.Principal); err != nil {
			return NewNotFoundErr("share: %v", err)
		}
	}
	return nil
}

// CheckShareLimits checks that after adding shares (replacing an existing
// share of the same record and principal) no record is shared directly with
// more than MaxShareUsers users, MaxShareRoles roles (ROLE and
// ROLE_AND_SUBORDINATES together) or MaxShareGroups groups. existing holds
// the current shares of the records concerned.
func CheckShareLimits(existing, adding []Share) error {
	type recKey struct {
		m  Module
		id int64
	}
	set := map[recKey]map[Principal]bool{}
	put := func(sh Share) {
		k := recKey{sh.Module, sh.RecordID}
		if set[k] == nil {
			set[k] = map[Principal]bool{}
		}
		set[k][sh.Principal] = true
	}
	for _, sh := range existing {
		put(sh)
	}
	touched := map[recKey]bool{}
	for _, sh := range adding {
		put(sh)
		touched[recKey{sh.Module, sh.RecordID}] = true
	}
	for k := range touched {
		var users, roles, groups int
		for p := range set[k] {
			switch p.Type {
			case PrincipalUser:
				users++
			case PrincipalRole, PrincipalRoleAndSubordinates:
				roles++
			case PrincipalGroup:
				groups++
			}
		}
		switch {
		case users > MaxShareUsers:
			return NewLimitErr("%s %d would be shared with %d users; at most %d are allowed", k.m, k.id, users, MaxShareUsers)
		case roles > MaxShareRoles:
			return NewLimitErr("%s %d would be shared with %d roles; at most %d are allowed", k.m, k.id, roles, MaxShareRoles)
		case groups > MaxShareGroups:
			return NewLimitErr("%s %d would be shared with %d groups; at most %d are allowed", k.m, k.id, groups, MaxShareGroups)
		}
	}
	return nil
}

// ValidateProfile checks a profile to create or update: known modules,
// the prerequisites between permissions on each module, known setup
// permissions, and field settings that never restrict a system or
// mandatory field. (That the Administrator profile cannot be edited is the
// caller's check: it knows which profile is being edited.)
func ValidateProfile(p Profile) error {
	if strings.TrimSpace(p.Name) == "" {
		return NewInvalidErr("a profile needs a name")
	}
	for m, ps := range p.Modules {
		if !m.Valid() {
			return NewInvalidErr("unknown module %q", string(m))
		}
		if err := ps.Validate(); err != nil {
			var re *RuleError
			if errors.As(err, &re) {
				return NewInvalidErr("%s: %s", m, re.Msg)
			}
			return NewInvalidErr("%s: %v", m, err)
		}
	}
	if p.Setup&^AllSetupPermissions != 0 {
		return NewInvalidErr("unknown setup permissions")
	}
	for m, fs := range p.Fields {
		if !m.Valid() {
			return NewInvalidErr("unknown module %q", string(m))
		}
		for f, a := range fs {
			if err := ValidateFieldPermission(m, f, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// ValidateFieldPermission checks one field setting: system fields and the
// module's mandatory field are always READ_WRITE.
func ValidateFieldPermission(m Module, field string, a FieldAccess) error {
	if a > FieldHidden {
		return NewInvalidErr("invalid field access %d", a)
	}
	if a != FieldReadWrite && AlwaysReadWrite(m, field) {
		what := "a system field"
		if field == MandatoryField(m) {
			what = "the module's mandatory field"
		}
		return NewInvalidErr("%s.%s is %s: always READ_WRITE, it cannot be restricted", m, field, what)
	}
	return nil
}
