// Package ids owns the public, opaque ids of the API: each names its type,
// so an id of another type (or another org) resolves to nothing.
package ids
