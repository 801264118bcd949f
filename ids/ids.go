package ids

import (
	"errors"
	"strconv"
	"strings"
)

// Kind names the type an id belongs to; it is the id's prefix.
type Kind string

const (
	User    Kind = "user"
	Org     Kind = "org"
	Member  Kind = "member"
	Role    Kind = "role"
	Profile Kind = "profile"
	Group   Kind = "group"
	Rule    Kind = "rule"
	Field   Kind = "field"
	Shift   Kind = "shift"
	Holiday Kind = "holiday"
	Audit   Kind = "audit"
	Lead    Kind = "lead"
	Contact Kind = "contact"
	Account Kind = "account"
	Deal    Kind = "deal"
	Task    Kind = "task"
	// Invitation names an invitation to join an org.
	Invitation Kind = "invitation"
)

// ErrMalformed is returned for a string that is not an id of the wanted kind.
var ErrMalformed = errors.New("malformed id")

// Encode returns the public id of the row with key n.
func Encode(kind Kind, n int64) string {
	return string(kind) + "_" + strconv.FormatInt(n, 10)
}

// Decode returns the key of an id of the given kind. Ids of another kind are
// malformed for this use, which callers treat like an id that does not exist.
func Decode(kind Kind, s string) (int64, error) {
	k, n, err := Parse(s)
	if err != nil || k != kind {
		return 0, ErrMalformed
	}
	return n, nil
}

// Parse splits any id into its kind and key.
func Parse(s string) (Kind, int64, error) {
	if len(s) > 40 {
		return "", 0, ErrMalformed
	}
	prefix, num, ok := strings.Cut(s, "_")
	if !ok || prefix == "" || num == "" || num[0] == '+' || num[0] == '-' || (len(num) > 1 && num[0] == '0') {
		return "", 0, ErrMalformed
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return "", 0, ErrMalformed
	}
	return Kind(prefix), n, nil
}
