package resolvers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vikstrous/dataloadgen"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// Explanations (access-model.md, Explanations) come from the very
// computation that enforces access: the scope's snapshot evaluates the grant
// table (Snapshot.Explain, or Snapshot.Access for whoCanAccess, which is the
// same code without the words) on the facts the visibility index holds of
// the record (Index.Facts), exactly as lists, lookups and mutations do.
//
// Who may ask:
//   - accessExplanation: a caller whose profile holds manageSharing, about any
//     member of the org and any record of the org; or any member about
//     themself, for a record they can read. A record they cannot read is
//     NOT_FOUND, exactly like a missing id, so that asking about yourself
//     reveals nothing a lookup would not.
//   - whoCanAccess: manageSharing only.
//
// Field-level security: an explanation never carries a field value of the
// record. Grants name members (the owner, a subordinate), roles, groups and
// rules, never field values, with two places to watch:
//   - A criteria rule's conditions are the rule's definition, which only
//     manageSharing admins may read (sharingRules). rule.criteria is therefore
//     null for a caller without manageSharing; and, since "this record
//     matches a rule whose condition is F = v" reveals F's value, it is also
//     null when any condition reads a field HIDDEN from the caller's profile.
//     The rule's id, name, target and access are always given.
//   - A RELATED_SHARE grant names the parent record, which is the value of the
//     record's account / relatedTo field: the parent's id is left out of via
//     when that field is HIDDEN from the caller's profile.

// accessExplanation says which grants give a member access to a record.
func (r *Resolver) accessExplanation(ctx context.Context, module model.Module, recordID string, memberID string) (*model.AccessExplanation, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	m, err := access.ParseModule(string(module))
	if err != nil {
		return nil, apperr.NewBadInput("unknown module %q", module)
	}
	admin := sc.snap.HasSetup(sc.member.Key, access.SetupManageSharing)
	memberKey, err := ids.Decode(ids.Member, memberID)
	self := err == nil && memberKey == sc.member.Key
	if !admin && !self {
		return nil, apperr.NewForbidden("explaining another member's access needs the %s permission", access.SetupManageSharing)
	}
	if err != nil {
		return nil, apperr.NewNotFound("no member with id %s in this org", memberID)
	}
	if _, ok := sc.snap.Member(memberKey); !ok {
		return nil, apperr.NewNotFound("no member with id %s in this org", memberID)
	}
	facts, err := sc.recordFacts(m, recordID)
	if err != nil {
		return nil, err
	}
	e := sc.snap.Explain(memberKey, facts)
	if !admin && !e.Permissions.Read {
		// Asking about yourself: a record you cannot read does not exist.
		return nil, apperr.NewNotFound("no %s with id %s", m, recordID)
	}
	out := &model.AccessExplanation{Level: model.AccessLevel(e.Level.String()), Permissions: recordAccessOf(e.Level, e.Permissions),
		Grants: make([]*model.AccessGrant, 0, len(e.Grants))}
	for i := range e.Grants {
		g, err := sc.grantOut(ctx, m, &e.Grants[i], admin)
		if err != nil {
			return nil, err
		}
		out.Grants = append(out.Grants, g)
	}
	return out, nil
}

// whoCanAccess lists every active member who may read the record, ordered by
// name then id.
func (r *Resolver) whoCanAccess(ctx context.Context, module model.Module, recordID string, first int, after *string) (*model.MemberAccessConnection, error) {
	sc, err := adminScope(ctx, access.SetupManageSharing)
	if err != nil {
		return nil, err
	}
	m, err := access.ParseModule(string(module))
	if err != nil {
		return nil, apperr.NewBadInput("unknown module %q", module)
	}
	if first < 1 || first > maxPageSize {
		return nil, apperr.NewBadInput("first must be between 1 and %d", maxPageSize)
	}
	var cur *records.MemberCursor
	if after != nil && *after != "" {
		c, err := sc.cursors.DecodeMember(*after, sc.org.Key)
		if err != nil {
			return nil, err
		}
		cur = &c
	}
	facts, err := sc.recordFacts(m, recordID)
	if err != nil {
		return nil, err
	}
	type hit struct {
		member *db.Member
		level  access.Level
		perms  access.Permissions
	}
	var hits []hit
	var keys []int64
	byKey := map[int64]hit{}
	for _, mem := range sc.snap.Members() {
		if !mem.Active {
			continue
		}
		level, perms := sc.snap.Access(mem.ID, facts)
		if level == access.LevelNone || !perms.Read {
			continue
		}
		keys = append(keys, mem.ID)
		byKey[mem.ID] = hit{level: level, perms: perms}
	}
	// Names as the client will see them on the nodes: current, from the
	// database (the snapshot's may be older than a rename), through the
	// request's loader, so that many whoCanAccess fields of one request
	// cost one query.
	rows, err := sc.loaders.Members.LoadAll(ctx, keys)
	if err != nil {
		var es dataloadgen.ErrorSlice
		if !errors.As(err, &es) {
			return nil, err
		}
		for _, e := range es {
			if e != nil && !errors.Is(e, dataloadgen.ErrNotFound) {
				return nil, e
			}
		}
	}
	for i, k := range keys {
		h := byKey[k]
		if h.member = rows[i]; h.member == nil {
			continue // gone since the snapshot was built
		}
		hits = append(hits, h)
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(strings.Compare(a.member.Name, b.member.Name), cmp.Compare(a.member.Key, b.member.Key))
	})
	conn := &model.MemberAccessConnection{Edges: []*model.MemberAccessEdge{}, PageInfo: &model.PageInfo{}, TotalCount: len(hits)}
	start := 0
	if cur != nil {
		start, _ = slices.BinarySearchFunc(hits, *cur, func(h hit, c records.MemberCursor) int {
			if x := cmp.Or(strings.Compare(h.member.Name, c.Name), cmp.Compare(h.member.Key, c.ID)); x != 0 {
				return x
			}
			return -1 // the cursor's own row comes before: start after it
		})
	}
	end := min(start+first, len(hits))
	for _, h := range hits[start:end] {
		c := sc.cursors.EncodeMember(sc.org.Key, h.member.Name, h.member.Key)
		conn.Edges = append(conn.Edges, &model.MemberAccessEdge{Cursor: c,
			Node: &model.MemberAccess{Member: h.member, Level: model.AccessLevel(h.level.String()), Permissions: recordAccessOf(h.level, h.perms)}})
		conn.PageInfo.EndCursor = &c
	}
	conn.PageInfo.HasNextPage = end < len(hits)
	return conn, nil
}

// recordFacts decodes a record id of module m and returns the index's facts
// of it: NOT_FOUND when the id is malformed, of another module, or names no
// record of the active org (the index holds this org's records only).
func (sc *scope) recordFacts(m access.Module, recordID string) (access.RecordFacts, error) {
	key, err := ids.Decode(records.MetaOf(m).IDKind, recordID)
	if err != nil {
		return nil, apperr.NewNotFound("no %s with id %s", m, recordID)
	}
	facts, ok := sc.index.Facts(m, key)
	if !ok {
		return nil, apperr.NewNotFound("no %s with id %s", m, recordID)
	}
	return facts, nil
}

func recordAccessOf(l access.Level, p access.Permissions) *model.RecordAccess {
	return &model.RecordAccess{Level: model.AccessLevel(l.String()), CanRead: p.Read, CanEdit: p.Edit,
		CanDelete: p.Delete, CanShare: p.Share, CanChangeOwner: p.ChangeOwner}
}

// grantOut shapes one grant for the API.
func (sc *scope) grantOut(ctx context.Context, m access.Module, g *access.Grant, admin bool) (*model.AccessGrant, error) {
	out := &model.AccessGrant{Source: model.GrantSource(g.Source.String()), Level: model.AccessLevel(g.Level.String()), Via: g.Via}
	switch g.Source {
	case access.SourceSharingRule, access.SourceRecordShare, access.SourceRelatedShare:
		out.Principal = sc.principalOut(g.Principal)
	}
	if g.Source == access.SourceSharingRule {
		if rule, ok := sc.snap.Rule(g.RuleID); ok {
			out.Rule = sc.explainedRule(rule, admin)
		}
	}
	if g.Source == access.SourceRelatedShare && g.Record != nil {
		out.Via = sc.relatedVia(m, g, out.Principal)
	}
	if g.MemberID != 0 {
		mem, err := sc.loaders.Member(ctx, g.MemberID)
		if err != nil {
			return nil, err
		}
		out.Member = mem
	}
	return out, nil
}

// explainedRule is a sharing rule as sharingRules shows it, without its
// criteria when the caller may not read them (see the top of this file).
func (sc *scope) explainedRule(rule *access.SharingRule, admin bool) *model.SharingRule {
	out := sc.ruleOut(rule)
	if rule.Criteria != nil && (!admin || !sc.criteriaReadable(rule.Module, rule.Criteria)) {
		out.Criteria = nil
	}
	return out
}

// criteriaReadable reports whether no condition reads a field hidden from
// the caller's profile.
func (sc *scope) criteriaReadable(m access.Module, c *access.Criteria) bool {
	for _, f := range access.ReferencedFields(c) {
		if sc.fieldAccess(m, f) == access.FieldHidden {
			return false
		}
	}
	return true
}

// parentField is the field of a record of module m that names its parent.
func parentField(m access.Module) string {
	if m == records.Tasks {
		return "relatedTo"
	}
	return "account"
}

// relatedVia puts a RELATED_SHARE grant in words with the parent's public id,
// or without it when the field naming the parent is hidden from the caller.
func (sc *scope) relatedVia(m access.Module, g *access.Grant, p *model.Principal) string {
	// access says "share of related M n to <principal>": keep its words
	// for the principal.
	to := strings.ToLower(strings.ReplaceAll(string(p.Type), "_", " ")) + " " + p.Name
	if i := strings.Index(g.Via, " to "); i >= 0 {
		to = g.Via[i+len(" to "):]
	}
	if sc.fieldAccess(m, parentField(m)) == access.FieldHidden {
		return "share of the related record to " + to
	}
	return fmt.Sprintf("share of related %s %s to %s", strings.ToLower(string(g.Record.Module)),
		ids.Encode(records.MetaOf(g.Record.Module).IDKind, g.Record.ID), to)
}
