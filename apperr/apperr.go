package apperr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"warden/access"
	"warden/db"
	"warden/records"
)

// Codes carried in extensions.code (api.md).
const (
	Unauthenticated = "UNAUTHENTICATED"
	Forbidden       = "FORBIDDEN"
	FieldForbidden  = "FIELD_FORBIDDEN"
	NotFound        = "NOT_FOUND"
	BadUserInput    = "BAD_USER_INPUT"
	Conflict        = "CONFLICT"
	LimitExceeded   = "LIMIT_EXCEEDED"
	RateLimited     = "RATE_LIMITED"
	Internal        = "INTERNAL"
	// Unavailable is how the server classifies a timeout or an unreachable
	// dependency; it leaves as INTERNAL with extensions.retryable = true,
	// since api.md's codes are a closed list.
	Unavailable = "UNAVAILABLE"
)

// apiCodes are the codes api.md defines; no other code reaches a client.
var apiCodes = map[string]bool{Unauthenticated: true, Forbidden: true, FieldForbidden: true, NotFound: true,
	BadUserInput: true, Conflict: true, LimitExceeded: true, RateLimited: true, Internal: true}

// Error is an error a client may see: a code and a message written for it.
type Error struct {
	Code string
	Msg  string
	Err  error // the cause, for logs only
	// RetryAfter, when set, tells the client how long to wait
	// (extensions.retryAfterSeconds).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

func newErr(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// NewUnauthenticated: no valid token.
func NewUnauthenticated(format string, args ...any) *Error {
	return newErr(Unauthenticated, format, args...)
}

// NewForbidden: the viewer may not do this.
func NewForbidden(format string, args ...any) *Error { return newErr(Forbidden, format, args...) }

// NewFieldForbidden: the viewer's profile hides the field, or may not write it.
func NewFieldForbidden(format string, args ...any) *Error {
	return newErr(FieldForbidden, format, args...)
}

// NewNotFound: no such thing in this org (or not visible: the same answer).
func NewNotFound(format string, args ...any) *Error { return newErr(NotFound, format, args...) }

// NewBadInput: the input is invalid.
func NewBadInput(format string, args ...any) *Error { return newErr(BadUserInput, format, args...) }

// NewConflict: the change contradicts the current state.
func NewConflict(format string, args ...any) *Error { return newErr(Conflict, format, args...) }

// NewRateLimited: the caller must wait retryAfter before trying again.
func NewRateLimited(retryAfter time.Duration, format string, args ...any) *Error {
	e := newErr(RateLimited, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// NewLimitExceeded: a limit of the model would be exceeded.
func NewLimitExceeded(format string, args ...any) *Error {
	return newErr(LimitExceeded, format, args...)
}

// Code returns the code an error is presented with.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var in *records.InputError
	if errors.As(err, &in) {
		return BadUserInput
	}
	if c := access.ErrorCode(err); c != "" {
		return c
	}
	if errors.Is(err, context.DeadlineExceeded) || db.IsUnavailable(err) {
		return Unavailable
	}
	return Internal
}

// Present is the GraphQL error presenter: every error leaves the server with
// a code, and an internal error leaves with nothing of its internals.
func Present(ctx context.Context, err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) && gqlErr.Err == nil {
		// Parser and validation errors: already client-facing.
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		// GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED,
		// COMPLEXITY_LIMIT_EXCEEDED and friends: the request itself is
		// malformed or too big, which api.md calls BAD_USER_INPUT.
		if c, _ := gqlErr.Extensions["code"].(string); !apiCodes[c] {
			gqlErr.Extensions["code"] = BadUserInput
		}
		return gqlErr
	}
	out := graphql.DefaultErrorPresenter(ctx, err)
	code := Code(err)
	switch code {
	case Internal:
		slog.ErrorContext(ctx, "internal error", "err", err, "path", out.Path.String())
		out.Message = "internal error"
	case Unavailable:
		slog.WarnContext(ctx, "unavailable", "err", err, "path", out.Path.String())
		out.Message = "the server is busy or a dependency is unavailable; retry shortly"
	default:
		out.Message = clientMessage(err)
	}
	if out.Extensions == nil {
		out.Extensions = map[string]any{}
	}
	out.Extensions["code"] = code
	var ae *Error
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		out.Extensions["retryAfterSeconds"] = int(math.Ceil(ae.RetryAfter.Seconds()))
	}
	if code == Unavailable {
		out.Extensions["code"], out.Extensions["retryable"] = Internal, true
	}
	return out
}

func clientMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	var in *records.InputError
	if errors.As(err, &in) {
		return in.Msg
	}
	var re *access.RuleError
	if errors.As(err, &re) {
		return re.Msg
	}
	return "internal error"
}

// Recover turns a panic in a resolver into an internal error, logged with its value.
func Recover(ctx context.Context, p any) error {
	slog.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p))
	return &Error{Code: Internal, Msg: "internal error"}
}
