package access

import (
	"sort"
	"strings"
)

// The rules of profile administration (access-model.md, Profiles and
// Field-level security). Resolvers build the profile a change would produce
// and ask these before writing anything.
//
// Beyond the model's own rules (prerequisites, a fixed Administrator, an
// undeletable Standard, unrestrictable system and mandatory fields), one rule
// keeps manageProfiles from being a ladder to more power, as
// ValidateMembershipChange does for manageUsers: a member who is not an
// Administrator cannot change or delete the profile they hold, nor grant a
// setup permission they do not hold themselves.

// Profile returns the org's profile with the id (read-only).
func (s *Snapshot) Profile(id int64) (*Profile, bool) {
	if i, ok := s.profileIdx[id]; ok {
		return &s.profiles[i], true
	}
	return nil, false
}

// Profiles lists the org's profiles (read-only), in the order they were given.
func (s *Snapshot) Profiles() []*Profile {
	out := make([]*Profile, len(s.profiles))
	for i := range s.profiles {
		out[i] = &s.profiles[i]
	}
	return out
}

// CanReadField reports whether member may read field of module m: the field
// is not HIDDEN from the member's profile (and the member may view m).
// Exports, audit entries and every other path that shows field values ask it.
func (s *Snapshot) CanReadField(member int64, m Module, field string) bool {
	return s.FieldAccess(member, m, field) != FieldHidden
}

// CanWriteField reports whether member may write field of module m: the field
// is READ_WRITE for the member's profile (and the member may view m).
// Imports, mass updates and every other write path ask it.
func (s *Snapshot) CanWriteField(member int64, m Module, field string) bool {
	return s.FieldAccess(member, m, field) == FieldReadWrite
}

// CheckPrerequisites checks the prerequisites between a module's permissions
// and names the broken one: "edit needs view".
func CheckPrerequisites(m Module, ps PermissionSet) error {
	for _, pr := range permissionPrereqs {
		if ps.Has(pr.p) && !ps.Has(pr.needs) {
			return NewInvalidErr("%s: %s needs %s", m, pr.p, pr.needs)
		}
	}
	return nil
}

// ProfileChange is a change an actor makes to one profile.
type ProfileChange struct {
	Actor int64
	// Target is the profile changed or deleted; 0 for a profile being created.
	Target int64
	// New is the profile as the change leaves it (create and update); its
	// ID and Administrator flag are ignored: a created profile is never
	// the Administrator profile.
	New *Profile
	// Delete deletes Target, moving its members to TransferTo.
	Delete     bool
	TransferTo int64
}

// ValidateProfileChange decides whether actor may make the change and
// whether the result keeps the model's rules: nil, NOT_FOUND (an unknown
// profile), BAD_USER_INPUT (a broken prerequisite, a bad name, a transfer to
// the profile deleted), CONFLICT (the Administrator profile, deleting
// Standard, a name in use) or FORBIDDEN (a change beyond the actor's own
// power, see the top of this file).
func (s *Snapshot) ValidateProfileChange(c ProfileChange) error {
	actorAdmin := s.IsAdministrator(c.Actor)
	var actorProfile *Profile
	if p, ok := s.ProfileOf(c.Actor); ok {
		actorProfile = p
	}
	var target *Profile
	if c.Target != 0 {
		p, ok := s.Profile(c.Target)
		if !ok {
			return NewNotFoundErr("profile %d does not exist", c.Target)
		}
		target = p
		if p.Administrator {
			return NewConflictErr("the Administrator profile is fixed: it cannot be changed or deleted")
		}
		if !actorAdmin && actorProfile != nil && actorProfile.ID == p.ID {
			return NewForbiddenErr("only an Administrator can change or delete the profile they hold (%s)", p.Name)
		}
	}
	if c.Delete {
		if target == nil {
			return NewInvalidErr("name the profile to delete")
		}
		if s.isStandardProfile(target) {
			return NewConflictErr("the Standard profile cannot be deleted")
		}
		to, ok := s.Profile(c.TransferTo)
		if !ok {
			return NewNotFoundErr("profile %d does not exist", c.TransferTo)
		}
		if to.ID == target.ID {
			return NewInvalidErr("transferToProfileId must name another profile than the one deleted")
		}
		if to.Administrator && !actorAdmin && s.profileHasMembers(target.ID) {
			return NewForbiddenErr("only an Administrator can give members the Administrator profile")
		}
		return nil
	}
	if c.New == nil {
		return NewInvalidErr("no profile given")
	}
	p := *c.New
	if err := ValidateProfile(p); err != nil {
		return err
	}
	for _, m := range Modules {
		if err := CheckPrerequisites(m, p.Modules[m]); err != nil {
			return err
		}
	}
	for _, other := range s.profiles {
		if other.ID != c.Target && strings.EqualFold(strings.TrimSpace(other.Name), strings.TrimSpace(p.Name)) {
			return NewConflictErr("a profile named %q already exists", other.Name)
		}
	}
	if !actorAdmin {
		var had SetupPermissionSet
		if target != nil {
			had = target.Setup
		}
		var own SetupPermissionSet
		if actorProfile != nil {
			own = actorProfile.Setup
		}
		if added := p.Setup &^ had &^ own; added != 0 {
			return NewForbiddenErr("only an Administrator can grant setup permissions they do not hold: %s",
				strings.Join(added.Names(), ", "))
		}
	}
	return nil
}

// isStandardProfile reports whether p is the org's Standard profile.
func (s *Snapshot) isStandardProfile(p *Profile) bool { return p.Standard }

func (s *Snapshot) profileHasMembers(id int64) bool {
	for i := range s.members {
		if s.profiles[s.memberProf[i]].ID == id {
			return true
		}
	}
	return false
}

// FieldSetting is one field's access in a setFieldPermissions change.
type FieldSetting struct {
	Field  string
	Access FieldAccess
}

// ValidateFieldSettings checks a change of profileID's field permissions on
// module m: the profile exists and is not the Administrator profile, actor
// may change it (see ValidateProfileChange), each field is one of known (the
// module's fields, system, standard and custom), named once, and system and
// mandatory fields stay READ_WRITE. Errors name the field.
func (s *Snapshot) ValidateFieldSettings(actor, profileID int64, m Module, known []string, settings []FieldSetting) error {
	if err := s.ValidateProfileChange(ProfileChange{Actor: actor, Target: profileID, New: s.profileOrEmpty(profileID)}); err != nil {
		return err
	}
	if !m.Valid() {
		return NewInvalidErr("unknown module %q", string(m))
	}
	if len(settings) == 0 {
		return NewInvalidErr("name at least one field")
	}
	isKnown := make(map[string]bool, len(known))
	for _, f := range known {
		isKnown[f] = true
	}
	seen := map[string]bool{}
	for _, fs := range settings {
		if !isKnown[fs.Field] {
			return NewInvalidErr("%s has no field %q", m, fs.Field)
		}
		if seen[fs.Field] {
			return NewInvalidErr("field %s is named more than once", fs.Field)
		}
		seen[fs.Field] = true
		if err := ValidateFieldPermission(m, fs.Field, fs.Access); err != nil {
			return err
		}
	}
	return nil
}

// profileOrEmpty is the profile itself (an unchanged profile passes the
// profile rules), or nil when it does not exist (NOT_FOUND follows).
func (s *Snapshot) profileOrEmpty(id int64) *Profile {
	if p, ok := s.Profile(id); ok {
		cp := *p
		return &cp
	}
	return nil
}

// FieldAccessOf is the profile's access to a field of m, as
// Snapshot.FieldAccess computes it for an active member holding the profile:
// READ_WRITE everywhere for the Administrator profile; HIDDEN for every field
// of a module the profile may not view; READ_WRITE for system and mandatory
// fields; otherwise the profile's setting, READ_WRITE when it names none.
func (p *Profile) FieldAccessOf(m Module, field string) FieldAccess {
	if p.Administrator {
		return FieldReadWrite
	}
	if !p.Modules[m].Has(PermView) {
		return FieldHidden
	}
	if AlwaysReadWrite(m, field) {
		return FieldReadWrite
	}
	if a, ok := p.Fields[m][field]; ok {
		return a
	}
	return FieldReadWrite
}

// FieldSettingOf is the access the profile is set to give on a field of m,
// whether or not it may view m: READ_WRITE for the Administrator profile,
// system and mandatory fields and fields it names none for. Administration
// shows and changes this; FieldAccessOf is what is enforced.
func (p *Profile) FieldSettingOf(m Module, field string) FieldAccess {
	if p.Administrator || AlwaysReadWrite(m, field) {
		return FieldReadWrite
	}
	if a, ok := p.Fields[m][field]; ok {
		return a
	}
	return FieldReadWrite
}

// DescribeProfile is a profile in a stable, JSON-friendly form for audit
// entries: module permissions by module (names in canonical order), setup
// permission names and the restricted fields by module.
func DescribeProfile(p *Profile) map[string]any {
	mods := map[string][]string{}
	for _, m := range Modules {
		if names := p.Modules[m].Names(); len(names) > 0 {
			mods[string(m)] = names
		}
	}
	fields := map[string]map[string]string{}
	for m, fs := range p.Fields {
		if len(fs) == 0 {
			continue
		}
		out := map[string]string{}
		for f, a := range fs {
			out[f] = a.String()
		}
		fields[string(m)] = out
	}
	setup := p.Setup.Names()
	if setup == nil {
		setup = []string{}
	}
	return map[string]any{"name": p.Name, "modulePermissions": mods, "setupPermissions": setup, "fieldPermissions": fields}
}

// SortedFieldNames lists the names of fs sorted, for stable messages.
func SortedFieldNames(fs map[string]FieldAccess) []string {
	out := make([]string, 0, len(fs))
	for f := range fs {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}
