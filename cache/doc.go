// Package cache owns the per-org access state each server instance holds —
// the security snapshot and the visibility index — and keeps it exactly as
// fresh as the org's security version in Postgres.
package cache
