// Package db owns Warden's storage in Postgres: the embedded, forward-only
// migrations and the sqlx repositories. Every query filters by org_id.
package db
