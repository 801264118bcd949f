package resolvers

import (
	"context"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/records"
)

// Everything here asks the access engine; no rule is decided in resolvers.

// visibleSet is the viewer's visible records of a module, computed once per
// request and org.
func (sc *scope) visibleSet(m access.Module) access.VisibleSet {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if v, ok := sc.visible[m]; ok {
		return v
	}
	var v access.VisibleSet
	if sc.engine != nil {
		v = sc.engine.VisibleSet(sc.org.Key, sc.snap, sc.index, sc.member.Key, m)
	} else {
		v = sc.snap.VisibleSet(sc.index, sc.member.Key, m) // a trial state, not the engine's
	}
	sc.visible[m] = v
	return v
}

// dbVisible is the visible set in the form the repository plans with.
func (sc *scope) dbVisible(m access.Module) db.Visible {
	v := sc.visibleSet(m)
	return db.VisibleFromEngine(v, sc.index.Count(m))
}

// moduleScope is the active scope of a request about one module, whose
// profile must hold perm on it (and view).
func moduleScope(ctx context.Context, module model.Module, perm access.Permission) (*scope, access.Module, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, "", err
	}
	m, err := moduleIn(module)
	if err != nil {
		return nil, "", err
	}
	return sc, m, sc.requireModule(m, perm)
}

// requireModule fails FORBIDDEN unless the viewer's profile holds perm on m
// (and view, without which the module is closed to the member).
func (sc *scope) requireModule(m access.Module, perm access.Permission) error {
	if !sc.snap.Can(sc.member.Key, m, access.PermView) {
		return apperr.NewForbidden("your profile has no access to %s", m)
	}
	if perm != access.PermView && !sc.snap.Can(sc.member.Key, m, perm) {
		return apperr.NewForbidden("your profile lacks the %s permission on %s", perm, m)
	}
	return nil
}

// explain is the viewer's access to one record, from the index the list was
// planned with: the same grant table that decided visibility.
func (sc *scope) explain(m access.Module, id int64) access.Explanation {
	facts, ok := sc.index.Facts(m, id)
	if !ok {
		return access.Explanation{} // unknown to the index: fail closed
	}
	return sc.snap.Explain(sc.member.Key, facts)
}

// fieldAccess is the viewer's access to one field of a module.
func (sc *scope) fieldAccess(m access.Module, field string) access.FieldAccess {
	return sc.snap.FieldAccess(sc.member.Key, m, field)
}

// checkReadableOperands refuses a filter or ordering on a hidden field before
// any data is read, so nobody learns a hidden value by sorting or counting.
func (sc *scope) checkReadableOperands(m access.Module, ops []records.Operand) error {
	for _, op := range ops {
		if op.Field != nil && op.Field.System {
			continue
		}
		if sc.fieldAccess(m, op.Name()) == access.FieldHidden {
			return apperr.NewFieldForbidden("field %s of %s is hidden from your profile", op.Name(), m)
		}
	}
	return nil
}

// recordVisible reports whether the viewer may read the record. A visible
// set already worked out for this state (this request's, or one the engine
// keeps) answers. Else the first few checks of a module in a request ask
// the record's own facts (Snapshot.Access, which VisibleSet agrees with
// exactly): a lookup right after a change must not pay for the viewer's
// whole visible set, a manager's hundreds of thousands of records. A
// request that checks more (a page's related accounts) works the set out
// once, and the engine keeps it for the requests after.
func (sc *scope) recordVisible(m access.Module, id int64) bool {
	if v, ok := sc.knownVisibleSet(m); ok {
		return v.Contains(id)
	}
	if !sc.lookUpOneByOne(m) {
		return sc.visibleSet(m).Contains(id)
	}
	facts, ok := sc.index.Facts(m, id)
	if !ok {
		return false // unknown to the index: fail closed
	}
	_, perms := sc.snap.Access(sc.member.Key, facts)
	return perms.Read
}

// oneByOneLookups is how many records of a module a request checks from
// their facts before it works the module's visible set out instead.
const oneByOneLookups = 4

func (sc *scope) lookUpOneByOne(m access.Module) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.lookups == nil {
		sc.lookups = map[access.Module]int{}
	}
	sc.lookups[m]++
	return sc.lookups[m] <= oneByOneLookups
}

// knownVisibleSet is the viewer's visible set of m when it costs nothing.
func (sc *scope) knownVisibleSet(m access.Module) (access.VisibleSet, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if v, ok := sc.visible[m]; ok {
		return v, true
	}
	if sc.engine == nil {
		return access.VisibleSet{}, false
	}
	v, ok := sc.engine.KnownVisibleSet(sc.org.Key, sc.snap, sc.index, sc.member.Key, m)
	if ok {
		sc.visible[m] = v
	}
	return v, ok
}

// scopeOfRecord is the caller's scope in the record's org. Every field of
// every row of a page asks, so the common case is made cheap: below a field
// whose @recordVisible decided the record's module (a list, a lookup, a
// relation), the scope it decided with is a few context frames up, and when
// it is the record's org it is the very scope the session holds for that
// org in this request; otherwise the session is asked, far up the context.
func scopeOfRecord(ctx context.Context, rec records.Record) (*scope, error) {
	org := rec.Base().OrgID
	if sc, ok := ctx.Value(visibilityKeyOf(records.ModuleOf(rec))).(*scope); ok && sc.org.Key == org {
		return sc, nil
	}
	return scopeOf(ctx, org)
}

// customFields are the module's custom field definitions, read once per
// request and org.
func (sc *scope) customFields(ctx context.Context, m access.Module) ([]*records.CustomField, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if defs, ok := sc.custom[m]; ok {
		return defs, nil
	}
	defs, err := db.CustomFieldsOf(ctx, sc.conn, sc.org.Key, m)
	if err != nil {
		return nil, err
	}
	if sc.custom == nil {
		sc.custom = map[access.Module][]*records.CustomField{}
	}
	sc.custom[m] = defs
	return defs, nil
}

// orgRoles are the org's roles, read once per request.
func (sc *scope) orgRoles(ctx context.Context) ([]*db.Role, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.roles == nil {
		roles, err := db.RolesOfOrg(ctx, sc.conn, sc.org.Key)
		if err != nil {
			return nil, err
		}
		sc.roles = roles
	}
	return sc.roles, nil
}

// orgProfiles are the org's profiles, read once per request.
func (sc *scope) orgProfiles(ctx context.Context) ([]*db.Profile, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.profiles == nil {
		ps, err := db.ProfilesOfOrg(ctx, sc.conn, sc.org.Key)
		if err != nil {
			return nil, err
		}
		sc.profiles = ps
	}
	return sc.profiles, nil
}
