package resolvers

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph"
	"warden/graph/model"
	"warden/records"
)

// Directives returns the schema directives. They only call out to the access
// engine; the rules live in access/.
func Directives() graph.DirectiveRoot {
	return graph.DirectiveRoot{RecordVisible: recordVisible, FieldAccess: fieldAccess}
}

// visibilityKey is the context key of the scope @recordVisible decided for
// a module: the module's position in access.Modules. A small integer, so
// making it an interface value allocates nothing (it is looked up for every
// record field of every row).
type visibilityKey uint8

func visibilityKeyOf(m access.Module) visibilityKey {
	for i, known := range access.Modules {
		if known == m {
			return visibilityKey(i)
		}
	}
	// Unknown modules share one key, never set: Can refuses every
	// permission on a module that is not valid, so @recordVisible stops first.
	return visibilityKey(len(access.Modules))
}

// recordVisible decides the viewer's visible set of the module for the field
// and hands it to the resolver through the context: a record field without
// the directive finds none and fails closed. A single record that comes back
// outside the set (a relation to an invisible record) becomes null, exactly
// like a missing one.
func recordVisible(ctx context.Context, obj any, next graphql.Resolver, module model.Module) (any, error) {
	m := access.Module(module)
	sc, err := scopeForParent(ctx, obj)
	if err != nil {
		return nil, err
	}
	if !sc.snap.Can(sc.member.Key, m, access.PermView) {
		if _, isRecordParent := obj.(records.Record); isRecordParent {
			return nil, nil // a relation into a module the viewer cannot see reads as absent
		}
		return nil, apperr.NewForbidden("your profile has no access to %s", m)
	}
	ctx = context.WithValue(ctx, visibilityKeyOf(m), sc)
	res, err := next(ctx)
	if err != nil {
		return res, err
	}
	if rec, ok := res.(records.Record); ok && rec != nil && !isNilRecord(rec) {
		if rec.Base().OrgID != sc.org.Key || !sc.recordVisible(m, rec.Base().Key) {
			return nil, nil
		}
	}
	return res, nil
}

// recordScope is the scope @recordVisible decided for this field.
func recordScope(ctx context.Context, m access.Module) (*scope, error) {
	sc, ok := ctx.Value(visibilityKeyOf(m)).(*scope)
	if !ok {
		return nil, fmt.Errorf("record field of %s resolved without @recordVisible", m)
	}
	return sc, nil
}

// visibleScope is recordScope with the viewer's visible set of m, for a
// field that lists records.
func visibleScope(ctx context.Context, m access.Module) (*scope, db.Visible, error) {
	sc, err := recordScope(ctx, m)
	if err != nil {
		return nil, db.Visible{}, err
	}
	return sc, sc.dbVisible(m), nil
}

// scopeForParent is the scope a field acts in: the active org at the root,
// the org of an Org object, the org of a record.
func scopeForParent(ctx context.Context, obj any) (*scope, error) {
	switch p := obj.(type) {
	case *db.Org:
		return scopeOf(ctx, p.Key)
	case records.Record:
		return scopeOfRecord(ctx, p)
	}
	return activeScope(ctx)
}

// fieldAccess applies field-level security to a record field: the value, or
// null with FIELD_FORBIDDEN when the viewer's profile hides it.
func fieldAccess(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
	rec, ok := obj.(records.Record)
	if !ok {
		return nil, fmt.Errorf("@fieldAccess on a field of %T", obj)
	}
	sc, err := scopeOfRecord(ctx, rec)
	if err != nil {
		return nil, err
	}
	m := records.ModuleOf(rec)
	field := graphql.GetFieldContext(ctx).Field.Name
	if sc.fieldAccess(m, field) == access.FieldHidden {
		return nil, apperr.NewFieldForbidden("field %s of %s is hidden from your profile", field, m)
	}
	return next(ctx)
}

func isNilRecord(r records.Record) bool {
	switch v := r.(type) {
	case *records.Lead:
		return v == nil
	case *records.Contact:
		return v == nil
	case *records.Account:
		return v == nil
	case *records.Deal:
		return v == nil
	case *records.Task:
		return v == nil
	}
	return true
}
