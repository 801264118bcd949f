package access

import (
	"fmt"
	"strings"
)

// RecordFacts is what Explain needs to know about one record. Two
// implementations exist: BruteFacts (from a record loaded from the database)
// and the index's (Index.Facts), so enforcement and explanations run the
// same grant table.
type RecordFacts interface {
	Module() Module
	RecordID() int64
	OwnerID() int64
	// MatchesRule reports whether the record matches a criteria-based rule.
	MatchesRule(rule *SharingRule) bool
	// Shares are the direct shares of this record.
	Shares() []Share
	// ParentShares are the shares of the record's parent (the account of a
	// contact or deal; the record a task is related to). Only those with
	// IncludeRelated grant.
	ParentShares() []Share
}

// Grant is one reason a viewer has access to a record.
type Grant struct {
	Source GrantSource
	Level  Level
	// Via says in words through what the grant applies: "role CEO above
	// role Sales Rep", "rule Big deals", "share to group Marketing".
	Via string
	// RuleID is the sharing rule (SHARING_RULE).
	RuleID int64
	// Principal is the share's grantee (RECORD_SHARE, RELATED_SHARE) or
	// the rule's target (SHARING_RULE).
	Principal Principal
	// Record is the shared record: x itself (RECORD_SHARE) or its parent
	// (RELATED_SHARE).
	Record *RecordRef
	// MemberID is the member through whom the grant applies: the owner
	// (HIERARCHY, PEER), or the target member viewer is a superior of
	// (SHARING_RULE through superiorsAllowed).
	MemberID int64
	// RoleID is the viewer's role for HIERARCHY in ROLE mode and PEER.
	RoleID int64
	// ThroughSuperiors marks a SHARING_RULE grant that applies because the
	// rule has superiorsAllowed and the viewer is a superior of a target member.
	ThroughSuperiors bool
}

// Permissions is what a viewer may do with a record: the level capped by
// the profile.
type Permissions struct {
	Read, Edit, Delete, Share, ChangeOwner bool
}

// Names lists the permissions held, as the scenario files spell them.
func (p Permissions) Names() []string {
	out := make([]string, 0, 5)
	for _, x := range []struct {
		ok   bool
		name string
	}{{p.Read, "read"}, {p.Edit, "edit"}, {p.Delete, "delete"}, {p.Share, "share"}, {p.ChangeOwner, "changeOwner"}} {
		if x.ok {
			out = append(out, x.name)
		}
	}
	return out
}

// Explanation is a viewer's access to one record: the level (the highest
// granted), the permissions after the profile cap, and every grant that
// applies.
type Explanation struct {
	Level       Level
	Permissions Permissions
	Grants      []Grant
	// Note says why nothing applies when the viewer is unknown or inactive,
	// or why the permissions are empty despite a level (no view).
	Note string
}

// CapPermissions applies a profile's module permissions to a level
// (access-model.md, Profiles): read needs view and READ_ONLY, update edit
// and READ_WRITE, delete delete and READ_WRITE_DELETE, share share and
// FULL_ACCESS, owner change changeOwner and FULL_ACCESS; without view,
// nothing.
func CapPermissions(l Level, ps PermissionSet) Permissions {
	if !ps.Has(PermView) {
		return Permissions{}
	}
	return Permissions{
		Read:        l >= LevelReadOnly,
		Edit:        ps.Has(PermEdit) && l >= LevelReadWrite,
		Delete:      ps.Has(PermDelete) && l >= LevelReadWriteDelete,
		Share:       ps.Has(PermShare) && l >= LevelFullAccess,
		ChangeOwner: ps.Has(PermChangeOwner) && l >= LevelFullAccess,
	}
}

// Explain evaluates the grant table of access-model.md for viewer and one
// record and says which grants apply. This is the single implementation of
// the table: Access (enforcement of single records: mutations, lookups) runs
// the same code without the words, and VisibleSet is its set-at-a-time form
// that agrees with it exactly: a record is in VisibleSet(viewer) iff
// Explain(viewer).Permissions.Read.
//
// An unknown or inactive viewer gets NONE and no grants (fail closed).
func (s *Snapshot) Explain(viewer int64, facts RecordFacts) Explanation {
	return s.evaluate(viewer, facts, true)
}

// Access is Explain without the grants: the level and capped permissions,
// for enforcement on write paths, where explanations would be wasted work.
func (s *Snapshot) Access(viewer int64, facts RecordFacts) (Level, Permissions) {
	e := s.evaluate(viewer, facts, false)
	return e.Level, e.Permissions
}

func (s *Snapshot) evaluate(viewer int64, facts RecordFacts, explain bool) Explanation {
	vi, ok := s.memberIdx[viewer]
	if !ok {
		return Explanation{Note: "not a member of this org"}
	}
	if !s.members[vi].Active {
		return Explanation{Note: "member is inactive"}
	}
	m := facts.Module()
	mi := moduleIndex(m)
	if mi < 0 {
		return Explanation{Note: "unknown module"}
	}
	var e Explanation
	add := func(g Grant) {
		if g.Level == LevelNone {
			return
		}
		if explain {
			e.Grants = append(e.Grants, g)
		}
		if g.Level > e.Level {
			e.Level = g.Level
		}
	}
	if s.profiles[s.memberProf[vi]].Administrator {
		add(Grant{Source: SourceAdministrator, Level: LevelFullAccess})
	}
	owner := facts.OwnerID()
	oi, ownerKnown := s.memberIdx[owner]
	if owner == viewer {
		add(Grant{Source: SourceOwner, Level: LevelFullAccess, MemberID: owner})
	}
	if ownerKnown && s.isSuperior(vi, oi) {
		add(Grant{Source: SourceHierarchy, Level: LevelFullAccess, MemberID: owner, RoleID: s.hierarchyRoleID(vi)})
	}
	if ownerKnown && s.isPeer(vi, oi) {
		add(Grant{Source: SourcePeer, Level: LevelReadWriteDelete, MemberID: owner, RoleID: s.roles[s.memberRole[vi]].ID})
	}
	if d := s.defaults[mi]; d > LevelNone {
		add(Grant{Source: SourceOrgDefault, Level: d})
	}
	for _, ri := range s.rulesByModule[mi] {
		r := &s.rules[ri]
		if !s.ruleReach[ri].has(vi) {
			continue
		}
		var applies bool
		if r.Source != nil {
			applies = ownerKnown && s.ruleSource[ri].has(oi)
		} else {
			applies = facts.MatchesRule(r)
		}
		if !applies {
			continue
		}
		g := Grant{Source: SourceSharingRule, Level: r.Level, RuleID: r.ID, Principal: r.Target}
		if !s.ruleTarget[ri].has(vi) {
			g.ThroughSuperiors = true
			if explain {
				if t := s.subordinateIn(vi, s.ruleTarget[ri]); t >= 0 {
					g.MemberID = s.members[t].ID
				}
			}
		}
		add(g)
	}
	for _, sh := range facts.Shares() {
		if sh.Level > LevelNone && s.isMember(vi, sh.Principal) {
			g := Grant{Source: SourceRecordShare, Level: sh.Level, Principal: sh.Principal}
			if explain {
				g.Record = &RecordRef{Module: m, ID: facts.RecordID()}
			}
			add(g)
		}
	}
	for _, sh := range facts.ParentShares() {
		if sh.IncludeRelated && sh.Level > LevelNone && s.isMember(vi, sh.Principal) {
			g := Grant{Source: SourceRelatedShare, Level: sh.Level, Principal: sh.Principal}
			if explain {
				g.Record = &RecordRef{Module: sh.Module, ID: sh.RecordID}
			}
			add(g)
		}
	}
	ps := s.modulePerms(vi, m)
	e.Permissions = CapPermissions(e.Level, ps)
	if explain {
		for i := range e.Grants {
			e.Grants[i].Via = s.via(&e.Grants[i], vi, m)
		}
		if e.Level > LevelNone && !ps.Has(PermView) {
			e.Note = fmt.Sprintf("profile has no view permission on %s", m)
		}
	}
	return e
}

// via puts a grant in words.
func (s *Snapshot) via(g *Grant, vi int32, m Module) string {
	switch g.Source {
	case SourceAdministrator:
		return "profile " + orDefault(s.profiles[s.memberProf[vi]].Name, "Administrator")
	case SourceOwner:
		return "owner"
	case SourceHierarchy:
		return s.hierarchyVia(vi, s.memberIdx[g.MemberID])
	case SourcePeer:
		return fmt.Sprintf("peer of %s in role %s", s.memberName(s.memberIdx[g.MemberID]), s.roles[s.memberRole[vi]].Name)
	case SourceOrgDefault:
		da, _ := DefaultAccessOf(g.Level)
		return fmt.Sprintf("org default %s for %s", da, m)
	case SourceSharingRule:
		r, _ := s.Rule(g.RuleID)
		via := "rule " + orDefault(r.Name, fmt.Sprint(r.ID))
		if g.ThroughSuperiors {
			if t, ok := s.memberIdx[g.MemberID]; ok {
				return via + fmt.Sprintf(" (superior of %s in %s)", s.memberName(t), s.principalName(r.Target))
			}
			return via + " (superior of a member of " + s.principalName(r.Target) + ")"
		}
		return via + " (to " + s.principalName(r.Target) + ")"
	case SourceRecordShare:
		return "share to " + s.principalName(g.Principal)
	case SourceRelatedShare:
		return fmt.Sprintf("share of related %s %d to %s", g.Record.Module, g.Record.ID, s.principalName(g.Principal))
	}
	return ""
}

// subordinateIn returns a member of t that i is a superior of, -1 if none.
func (s *Snapshot) subordinateIn(i int32, t bitset) int32 {
	for _, o := range s.subordinates(i) {
		if t.has(o) {
			return o
		}
	}
	return -1
}

func (s *Snapshot) hierarchyRoleID(vi int32) int64 {
	if s.mode == HierarchyRole {
		return s.roles[s.memberRole[vi]].ID
	}
	return 0
}

func (s *Snapshot) hierarchyVia(vi, oi int32) string {
	if s.mode == HierarchyRole {
		return fmt.Sprintf("role %s above role %s", s.roles[s.memberRole[vi]].Name, s.roles[s.memberRole[oi]].Name)
	}
	var chain []string
	for a := s.mgr[oi]; a >= 0 && a != vi; a = s.mgr[a] {
		chain = append(chain, s.memberName(a))
	}
	via := "manager of " + s.memberName(oi)
	if len(chain) > 0 {
		via += " through " + strings.Join(chain, ", ")
	}
	return via
}

func (s *Snapshot) memberName(i int32) string {
	m := &s.members[i]
	if m.Name != "" {
		return m.Name
	}
	return fmt.Sprintf("member %d", m.ID)
}

func (s *Snapshot) principalName(p Principal) string {
	switch p.Type {
	case PrincipalUser:
		if i, ok := s.memberIdx[p.ID]; ok {
			return "user " + s.memberName(i)
		}
	case PrincipalRole:
		if r, ok := s.roleIdx[p.ID]; ok {
			return "role " + s.roles[r].Name
		}
	case PrincipalRoleAndSubordinates:
		if r, ok := s.roleIdx[p.ID]; ok {
			return "role " + s.roles[r].Name + " and subordinates"
		}
	case PrincipalGroup:
		if g, ok := s.groupIdx[p.ID]; ok {
			return "group " + s.groups[g].Name
		}
	}
	return strings.ToLower(p.String())
}

func orDefault(s, d string) string {
	if s != "" {
		return s
	}
	return d
}

// BruteFacts is RecordFacts from a plain record, as loaded from the
// database: criteria are evaluated on Fields with MatchCriteria. Use it in
// write paths (the record as it is in the transaction) and tests.
type BruteFacts struct {
	Mod     Module
	ID      int64
	Owner   int64
	Fields  map[string]any
	Direct  []Share // the record's shares
	Related []Share // its parent's shares (all of them: only IncludeRelated ones grant)
}

func (f *BruteFacts) Module() Module  { return f.Mod }
func (f *BruteFacts) RecordID() int64 { return f.ID }
func (f *BruteFacts) OwnerID() int64  { return f.Owner }
func (f *BruteFacts) MatchesRule(r *SharingRule) bool {
	return r.Criteria != nil && MatchCriteria(r.Criteria, f.Fields)
}
func (f *BruteFacts) Shares() []Share       { return f.Direct }
func (f *BruteFacts) ParentShares() []Share { return f.Related }
