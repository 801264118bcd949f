package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// Identity is the authenticated user of a request. It names a user only; the
// org being acted on is resolved (and membership checked) by the caller.
type Identity struct {
	UserID int64
	// SessionID is the token's jti: the session the server checks, and
	// revokes on logout.
	SessionID string
}

type ctxKey int

const (
	identityKey ctxKey = iota
	authErrorKey
)

// WithIdentity returns a copy of ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey, id)
}

// IdentityFrom returns the request's Identity, if the request was
// authenticated.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey).(Identity)
	return id, ok
}

// AuthErrorFrom returns ErrTokenExpired or ErrTokenInvalid if the request
// carried an Authorization header that failed verification, and nil if it
// carried none or a valid one. The GraphQL layer should answer
// UNAUTHENTICATED for such requests (at least for operations that need an
// identity).
func AuthErrorFrom(ctx context.Context) error {
	err, _ := ctx.Value(authErrorKey).(error)
	return err
}

// BearerToken extracts the token from a single "Authorization: Bearer <token>"
// header. The scheme is matched case-insensitively and surrounding whitespace
// is trimmed. It reports false if the header is absent, repeated, uses another
// scheme, or the token is empty or contains whitespace.
func BearerToken(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	h := strings.TrimSpace(vals[0])
	const scheme = "bearer"
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	if c := h[len(scheme)]; c != ' ' && c != '\t' {
		return "", false
	}
	tok := strings.TrimSpace(h[len(scheme):])
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", false
	}
	return tok, true
}

// Middleware authenticates requests with iss. With no Authorization header
// (or only blank ones) the request passes through unauthenticated, so public
// operations such as login and signup work. With a valid bearer token the
// context carries the Identity (see IdentityFrom). With any other
// Authorization header (bad, expired, malformed, non-Bearer or repeated) the
// request still passes through, without an Identity, and AuthErrorFrom
// reports ErrTokenExpired or ErrTokenInvalid. Tokens are never logged.
func Middleware(iss *Issuer, next http.Handler) http.Handler {
	if iss == nil || next == nil {
		panic("auth: Middleware requires a non-nil Issuer and handler")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hasAuthorization(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		tok, ok := BearerToken(r)
		if !ok {
			ctx = withAuthError(ctx, ErrTokenInvalid)
		} else if claims, err := iss.Verify(tok); err != nil {
			if errors.Is(err, ErrTokenExpired) {
				ctx = withAuthError(ctx, ErrTokenExpired)
			} else {
				ctx = withAuthError(ctx, ErrTokenInvalid)
			}
		} else {
			ctx = WithIdentity(ctx, Identity{UserID: claims.UserID, SessionID: claims.TokenID})
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func hasAuthorization(r *http.Request) bool {
	for _, v := range r.Header.Values("Authorization") {
		if strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

func withAuthError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, authErrorKey, err)
}
