package access

// Who may change whose membership. Setup permission manageUsers lets a
// member administer others, but never lead to more power than it gives:
// only an Administrator gives or takes the Administrator profile, changes
// their own role or profile, or deactivates or reactivates an
// Administrator; and an org always keeps an active Administrator.

// MembershipChange is a change an actor makes to one member.
type MembershipChange struct {
	// Target is the member changed; 0 for a member being added.
	Target int64
	// ProfileChanges is set when the target's profile changes (always on
	// add); NewProfileAdmin says whether the new profile is Administrator.
	ProfileChanges  bool
	NewProfileAdmin bool
	// RoleChanges is set when the target's role changes.
	RoleChanges bool
	// Deactivate and Reactivate change the target's status.
	Deactivate, Reactivate bool
}

// ValidateMembershipChange decides whether actor may make the change: nil,
// FORBIDDEN (the actor lacks the power) or CONFLICT (the org would lose its
// last active Administrator, or the actor would lock themself out).
func (s *Snapshot) ValidateMembershipChange(actor int64, c MembershipChange) error {
	actorAdmin := s.IsAdministrator(actor)
	if c.Target == 0 {
		if c.ProfileChanges && c.NewProfileAdmin && !actorAdmin {
			return NewForbiddenErr("only an Administrator can give the Administrator profile")
		}
		return nil
	}
	target, _ := s.Member(c.Target)
	targetHolds := false
	if p, ok := s.ProfileOf(c.Target); ok {
		targetHolds = p.Administrator
	}
	switch {
	case c.Deactivate:
		if c.Target == actor {
			return NewConflictErr("you cannot deactivate yourself")
		}
		if s.IsAdministrator(c.Target) {
			if s.activeAdministrators() <= 1 {
				return NewConflictErr("%s is the org's last active Administrator and cannot be deactivated", target.Name)
			}
			if !actorAdmin {
				return NewForbiddenErr("only an Administrator can deactivate an Administrator")
			}
		}
	case c.Reactivate:
		if targetHolds && !actorAdmin {
			return NewForbiddenErr("only an Administrator can reactivate an Administrator")
		}
	}
	if !actorAdmin && c.Target == actor && (c.RoleChanges || c.ProfileChanges) {
		return NewForbiddenErr("only an Administrator can change their own role or profile")
	}
	if c.ProfileChanges {
		if !actorAdmin && (targetHolds || c.NewProfileAdmin) {
			return NewForbiddenErr("only an Administrator can give or take the Administrator profile")
		}
		if targetHolds && !c.NewProfileAdmin && target.Active && s.activeAdministrators() <= 1 {
			return NewConflictErr("%s is the org's last active Administrator: give another member the Administrator profile first", target.Name)
		}
	}
	return nil
}

// activeAdministrators counts the ACTIVE members with the Administrator profile.
func (s *Snapshot) activeAdministrators() int {
	n := 0
	for _, m := range s.members {
		if s.IsAdministrator(m.ID) {
			n++
		}
	}
	return n
}
