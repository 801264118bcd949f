// Package auth provides Warden's password hashing, signed user tokens, verification of an OpenID Connect provider's ID tokens, and per-request identity plumbing.
package auth
