package db_test

import (
	"context"
	"testing"

	"warden/db"
	"warden/db/dbtest"
)

func TestMigrateIsIdempotentAndComplete(t *testing.T) {
	conn := dbtest.Open(t)
	ctx := context.Background()
	if err := db.Migrate(ctx, conn); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	pending, err := db.MigrationsPending(ctx, conn)
	if err != nil || pending {
		t.Fatalf("pending=%v err=%v", pending, err)
	}
	// Every org-owned table carries org_id: the tenant boundary. Identities
	// are global: users, their sessions and their links to an identity
	// provider belong to no org.
	var missing []string
	err = conn.SelectContext(ctx, &missing, `
		SELECT t.table_name FROM information_schema.tables t
		WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'
		  AND t.table_name NOT IN ('users', 'sessions', 'user_identities', 'orgs', 'goose_db_version')
		  AND NOT EXISTS (SELECT 1 FROM information_schema.columns c
		                  WHERE c.table_name = t.table_name AND c.column_name = 'org_id')`)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Fatalf("tables without org_id: %v", missing)
	}
}
