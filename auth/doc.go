// Package auth provides Warden's password hashing, signed user tokens, and per-request identity plumbing.
package auth
