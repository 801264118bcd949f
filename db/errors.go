package db

import "errors"

// ErrNotFound is returned when a row does not exist in the org asked for;
// an id of another org is not found, exactly like an id that never existed.
var ErrNotFound = errors.New("not found")
