package resolvers

import (
	"time"

	"github.com/jmoiron/sqlx"

	"warden/auth"
	"warden/cache"
	"warden/ratelimit"
	"warden/records"
)

// Resolver holds what every resolver needs. Resolvers stay thin: they parse
// arguments, ask the access engine, call db, and map the result.
type Resolver struct {
	DB      *sqlx.DB
	Tokens  *auth.Issuer
	Cursors records.CursorCodec
	Engine  *cache.Engine
	// Now is the clock of time-dependent answers (shift assignments taking
	// effect, availability); nil means time.Now. Tests inject a fixed clock.
	Now func() time.Time
	// SSO verifies ID tokens of the configured OpenID Connect provider;
	// nil when single sign-on is not configured.
	SSO *auth.OIDC
	// LoginThrottle slows password guessing (per email and per address);
	// nil: no throttling.
	LoginThrottle *ratelimit.LoginThrottle
}
