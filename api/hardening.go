package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"warden/apperr"
	"warden/auth"
	"warden/ratelimit"
	"warden/resolvers"
)

// RateLimits are the request budgets; a zero rate is unlimited.
type RateLimits struct {
	PerIP          ratelimit.Rate
	PerUser        ratelimit.Rate
	TrustedProxies []netip.Prefix // peers whose X-Forwarded-For is believed
}

// selectionLimit refuses operations with too many fields or aliases once
// fragments are expanded: complexity counts list fields by their page size,
// but a request of ten thousand cheap aliased fields is still ten thousand
// resolver calls.
type selectionLimit struct{ maxFields, maxAliases int }

func (selectionLimit) ExtensionName() string                   { return "SelectionLimit" }
func (selectionLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (l selectionLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	c := selectionCounter{frags: oc.Doc.Fragments, stopAt: max(l.maxFields, l.maxAliases) + 1}
	c.walk(oc.Operation.SelectionSet, 0)
	switch {
	case l.maxAliases > 0 && c.aliases > l.maxAliases:
		return limitError(fmt.Sprintf("operation uses more than %d aliases; split it into several requests", l.maxAliases))
	case l.maxFields > 0 && c.fields > l.maxFields:
		return limitError(fmt.Sprintf("operation selects more than %d fields; split it into several requests", l.maxFields))
	}
	return nil
}

func limitError(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": apperr.LimitExceeded}}
}

// selectionCounter counts fields as executed: a fragment spread counts its
// fields each time it is spread. It stops counting past stopAt, so a
// fragment that spreads others many times over cannot make it work long.
type selectionCounter struct {
	frags           ast.FragmentDefinitionList
	fields, aliases int
	stopAt          int
}

func (c *selectionCounter) walk(set ast.SelectionSet, depth int) {
	if depth > 64 {
		return // fragment cycles are refused by validation; stay bounded anyway
	}
	for _, sel := range set {
		if c.fields >= c.stopAt {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			c.fields++
			if s.Alias != "" && s.Alias != s.Name {
				c.aliases++
			}
			c.walk(s.SelectionSet, depth+1)
		case *ast.InlineFragment:
			c.walk(s.SelectionSet, depth+1)
		case *ast.FragmentSpread:
			if f := c.frags.ForName(s.Name); f != nil {
				c.walk(f.SelectionSet, depth+1)
			}
		}
	}
}

// adminIntrospection allows introspection in production to Administrators
// of the active org only; in development to everyone.
type adminIntrospection struct{ production bool }

func (adminIntrospection) ExtensionName() string                   { return "AdminIntrospection" }
func (adminIntrospection) Validate(graphql.ExecutableSchema) error { return nil }
func (a adminIntrospection) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	oc.DisableIntrospection = a.production && !resolvers.MayIntrospect(ctx)
	return nil
}

// clientIP notes the client's address for the handlers below and the login
// throttle, then spends one request of the address's budget.
func clientIP(l *ratelimit.Limiter, rl RateLimits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := ratelimit.ClientIP(r, rl.TrustedProxies)
		ctx := ratelimit.WithClientIP(r.Context(), ip)
		if d := l.Allow(ctx, "ip:"+ip, rl.PerIP); !d.Allowed {
			writeRateLimited(w, d.RetryAfter, "too many requests from your address")
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// perUser spends one request of the signed-in user's budget (behind
// auth.Middleware, so the identity is known; anonymous requests are
// covered by the per-address budget).
func perUser(l *ratelimit.Limiter, rate ratelimit.Rate, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := auth.IdentityFrom(r.Context()); ok {
			if d := l.Allow(r.Context(), "user:"+strconv.FormatInt(id.UserID, 10), rate); !d.Allowed {
				writeRateLimited(w, d.RetryAfter, "too many requests for your user")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// writeRateLimited answers 429 with Retry-After and a GraphQL error a
// client can act on.
func writeRateLimited(w http.ResponseWriter, retryAfter time.Duration, why string) {
	secs := int(math.Ceil(retryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{
		"message":    fmt.Sprintf("%s; retry in %d s", why, secs),
		"extensions": map[string]any{"code": apperr.RateLimited, "retryAfterSeconds": secs},
	}}})
	_, _ = w.Write(b)
}

// withCORS lets the listed single-page-app origins call the API from a
// browser; with no origins listed, cross-origin browser calls are refused
// (non-browser clients are unaffected).
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", "X-Org-ID", "X-Request-ID"},
		ExposedHeaders: []string{"X-Request-ID", "Retry-After"},
		MaxAge:         600,
	}).Handler(next)
}

// presenter is apperr.Present that, in production, drops the "Did you mean
// ...?" hints of validation errors for everyone but Administrators of the
// active org: suggestions would spell the schema out piece by piece to a
// caller who may not introspect it.
func presenter(production bool) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := apperr.Present(ctx, err)
		if production {
			if i := strings.Index(out.Message, " Did you mean"); i >= 0 && !resolvers.MayIntrospect(ctx) {
				out.Message = out.Message[:i]
			}
		}
		return out
	}
}

// answerWhenOver makes an operation whose request is already over when it
// starts (its context cancelled, or the request timeout spent while the
// session was being resolved) still answer a GraphQL error with a code.
// gqlgen's executor skips such an operation and its POST transport then
// writes a bare null with 200: no answer a client can read, and one the
// faults suite took for success. Subscriptions keep gqlgen's behaviour, for
// which nil is the end of the stream.
func answerWhenOver(present graphql.ErrorPresenterFunc) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		respond := next(ctx)
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
			return respond
		}
		answered := false
		return func(ctx context.Context) *graphql.Response {
			if resp := respond(ctx); resp != nil {
				answered = true
				return resp
			}
			if err := ctx.Err(); err != nil && !answered {
				answered = true
				return &graphql.Response{Errors: gqlerror.List{present(ctx, err)}}
			}
			return nil
		}
	}
}
