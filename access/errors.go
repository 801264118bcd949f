package access

import (
	"errors"
	"fmt"
)

// Error codes carried by *RuleError. The presenter maps them one to one to
// the API's extensions.code.
const (
	CodeBadUserInput  = "BAD_USER_INPUT"
	CodeConflict      = "CONFLICT"
	CodeLimitExceeded = "LIMIT_EXCEEDED"
	CodeNotFound      = "NOT_FOUND"
	CodeForbidden     = "FORBIDDEN"
)

// RuleError is an error of the access rules that a client caused and may be
// told about: a cycle, a broken prerequisite, an exceeded limit. Msg never
// carries internals.
type RuleError struct {
	Code string
	Msg  string
}

func (e *RuleError) Error() string { return "access: " + e.Msg }

// NewInvalidErr is a BAD_USER_INPUT error.
func NewInvalidErr(format string, args ...any) *RuleError {
	return &RuleError{Code: CodeBadUserInput, Msg: fmt.Sprintf(format, args...)}
}

// NewConflictErr is a CONFLICT error: the change contradicts the current state.
func NewConflictErr(format string, args ...any) *RuleError {
	return &RuleError{Code: CodeConflict, Msg: fmt.Sprintf(format, args...)}
}

// NewLimitErr is a LIMIT_EXCEEDED error.
func NewLimitErr(format string, args ...any) *RuleError {
	return &RuleError{Code: CodeLimitExceeded, Msg: fmt.Sprintf(format, args...)}
}

// NewForbiddenErr is a FORBIDDEN error: the actor lacks the power to do this.
func NewForbiddenErr(format string, args ...any) *RuleError {
	return &RuleError{Code: CodeForbidden, Msg: fmt.Sprintf(format, args...)}
}

// NewNotFoundErr is a NOT_FOUND error: a referenced id does not exist in the org.
func NewNotFoundErr(format string, args ...any) *RuleError {
	return &RuleError{Code: CodeNotFound, Msg: fmt.Sprintf(format, args...)}
}

// ErrorCode is the code of a *RuleError in err's chain, "" when there is none
// (an internal error).
func ErrorCode(err error) string {
	var re *RuleError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}
