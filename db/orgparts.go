package db

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/jmoiron/sqlx"

	"warden/access"
)

// OrgParts names parts of an org's access data (access.OrgData). An
// org-level change says which parts it touched, so an instance catching up
// reloads those rather than the whole org: with thousands of members, the
// members alone cost more than the rest of a catch-up.
type OrgParts uint8

const (
	PartSettings OrgParts = 1 << iota // hierarchy mode, module defaults
	PartRoles
	PartMembers // every member; a change of named members lists them instead
	PartProfiles
	PartGroups
	PartRules

	PartAll = PartSettings | PartRoles | PartMembers | PartProfiles | PartGroups | PartRules
)

// OrgChange is the payload of a ChangeOrg change written by an org
// administration mutation: its audit action and target.
type OrgChange struct {
	Action     string `json:"action"`
	TargetType string `json:"targetType"`
	TargetID   int64  `json:"targetId"`
}

// actionParts is what each administration action writes. An action missing
// here (or a payload that names none) reloads the whole org: a new action
// is never caught up partially by mistake.
var actionParts = map[string]OrgParts{
	"role.create": PartRoles,
	"role.update": PartRoles,
	"role.move":   PartRoles,
	// role.delete moves the role's members and may rename nothing else,
	// but it is rare: it reloads everything.
	"profile.create":              PartProfiles,
	"profile.update":              PartProfiles,
	"profile.setFieldPermissions": PartProfiles,
	"profile.delete":              PartProfiles | PartMembers, // its members move to another profile
	"customField.create":          PartProfiles,               // field permissions name custom fields
	"customField.update":          PartProfiles,
	"customField.delete":          PartProfiles,
	"org.setHierarchyMode":        PartSettings,
	"org.setModuleSharing":        PartSettings,
}

// memberActions write one member's row (its target) and nothing else of
// the access data.
var memberActions = map[string]bool{
	"member.add":        true,
	"invitation.accept": true,
	"member.update":     true,
	"member.deactivate": true,
	"member.reactivate": true,
}

// Touched is what a run of changes touched of the org's access data.
type Touched struct {
	Version int64 // of the last change added
	Parts   OrgParts
	Members []int64 // members whose rows changed (when Parts lacks PartMembers)
	Rules   map[access.Module]bool
}

// Add notes what c touched. Record and share changes touch no part.
func (t *Touched) Add(c Change) {
	t.Version = max(t.Version, c.Version)
	switch c.Kind {
	case ChangeRules:
		var p struct {
			Module access.Module `json:"module"`
		}
		if json.Unmarshal(c.Payload, &p) != nil || !p.Module.Valid() {
			t.Parts = PartAll
			return
		}
		t.Parts |= PartRules
		if t.Rules == nil {
			t.Rules = map[access.Module]bool{}
		}
		t.Rules[p.Module] = true
	case ChangeOrg:
		var p struct {
			OrgChange
			Group *int64 `json:"group"`
		}
		switch {
		case json.Unmarshal(c.Payload, &p) != nil:
			t.Parts = PartAll
		case p.Group != nil:
			t.Parts |= PartGroups
		case memberActions[p.Action] && p.TargetType == "member" && p.TargetID > 0:
			t.Members = append(t.Members, p.TargetID)
		case actionParts[p.Action] != 0:
			t.Parts |= actionParts[p.Action]
		default:
			t.Parts = PartAll
		}
	}
}

// TouchedBy is what the changes touched, all of them added.
func TouchedBy(changes []Change) Touched {
	var t Touched
	for _, c := range changes {
		t.Add(c)
	}
	return t
}

// Any says whether anything of the org's access data was touched.
func (t *Touched) Any() bool { return t.Parts != 0 || len(t.Members) > 0 }

// KeepsPeople says whether roles, profiles and members are untouched: a
// snapshot then reuses what it built from them (Snapshot.WithGroupsAndRules).
func (t *Touched) KeepsPeople() bool {
	return t.Parts&(PartRoles|PartProfiles|PartMembers) == 0 && len(t.Members) == 0
}

// ReloadOrgData returns data with what t touched read again in tx, a
// snapshot transaction whose change log ends with the changes t saw; the
// rest is shared with data, which is not modified.
func ReloadOrgData(ctx context.Context, tx *sqlx.Tx, data access.OrgData, t *Touched) (access.OrgData, error) {
	return reloadOrgData(ctx, tx, data, t)
}

// ReloadOrgDataAt is ReloadOrgData without a transaction, for a change log
// read that ended at t.Version: each part is read by a statement of its
// own, then the org's security version. Every change of the parts commits
// with a bump of that version, and the bumps of an org commit one after
// the other; so if it is still t.Version, nothing committed since the log
// was read, and the parts are exactly as of t.Version. ok is false
// otherwise (a change came in meanwhile): the caller reloads in a snapshot
// transaction. It saves the transaction's round trips (begin, the log
// again, the end) in the common case of nothing else changing at once.
func ReloadOrgDataAt(ctx context.Context, q sqlx.QueryerContext, data access.OrgData, t *Touched) (out access.OrgData, ok bool, err error) {
	if out, err = reloadOrgData(ctx, q, data, t); err != nil {
		return data, false, err
	}
	now, err := CurrentVersion(ctx, q, data.OrgID)
	if err != nil || now != t.Version {
		return data, false, err
	}
	return out, true, nil
}

func reloadOrgData(ctx context.Context, q sqlx.QueryerContext, data access.OrgData, t *Touched) (access.OrgData, error) {
	out := data
	out.Version = t.Version // the log and the parts end at the same commit
	if err := loadOrgParts(ctx, q, &out, t.Parts); err != nil {
		return data, err
	}
	if t.Parts&PartMembers != 0 || len(t.Members) == 0 {
		return out, nil
	}
	ids := slices.Clone(t.Members)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	fresh, err := loadMembers(ctx, q, out.OrgID, ids)
	if err != nil {
		return data, err
	}
	out.Members = mergeMembers(out.Members, ids, fresh)
	return out, nil
}

// mergeMembers returns members (ordered by id) with the rows of ids
// replaced by fresh (ordered by id; an id missing from fresh is dropped).
func mergeMembers(members []access.Member, ids []int64, fresh []access.Member) []access.Member {
	out := make([]access.Member, 0, len(members)+len(fresh))
	j := 0
	for _, m := range members {
		for j < len(fresh) && fresh[j].ID < m.ID {
			out = append(out, fresh[j])
			j++
		}
		if _, replaced := slices.BinarySearch(ids, m.ID); !replaced {
			out = append(out, m)
		}
	}
	return append(out, fresh[j:]...)
}
