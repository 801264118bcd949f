package resolvers

import "context"

// MayIntrospect reports whether the caller is an Administrator of the
// request's active org. In production only they may introspect the schema:
// for everyone else the schema is documentation an attacker would enjoy.
func MayIntrospect(ctx context.Context) bool {
	sc, err := activeScope(ctx)
	if err != nil {
		return false
	}
	return sc.snap.IsAdministrator(sc.member.Key)
}
