package access

import (
	"fmt"
	"slices"
	"sort"
)

// Sharing limits (access-model.md, Notes). Exceeding one is LIMIT_EXCEEDED.
const (
	MaxRulesPerModule         = 300 // sharing rules per module and org
	MaxCriteriaRulesPerModule = 50  // of which criteria based
	MaxShareUsers             = 10  // direct shares of one record with USER principals
	MaxShareRoles             = 5   // ... with ROLE and ROLE_AND_SUBORDINATES principals together
	MaxShareGroups            = 5   // ... with GROUP principals
	MaxGroupDepth             = 5   // groups on any chain of group-in-group
)

// Snapshot is the immutable security picture of one org at one security
// version: role tree, hierarchy, group closure, profiles, defaults and
// sharing rules, with everything the hot path needs precomputed. It is safe
// for concurrent use by any number of readers. Build it with NewSnapshot.
//
// Members are addressed by their id; internally they are numbered densely so
// that sets of members are bitsets.
type Snapshot struct {
	orgID    int64
	version  int64
	mode     HierarchyMode
	defaults [numModules]Level

	roles      []Role
	roleIdx    map[int64]int32
	roleParent []int32 // -1 for a top role
	roleTin    []int32 // Euler tour over the role forest: the subtree of r is the
	roleTout   []int32 // roles with roleTin in [roleTin[r], roleTout[r])
	roleMems   [][]int32
	// Members sorted by their role's roleTin: the members of r's subtree are
	// roleOrder[roleSubStart[r]:roleSubEnd[r]], r's own members first.
	roleOrder    []int32
	roleSubStart []int32
	roleSubEnd   []int32

	members    []Member
	memberIdx  map[int64]int32
	memberRole []int32
	memberProf []int32
	mgr        []int32 // reporting manager, -1 for none
	// Euler tour over the reporting forest: the reports of m (transitively)
	// are repOrder[repTin[m]+1 : repTout[m]].
	repTin   []int32
	repTout  []int32
	repOrder []int32

	profiles   []Profile
	profileIdx map[int64]int32

	groups       []Group
	groupIdx     map[int64]int32
	groupClosure []bitset

	// forest is the active hierarchy (roles in ROLE mode, reporting lines
	// in REPORTING mode) in Euler-tour positions, for the index's
	// hierarchy layer (sameHierarchy compares what it is built from).
	forest forest

	rules         []SharingRule
	ruleIdx       map[int64]int32
	rulesByModule [numModules][]int32
	ruleTarget    []bitset // members of the target
	ruleReach     []bitset // target members, plus their superiors when SuperiorsAllowed
	ruleSource    []bitset // owner-based rules: members of the source
}

// NewSnapshot validates org and builds its snapshot. It rejects unknown
// references (a member's role, profile or manager, a group's, rule's
// principal), duplicate ids, cycles in the role tree, the reporting lines or
// group nesting, invalid levels and rules that are not exactly one of owner
// based and criteria based. It copies what it keeps: org may be reused.
func NewSnapshot(org OrgData) (*Snapshot, error) {
	return buildSnapshot(org, nil)
}

// buildSnapshot is NewSnapshot, taking over from prev (when not nil) what
// provably comes out the same (see buildMembersFrom).
func buildSnapshot(org OrgData, prev *Snapshot) (*Snapshot, error) {
	s := &Snapshot{orgID: org.OrgID, version: org.Version, mode: org.HierarchyMode}
	if err := s.setDefaults(org); err != nil {
		return nil, err
	}
	if err := s.buildRoles(org.Roles); err != nil {
		return nil, err
	}
	if err := s.buildProfiles(org.Profiles); err != nil {
		return nil, err
	}
	if err := s.buildMembersFrom(org.Members, prev); err != nil {
		return nil, err
	}
	if err := s.buildGroups(org.Groups); err != nil {
		return nil, err
	}
	if err := s.buildRules(org.Rules); err != nil {
		return nil, err
	}
	s.buildForest()
	return s, nil
}

// WithGroupsAndRules returns the snapshot of org, an org whose roles,
// profiles and members are exactly s's (only its groups, rules, module
// defaults or hierarchy mode changed), reusing what s built from them:
// that is most of NewSnapshot's work in an org of thousands of members,
// and what a group or rule change pays on every instance. The caller
// vouches for the equality; NewSnapshot(org) must give the same result.
func (s *Snapshot) WithGroupsAndRules(org OrgData) (*Snapshot, error) {
	n := &Snapshot{orgID: org.OrgID, version: org.Version, mode: org.HierarchyMode}
	if err := n.setDefaults(org); err != nil {
		return nil, err
	}
	n.roles, n.roleIdx, n.roleParent, n.roleTin, n.roleTout = s.roles, s.roleIdx, s.roleParent, s.roleTin, s.roleTout
	n.roleMems, n.roleOrder, n.roleSubStart, n.roleSubEnd = s.roleMems, s.roleOrder, s.roleSubStart, s.roleSubEnd
	n.members, n.memberIdx, n.memberRole, n.memberProf, n.mgr = s.members, s.memberIdx, s.memberRole, s.memberProf, s.mgr
	n.repTin, n.repTout, n.repOrder = s.repTin, s.repTout, s.repOrder
	n.profiles, n.profileIdx = s.profiles, s.profileIdx
	if err := n.buildGroups(org.Groups); err != nil {
		return nil, err
	}
	if err := n.buildRules(org.Rules); err != nil {
		return nil, err
	}
	if n.mode == s.mode {
		n.forest = s.forest
	} else {
		n.buildForest()
	}
	return n, nil
}

// Rebuild returns NewSnapshot(org), reusing what s built from the parts of
// org that are as they were in s: the member numbering when the members
// are the same ids in the same order, each member's role and profile slot
// when those are unchanged, the reporting forest when no reporting line
// moved. Whether a part is unchanged is checked here, member by member,
// not taken on trust; it costs a pass over the members, where rebuilding
// their index costs a map of them (most of NewSnapshot's time in an org of
// thousands of members, and what a member or role change pays on every
// instance). NewSnapshot(org) must give the same result.
func (s *Snapshot) Rebuild(org OrgData) (*Snapshot, error) {
	return buildSnapshot(org, s)
}

// setDefaults checks and keeps the hierarchy mode and module defaults.
func (s *Snapshot) setDefaults(org OrgData) error {
	if org.HierarchyMode != HierarchyRole && org.HierarchyMode != HierarchyReporting {
		return fmt.Errorf("access: org %d: invalid hierarchy mode %d", org.OrgID, org.HierarchyMode)
	}
	for m, l := range org.Defaults {
		mi := moduleIndex(m)
		if mi < 0 {
			return fmt.Errorf("access: org %d: default for unknown module %q", org.OrgID, string(m))
		}
		if _, err := DefaultAccessOf(l); err != nil {
			return fmt.Errorf("access: org %d: module %s: %w", org.OrgID, m, err)
		}
		s.defaults[mi] = l
	}
	return nil
}

// forest is a hierarchy whose nodes own members: in ROLE mode a node is a
// role and owns the role's members; in REPORTING mode a node is a member
// and owns itself. Members are laid out in Euler-tour order ("positions"),
// so a node's subtree is the positions [start, end) and its own members
// [start, ownEnd).
type forest struct {
	order    []int32 // position -> member
	pos      []int32 // member -> position
	start    []int32
	ownEnd   []int32
	end      []int32
	children [][]int32
	roots    []int32
	nodeOf   []int32 // member -> node
	parent   []int32 // node -> parent node, -1 for a root
}

func (s *Snapshot) buildForest() {
	f := &s.forest
	n := len(s.members)
	f.nodeOf = make([]int32, n)
	if s.mode == HierarchyRole {
		f.order = s.roleOrder
		f.start = s.roleSubStart
		f.end = s.roleSubEnd
		f.parent = s.roleParent
		f.ownEnd = make([]int32, len(s.roles))
		f.children = make([][]int32, len(s.roles))
		for r := range s.roles {
			f.ownEnd[r] = s.roleSubStart[r] + int32(len(s.roleMems[r]))
			if p := s.roleParent[r]; p >= 0 {
				f.children[p] = append(f.children[p], int32(r))
			} else {
				f.roots = append(f.roots, int32(r))
			}
		}
		copy(f.nodeOf, s.memberRole)
	} else {
		f.order = s.repOrder
		f.start = s.repTin
		f.end = s.repTout
		f.parent = s.mgr
		f.ownEnd = make([]int32, n)
		f.children = make([][]int32, n)
		for m := range s.members {
			f.ownEnd[m] = s.repTin[m] + 1
			f.nodeOf[m] = int32(m)
			if p := s.mgr[m]; p >= 0 {
				f.children[p] = append(f.children[p], int32(m))
			} else {
				f.roots = append(f.roots, int32(m))
			}
		}
	}
	f.pos = make([]int32, n)
	for p, m := range f.order {
		f.pos[m] = int32(p)
	}
}

// sameHierarchy reports whether a and b have identical forests and member
// numbering: the same mode, roles (ids and parents) and members (ids,
// roles and managers), in the same order. That is all buildForest reads.
func sameHierarchy(a, b *Snapshot) bool {
	if a == b {
		return true
	}
	if a.mode != b.mode || len(a.roles) != len(b.roles) || len(a.members) != len(b.members) {
		return false
	}
	for i := range a.roles {
		if a.roles[i].ID != b.roles[i].ID || a.roles[i].ParentID != b.roles[i].ParentID {
			return false
		}
	}
	for i := range a.members {
		x, y := &a.members[i], &b.members[i]
		if x.ID != y.ID || x.RoleID != y.RoleID || x.ReportsToID != y.ReportsToID {
			return false
		}
	}
	return true
}

func (s *Snapshot) buildRoles(roles []Role) error {
	s.roles = slices.Clone(roles)
	s.roleIdx = make(map[int64]int32, len(roles))
	for i, r := range roles {
		if r.ID <= 0 {
			return fmt.Errorf("access: role id %d is not positive", r.ID)
		}
		if _, dup := s.roleIdx[r.ID]; dup {
			return fmt.Errorf("access: duplicate role %d", r.ID)
		}
		s.roleIdx[r.ID] = int32(i)
	}
	n := len(roles)
	s.roleParent = make([]int32, n)
	children := make([][]int32, n)
	var tops []int32
	for i, r := range roles {
		if r.ParentID == 0 {
			s.roleParent[i] = -1
			tops = append(tops, int32(i))
			continue
		}
		p, ok := s.roleIdx[r.ParentID]
		if !ok {
			return fmt.Errorf("access: role %d: unknown parent role %d", r.ID, r.ParentID)
		}
		s.roleParent[i] = p
		children[p] = append(children[p], int32(i))
	}
	s.roleTin, s.roleTout = eulerTour(n, tops, children)
	for i := range roles {
		if s.roleTin[i] < 0 {
			return fmt.Errorf("access: role %d is on a cycle of parent roles", roles[i].ID)
		}
	}
	return nil
}

// eulerTour numbers the nodes of a forest in depth-first order; nodes not
// reachable from a root (on a cycle) keep tin -1.
func eulerTour(n int, roots []int32, children [][]int32) (tin, tout []int32) {
	tin = make([]int32, n)
	tout = make([]int32, n)
	for i := range tin {
		tin[i] = -1
	}
	var clock int32
	type frame struct {
		node int32
		next int
	}
	stack := make([]frame, 0, 16)
	for _, r := range roots {
		tin[r] = clock
		clock++
		stack = append(stack, frame{r, 0})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next < len(children[top.node]) {
				c := children[top.node][top.next]
				top.next++
				tin[c] = clock
				clock++
				stack = append(stack, frame{c, 0})
				continue
			}
			tout[top.node] = clock
			stack = stack[:len(stack)-1]
		}
	}
	return tin, tout
}

func (s *Snapshot) buildProfiles(profiles []Profile) error {
	s.profiles = make([]Profile, len(profiles))
	s.profileIdx = make(map[int64]int32, len(profiles))
	for i, p := range profiles {
		if _, dup := s.profileIdx[p.ID]; dup {
			return fmt.Errorf("access: duplicate profile %d", p.ID)
		}
		for m := range p.Modules {
			if !m.Valid() {
				return fmt.Errorf("access: profile %d: unknown module %q", p.ID, string(m))
			}
		}
		for m := range p.Fields {
			if !m.Valid() {
				return fmt.Errorf("access: profile %d: unknown module %q", p.ID, string(m))
			}
		}
		cp := p
		cp.Modules = make(map[Module]PermissionSet, len(p.Modules))
		for m, ps := range p.Modules {
			cp.Modules[m] = ps
		}
		cp.Fields = make(map[Module]map[string]FieldAccess, len(p.Fields))
		for m, fs := range p.Fields {
			inner := make(map[string]FieldAccess, len(fs))
			for f, a := range fs {
				inner[f] = a
			}
			cp.Fields[m] = inner
		}
		s.profiles[i] = cp
		s.profileIdx[p.ID] = int32(i)
	}
	return nil
}

// buildMembersFrom numbers the members and builds their role order and
// reporting forest. With prev (a snapshot already built, see Rebuild) it
// takes over what provably comes out the same: prev's member index when
// the ids are prev's in prev's order (they were validated then), a
// member's role or profile slot when the member and the slot numbering
// are unchanged, and the reporting forest when no reporting line changed.
// s's roles and profiles must be built first.
func (s *Snapshot) buildMembersFrom(members []Member, prev *Snapshot) error {
	n := len(members)
	sameIDs := prev != nil && len(prev.members) == n
	for i := 0; sameIDs && i < n; i++ {
		sameIDs = prev.members[i].ID == members[i].ID
	}
	sameRoleSlots := sameIDs && slices.EqualFunc(prev.roles, s.roles, func(a, b Role) bool { return a.ID == b.ID })
	sameProfileSlots := sameIDs && slices.EqualFunc(prev.profiles, s.profiles, func(a, b Profile) bool { return a.ID == b.ID })
	sameLines := sameIDs

	if sameIDs && slices.Equal(prev.members, members) {
		s.members = prev.members // never modified once built
	} else {
		s.members = slices.Clone(members)
	}
	if sameIDs {
		s.memberIdx = prev.memberIdx // never modified once built
	} else {
		s.memberIdx = make(map[int64]int32, n)
	}
	s.memberRole = make([]int32, n)
	s.memberProf = make([]int32, n)
	s.roleMems = make([][]int32, len(s.roles))
	for i, m := range members {
		if !sameIDs {
			if m.ID <= 0 {
				return fmt.Errorf("access: member id %d is not positive", m.ID)
			}
			if _, dup := s.memberIdx[m.ID]; dup {
				return fmt.Errorf("access: duplicate member %d", m.ID)
			}
			s.memberIdx[m.ID] = int32(i)
		}
		var was Member
		if sameIDs {
			was = prev.members[i]
			sameLines = sameLines && was.ReportsToID == m.ReportsToID
		}
		var r, p int32
		var ok bool
		if sameRoleSlots && was.RoleID == m.RoleID {
			r = prev.memberRole[i]
		} else if r, ok = s.roleIdx[m.RoleID]; !ok {
			return fmt.Errorf("access: member %d: unknown role %d", m.ID, m.RoleID)
		}
		if sameProfileSlots && was.ProfileID == m.ProfileID {
			p = prev.memberProf[i]
		} else if p, ok = s.profileIdx[m.ProfileID]; !ok {
			return fmt.Errorf("access: member %d: unknown profile %d", m.ID, m.ProfileID)
		}
		s.memberRole[i], s.memberProf[i] = r, p
		s.roleMems[r] = append(s.roleMems[r], int32(i))
	}
	s.buildRoleOrder()
	if sameLines {
		// The reporting forest is made of the member numbering and the
		// reporting lines only, and prev's is never modified once built.
		s.mgr, s.repTin, s.repTout, s.repOrder = prev.mgr, prev.repTin, prev.repTout, prev.repOrder
		return nil
	}
	return s.buildReporting()
}

// buildRoleOrder lists the members in role tour order (a counting sort on
// their role's tour position, stable: by member order within a role).
func (s *Snapshot) buildRoleOrder() {
	start := make([]int32, len(s.roles)+1) // by tour position: first slot of that role's members
	for r, ms := range s.roleMems {
		start[s.roleTin[r]+1] = int32(len(ms))
	}
	for t := 1; t < len(start); t++ {
		start[t] += start[t-1]
	}
	s.roleOrder = make([]int32, 0, len(s.members))
	byTin := make([]int32, len(s.roles))
	for r := range s.roles {
		byTin[s.roleTin[r]] = int32(r)
	}
	for _, r := range byTin {
		s.roleOrder = append(s.roleOrder, s.roleMems[r]...)
	}
	s.roleSubStart = make([]int32, len(s.roles))
	s.roleSubEnd = make([]int32, len(s.roles))
	for r := range s.roles {
		s.roleSubStart[r], s.roleSubEnd[r] = start[s.roleTin[r]], start[s.roleTout[r]]
	}
}

// buildReporting builds the reporting forest from the members' managers.
func (s *Snapshot) buildReporting() error {
	n := len(s.members)
	s.mgr = make([]int32, n)
	children := make([][]int32, n)
	var roots []int32
	for i, m := range s.members {
		if m.ReportsToID == 0 {
			s.mgr[i] = -1
			roots = append(roots, int32(i))
			continue
		}
		j, ok := s.memberIdx[m.ReportsToID]
		if !ok {
			return fmt.Errorf("access: member %d: unknown reporting manager %d", m.ID, m.ReportsToID)
		}
		s.mgr[i] = j
		children[j] = append(children[j], int32(i))
	}
	s.repTin, s.repTout = eulerTour(n, roots, children)
	s.repOrder = make([]int32, n)
	for i := range s.members {
		if s.repTin[i] < 0 {
			return fmt.Errorf("access: member %d is on a cycle of reporting managers", s.members[i].ID)
		}
		s.repOrder[s.repTin[i]] = int32(i)
	}
	return nil
}

func (s *Snapshot) buildGroups(groups []Group) error {
	s.groups = make([]Group, len(groups))
	s.groupIdx = make(map[int64]int32, len(groups))
	for i, g := range groups {
		if _, dup := s.groupIdx[g.ID]; dup {
			return fmt.Errorf("access: duplicate group %d", g.ID)
		}
		s.groupIdx[g.ID] = int32(i)
		g.Members = slices.Clone(g.Members)
		s.groups[i] = g
	}
	for _, g := range groups {
		for _, p := range g.Members {
			if err := s.checkPrincipal(p); err != nil {
				return fmt.Errorf("access: group %d: %w", g.ID, err)
			}
		}
	}
	s.groupClosure = make([]bitset, len(groups))
	state := make([]uint8, len(groups)) // 0 new, 1 in progress, 2 done
	var visit func(g int32) error
	visit = func(g int32) error {
		switch state[g] {
		case 1:
			return fmt.Errorf("access: group %d is nested in itself", s.groups[g].ID)
		case 2:
			return nil
		}
		state[g] = 1
		b := newBitset(len(s.members))
		for _, p := range s.groups[g].Members {
			if p.Type == PrincipalGroup {
				h := s.groupIdx[p.ID]
				if err := visit(h); err != nil {
					return err
				}
				b.or(s.groupClosure[h])
				continue
			}
			s.addMembers(b, p)
		}
		s.groupClosure[g] = b
		state[g] = 2
		return nil
	}
	for i := range groups {
		if err := visit(int32(i)); err != nil {
			return err
		}
	}
	return nil
}

// checkPrincipal reports an unknown principal.
func (s *Snapshot) checkPrincipal(p Principal) error {
	var ok bool
	switch p.Type {
	case PrincipalUser:
		_, ok = s.memberIdx[p.ID]
	case PrincipalRole, PrincipalRoleAndSubordinates:
		_, ok = s.roleIdx[p.ID]
	case PrincipalGroup:
		_, ok = s.groupIdx[p.ID]
	default:
		return fmt.Errorf("invalid principal type %d", p.Type)
	}
	if !ok {
		return fmt.Errorf("unknown principal %s", p)
	}
	return nil
}

// addMembers adds the members of a non-group principal (or, once the
// closure is built, any principal) to b.
func (s *Snapshot) addMembers(b bitset, p Principal) {
	switch p.Type {
	case PrincipalUser:
		if i, ok := s.memberIdx[p.ID]; ok {
			b.set(i)
		}
	case PrincipalRole:
		if r, ok := s.roleIdx[p.ID]; ok {
			for _, m := range s.roleMems[r] {
				b.set(m)
			}
		}
	case PrincipalRoleAndSubordinates:
		if r, ok := s.roleIdx[p.ID]; ok {
			for _, m := range s.roleOrder[s.roleSubStart[r]:s.roleSubEnd[r]] {
				b.set(m)
			}
		}
	case PrincipalGroup:
		if g, ok := s.groupIdx[p.ID]; ok && s.groupClosure[g] != nil {
			b.or(s.groupClosure[g])
		}
	}
}

func (s *Snapshot) memberBits(p Principal) bitset {
	b := newBitset(len(s.members))
	s.addMembers(b, p)
	return b
}

// principalsOf lists member i's principals (see PrincipalsOf). They are
// worked out when asked rather than tabled for every member: a table costs
// thousands of allocations on every rebuild of a large org's snapshot, and
// a visible set needs one member's list.
func (s *Snapshot) principalsOf(i int32) []Principal {
	r := s.memberRole[i]
	ps := make([]Principal, 0, 8)
	ps = append(ps, User(s.members[i].ID), RolePrincipal(s.roles[r].ID))
	for a := r; a >= 0; a = s.roleParent[a] {
		ps = append(ps, RoleAndSubordinates(s.roles[a].ID))
	}
	for g, b := range s.groupClosure {
		if b.has(i) {
			ps = append(ps, GroupPrincipal(s.groups[g].ID))
		}
	}
	return ps
}

func (s *Snapshot) buildRules(rules []SharingRule) error {
	s.rules = make([]SharingRule, len(rules))
	s.ruleIdx = make(map[int64]int32, len(rules))
	s.ruleTarget = make([]bitset, len(rules))
	s.ruleReach = make([]bitset, len(rules))
	s.ruleSource = make([]bitset, len(rules))
	for i, r := range rules {
		if _, dup := s.ruleIdx[r.ID]; dup {
			return fmt.Errorf("access: duplicate sharing rule %d", r.ID)
		}
		mi := moduleIndex(r.Module)
		if mi < 0 {
			return fmt.Errorf("access: sharing rule %d: unknown module %q", r.ID, string(r.Module))
		}
		if (r.Source == nil) == (r.Criteria == nil) {
			return fmt.Errorf("access: sharing rule %d: needs exactly one of source and criteria", r.ID)
		}
		if !ValidRuleLevel(r.Level) {
			return fmt.Errorf("access: sharing rule %d: level %s is not a rule level", r.ID, r.Level)
		}
		if err := s.checkPrincipal(r.Target); err != nil {
			return fmt.Errorf("access: sharing rule %d: target: %w", r.ID, err)
		}
		if r.Source != nil {
			if err := s.checkPrincipal(*r.Source); err != nil {
				return fmt.Errorf("access: sharing rule %d: source: %w", r.ID, err)
			}
			src := *r.Source
			r.Source = &src
			s.ruleSource[i] = s.memberBits(src)
		} else {
			if r.Criteria.Op != And && r.Criteria.Op != Or {
				return fmt.Errorf("access: sharing rule %d: criteria op %q", r.ID, string(r.Criteria.Op))
			}
			c := *r.Criteria
			c.Conditions = slices.Clone(c.Conditions)
			r.Criteria = &c
		}
		s.rules[i] = r
		s.ruleIdx[r.ID] = int32(i)
		s.rulesByModule[mi] = append(s.rulesByModule[mi], int32(i))
		t := s.memberBits(r.Target)
		s.ruleTarget[i] = t
		if r.SuperiorsAllowed {
			s.ruleReach[i] = s.withSuperiors(t)
		} else {
			s.ruleReach[i] = t
		}
	}
	return nil
}

// withSuperiors returns t plus every superior of a member of t.
func (s *Snapshot) withSuperiors(t bitset) bitset {
	out := t.clone()
	if s.mode == HierarchyRole {
		marked := make([]bool, len(s.roles))
		t.each(func(m int32) {
			for a := s.roleParent[s.memberRole[m]]; a >= 0 && !marked[a]; a = s.roleParent[a] {
				marked[a] = true
			}
		})
		for r, ok := range marked {
			if ok {
				for _, m := range s.roleMems[r] {
					out.set(m)
				}
			}
		}
		return out
	}
	climbed := newBitset(len(s.members))
	t.each(func(m int32) {
		for a := s.mgr[m]; a >= 0 && !climbed.has(a); a = s.mgr[a] {
			climbed.set(a)
		}
	})
	out.or(climbed)
	return out
}

// OrgID is the org the snapshot describes.
func (s *Snapshot) OrgID() int64 { return s.orgID }

// Version is the org's security version the snapshot was built from.
func (s *Snapshot) Version() int64 { return s.version }

// HierarchyMode is the org's hierarchy mode.
func (s *Snapshot) HierarchyMode() HierarchyMode { return s.mode }

// Default is the level module m's org-wide default grants every member.
func (s *Snapshot) Default(m Module) Level {
	if mi := moduleIndex(m); mi >= 0 {
		return s.defaults[mi]
	}
	return LevelNone
}

// Member returns the member with the given id.
func (s *Snapshot) Member(id int64) (Member, bool) {
	if i, ok := s.memberIdx[id]; ok {
		return s.members[i], true
	}
	return Member{}, false
}

// Members lists every member, in the order given to NewSnapshot.
func (s *Snapshot) Members() []Member { return slices.Clone(s.members) }

// Role returns the role with the given id.
func (s *Snapshot) Role(id int64) (Role, bool) {
	if i, ok := s.roleIdx[id]; ok {
		return s.roles[i], true
	}
	return Role{}, false
}

// Group returns the group with the given id (Members as stored, not resolved).
func (s *Snapshot) Group(id int64) (Group, bool) {
	if i, ok := s.groupIdx[id]; ok {
		g := s.groups[i]
		g.Members = slices.Clone(g.Members)
		return g, true
	}
	return Group{}, false
}

// Rule returns the sharing rule with the given id. The result shares its
// Source and Criteria with the snapshot: treat them as read-only.
func (s *Snapshot) Rule(id int64) (*SharingRule, bool) {
	if i, ok := s.ruleIdx[id]; ok {
		return &s.rules[i], true
	}
	return nil, false
}

// Rules lists the sharing rules of module m (read-only).
func (s *Snapshot) Rules(m Module) []*SharingRule {
	mi := moduleIndex(m)
	if mi < 0 {
		return nil
	}
	out := make([]*SharingRule, len(s.rulesByModule[mi]))
	for k, i := range s.rulesByModule[mi] {
		out[k] = &s.rules[i]
	}
	return out
}

// ProfileOf returns the profile of a member (read-only).
func (s *Snapshot) ProfileOf(member int64) (*Profile, bool) {
	if i, ok := s.memberIdx[member]; ok {
		return &s.profiles[s.memberProf[i]], true
	}
	return nil, false
}

// ModulePermissions is what member's profile allows on module m: every
// permission for the Administrator profile, none for an unknown or inactive
// member or a module the profile does not mention.
func (s *Snapshot) ModulePermissions(member int64, m Module) PermissionSet {
	i, ok := s.memberIdx[member]
	if !ok || !s.members[i].Active || !m.Valid() {
		return 0
	}
	return s.modulePerms(i, m)
}

func (s *Snapshot) modulePerms(i int32, m Module) PermissionSet {
	p := &s.profiles[s.memberProf[i]]
	if p.Administrator {
		return AllPermissions
	}
	return p.Modules[m]
}

// Can reports whether member's profile holds permission p on module m.
// Without view on m, the member holds nothing on m.
func (s *Snapshot) Can(member int64, m Module, p Permission) bool {
	ps := s.ModulePermissions(member, m)
	return ps.Has(PermView) && ps.Has(p)
}

// HasSetup reports whether member's profile holds setup permission p (the
// Administrator profile holds all of them).
func (s *Snapshot) HasSetup(member int64, p SetupPermission) bool {
	i, ok := s.memberIdx[member]
	if !ok || !s.members[i].Active {
		return false
	}
	prof := &s.profiles[s.memberProf[i]]
	return prof.Administrator || prof.Setup.Has(p)
}

// IsAdministrator reports whether member is active with the Administrator profile.
func (s *Snapshot) IsAdministrator(member int64) bool {
	i, ok := s.memberIdx[member]
	return ok && s.members[i].Active && s.profiles[s.memberProf[i]].Administrator
}

// FieldAccess is member's access to field of module m: READ_WRITE for the
// Administrator profile, system fields and the module's mandatory field;
// otherwise the profile's setting, READ_WRITE when it names none. An unknown
// or inactive member, or one without view on m, gets HIDDEN (fail closed).
func (s *Snapshot) FieldAccess(member int64, m Module, field string) FieldAccess {
	i, ok := s.memberIdx[member]
	if !ok || !s.members[i].Active || !s.modulePerms(i, m).Has(PermView) {
		return FieldHidden
	}
	p := &s.profiles[s.memberProf[i]]
	if p.Administrator || AlwaysReadWrite(m, field) {
		return FieldReadWrite
	}
	if a, ok := p.Fields[m][field]; ok {
		return a
	}
	return FieldReadWrite
}

// HiddenFields lists, sorted, the fields of m that member's profile hides
// (fields the profile does not name are READ_WRITE, so only named ones can be).
func (s *Snapshot) HiddenFields(member int64, m Module) []string {
	i, ok := s.memberIdx[member]
	if !ok {
		return nil
	}
	p := &s.profiles[s.memberProf[i]]
	if p.Administrator {
		return nil
	}
	var out []string
	for f, a := range p.Fields[m] {
		if a == FieldHidden && !AlwaysReadWrite(m, f) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// PrincipalsOf lists the principals member belongs to: USER member, ROLE of
// its role, ROLE_AND_SUBORDINATES of its role and of every ancestor role,
// and GROUP of every group that contains it, directly, through nesting or
// through a role principal.
func (s *Snapshot) PrincipalsOf(member int64) []Principal {
	if i, ok := s.memberIdx[member]; ok {
		return s.principalsOf(i)
	}
	return nil
}

// MembersOf lists the members of p, sorted by id.
func (s *Snapshot) MembersOf(p Principal) []int64 {
	b := s.memberBits(p)
	out := make([]int64, 0, b.count())
	b.each(func(i int32) { out = append(out, s.members[i].ID) })
	slices.Sort(out)
	return out
}

// IsMemberOf reports whether member belongs to principal p.
func (s *Snapshot) IsMemberOf(member int64, p Principal) bool {
	i, ok := s.memberIdx[member]
	return ok && s.isMember(i, p)
}

func (s *Snapshot) isMember(i int32, p Principal) bool {
	switch p.Type {
	case PrincipalUser:
		return s.members[i].ID == p.ID
	case PrincipalRole:
		r, ok := s.roleIdx[p.ID]
		return ok && s.memberRole[i] == r
	case PrincipalRoleAndSubordinates:
		r, ok := s.roleIdx[p.ID]
		if !ok {
			return false
		}
		t := s.roleTin[s.memberRole[i]]
		return s.roleTin[r] <= t && t < s.roleTout[r]
	case PrincipalGroup:
		g, ok := s.groupIdx[p.ID]
		return ok && s.groupClosure[g].has(i)
	}
	return false
}

// isSuperior reports whether member v is a superior of member o.
func (s *Snapshot) isSuperior(v, o int32) bool {
	if s.mode == HierarchyRole {
		rv, ro := s.memberRole[v], s.memberRole[o]
		return s.roleTin[rv] < s.roleTin[ro] && s.roleTin[ro] < s.roleTout[rv]
	}
	return s.repTin[v] < s.repTin[o] && s.repTin[o] < s.repTout[v]
}

// IsSuperior reports whether v is a superior of o: in ROLE mode v's role is
// a strict ancestor of o's role; in REPORTING mode v is on o's chain of
// reporting managers.
func (s *Snapshot) IsSuperior(v, o int64) bool {
	vi, ok1 := s.memberIdx[v]
	oi, ok2 := s.memberIdx[o]
	return ok1 && ok2 && s.isSuperior(vi, oi)
}

// subordinates is the slice of members whose superior i is (shared: do not modify).
func (s *Snapshot) subordinates(i int32) []int32 {
	if s.mode == HierarchyRole {
		r := s.memberRole[i]
		return s.roleOrder[s.roleSubStart[r]+int32(len(s.roleMems[r])) : s.roleSubEnd[r]]
	}
	return s.repOrder[s.repTin[i]+1 : s.repTout[i]]
}

// Subordinates lists, sorted, the members v is a superior of.
func (s *Snapshot) Subordinates(v int64) []int64 {
	i, ok := s.memberIdx[v]
	if !ok {
		return nil
	}
	return s.ids(s.subordinates(i))
}

// Superiors lists, sorted, the superiors of member m.
func (s *Snapshot) Superiors(m int64) []int64 {
	i, ok := s.memberIdx[m]
	if !ok {
		return nil
	}
	var out []int32
	if s.mode == HierarchyRole {
		for a := s.roleParent[s.memberRole[i]]; a >= 0; a = s.roleParent[a] {
			out = append(out, s.roleMems[a]...)
		}
	} else {
		for a := s.mgr[i]; a >= 0; a = s.mgr[a] {
			out = append(out, a)
		}
	}
	return s.ids(out)
}

// peers is the slice of members of i's role when i has peers (i included).
func (s *Snapshot) peerRole(i int32) ([]int32, bool) {
	if s.mode != HierarchyRole {
		return nil, false
	}
	r := s.memberRole[i]
	if !s.roles[r].ShareWithPeers {
		return nil, false
	}
	return s.roleMems[r], true
}

func (s *Snapshot) isPeer(v, o int32) bool {
	return v != o && s.mode == HierarchyRole && s.memberRole[v] == s.memberRole[o] && s.roles[s.memberRole[v]].ShareWithPeers
}

// Peers lists, sorted, member m's peers: in ROLE mode, when m's role has
// shareWithPeers, the other members of that role; otherwise none.
func (s *Snapshot) Peers(m int64) []int64 {
	i, ok := s.memberIdx[m]
	if !ok {
		return nil
	}
	mates, ok := s.peerRole(i)
	if !ok {
		return nil
	}
	out := make([]int32, 0, len(mates))
	for _, j := range mates {
		if j != i {
			out = append(out, j)
		}
	}
	return s.ids(out)
}

// IsPeer reports whether v is a peer of o.
func (s *Snapshot) IsPeer(v, o int64) bool {
	vi, ok1 := s.memberIdx[v]
	oi, ok2 := s.memberIdx[o]
	return ok1 && ok2 && s.isPeer(vi, oi)
}

func (s *Snapshot) ids(idx []int32) []int64 {
	out := make([]int64, len(idx))
	for k, i := range idx {
		out[k] = s.members[i].ID
	}
	slices.Sort(out)
	return out
}

// MatchingRules lists the ids of the criteria-based rules of module m that a
// record with the given fields matches: what IndexedRecord.MatchingRules
// wants on every write of the record.
func (s *Snapshot) MatchingRules(m Module, fields map[string]any) []int64 {
	mi := moduleIndex(m)
	if mi < 0 {
		return nil
	}
	var out []int64
	for _, ri := range s.rulesByModule[mi] {
		r := &s.rules[ri]
		if r.Criteria != nil && MatchCriteria(r.Criteria, fields) {
			out = append(out, r.ID)
		}
	}
	return out
}

// ApplicableRules lists the rules of module m that can grant viewer access:
// those whose target contains viewer, or, with superiorsAllowed, one of
// viewer's subordinates. Owner-based ones then apply to the records owned by
// their source's members, criteria-based ones to the records matching their
// criteria. Read-only results.
func (s *Snapshot) ApplicableRules(viewer int64, m Module) []*SharingRule {
	i, ok := s.memberIdx[viewer]
	mi := moduleIndex(m)
	if !ok || mi < 0 {
		return nil
	}
	var out []*SharingRule
	for _, ri := range s.rulesByModule[mi] {
		if s.ruleReach[ri].has(i) {
			out = append(out, &s.rules[ri])
		}
	}
	return out
}

// visibleOwners returns the bitset of owners whose records of module mi
// viewer i sees by owner: self, subordinates, peers, and the source
// members of applicable owner-based rules.
func (s *Snapshot) visibleOwners(i int32, mi int) bitset {
	b := newBitset(len(s.members))
	b.set(i)
	for _, o := range s.subordinates(i) {
		b.set(o)
	}
	if mates, ok := s.peerRole(i); ok {
		for _, o := range mates {
			b.set(o)
		}
	}
	for _, ri := range s.rulesByModule[mi] {
		if s.ruleSource[ri] != nil && s.ruleReach[ri].has(i) {
			b.or(s.ruleSource[ri])
		}
	}
	return b
}

// VisibleOwnerSet lists, sorted, the members whose records of module m the
// viewer sees because of who owns them (self, subordinates, peers, members
// of the sources of applicable owner-based rules). It ignores profile,
// status and org defaults: see VisibleSet for the full answer.
func (s *Snapshot) VisibleOwnerSet(viewer int64, m Module) []int64 {
	i, ok := s.memberIdx[viewer]
	mi := moduleIndex(m)
	if !ok || mi < 0 {
		return nil
	}
	b := s.visibleOwners(i, mi)
	out := make([]int64, 0, b.count())
	b.each(func(j int32) { out = append(out, s.members[j].ID) })
	slices.Sort(out)
	return out
}
